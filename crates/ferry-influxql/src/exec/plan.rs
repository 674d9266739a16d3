//! Compiling a single-measurement SELECT against its input's schema ([`plan_select`] into a
//! [`Plan`]): wildcard expansion, column names, the time range, the WHERE split into what
//! the store applies (`pushdown.rs`), what is checked once per series and what per row, and
//! the aggregates the select list calls.

use std::collections::{BTreeSet, HashMap};

use ferry_lp::FieldType;
use ferry_store::{SeriesData, TagPredicate};

use super::context::{Input, Res};
use super::expr::{
    cast_keeps, cast_stored, compile, compile_regex, compile_tag_cond, tag_of, CExpr,
};
use super::pushdown::{split_where, Names, SplitWhere};
use super::time::{is_time_ref, split_time_in};
use crate::ast::*;
use crate::functions::AGGREGATES;
use crate::result::Value;

/// Whether `e` calls a function other than `now()`: a select list with one aggregates.
pub(super) fn has_call(e: &Expr) -> bool {
    match e {
        // math is row-wise: an aggregate only when it is over one
        Expr::Call(n, args) if crate::functions::math(n).is_some() => args.iter().any(has_call),
        Expr::Call(n, _) => n != "now",
        Expr::Binary(l, _, r) => has_call(l) || has_call(r),
        Expr::Paren(x) => has_call(x),
        _ => false,
    }
}

/// The column 1.6 names an unaliased expression: its references and calls joined by `_`.
pub(crate) fn column_name(e: &Expr) -> String {
    fn leaves(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::Ref(n, _) => out.push(n.clone()),
            // a math function of constants is folded into one before 1.6 names the column
            e @ Expr::Call(..) if crate::compile_checks::is_constant(e) => {}
            Expr::Call(n, _) => out.push(n.clone()),
            Expr::Binary(l, _, r) => {
                leaves(l, out);
                leaves(r, out);
            }
            Expr::Paren(x) => leaves(x, out),
            _ => {}
        }
    }
    let mut v = Vec::new();
    leaves(e, &mut v);
    v.join("_")
}

/// The names of an answer's columns after `time`, given each column's alias (if any) and
/// generated name, as 1.6 resolves them (`ColumnNames`): every alias as written, two equal
/// aliases staying equal; then each generated name made unique against the aliases and the
/// names before it (`mean`, `mean_1`, …: `SELECT mean(x), mean(x) AS mean` is `mean_1`,
/// `mean`).
pub(crate) fn column_names(
    cols: impl IntoIterator<Item = (Option<String>, String)>,
) -> Vec<String> {
    let cols: Vec<(Option<String>, String)> = cols.into_iter().collect();
    let mut taken: HashMap<String, usize> = HashMap::new();
    for alias in cols.iter().filter_map(|(a, _)| a.as_ref()) {
        taken.insert(alias.clone(), 1);
    }
    cols.into_iter()
        .map(|(alias, generated)| {
            if let Some(alias) = alias {
                return alias;
            }
            let mut name = generated.clone();
            if let Some(&first) = taken.get(&generated) {
                let mut count = first;
                loop {
                    let candidate = format!("{generated}_{count}");
                    if !taken.contains_key(&candidate) {
                        taken.insert(generated.clone(), count + 1);
                        name = candidate;
                        break;
                    }
                    count += 1;
                }
            }
            *taken.entry(name.clone()).or_insert(0) += 1;
            name
        })
        .collect()
}

/// Whether `e` reads a field (a call counts): a raw row where every such column is null
/// is left out.
pub(super) fn refs_field(e: &Expr, fields: &HashMap<String, FieldType>) -> bool {
    match e {
        Expr::Ref(n, k) => *k != RefKind::Tag && fields.contains_key(n),
        Expr::Call(..) => true,
        Expr::Binary(l, _, r) => refs_field(l, fields) || refs_field(r, fields),
        Expr::Paren(x) => refs_field(x, fields),
        _ => false,
    }
}

/// `e` with its `name::tag` references to the `names` made plain references.
fn untag(e: &mut Expr, names: &[String]) {
    match e {
        Expr::Ref(n, k) if *k == RefKind::Tag && names.contains(n) => *k = RefKind::Any,
        Expr::Call(_, args) => args.iter_mut().for_each(|a| untag(a, names)),
        Expr::Binary(l, _, r) => {
            untag(l, names);
            untag(r, names);
        }
        Expr::Paren(x) => untag(x, names),
        _ => {}
    }
}

/// An aggregate the select list calls.
pub(super) struct AggSpec {
    /// The function's name.
    pub(super) func: String,
    /// The numeric argument (percentile N, integral unit in ns).
    pub(super) arg: f64,
    pub(super) col: Option<usize>,
}

/// A series' GROUP BY group: its values of `dim_tags`, in that order (`""` when missing).
pub(super) fn group_key(tags: &[(String, String)], dim_tags: &[String]) -> Vec<String> {
    dim_tags
        .iter()
        .map(|k| tag_of(tags, k).unwrap_or("").to_string())
        .collect()
}

/// The select list with `*` expanded to `fields` and the `tag_keys` not in `dim_tags`
/// (in name order), `f(*)` to `f` of each field it takes but `tag_fields` (a subquery's tags
/// read as values, which 1.6's `f(*)` leaves out), and `time` left out.
pub(super) fn expand_wildcards(
    list: &[Field],
    fields: &[(String, FieldType)],
    tag_keys: &BTreeSet<String>,
    dim_tags: &[String],
    tag_fields: &[String],
) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for f in list {
        // `/re/` is `*` of the names it matches, `f(/re/)` is `f(*)` of those
        let filter = f.expr.field_regex().and_then(|re| compile_regex(re).ok());
        let matches = |n: &str| filter.as_ref().is_none_or(|re| re.is_match(n));
        match &f.expr {
            Expr::Wildcard | Expr::Regex(_) => {
                let mut names: BTreeSet<String> = fields
                    .iter()
                    .map(|(n, _)| n.clone())
                    .filter(|n| matches(n))
                    .collect();
                for t in tag_keys {
                    if !dim_tags.contains(t) && matches(t) {
                        names.insert(t.clone());
                    }
                }
                for n in names {
                    out.push(Field {
                        expr: Expr::Ref(n, RefKind::Any),
                        alias: None,
                    });
                }
            }
            // f(*), percentile(*, N): one call per field f takes
            Expr::Call(func, args)
                if (args.len() == 1 || func == "percentile" && args.len() == 2)
                    && matches!(args[0], Expr::Wildcard | Expr::Regex(_))
                    && (f.alias.is_none() || matches!(args[0], Expr::Regex(_))) =>
            {
                let any_type = matches!(func.as_str(), "count" | "first" | "last" | "mode");
                // 1.6's min/max take booleans too
                let boolean = matches!(func.as_str(), "min" | "max");
                for (n, t) in fields {
                    let takes = match t {
                        FieldType::Float | FieldType::Integer => true,
                        FieldType::Boolean => any_type || boolean,
                        _ => any_type,
                    };
                    if !takes || !matches(n) {
                        continue;
                    }
                    if tag_fields.contains(n) {
                        continue;
                    }
                    let mut call_args = args.clone();
                    call_args[0] = Expr::Ref(n.clone(), RefKind::Field(None));
                    // `mean(/re/) AS x` names its columns `x_field`
                    let prefix = f.alias.as_deref().unwrap_or(func);
                    out.push(Field {
                        expr: Expr::Call(func.clone(), call_args),
                        alias: Some(format!("{prefix}_{n}")),
                    });
                }
            }
            e if is_time_ref(e) => {}
            _ => out.push(f.clone()),
        }
    }
    out
}

/// A single-measurement SELECT compiled against its input's schema, before any scan.
pub(super) struct Plan {
    pub(super) input: Input,
    /// The measurement.
    pub(super) m: String,
    pub(super) columns: Vec<String>,
    /// The GROUP BY tags, sorted.
    pub(super) dim_tags: Vec<String>,
    /// The time range, inclusive.
    pub(super) lo: i64,
    pub(super) hi: i64,
    /// The fields the store is asked for (the first `stored_fields`), then the columns
    /// made from them by an aggregate argument's cast ([`Plan::casts`]), named `x::type`.
    pub(super) scan_fields: Vec<String>,
    /// How many of `scan_fields` are read from the input.
    pub(super) stored_fields: usize,
    /// For each column of `scan_fields` past `stored_fields`: the stored column it casts and
    /// the type (`sum(x::integer)` sums x's values truncated, as 1.6 does).
    pub(super) casts: Vec<(usize, FieldType)>,
    /// The conjuncts on tags alone the store does not apply (evaluated once per series).
    pub(super) series_c: Option<CExpr>,
    /// The conjuncts evaluated per row.
    pub(super) cond_c: Option<CExpr>,
    pub(super) aggs: Vec<AggSpec>,
    pub(super) out_exprs: Vec<CExpr>,
    pub(super) field_derived: Vec<bool>,
    /// The tag conditions the store applies.
    pub(super) pushed: Vec<TagPredicate>,
    /// Whether the select list has aggregates (else it selects raw rows).
    pub(super) agg_mode: bool,
    pub(super) selector_single: bool,
    /// The duration of 1.x's shard groups over the input (0: not a store, or unknown);
    /// 1.6 merges each shard's rows on their own (see `merge.rs`).
    pub(super) shard_ns: i64,
}

impl Plan {
    /// The fields read from the input.
    pub(super) fn stored(&self) -> &[String] {
        &self.scan_fields[..self.stored_fields]
    }

    /// Appends to each series the columns of [`Plan::casts`], in their order. A series
    /// without the stored field, or whose values the cast all makes null, gets none: as
    /// for a field it lacks, its aggregates answer null (1.6: `count(status::float)` of a
    /// string field is null, not 0).
    pub(super) fn add_casts(&self, data: &mut [SeriesData]) {
        for sd in data {
            // each cast column as much again as the field it is made from, charged as the
            // scan's columns are (a statement casting every field three ways would hold
            // four times what it scanned)
            ferry_store::coop::charge(self.casts.len().saturating_mul(
                sd.times.len() * std::mem::size_of::<Option<ferry_lp::FieldValue>>(),
            ));
            for (ci, &(src, to)) in self.casts.iter().enumerate() {
                let Some(values) = sd
                    .fields
                    .iter()
                    .find(|(n, _)| *n == self.scan_fields[src])
                    .map(|(_, vals)| {
                        vals.iter()
                            .map(|v| v.as_ref().and_then(|v| cast_stored(v, to)))
                            .collect::<Vec<_>>()
                    })
                    .filter(|vals| vals.iter().any(Option::is_some))
                else {
                    continue;
                };
                let name = self.scan_fields[self.stored_fields + ci].clone();
                sd.fields.push((name, values));
            }
        }
    }
}

/// Compiles single-measurement SELECT `s` against its `input` at time `now`, its time range
/// widened by `extra.0` ns before its start and `extra.1` ns after its end; `None` when it
/// answers no series whatever the data (unknown measurement, no field, empty range).
pub(super) fn plan_select(
    s: &Select,
    input: Input,
    now: i64,
    extra: (i64, i64),
) -> Res<Option<Plan>> {
    let m = s.source.name.clone();
    let Some(schema) = input.schema(&m) else {
        return Ok(None);
    };
    // A subquery's tags are also string fields: `t::tag` in the select list reads their
    // values as `t` does (1.6 answers `SELECT t::tag`, `count(t::tag)` over a subquery).
    let read_as_fields;
    let s = if input.tag_fields().is_empty() {
        s
    } else {
        let mut copy = s.clone();
        for f in &mut copy.fields {
            untag(&mut f.expr, input.tag_fields());
        }
        read_as_fields = copy;
        &read_as_fields
    };
    let field_types: HashMap<String, FieldType> = schema.fields.iter().cloned().collect();
    let tag_keys: BTreeSet<String> = schema.tag_keys.iter().cloned().collect();
    let dim_tags: Vec<String> = if s.dims.all_tags {
        input.all_dims(&schema)
    } else {
        let mut d = s.dims.tags.clone();
        // `GROUP BY /re/`: the tags whose keys match
        let res = s
            .dims
            .tag_regexes
            .iter()
            .map(|r| compile_regex(r))
            .collect::<Res<Vec<_>>>()?;
        if !res.is_empty() {
            d.extend(
                input
                    .all_dims(&schema)
                    .into_iter()
                    .filter(|t| res.iter().any(|re| re.is_match(t))),
            );
        }
        d.sort();
        d.dedup();
        d
    };

    // a subquery's GROUP BY tag the outer statement groups by too is not a column of `*`
    // (one the inner statement selected is; measured)
    let inner_dims = input.all_dims(&schema);
    let star_fields: Vec<(String, FieldType)> = schema
        .fields
        .iter()
        .filter(|(n, _)| {
            !(input.tag_fields().contains(n) && dim_tags.contains(n) && inner_dims.contains(n))
        })
        .cloned()
        .collect();
    // under `GROUP BY /re/` 1.6's `*` is the fields alone, as under `GROUP BY *`
    let star_hides = match s.dims.tag_regexes.is_empty() {
        true => &dim_tags,
        false => &inner_dims,
    };
    let fields = expand_wildcards(
        &s.fields,
        &star_fields,
        &tag_keys,
        star_hides,
        input.tag_fields(),
    );
    if fields.is_empty() {
        // a regex that matches nothing selects nothing (1.6: no series)
        if s.fields.iter().any(|f| f.expr.field_regex().is_some()) {
            return Ok(None);
        }
        return Err("at least 1 non-time field must be queried".into());
    }
    let agg_mode = fields.iter().any(|f| has_call(&f.expr));

    let mut columns = vec!["time".to_string()];
    columns.extend(column_names(
        fields
            .iter()
            .map(|f| (f.alias.clone(), column_name(&f.expr))),
    ));

    // time range and residual condition
    let mut lo = i64::MIN;
    let mut hi = i64::MAX;
    let cond = match &s.condition {
        Some(c) => split_time_in(c, now, s.location.as_ref(), &mut lo, &mut hi)?,
        None => None,
    };
    if agg_mode && s.dims.time.is_some() && hi == i64::MAX {
        hi = now;
    }
    if lo != i64::MIN {
        lo = lo.saturating_sub(extra.0);
    }
    if hi != i64::MAX {
        hi = hi.saturating_add(extra.1);
    }

    // fields to scan
    let mut scan_fields: Vec<String> = Vec::new();
    let field_index = std::cell::RefCell::new(HashMap::<String, usize>::new());
    let resolve = |n: &str, k: RefKind| -> Res<CExpr> {
        if k != RefKind::Tag && field_types.contains_key(n) {
            let mut fi = field_index.borrow_mut();
            let next = fi.len();
            let i = *fi.entry(n.to_string()).or_insert(next);
            return Ok(match k {
                RefKind::Field(Some(to)) => CExpr::Cast(Box::new(CExpr::Field(i)), to),
                _ => CExpr::Field(i),
            });
        }
        // a name neither a field nor a tag reads as a tag no series has: `""` in a
        // condition (1.6: `nokey = ''` holds for every row), null in a column
        if !k.is_field() && (tag_keys.contains(n) || !field_types.contains_key(n)) {
            return Ok(CExpr::Tag(n.to_string()));
        }
        Ok(CExpr::Lit(Value::Null))
    };

    let is_tag = |n: &str, k: RefKind| {
        !k.is_field() && tag_keys.contains(n) && (k == RefKind::Tag || !field_types.contains_key(n))
    };
    let is_absent = |n: &str, k: RefKind| {
        !k.is_field()
            && !tag_keys.contains(n)
            && !field_types.contains_key(n)
            && !n.eq_ignore_ascii_case("time")
    };
    let names = Names {
        is_tag: &is_tag,
        is_absent: &is_absent,
    };
    // The residual condition's conjuncts: those the store's tag filter applies exactly are
    // pushed, those on tags alone are evaluated once per series, the rest per row.
    let split = match &cond {
        Some(c) => split_where(c, &input, &m, &names)?,
        None => SplitWhere::default(),
    };
    let (pushed, series_cond, row_cond) = (split.pushed, split.on_series, split.on_rows);
    let series_c = series_cond.as_ref().map(compile_tag_cond).transpose()?;
    let cond_c = match &row_cond {
        Some(c) => Some(compile(c, &resolve, &mut |_| {
            Err("aggregate functions are not allowed in WHERE".into())
        })?),
        None => None,
    };
    let mut aggs: Vec<AggSpec> = Vec::new();
    // (aggregate, stored column, type) of each aggregate whose argument is cast
    let mut cast_args: Vec<(usize, usize, FieldType)> = Vec::new();
    // An aggregate argument's column: a cast one is placed once the stored fields are known.
    let arg_column = |n: &str,
                      k: RefKind,
                      agg: usize,
                      cast_args: &mut Vec<(usize, usize, FieldType)>|
     -> Res<Option<usize>> {
        let c = resolve(n, k)?;
        if let (CExpr::Cast(_, to), Some(src)) = (&c, c.field_column()) {
            // a cast that nulls the field's type reads nothing: 1.6 answers null, as
            // for a field the measurement lacks (`count(status::float)` of a string)
            if field_types.get(n).is_some_and(|&t| cast_keeps(t, *to)) {
                cast_args.push((agg, src, *to));
            }
            return Ok(None);
        }
        Ok(c.field_column())
    };
    let mut out_exprs = Vec::new();
    let mut field_derived = Vec::new();
    for f in &fields {
        let mut call_fn = |e: &Expr| -> Res<CExpr> {
            let Expr::Call(name, args) = e else {
                return Err("bad call".into());
            };
            if name == "now" {
                return Ok(CExpr::Lit(Value::Int(now)));
            }
            // count(distinct(f)): the number of distinct values of f (1.6 answers it as `count`)
            if let (true, [Expr::Call(inner, inner_args)]) = (name == "count", args.as_slice()) {
                if inner != "distinct" {
                    return Err(format!("expected field argument in {name}()"));
                }
                let col = match inner_args.as_slice() {
                    [Expr::Ref(n, k)] => arg_column(n, *k, aggs.len(), &mut cast_args)?,
                    _ => return Err("distinct function requires at least one argument".into()),
                };
                aggs.push(AggSpec {
                    func: "count_distinct".into(),
                    arg: 0.0,
                    col,
                });
                return Ok(CExpr::Agg(aggs.len() - 1));
            }
            if !AGGREGATES.contains(&name.as_str()) {
                return Err(format!("undefined function {name}()"));
            }
            let mut arg = 0.0;
            let want = match name.as_str() {
                "percentile" => 2,
                "integral" if args.len() == 2 => 2,
                _ => 1,
            };
            if want == 2 && args.len() == 2 {
                arg = match (&args[1], name.as_str()) {
                    (Expr::Integer(i), "percentile") => *i as f64,
                    (Expr::Number(f), "percentile") => *f,
                    (Expr::Duration(d), "integral") => *d as f64,
                    _ => {
                        return Err(format!(
                            "expected {} as the second argument of {name}()",
                            if name == "integral" {
                                "duration"
                            } else {
                                "float"
                            }
                        ))
                    }
                };
            } else if name == "integral" {
                arg = 1e9;
            }
            if args.len() != want {
                return Err(format!(
                    "invalid number of arguments for {name}, expected {want}, got {}",
                    args.len()
                ));
            }
            let col = match &args[0] {
                // 1.6 selects top/bottom/distinct's points by the stored values
                Expr::Ref(n, RefKind::Field(Some(_)))
                    if matches!(name.as_str(), "top" | "bottom" | "distinct") =>
                {
                    resolve(n, RefKind::Field(None))?.field_column()
                }
                Expr::Ref(n, k) => arg_column(n, *k, aggs.len(), &mut cast_args)?,
                _ => return Err(format!("expected field argument in {name}()")),
            };
            aggs.push(AggSpec {
                func: name.clone(),
                arg,
                col,
            });
            Ok(CExpr::Agg(aggs.len() - 1))
        };
        out_exprs.push(compile(&f.expr, &resolve, &mut call_fn)?);
        field_derived.push(refs_field(&f.expr, &field_types));
    }
    let selector_single = aggs.len() == 1
        && matches!(
            aggs[0].func.as_str(),
            "min" | "max" | "first" | "last" | "percentile"
        );
    if agg_mode {
        let bare = fields.iter().any(|f| !has_call(&f.expr));
        if bare && !selector_single {
            return Err("mixing aggregate and non-aggregate queries is not supported".into());
        }
    }
    {
        let fi = field_index.borrow();
        scan_fields.resize(fi.len(), String::new());
        for (n, i) in fi.iter() {
            scan_fields[*i] = n.clone();
        }
    }
    let stored_fields = scan_fields.len();
    let mut casts: Vec<(usize, FieldType)> = Vec::new();
    for (agg, src, to) in cast_args {
        let at = match casts.iter().position(|&c| c == (src, to)) {
            Some(i) => stored_fields + i,
            None => {
                casts.push((src, to));
                scan_fields.push(format!("{}::{to}", scan_fields[src]));
                scan_fields.len() - 1
            }
        };
        aggs[agg].col = Some(at);
    }
    if scan_fields.is_empty() || lo > hi {
        return Ok(None);
    }

    Ok(Some(Plan {
        input,
        m,
        columns,
        dim_tags,
        lo,
        hi,
        scan_fields,
        stored_fields,
        casts,
        series_c,
        cond_c,
        aggs,
        out_exprs,
        field_derived,
        pushed,
        agg_mode,
        selector_single,
        shard_ns: 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::column_names;

    fn names(cols: &[(Option<&str>, &str)]) -> Vec<String> {
        column_names(
            cols.iter()
                .map(|(a, g)| (a.map(str::to_string), g.to_string())),
        )
    }

    /// 1.6's `ColumnNames`: aliases first and as written, then generated names made unique.
    #[test]
    fn aliases_as_written_generated_names_made_unique() {
        assert_eq!(names(&[(None, "mean"), (None, "mean")]), ["mean", "mean_1"]);
        assert_eq!(
            names(&[(Some("d"), "mean"), (Some("d"), "max")]),
            ["d", "d"]
        );
        assert_eq!(
            names(&[(None, "mean"), (Some("mean"), "mean")]),
            ["mean_1", "mean"]
        );
        assert_eq!(
            names(&[(None, "mean"), (None, "mean"), (Some("mean_1"), "mean")]),
            ["mean", "mean_2", "mean_1"]
        );
    }
}

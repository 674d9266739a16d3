//! Transformations and selectors of `*` or of a regex (`derivative(*)`, `holt_winters(max(*),
//! 2, 0)`, `sample(/usage/, 2)`) written out as one call per field (that the regex
//! matches), as 1.6 rewrites them before it compiles: the calls `funcs.rs` then answers one
//! by one. A leaf.

use ferry_lp::FieldType;

use crate::ast::*;

/// What a call of `*` reads: `*` itself (`derivative(*)`), or the aggregate of `*` it
/// transforms (`holt_winters(max(*), 2, 0)`: the aggregate's name).
enum Star<'a> {
    Fields,
    Aggregate(&'a str),
}

fn star_of(f: &Field) -> Option<Star<'_>> {
    let Expr::Call(_, args) = &f.expr else {
        return None;
    };
    match args.first()? {
        Expr::Wildcard | Expr::Regex(_) => Some(Star::Fields),
        Expr::Call(inner, a) if a.len() == 1 && matches!(a[0], Expr::Wildcard | Expr::Regex(_)) => {
            Some(Star::Aggregate(inner))
        }
        _ => None,
    }
}

/// `s` with each call of `*` (`derivative(*)`, `exponential_moving_average(*, 3)`,
/// `sample(*, 2)`, `holt_winters(max(*), 2, 0)`) as one call per field it reads, named
/// `name_field` as 1.6 names them, in field-name order: the numeric fields, every field for
/// `elapsed`, `sample` and the aggregates of any type (`count`, `first`, `last`, `mode`;
/// inside a transformation the first three), the booleans too for `max` and `min` (as the
/// plan expands them, for an aggregate beside a sample);
/// `None` when no call reads `*`. `fields` gives the measurement's fields and types; it is
/// asked only when a call reads `*`.
pub(crate) fn expand<E>(
    s: &Select,
    fields: impl FnOnce() -> Result<Vec<(String, FieldType)>, E>,
) -> Result<Option<Select>, E> {
    if !s.fields.iter().any(|f| star_of(f).is_some()) {
        return Ok(None);
    }
    let mut fields = fields()?;
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = s.clone();
    out.fields.clear();
    for f in &s.fields {
        let (Expr::Call(name, args), Some(star)) = (&f.expr, star_of(f)) else {
            out.fields.push(f.clone());
            continue;
        };
        let any_type = match star {
            Star::Fields => matches!(
                name.as_str(),
                "elapsed" | "sample" | "count" | "first" | "last" | "mode"
            ),
            Star::Aggregate(inner) => matches!(inner, "count" | "first" | "last"),
        };
        // an aggregate of `*` beside a sample (`sample(x, 2), max(*)`): 1.6's max and min
        // take the boolean fields too, as the plan's `expand_wildcards` does
        let boolean = matches!(star, Star::Fields) && matches!(name.as_str(), "max" | "min");
        let prefix = f.alias.as_deref().unwrap_or(name);
        // a call of `/re/`: the fields whose names match (the parser checked the regex)
        let filter = f
            .expr
            .field_regex()
            .and_then(|re| regex::Regex::new(re).ok());
        for (n, t) in &fields {
            if filter.as_ref().is_some_and(|re| !re.is_match(n)) {
                continue;
            }
            let numeric = matches!(
                t,
                FieldType::Float | FieldType::Integer | FieldType::UInteger
            );
            if !(numeric || any_type || boolean && *t == FieldType::Boolean) {
                continue;
            }
            let field = Expr::Ref(n.clone(), RefKind::Field(None));
            let mut a = args.clone();
            a[0] = match star {
                Star::Fields => field,
                Star::Aggregate(inner) => Expr::Call(inner.to_string(), vec![field]),
            };
            out.fields.push(Field {
                expr: Expr::Call(name.clone(), a),
                alias: Some(format!("{prefix}_{n}")),
            });
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of `q`'s select list once expanded over the fields `ok` (a boolean),
    /// `load` (an integer) and `s` (a string).
    fn expanded_names(q: &str) -> Vec<String> {
        let Statement::Select(s) = crate::parse_query(q).unwrap().remove(0) else {
            panic!("a select");
        };
        let fields = || -> Result<_, ()> {
            Ok(vec![
                ("ok".to_string(), FieldType::Boolean),
                ("load".to_string(), FieldType::Integer),
                ("s".to_string(), FieldType::String),
            ])
        };
        let out = expand(&s, fields).unwrap().unwrap();
        out.fields
            .iter()
            .map(|f| f.alias.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn one_call_per_field_it_reads() {
        let q =
            "SELECT derivative(*), holt_winters(first(*), 2, 0) AS h, sample(*, 2), load FROM m";
        assert_eq!(
            expanded_names(q),
            [
                "derivative_load",
                "h_load",
                "h_ok",
                "h_s",
                "sample_load",
                "sample_ok",
                "sample_s",
                ""
            ]
        );
        // aggregates of `*` (beside a sample): max and min take booleans, count every field
        assert_eq!(
            expanded_names("SELECT sample(load, 2), max(*), count(*), mean(*) FROM m"),
            [
                "",
                "max_load",
                "max_ok",
                "count_load",
                "count_ok",
                "count_s",
                "mean_load"
            ]
        );
        let plain = crate::parse_query("SELECT derivative(x) FROM m").unwrap();
        let Statement::Select(p) = &plain[0] else {
            panic!("a select");
        };
        let never = || -> Result<Vec<(String, FieldType)>, ()> { panic!("not asked") };
        assert!(expand(p, never).unwrap().is_none());
    }
}

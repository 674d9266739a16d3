//! `DROP MEASUREMENT`, `DROP SERIES` and `DELETE`, executed as InfluxDB 1.6 does: on every
//! retention policy (bucket) of the request's database, tag conditions picking the series,
//! time conditions (DELETE only) the range, field conditions refused.

use std::collections::HashMap;

use ferry_store::{BucketStore, Deletion};

use super::context::{Context, Res};
use super::expr::{compile_regex, compile_tag_cond, eval_tags, truthy};
use super::plan::refs_field;
use super::time::{is_time_ref, split_time_in};
use crate::ast::*;
use crate::result::Series;

/// Executes a deleting statement; `db` is the request's database. Answers no series.
pub(super) fn execute(d: &Delete, ctx: &dyn Context, db: Option<&str>) -> Res<Vec<Series>> {
    // 1.6 asks for the database first: without `db` it is "database not found: ".
    let stores = ctx.delete_stores(db.unwrap_or(""))?;
    let (mut lo, mut hi) = (i64::MIN, i64::MAX);
    let cond = match &d.condition {
        None => None,
        Some(c) if d.kind == DeleteKind::DropSeries && has_time(c) => {
            return Err("DROP SERIES doesn't support time in WHERE clause".into())
        }
        Some(c) => strip_time(c, ctx.now_ns(), &mut lo, &mut hi)?,
    };
    let compiled = cond.as_ref().map(compile_tag_cond).transpose()?;
    let regexes = d
        .sources
        .iter()
        .map(|s| match s {
            DeleteSource::Regex(r) => compile_regex(r).map(Some),
            DeleteSource::Name(_) => Ok(None),
        })
        .collect::<Res<Vec<_>>>()?;
    // Work out every bucket's deletions before deleting anything, so a refused field
    // condition leaves all data in place.
    let mut work: Vec<(&BucketStore, Vec<Deletion>)> = Vec::new();
    for store in &stores {
        let mut dels = Vec::new();
        for m in store.measurements() {
            let named = d.sources.is_empty()
                || d.sources.iter().zip(&regexes).any(|(s, re)| match (s, re) {
                    (_, Some(re)) => re.is_match(&m),
                    (DeleteSource::Name(n), None) => *n == m,
                    (DeleteSource::Regex(_), None) => false,
                });
            if !named {
                continue;
            }
            if let Some(c) = &cond {
                let fields: HashMap<String, ferry_lp::FieldType> = store
                    .schema(&m)
                    .map(|s| s.fields.into_iter().collect())
                    .unwrap_or_default();
                if refs_field(c, &fields) {
                    return Err("fields not supported in WHERE clause during deletion".into());
                }
            }
            let picked = store.deletion_where(&m, lo, hi, |tags| {
                compiled
                    .as_ref()
                    .is_none_or(|cc| truthy(&eval_tags(cc, tags)))
            });
            dels.extend(picked.map_err(|e| e.to_string())?);
        }
        work.push((store, dels));
    }
    for (store, dels) in work {
        store.delete(dels).map_err(|e| e.to_string())?;
    }
    Ok(Vec::new())
}

/// Whether `e` compares `time` anywhere.
fn has_time(e: &Expr) -> bool {
    match e {
        Expr::Binary(l, _, r) => is_time_ref(l) || is_time_ref(r) || has_time(l) || has_time(r),
        Expr::Paren(x) => has_time(x),
        _ => false,
    }
}

/// Removes every `time` comparison of `e`, intersecting them into `[lo, hi]`, even under
/// `OR` (1.6's ConditionExpr: "there is no such thing as using OR with a time range"); an
/// `AND`/`OR` left with one side becomes that side.
fn strip_time(e: &Expr, now: i64, lo: &mut i64, hi: &mut i64) -> Res<Option<Expr>> {
    match e {
        Expr::Paren(x) => strip_time(x, now, lo, hi),
        Expr::Binary(l, op @ (BinOp::And | BinOp::Or), r) => {
            let a = strip_time(l, now, lo, hi)?;
            let b = strip_time(r, now, lo, hi)?;
            Ok(match (a, b) {
                (Some(a), Some(b)) => Some(Expr::Binary(Box::new(a), *op, Box::new(b))),
                (a, b) => a.or(b),
            })
        }
        _ => split_time_in(e, now, None, lo, hi),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_query;

    fn cond(q: &str) -> Expr {
        match parse_query(q).unwrap().remove(0) {
            Statement::Delete(d) => d.condition.unwrap(),
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn time_conditions_are_intersected_even_under_or() {
        let (mut lo, mut hi) = (i64::MIN, i64::MAX);
        let rest = strip_time(
            &cond("DELETE WHERE (host = 'a' AND time < 20) OR host = 'b' OR time >= 5"),
            0,
            &mut lo,
            &mut hi,
        )
        .unwrap();
        assert_eq!((lo, hi), (5, 19));
        let rest = rest.unwrap();
        assert!(!has_time(&rest));
        assert!(has_time(&cond(
            "DROP SERIES WHERE host = 'a' OR (time > 0)"
        )));
        assert!(!has_time(&cond("DROP SERIES WHERE host = 'a'")));
    }
}

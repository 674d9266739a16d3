//! SELECT over several measurements (`FROM cpu, mem`, `FROM /re/`, `db.rp./re/`), as
//! InfluxDB 1.6 answers it: the select list's `*` and `GROUP BY *` expanded over every
//! matched measurement's fields and tags together, the statement then run once per
//! measurement and the series merged in measurement-name order (SLIMIT/SOFFSET count each
//! measurement's series on their own, as 1.6 does).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ferry_lp::FieldType;
use ferry_store::BucketStore;

use super::context::{need_db, Context, Res};
use super::expr::compile_regex;
use super::plan::expand_wildcards;
use crate::ast::{Select, Source};

/// Whether `s` reads more than one named measurement or a regex (and no subquery).
pub(crate) fn is_multi(s: &Select) -> bool {
    s.subquery.is_none() && (s.sources.len() > 1 || s.sources.iter().any(|x| x.regex))
}

/// The measurements of `store` that `src` names: its measurement when it exists, or
/// every measurement its regex matches, in name order.
pub fn measurements_matching(store: &BucketStore, src: &Source) -> Result<Vec<String>, String> {
    if src.regex {
        let re = compile_regex(&src.name)?;
        let mut names = store.measurements();
        names.retain(|n| re.is_match(n));
        Ok(names)
    } else if store.schema(&src.name).is_some() {
        Ok(vec![src.name.clone()])
    } else {
        Ok(vec![])
    }
}

/// The statement as it runs on each matched measurement, in answer order ([`plan`]), the
/// FROM items' stores opened through `ctx` with the request's `db`/`rp` as defaults.
pub(crate) fn each_select(
    s: &Select,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
) -> Res<Vec<Select>> {
    let store_of = |src: &Source| {
        Ok(ctx.store(
            need_db(src.db.as_deref(), db)?,
            src.rp.as_deref().or(rp).unwrap_or(""),
        )?)
    };
    let (each, order) = plan(s, &store_of)?;
    Ok(order
        .into_iter()
        .map(|src| {
            let mut one = each.clone();
            one.source = src.clone();
            one.sources = vec![src];
            one
        })
        .collect())
}

/// How a SELECT over several measurements runs (see the module's documentation): the
/// statement each measurement is queried with, and the measurements in answer order
/// (none when nothing matches). `store_of` opens a FROM item's store.
pub(crate) fn plan(
    s: &Select,
    store_of: &dyn Fn(&Source) -> Res<Arc<BucketStore>>,
) -> Res<(Select, Vec<Source>)> {
    // every matched measurement once, by name (then database and retention policy)
    let mut matched: BTreeMap<(String, Option<String>, Option<String>), Source> = BTreeMap::new();
    let mut fields: BTreeMap<String, FieldType> = BTreeMap::new();
    let mut tag_keys: BTreeSet<String> = BTreeSet::new();
    for src in &s.sources {
        let store = store_of(src)?;
        for name in measurements_matching(&store, src)? {
            if let Some(schema) = store.schema(&name) {
                for (f, t) in schema.fields {
                    fields.entry(f).or_insert(t);
                }
                tag_keys.extend(schema.tag_keys);
            }
            let one = Source {
                db: src.db.clone(),
                rp: src.rp.clone(),
                name: name.clone(),
                regex: false,
            };
            matched.insert((name, src.db.clone(), src.rp.clone()), one);
        }
    }

    let mut each = s.clone();
    if s.dims.all_tags {
        each.dims.all_tags = false;
        each.dims.tags = tag_keys.iter().cloned().collect();
    }
    for re in std::mem::take(&mut each.dims.tag_regexes) {
        let re = compile_regex(&re)?;
        each.dims
            .tags
            .extend(tag_keys.iter().filter(|t| re.is_match(t)).cloned());
    }
    let mut dim_tags = each.dims.tags.clone();
    dim_tags.sort();
    dim_tags.dedup();
    let fields: Vec<(String, FieldType)> = fields.into_iter().collect();
    // under `GROUP BY /re/` 1.6's `*` is the fields alone, as under `GROUP BY *`
    let star_hides: Vec<String> = match s.dims.tag_regexes.is_empty() {
        true => dim_tags,
        false => tag_keys.iter().cloned().collect(),
    };
    each.fields = expand_wildcards(&s.fields, &fields, &tag_keys, &star_hides, &[]);
    let mut order: Vec<Source> = matched.into_values().collect();
    if s.descending {
        // each measurement's series walk backwards; so do the measurements
        order.reverse();
    }
    Ok((each, order))
}

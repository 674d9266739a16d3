//! Answering a compiled plan: scanned whole and computed group by group (raw rows or
//! aggregates over windows), or, for streaming aggregates over a store, read in pieces.

use ferry_store::coop;

use super::aggregate::agg_group;
use super::context::{finish_series, page, Input, Res};
use super::pieces::{in_pieces, run_in_pieces};
use super::plan::Plan;
use super::rows::{cond_after_merge, merge_raw, raw_group, scan_groups};
use crate::ast::Select;
use crate::result::Series;
use crate::windowed::STREAMING_AGGS;

/// Answers a compiled SELECT: streaming aggregates over a store in pieces when they can be
/// ([`in_pieces`]), anything else from one scan of its whole range, group by group.
pub(super) fn run_plan(s: &Select, p: &Plan) -> Res<Vec<Series>> {
    let Plan {
        m,
        columns,
        dim_tags,
        lo,
        hi,
        scan_fields,
        cond_c,
        aggs,
        out_exprs,
        field_derived,
        agg_mode,
        selector_single,
        ..
    } = p;
    let (lo, hi, agg_mode, selector_single) = (*lo, *hi, *agg_mode, *selector_single);
    let streaming = agg_mode
        && cond_c.is_none()
        && p.casts.is_empty()
        && aggs
            .iter()
            .all(|a| STREAMING_AGGS.contains(&a.func.as_str()));
    if let (true, Input::Store(store)) = (streaming, &p.input) {
        if in_pieces(s, p) {
            return Ok(finish_series(s, run_in_pieces(s, p, store)?));
        }
    }
    let (data, groups) = scan_groups(p)?;

    let mut out = Vec::new();
    for (key, members) in groups {
        coop::point();
        let tags = if dim_tags.is_empty() {
            None
        } else {
            Some(
                dim_tags
                    .iter()
                    .cloned()
                    .zip(key.iter().cloned())
                    .collect::<Vec<_>>(),
            )
        };
        // merged rows in time order (the streaming aggregates need none)
        let mut rows: Vec<(i64, usize, usize)> = Vec::new();
        if !agg_mode {
            merge_raw(p, &data, &members, s.descending, &mut rows);
        } else if !streaming {
            for &si in &members {
                coop::point();
                for (ri, t) in data[si].times.iter().enumerate() {
                    rows.push((*t, si, ri));
                }
            }
            rows.sort_unstable(); // (time, series, row) are unique
        }
        // without a lower time bound a group's windows start at its own first point (1.6)
        let data_min = members
            .iter()
            .filter_map(|&si| data[si].times.first())
            .min()
            .copied();
        let series = if agg_mode {
            agg_group(
                s,
                &data,
                scan_fields,
                (!streaming).then_some(&rows[..]).ok_or(&members[..]),
                &members,
                p.shard_ns,
                aggs,
                out_exprs,
                cond_c.as_ref(),
                lo,
                hi,
                data_min,
                selector_single,
            )?
        } else {
            raw_group(
                &data,
                scan_fields,
                &rows,
                out_exprs,
                field_derived,
                cond_after_merge(p),
                // the rows past the page are never shown
                (s.limit > 0).then(|| s.offset.saturating_add(s.limit)),
            )
        };
        let Some(mut values) = series else {
            continue;
        };
        if s.descending && agg_mode {
            values.reverse(); // raw rows are merged in descending order
        }
        let values = page(values, s.limit, s.offset);
        if values.is_empty() && !agg_mode {
            continue;
        }
        out.push(Series {
            name: Some(m.clone()),
            tags,
            columns: columns.clone(),
            values,
        });
    }
    Ok(finish_series(s, out))
}

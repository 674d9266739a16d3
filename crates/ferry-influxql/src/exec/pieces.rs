//! Streaming aggregates read from the store in pieces ([`run_in_pieces`]): each piece's
//! series feed their group's running aggregates and are dropped; a lone `last` (`first`)
//! reads the edge of its range first ([`edge_scans`]).

use std::collections::{BTreeMap, HashMap};

use ferry_store::{BucketStore, ScanRequest, SeriesData, TagPredicate};

use super::aggregate::{
    charge_windows, feed_series, finish_windows, grid_spec, limited_end, series_value,
    stream_results,
};
use super::context::{page, Res};
use super::expr::{eval_tags, truthy, CExpr};
use super::pick::PieceHeads;
use super::plan::{group_key, Plan};
use crate::ast::Select;
use crate::result::{Series, Value};
use crate::windowed::{Grid, Stream, StreamKind};

/// Values a statement answered in pieces reads per scan (see [`run_in_pieces`]): about
/// 8 MiB of scanned values (10M points, count: as fast as pieces of 1M values, 30 MB less
/// peak memory).
const PIECE_VALUES: usize = 1 << 18;

#[cfg(test)]
thread_local! {
    /// Tests' piece size for statements run on this thread: `Some(0)` answers them whole
    /// ([`super::run::run_plan`]'s own scan), `Some(n)` in pieces of `n` values.
    pub(crate) static TEST_PIECE_VALUES: std::cell::Cell<Option<usize>> =
        const { std::cell::Cell::new(None) };
}

/// The values per piece: [`PIECE_VALUES`], or `FERRY_QUERY_PIECE_VALUES` (read once; a
/// tuning and test knob, 0 = answer whole), or what a unit test set; 0 = no pieces.
pub(super) fn piece_values() -> usize {
    #[cfg(test)]
    if let Some(n) = TEST_PIECE_VALUES.with(|c| c.get()) {
        return n;
    }
    static FROM_ENV: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *FROM_ENV.get_or_init(|| {
        std::env::var("FERRY_QUERY_PIECE_VALUES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(PIECE_VALUES)
    })
}

/// Whether a streaming aggregate statement is answered from scans of a few series at a time
/// ([`run_in_pieces`]): when its aggregates need no point's value kept (count, sum, mean,
/// spread), its windows need no point times (no `tz()`, no open range with GROUP BY time).
pub(super) fn in_pieces(s: &Select, p: &Plan) -> bool {
    // A lone selector's row lends the answer its other columns: only when no output
    // column reads that row (its fields or tags) is the row not needed after its piece.
    fn reads_row(e: &CExpr) -> bool {
        match e {
            CExpr::Field(_) | CExpr::Tag(_) => true,
            CExpr::Bin(a, _, b) => reads_row(a) || reads_row(b),
            CExpr::Math(_, args) => args.iter().any(reads_row),
            CExpr::Cast(x, _) => reads_row(x),
            CExpr::Time | CExpr::Lit(_) | CExpr::Re(_) | CExpr::Agg(_) => false,
        }
    }
    piece_values() > 0
        && !Grid::goes_sparse(&grid_spec(s), p.lo, p.hi)
        && s.location.is_none()
        && (s.dims.time.is_none() || p.lo != i64::MIN)
        && !(p.selector_single && p.out_exprs.iter().any(reads_row))
}

/// Answers a streaming aggregate statement (see [`in_pieces`]) from the store's scan in
/// pieces: each piece's series feed their group's running aggregates and are dropped, so
/// memory holds one piece and the aggregates, however many points the range has. The
/// values of the points a selector holds (min, max, first, last) are kept at the end of
/// the piece they are in. The series equal those of [`super::run::run_plan`]'s whole scan,
/// fed in the same order; the caller puts them in output order (`finish_series`).
pub(super) fn run_in_pieces(s: &Select, p: &Plan, store: &BucketStore) -> Res<Vec<Series>> {
    let hi = limited_end(s, p.lo, p.hi, None);
    let Some(grid) = Grid::new(&grid_spec(s), p.lo, hi, None, &Vec::new)? else {
        return Ok(Vec::new());
    };
    let kinds: Vec<StreamKind> = p.aggs.iter().map(|a| StreamKind::of(&a.func)).collect();
    let selects = kinds.iter().any(|k| k.selects());
    // Group key -> its position in `states`: (running aggregates, any row fed).
    let mut groups: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let mut states: Vec<(Vec<Vec<Stream>>, bool)> = Vec::new();
    let mut heads = PieceHeads::new(s, &p.aggs, p.shard_ns);
    // The values of points selectors held at the end of their piece, by (aggregate, point).
    let mut held: HashMap<(usize, (i64, usize, usize)), Value> = HashMap::new();
    let req = ScanRequest {
        measurement: p.m.clone(),
        start_ns: p.lo,
        end_ns: p.hi.saturating_add(1),
        tag_filter: (!p.pushed.is_empty()).then(|| TagPredicate::And(p.pushed.clone())),
        fields: Some(p.stored().to_vec()),
    };
    let mut si = 0usize;
    let rows = (piece_values() / (p.scan_fields.len() + 1)).max(1);
    // While `Some`: the tag sets of the series that gave the aggregate a value.
    let found: std::cell::RefCell<Option<Vec<TagSet>>> = Default::default();
    let mut on_piece = |data: Vec<SeriesData>| -> Result<(), ferry_store::StoreError> {
        let base = si;
        // (series number, position in `data`) of the piece's series that passed
        let mut fed: Vec<(usize, usize)> = Vec::new();
        let mut touched: Vec<usize> = Vec::new();
        for (di, sd) in data.iter().enumerate() {
            ferry_store::coop::point();
            if p.series_c
                .as_ref()
                .is_some_and(|c| !truthy(&eval_tags(c, &sd.tags)))
            {
                continue;
            }
            let gi = *groups
                .entry(group_key(&sd.tags, &p.dim_tags))
                .or_insert_with(|| {
                    charge_windows(grid.n, p.aggs.len());
                    states.push((vec![vec![Stream::new(); p.aggs.len()]; grid.n], false));
                    states.len() - 1
                });
            let (st, any) = &mut states[gi];
            let counted = feed_series(st, &kinds, sd, si, &p.scan_fields, &p.aggs, &grid);
            if heads.any() {
                heads.feed(gi, sd, &|ai, ri| {
                    series_value(sd, &p.scan_fields, &p.aggs[ai], ri)
                });
            }
            *any |= counted;
            if let Some(found) = found.borrow_mut().as_mut().filter(|_| counted) {
                found.push(sd.tags.clone());
            }
            fed.push((si, di));
            touched.push(gi);
            si += 1;
        }
        if selects {
            touched.sort_unstable();
            touched.dedup();
            let in_piece = |at: (i64, usize, usize)| {
                (base..si).contains(&at.1).then(|| {
                    let di = fed[fed.partition_point(|f| f.0 < at.1)].1;
                    (at, &data[di])
                })
            };
            for &gi in &touched {
                for w in &states[gi].0 {
                    for (ai, x) in w.iter().enumerate() {
                        if x.n == 0 || !kinds[ai].selects() {
                            continue;
                        }
                        let points = [Some(x.first), Some(x.last), x.best.map(|b| b.1)];
                        for (at, sd) in points.into_iter().flatten().filter_map(in_piece) {
                            held.entry((ai, at)).or_insert_with(|| {
                                series_value(sd, &p.scan_fields, &p.aggs[ai], at.2)
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    };
    let stored = || store.time_range(&p.m).map(|r| (r.min_time, r.max_time));
    match edge_scans(&kinds, &grid, p, stored) {
        Some((edge, rest)) => {
            // the edge of the range first; then the rest, of the series it did not answer
            *found.borrow_mut() = Some(Vec::new());
            let at_edge = ScanRequest {
                start_ns: edge.0,
                end_ns: edge.1,
                ..req.clone()
            };
            store
                .scan_pieces(&at_edge, rows, &mut on_piece)
                .map_err(|e| e.to_string())?;
            let mut answered = found.take().unwrap_or_default();
            answered.sort_unstable();
            let others = TagPredicate::NoneOf(answered);
            let rest = ScanRequest {
                start_ns: rest.0,
                end_ns: rest.1,
                tag_filter: Some(match req.tag_filter.clone() {
                    Some(t) => TagPredicate::And(vec![t, others]),
                    None => others,
                }),
                ..req.clone()
            };
            store
                .scan_pieces(&rest, rows, &mut on_piece)
                .map_err(|e| e.to_string())?;
        }
        None => store
            .scan_pieces(&req, rows, &mut on_piece)
            .map_err(|e| e.to_string())?,
    }
    let value_at =
        |ai: usize, at: (i64, usize, usize)| held.get(&(ai, at)).cloned().unwrap_or(Value::Null);
    let mut out = Vec::new();
    for (key, gi) in groups {
        let (st, any) = std::mem::take(&mut states[gi]);
        if !any {
            continue;
        }
        let mut kept_rows = Vec::new();
        let mut results = stream_results(st, &kinds, &value_at, &mut kept_rows);
        heads.apply(gi, &mut results, &mut kept_rows);
        let Some(mut values) = finish_windows(
            s,
            &[],
            &p.scan_fields,
            &p.aggs,
            &p.out_exprs,
            &grid,
            results,
            &[],
            &kept_rows,
            p.selector_single,
        )?
        else {
            continue;
        };
        if s.descending {
            values.reverse();
        }
        out.push(Series {
            name: Some(p.m.clone()),
            tags: (!p.dim_tags.is_empty()).then(|| p.dim_tags.iter().cloned().zip(key).collect()),
            columns: p.columns.clone(),
            values: page(values, s.limit, s.offset),
        });
    }
    Ok(out)
}

/// A series' tags, sorted by key (as [`SeriesData::tags`]).
type TagSet = Vec<(String, String)>;

/// For a lone `last` (`first`) without `GROUP BY time`: the newest (oldest) 64th of the
/// range, `[start, end)`, and the rest. A series with a value in that edge has its answer
/// there, so the rest need only be read for the series without one; dense data (a
/// dashboard's last value per host) then reads a 64th of its points. An open end of the
/// range (`time > now() - 1h`, Grafana's `$timeFilter`) is closed at the stored data's
/// oldest and newest time, which `stored` looks up (from [`BucketStore::time_range`]: files
/// and buffers, deleted rows included, so never inside the data) only for such a range.
fn edge_scans(
    kinds: &[StreamKind],
    grid: &Grid,
    p: &Plan,
    stored: impl FnOnce() -> Option<(i64, i64)>,
) -> Option<((i64, i64), (i64, i64))> {
    let last = match kinds {
        [StreamKind::Last] => true,
        [StreamKind::First] => false,
        _ => return None,
    };
    if grid.dims.is_some() {
        return None;
    }
    let (mut lo, mut end) = (p.lo, p.hi.saturating_add(1));
    if lo == i64::MIN || end == i64::MAX {
        let (oldest, newest) = stored()?;
        lo = lo.max(oldest);
        end = end.min(newest.saturating_add(1));
    }
    if end <= lo {
        return None;
    }
    let edge = (end.checked_sub(lo)? / 64).max(1);
    Some(if last {
        ((end - edge, end), (lo, end - edge))
    } else {
        ((lo, lo + edge), (lo + edge, end))
    })
}

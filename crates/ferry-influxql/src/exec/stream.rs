//! Chunked answers computed piece by piece: a raw SELECT (no aggregate, no subquery, no
//! INTO, no transformation; one measurement or several) is read in bounded scans — groups of
//! GROUP BY groups, or time slices of one large group — and its rows go to an incremental
//! encoder as they are made, so memory stays bounded by the scan size whatever the answer's.
//! Every other statement is answered whole by [`execute`] and then encoded. The output is
//! byte for byte what [`crate::encode::json_chunks`] writes for [`execute`]'s result.

use std::sync::Arc;

use ferry_store::{BucketStore, ScanRequest, SeriesData, TagPredicate};

use super::context::{Context, Input, Res};
use super::expr::{eval_tags, truthy};
use super::plan::{group_key, has_call, Plan};
use super::rows::{cond_after_merge, merge_raw, raw_rows, RawSlices};
use super::time::zone_row;
use super::{execute, multi, plan};
use crate::ast::{Select, Statement};
use crate::encode::{ChunkEncoder, Epoch};
use crate::result::{Series, Value};

/// Values (rows × (fields + 1)) a streamed statement reads per scan when the caller does
/// not say how many rows: about 2 MiB of scanned values, 4 to 5 MiB of transient memory.
pub const DEFAULT_SLICE_VALUES: usize = 65_536;

/// Beyond this many GROUP BY groups a statement is answered whole: the group list is held
/// (about 100 bytes a group), and each scan evaluates its filter on every series of the
/// measurement, so very many small scans would cost more than the answer saves.
const MAX_STREAMED_GROUPS: usize = 100_000;

/// How a chunked query is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkedOptions {
    /// How times are written.
    pub epoch: Epoch,
    /// Rows per chunk (`chunk_size`; at least 1).
    pub chunk_size: usize,
    /// About how many rows a streamed statement reads per scan (at least 1); `None`:
    /// [`DEFAULT_SLICE_VALUES`] divided by the columns scanned (fields and time).
    pub slice_rows: Option<usize>,
}

impl ChunkedOptions {
    /// Options with scans of [`DEFAULT_SLICE_VALUES`].
    pub fn new(epoch: Epoch, chunk_size: usize) -> ChunkedOptions {
        ChunkedOptions {
            epoch,
            chunk_size,
            slice_rows: None,
        }
    }
}

/// Why a chunked query stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedError {
    /// The receiver of the answer went away (the client disconnected).
    Disconnected,
}

impl std::fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChunkedError::Disconnected => f.write_str("the receiver of the answer went away"),
        }
    }
}

impl std::error::Error for ChunkedError {}

/// Runs the statements of a chunked JSON query in order, handing the answer to `send` in
/// pieces as soon as they are final (whole lines, or parts of a long line: see
/// [`ChunkEncoder`]); `db`/`rp` are the request's defaults. Stops when `send` fails.
pub fn execute_chunked(
    stmts: &[Statement],
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
    opts: ChunkedOptions,
    send: &mut dyn FnMut(String) -> Result<(), ChunkedError>,
) -> Result<(), ChunkedError> {
    let mut enc = ChunkEncoder::new(opts.epoch, opts.chunk_size);
    for (i, stmt) in stmts.iter().enumerate() {
        match prepare(stmt, ctx, db, rp) {
            Some(st) => {
                enc.begin_statement(i);
                let mut sink = Sink {
                    enc: &mut enc,
                    send: &mut *send,
                };
                match st.run(opts.slice_rows, &mut sink) {
                    Ok(()) => enc.end_statement(None),
                    Err(Stop::Query(e)) => enc.fail(&e),
                    Err(Stop::Disconnected) => return Err(ChunkedError::Disconnected),
                }
            }
            None => enc.write_result(&execute(stmt, i, ctx, db, rp)),
        }
        if let Some(out) = enc.take_ready() {
            send(out)?;
        }
    }
    match enc.take_all() {
        Some(out) => send(out),
        None => Ok(()),
    }
}

/// Why streaming a statement stopped.
enum Stop {
    /// The statement failed (the message is its error).
    Query(String),
    /// The answer's receiver went away.
    Disconnected,
}

/// The encoder, handing its output out as it is final.
struct Sink<'a> {
    enc: &'a mut ChunkEncoder,
    send: &'a mut dyn FnMut(String) -> Result<(), ChunkedError>,
}

impl Sink<'_> {
    fn flush(&mut self) -> Result<(), Stop> {
        match self.enc.take_ready() {
            Some(out) => (self.send)(out).map_err(|_| Stop::Disconnected),
            None => Ok(()),
        }
    }
}

/// One GROUP BY group: its tag values (in the plan's `dim_tags` order) and how many of the
/// measurement's series it holds.
struct Group {
    key: Vec<String>,
    members: usize,
}

/// One measurement's part of a streamed statement.
struct Part {
    /// The statement as it runs on this measurement.
    s: Select,
    plan: Plan,
    store: Arc<BucketStore>,
    /// In answer order (reversed with ORDER BY time DESC).
    groups: Vec<Group>,
    /// The measurement's series (the share of its rows a group holds is estimated from it).
    total_series: usize,
}

/// A statement that streams: its measurements' parts, in answer order.
struct Streamed {
    parts: Vec<Part>,
}

/// The streamed form of `stmt`, or `None` when it is answered whole (another kind of
/// statement, aggregates, or any error while compiling it: [`execute`] then answers the
/// same error as before).
fn prepare(
    stmt: &Statement,
    ctx: &dyn Context,
    db: Option<&str>,
    rp: Option<&str>,
) -> Option<Streamed> {
    let Statement::Select(s) = stmt else {
        return None;
    };
    if s.into.is_some() || s.fields.iter().any(|f| has_call(&f.expr)) {
        return None;
    }
    // the select list's compile errors (`SELECT v, 1`) are the whole answer's
    crate::compile_checks::compile_fields(s).ok()?;
    // ORDER BY time DESC with SLIMIT/SOFFSET: 1.6 pages the series in key order and answers
    // the page backwards, so which series come first is known only once every series is
    // known to have rows or not: answered whole
    //
    // With two or more GROUP BY tags (or `*`), 1.6 cuts SLIMIT/SOFFSET in its tag-set key
    // order (`context::tag_set_key`), not in output order: answered whole as well.
    if (s.slimit > 0 || s.soffset > 0)
        && (s.descending || s.dims.all_tags || s.dims.tags.len() + s.dims.tag_regexes.len() > 1)
    {
        return None;
    }
    let each: Vec<Select> = if multi::is_multi(s) {
        multi::each_select(s, ctx, db, rp).ok()?
    } else {
        vec![(**s).clone()]
    };
    let mut parts = Vec::with_capacity(each.len());
    for one in each {
        // (top, bottom, distinct and the transformations are calls: refused above)
        if one.subquery.is_some() {
            return None;
        }
        let Some(mut plan) = plan(&one, ctx, db, rp, (0, 0)).ok()? else {
            continue;
        };
        // the time column named as the whole answer names it (`select` in `exec.rs`)
        if let Some(alias) = super::time::time_column_alias(s) {
            plan.columns[0] = alias.to_string();
        }
        debug_assert!(
            !plan.agg_mode,
            "a select list without calls aggregates nothing"
        );
        let Input::Store(store) = &plan.input else {
            return None;
        };
        let store = store.clone();
        let (groups, total_series) = groups_of(&one, &plan, &store)?;
        parts.push(Part {
            s: one,
            plan,
            store,
            groups,
            total_series,
        });
    }
    Some(Streamed { parts })
}

/// The GROUP BY groups of a plan's series, in answer order, and the measurement's number
/// of series; `None` beyond [`MAX_STREAMED_GROUPS`] or when the series cannot be listed.
fn groups_of(s: &Select, plan: &Plan, store: &BucketStore) -> Option<(Vec<Group>, usize)> {
    let keys = store.series_keys(&plan.m).ok()?;
    let total = keys.len();
    let pushed = TagPredicate::And(plan.pushed.clone());
    let selected = |tags: &[(String, String)]| {
        pushed.matches(tags)
            && plan
                .series_c
                .as_ref()
                .is_none_or(|c| truthy(&eval_tags(c, tags)))
    };
    let mut groups = Vec::new();
    if plan.dim_tags.is_empty() {
        let unfiltered = plan.pushed.is_empty() && plan.series_c.is_none();
        groups.push(Group {
            key: Vec::new(),
            members: if unfiltered {
                total
            } else {
                keys.iter().filter(|t| selected(t)).count()
            },
        });
        return Some((groups, total));
    }
    let mut by_key: std::collections::BTreeMap<Vec<String>, usize> = Default::default();
    for tags in keys.iter().filter(|t| selected(t)) {
        *by_key.entry(group_key(tags, &plan.dim_tags)).or_default() += 1;
        if by_key.len() > MAX_STREAMED_GROUPS {
            return None;
        }
    }
    groups.extend(
        by_key
            .into_iter()
            .map(|(key, members)| Group { key, members }),
    );
    if s.descending {
        // 1.6 walks the series in descending order too
        groups.reverse();
    }
    Some((groups, total))
}

/// The answer's progress over SLIMIT/SOFFSET.
#[derive(Default)]
struct SeriesCount {
    /// Groups found with rows (after LIMIT/OFFSET) so far.
    nonempty: usize,
    /// Of those, the ones written.
    written: usize,
}

/// One group's progress over LIMIT/OFFSET.
struct GroupRun {
    head: Series,
    offset_left: usize,
    limit_left: usize,
    begun: bool,
    done: bool,
}

impl Streamed {
    fn run(&self, slice_rows: Option<usize>, sink: &mut Sink) -> Result<(), Stop> {
        for part in &self.parts {
            let slice_rows = slice_rows
                .unwrap_or(DEFAULT_SLICE_VALUES / (part.plan.scan_fields.len() + 1))
                .max(1);
            // SLIMIT/SOFFSET count each measurement's series on their own, as in 1.6
            let mut count = SeriesCount::default();
            part.run(slice_rows, &mut count, sink)?;
        }
        Ok(())
    }
}

impl Part {
    fn run(&self, slice_rows: usize, count: &mut SeriesCount, sink: &mut Sink) -> Result<(), Stop> {
        let p = &self.plan;
        let Some(range) = self.store.time_range(&p.m) else {
            return Ok(());
        };
        let (lo, hi) = (p.lo.max(range.min_time), p.hi.min(range.max_time));
        if lo > hi {
            return Ok(());
        }
        // rows expected in [lo, hi] (spread evenly over time), then per series
        let full = (range.max_time as i128 - range.min_time as i128 + 1).max(1);
        let part = hi as i128 - lo as i128 + 1;
        let in_range = (range.rows_upper_bound as i128 * part + full - 1) / full;
        let per_series = in_range as f64 / self.total_series.max(1) as f64;
        let estimate = |g: &Group| (per_series * g.members as f64).ceil() as usize;

        let mut i = 0;
        while i < self.groups.len() {
            if self.s.slimit > 0 && count.written >= self.s.slimit {
                break;
            }
            let first = &self.groups[i];
            if estimate(first) > slice_rows {
                self.run_sliced(first, lo, hi, estimate(first), slice_rows, count, sink)?;
                i += 1;
                continue;
            }
            // consecutive groups read by one scan
            let mut j = i + 1;
            let mut rows = estimate(first);
            while j < self.groups.len() {
                let more = estimate(&self.groups[j]);
                if rows + more > slice_rows {
                    break;
                }
                rows += more;
                j += 1;
            }
            let batch = &self.groups[i..j];
            let filter = if batch.len() == self.groups.len() {
                p.pushed.clone()
            } else {
                self.filter(batch)
            };
            let data = self.scan(lo, hi, filter).map_err(Stop::Query)?;
            let mut members: std::collections::HashMap<Vec<String>, Vec<usize>> =
                Default::default();
            for (si, sd) in data.iter().enumerate() {
                members
                    .entry(group_key(&sd.tags, &p.dim_tags))
                    .or_default()
                    .push(si);
            }
            for g in batch {
                if self.s.slimit > 0 && count.written >= self.s.slimit {
                    break;
                }
                let Some(m) = members.get(&g.key) else {
                    continue;
                };
                let mut run = self.group_run(g);
                let mut rows = Vec::new();
                merge_raw(p, &data, m, self.s.descending, &mut rows);
                self.emit(&data, rows, &mut run, count, sink)?;
                if run.begun {
                    sink.enc.end_series();
                    sink.flush()?;
                }
            }
            i = j;
        }
        Ok(())
    }

    /// Reads one large group in time slices of about `slice_rows` rows (the width adapts to
    /// the rows the previous slice held), oldest first or newest first.
    #[allow(clippy::too_many_arguments)]
    fn run_sliced(
        &self,
        g: &Group,
        lo: i64,
        hi: i64,
        estimate: usize,
        slice_rows: usize,
        count: &mut SeriesCount,
        sink: &mut Sink,
    ) -> Result<(), Stop> {
        // two slices are held at once (the merge reads the next one ahead): each of half
        // the rows keeps the memory of one
        let slice_rows = (slice_rows / 2).max(1);
        let span = hi as i128 - lo as i128 + 1;
        let slices = (estimate.div_ceil(slice_rows).max(1) as i128).min(span);
        let mut width = (span + slices - 1) / slices;
        let mut run = self.group_run(g);
        let (lo, hi) = (lo as i128, hi as i128);
        // the group's filter, the same for every slice
        let filter = self.filter(std::slice::from_ref(g));
        let mut next = if self.s.descending { hi } else { lo };
        // the next slice is read before this one is merged: a series leaving this slice
        // takes its place in 1.6's heap by its next row (see merge.rs)
        let mut merge = RawSlices::new(&self.plan, self.s.descending);
        let mut cur: Option<Vec<SeriesData>> = None;
        while !run.done {
            // the next slice with rows (an empty one would leave every series' next row
            // unknown), None after the last
            let mut ahead = None;
            while ahead.is_none() && (lo..=hi).contains(&next) {
                let (a, b) = if self.s.descending {
                    ((next - width + 1).max(lo), next)
                } else {
                    (next, (next + width - 1).min(hi))
                };
                let data = self
                    .scan(a as i64, b as i64, filter.clone())
                    .map_err(Stop::Query)?;
                let rows: usize = data.iter().map(|d| d.times.len()).sum();
                if rows > slice_rows.saturating_mul(2) {
                    width = (width / 2).max(1);
                } else if rows.saturating_mul(4) < slice_rows.max(4) {
                    width = width.saturating_mul(2).min(span);
                }
                next = if self.s.descending { a - 1 } else { b + 1 };
                ahead = (rows > 0).then_some(data);
            }
            if let Some(data) = &cur {
                let mut rows = Vec::new();
                let last = ahead.is_none();
                merge.step(data, ahead.as_deref().unwrap_or(&[]), last, &mut rows);
                self.emit(data, rows, &mut run, count, sink)?;
            }
            if ahead.is_none() {
                break;
            }
            cur = ahead;
        }
        if run.begun {
            sink.enc.end_series();
            sink.flush()?;
        }
        Ok(())
    }

    /// The store filter of the series of `groups` (consecutive groups of the answer): one
    /// group's tag values as equalities (the store picks its series by them), several as a
    /// set of value tuples. A missing tag reads as `""` in the store's filter too.
    fn filter(&self, groups: &[Group]) -> Vec<TagPredicate> {
        let p = &self.plan;
        let mut f = p.pushed.clone();
        if let [g] = groups {
            f.extend(
                p.dim_tags
                    .iter()
                    .zip(&g.key)
                    .map(|(k, v)| TagPredicate::Eq(k.clone(), v.clone())),
            );
        } else {
            let mut tuples: Vec<Vec<String>> = groups.iter().map(|g| g.key.clone()).collect();
            tuples.sort_unstable(); // reversed with ORDER BY time DESC
            f.push(TagPredicate::In(p.dim_tags.clone(), tuples));
        }
        f
    }

    /// The series of `[lo, hi]` passing `filter` and the tag conditions evaluated per series.
    fn scan(&self, lo: i64, hi: i64, filter: Vec<TagPredicate>) -> Res<Vec<SeriesData>> {
        let p = &self.plan;
        let data = self
            .store
            .scan_once(&ScanRequest {
                measurement: p.m.clone(),
                start_ns: lo,
                end_ns: hi.saturating_add(1),
                tag_filter: (!filter.is_empty()).then_some(TagPredicate::And(filter)),
                fields: Some(p.stored().to_vec()),
            })
            .map_err(|e| e.to_string())?;
        Ok(match &p.series_c {
            Some(c) => data
                .into_iter()
                .filter(|sd| truthy(&eval_tags(c, &sd.tags)))
                .collect(),
            None => data,
        })
    }

    fn group_run(&self, g: &Group) -> GroupRun {
        let p = &self.plan;
        GroupRun {
            head: Series {
                name: Some(p.m.clone()),
                tags: (!p.dim_tags.is_empty())
                    .then(|| p.dim_tags.iter().cloned().zip(g.key.clone()).collect()),
                columns: p.columns.clone(),
                values: Vec::new(),
            },
            offset_left: self.s.offset,
            limit_left: self.s.limit,
            begun: false,
            done: false,
        }
    }

    /// Writes the `rows` (time, series, row) of `data` (one group's, in output order) within
    /// the group's LIMIT/OFFSET and the statement's SLIMIT/SOFFSET.
    fn emit(
        &self,
        data: &[SeriesData],
        rows: Vec<(i64, usize, usize)>,
        run: &mut GroupRun,
        count: &mut SeriesCount,
        sink: &mut Sink,
    ) -> Result<(), Stop> {
        if run.done {
            return Ok(());
        }
        let p = &self.plan;
        let (slimit, soffset) = (self.s.slimit, self.s.soffset);
        let mut failed = None;
        let mut on_row = |mut row: Vec<Value>| -> bool {
            if run.offset_left > 0 {
                run.offset_left -= 1;
                return true;
            }
            if !run.begun {
                count.nonempty += 1;
                if count.nonempty <= soffset || (slimit > 0 && count.written >= slimit) {
                    run.done = true;
                    return false;
                }
                count.written += 1;
                run.begun = true;
                sink.enc.begin_series(&run.head);
            }
            if let Some(loc) = &self.s.location {
                zone_row(&mut row, loc);
            }
            sink.enc.row(&row);
            if let Err(e) = sink.flush() {
                failed = Some(e);
                return false;
            }
            if run.limit_left > 0 {
                run.limit_left -= 1;
                if run.limit_left == 0 {
                    run.done = true;
                    return false;
                }
            }
            true
        };
        let (fields, exprs, derived, cond) = (
            &p.scan_fields,
            &p.out_exprs,
            &p.field_derived,
            cond_after_merge(p),
        );
        raw_rows(
            data,
            fields,
            rows.into_iter(),
            exprs,
            derived,
            cond,
            &mut on_row,
        );
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::json_chunks;
    use crate::exec::{ContextError, RetentionPolicy};
    use ferry_store::StoreOptions;

    const T0: i64 = 1_700_000_000_000_000_000;
    const S: i64 = 1_000_000_000;

    struct Ctx(Arc<BucketStore>);

    impl Context for Ctx {
        fn store(&self, db: &str, _rp: &str) -> Result<Arc<BucketStore>, ContextError> {
            if db == "db" {
                Ok(self.0.clone())
            } else {
                Err(ContextError::DatabaseNotFound(db.into()))
            }
        }
        fn databases(&self) -> Vec<String> {
            vec!["db".into()]
        }
        fn retention_policies(&self, _db: &str) -> Result<Vec<RetentionPolicy>, ContextError> {
            Ok(vec![])
        }
        fn now_ns(&self) -> i64 {
            T0 + 10_000 * S
        }
    }

    fn lp(lines: &str) -> Vec<ferry_lp::Point> {
        let b = ferry_lp::parse_lines(lines.as_bytes(), ferry_lp::Precision::Nanoseconds, 0);
        assert!(b.is_ok(), "{:?}", b.errors);
        b.points
    }

    /// cpu: 6 series (one without `region`), gaps, some fields only on some rows, part in
    /// two files and part buffered, a buffered rewrite of filed values; mem: 2 series.
    fn store(dir: &std::path::Path) -> Arc<BucketStore> {
        let st = BucketStore::open(dir, StoreOptions::default()).unwrap();
        let hosts = [
            "host=a,region=eu",
            "host=b,region=us",
            "host=c",
            "host=d,region=eu",
            "host=e,region=us",
            "host=f,region=ap",
        ];
        let mut lsn = 0;
        for part in 0..3 {
            let mut text = String::new();
            for (hi, tags) in hosts.iter().enumerate() {
                for i in (part * 40)..(part * 40 + 40) {
                    if (i + hi) % 7 == 0 {
                        continue;
                    }
                    let t = T0 + i as i64 * S + hi as i64 * 1_000_000;
                    let mut f = format!("usage={}.5,load={}i", (i * 3 + hi) % 17, i % 5);
                    if i % 4 == 0 {
                        f.push_str(&format!(",status=\"s{}\"", i % 3));
                    }
                    if i % 6 == 1 {
                        f.push_str(",ok=true");
                    }
                    text.push_str(&format!("cpu,{tags} {f} {t}\n"));
                }
            }
            if part == 2 {
                // rewrites of filed rows, buffered
                text.push_str(&format!(
                    "cpu,host=a,region=eu usage=99.25 {}\n",
                    T0 + 5 * S
                ));
                for i in 0..30 {
                    let t = T0 + i * 4 * S + 500_000_000;
                    text.push_str(&format!("mem,host=a free={i}i,used=0.{i} {t}\n"));
                    text.push_str(&format!("mem,host=z free={}i {}\n", i * 2, t + 1));
                }
            }
            lsn += 1;
            st.apply(lsn, lp(&text));
            if part < 2 {
                st.persist().unwrap();
            }
        }
        Arc::new(st)
    }

    const R: &str = "time >= 1700000000000000000 AND time < 1700000200000000000";

    fn queries() -> Vec<String> {
        let mut q: Vec<String> = [
            "SELECT * FROM cpu",
            "SELECT * FROM cpu GROUP BY *",
            "SELECT usage, load FROM cpu GROUP BY host",
            "SELECT * FROM cpu GROUP BY region",
            "SELECT usage FROM cpu GROUP BY region, nosuchtag",
            "SELECT usage, status FROM cpu WHERE status = 's1'",
            "SELECT * FROM cpu WHERE host = 'a' OR host = 'c'",
            "SELECT * FROM cpu WHERE host =~ /[abc]/ AND region != 'us' GROUP BY host",
            "SELECT usage FROM cpu WHERE region = 'eu' GROUP BY host",
            "SELECT usage FROM cpu WHERE host != 'c' GROUP BY region, host ORDER BY time DESC",
            "SELECT usage FROM cpu WHERE usage > 8 AND host != 'b'",
            "SELECT usage, host, region FROM cpu WHERE time > 1700000030000000000 AND time <= 1700000090000000000",
            "SELECT * FROM cpu LIMIT 7",
            "SELECT * FROM cpu LIMIT 5 OFFSET 13",
            "SELECT * FROM cpu GROUP BY host LIMIT 4 OFFSET 2",
            "SELECT * FROM cpu GROUP BY host LIMIT 3 OFFSET 200",
            "SELECT * FROM cpu GROUP BY host SLIMIT 2 SOFFSET 1",
            "SELECT * FROM cpu GROUP BY * SLIMIT 3",
            "SELECT usage FROM cpu GROUP BY host LIMIT 110 OFFSET 3 SLIMIT 2 SOFFSET 2",
            "SELECT * FROM cpu ORDER BY time DESC",
            "SELECT * FROM cpu GROUP BY host ORDER BY time DESC LIMIT 9 OFFSET 4",
            "SELECT * FROM cpu GROUP BY * ORDER BY time DESC SLIMIT 2 SOFFSET 1",
            "SELECT * FROM cpu WHERE time > now() - 1h tz('Europe/Paris')",
            "SELECT usage FROM cpu GROUP BY host ORDER BY time DESC tz('America/New_York')",
            "SELECT * FROM cpu, mem",
            "SELECT * FROM /./ GROUP BY host",
            "SELECT free, usage FROM mem, cpu GROUP BY * ORDER BY time DESC SLIMIT 1 SOFFSET 1",
            "SELECT * FROM /^m/ LIMIT 3",
            "SELECT * FROM /nomatch/",
            "SELECT * FROM nosuch",
            "SELECT usage FROM cpu WHERE time > 1800000000000000000",
            "SELECT usage FROM cpu; SELECT mean(usage) FROM cpu GROUP BY host; SELECT load FROM cpu GROUP BY host",
            "SELECT usage FROM cpu GROUP BY time(10s)",
            "SELECT usage, mean(usage) FROM cpu",
            "SELECT nosuchfield FROM cpu",
            "SELECT usage FROM nodb..cpu",
            "SELECT derivative(usage) FROM cpu WHERE host = 'a'",
            "SELECT usage * 2 + load, load / 0 FROM cpu GROUP BY host",
            "SELECT usage FROM (SELECT usage, host FROM cpu) GROUP BY host",
            "SHOW MEASUREMENTS; SELECT * FROM mem; SHOW TAG KEYS",
            "SELECT count(usage) FROM cpu GROUP BY time(20s), host",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        q.push(format!("SELECT * FROM cpu WHERE {R} GROUP BY host"));
        q.push(format!(
            "SELECT usage FROM cpu WHERE {R} ORDER BY time DESC LIMIT 30"
        ));
        q
    }

    fn whole(q: &str, ctx: &Ctx, epoch: Epoch, chunk: usize) -> String {
        let stmts = crate::parse_query(q).unwrap();
        let mut lines = Vec::new();
        for (i, s) in stmts.iter().enumerate() {
            json_chunks(
                &execute(s, i, ctx, Some("db"), None),
                epoch,
                chunk,
                &mut lines,
            );
        }
        lines.concat()
    }

    fn streamed(q: &str, ctx: &Ctx, opts: ChunkedOptions) -> String {
        let stmts = crate::parse_query(q).unwrap();
        let mut out = String::new();
        execute_chunked(&stmts, ctx, Some("db"), None, opts, &mut |l| {
            out.push_str(&l);
            Ok(())
        })
        .unwrap();
        out
    }

    /// Aggregates answered from scans in pieces (a few series at a time) equal those
    /// answered from one scan, for pieces from one series to all.
    #[test]
    fn aggregates_in_pieces_equal_aggregates_of_one_scan() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Ctx(store(dir.path()));
        let queries = [
            format!("SELECT count(usage) FROM cpu WHERE {R}"),
            format!("SELECT count(usage), sum(load), mean(usage), spread(load) FROM cpu WHERE {R} GROUP BY time(20s)"),
            format!("SELECT mean(usage) FROM cpu WHERE {R} GROUP BY time(30s), host fill(none)"),
            format!("SELECT sum(usage) FROM cpu WHERE {R} GROUP BY region fill(previous)"),
            format!("SELECT count(status), count(ok) FROM cpu WHERE {R} GROUP BY time(15s) fill(7)"),
            format!("SELECT sum(load) * 2 + count(usage) FROM cpu WHERE {R} AND host =~ /[abe]/ GROUP BY time(40s), region"),
            format!("SELECT spread(usage) FROM cpu WHERE {R} AND (host = 'a' OR region = 'us') GROUP BY time(20s), host ORDER BY time DESC LIMIT 2 OFFSET 1 SLIMIT 3 SOFFSET 1"),
            format!("SELECT count(usage) FROM cpu WHERE {R} AND region != 'eu' GROUP BY *"),
            format!("SELECT mean(free), count(used) FROM mem WHERE {R} GROUP BY time(25s), host fill(linear)"),
            "SELECT count(usage), mean(load) FROM cpu GROUP BY host".to_string(),
            format!("SELECT count(nosuch) FROM cpu WHERE {R}"),
            format!("SELECT max(usage) FROM cpu WHERE {R}"),
            format!("SELECT min(usage) FROM cpu WHERE {R} GROUP BY region"),
            format!("SELECT max(load) FROM cpu WHERE {R} GROUP BY time(30s), region fill(none)"),
            format!("SELECT first(status), last(status), max(load), min(usage), count(ok) FROM cpu WHERE {R} GROUP BY time(45s)"),
            format!("SELECT last(usage) FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC"),
            format!("SELECT first(ok) FROM cpu WHERE {R} AND host != 'b' GROUP BY *"),
            format!("SELECT max(usage) * 2 FROM cpu WHERE {R} GROUP BY time(20s)"),
            format!("SELECT max(usage), host FROM cpu WHERE {R}"),
            format!("SELECT last(free), first(used) FROM mem WHERE {R} GROUP BY time(30s) fill(previous)"),
            "SELECT min(load), max(load) FROM cpu GROUP BY region".to_string(),
        ];
        for q in &queries {
            crate::exec::pieces::TEST_PIECE_VALUES.with(|c| c.set(Some(0)));
            let want = whole(q, &ctx, Epoch::Unit(1), 10_000);
            assert!(
                q.contains("nosuch") || want.contains("\"values\""),
                "{q}: {want}"
            );
            for piece in [2, 10, 100, 1_000, usize::MAX / 2] {
                crate::exec::pieces::TEST_PIECE_VALUES.with(|c| c.set(Some(piece)));
                assert_eq!(
                    whole(q, &ctx, Epoch::Unit(1), 10_000),
                    want,
                    "{q}, pieces of {piece} values"
                );
            }
        }
        crate::exec::pieces::TEST_PIECE_VALUES.with(|c| c.set(None));
    }

    /// Every query answers, line for line, what the whole-result path answers, for chunk
    /// sizes from 1 row to all and scans from 1 row (a time slice or group per scan) to all.
    #[test]
    fn streamed_answers_equal_whole_answers() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Ctx(store(dir.path()));
        for q in queries() {
            for (epoch, chunk) in [
                (Epoch::Rfc3339, 1),
                (Epoch::Unit(1), 3),
                (Epoch::Rfc3339, 50),
            ] {
                let want = whole(&q, &ctx, epoch, chunk);
                let one = (chunk == 3).then_some(Some(1));
                // 300/500: GROUP BY groups share scans (their estimates fit), but not all
                let shared = [Some(300), Some(500)];
                let sizes = [Some(2), Some(7), Some(100), None]
                    .into_iter()
                    .chain(shared);
                for slice_rows in sizes.chain(one) {
                    let opts = ChunkedOptions {
                        epoch,
                        chunk_size: chunk,
                        slice_rows,
                    };
                    let got = streamed(&q, &ctx, opts);
                    assert_eq!(got, want, "{q} (chunk {chunk}, slices of {slice_rows:?})");
                }
            }
        }
    }

    /// Raw SELECTs are prepared for streaming; aggregates, subqueries, transformations,
    /// INTO, SHOW and statements failing to compile are not (they are answered whole).
    #[test]
    fn which_statements_stream() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Ctx(store(dir.path()));
        let prepared = |q: &str| {
            let stmts = crate::parse_query(q).unwrap();
            prepare(&stmts[0], &ctx, Some("db"), None).is_some()
        };
        // the shapes the equality test above relies on taking the streamed path
        for q in [
            "SELECT * FROM cpu",
            "SELECT * FROM cpu GROUP BY *",
            "SELECT * FROM cpu, mem ORDER BY time DESC",
            "SELECT usage FROM cpu WHERE host = 'a' tz('Europe/Paris')",
            "SELECT usage, load FROM cpu GROUP BY host",
            "SELECT usage FROM cpu WHERE host != 'c' GROUP BY region, host ORDER BY time DESC",
            "SELECT * FROM cpu LIMIT 5 OFFSET 13",
            "SELECT usage FROM cpu GROUP BY host LIMIT 110 OFFSET 3 SLIMIT 2 SOFFSET 2",
            "SELECT * FROM /./ GROUP BY host",
            "SELECT usage * 2 + load, load / 0 FROM cpu GROUP BY host",
        ] {
            assert!(prepared(q), "{q}");
        }
        for q in [
            "SELECT mean(usage) FROM cpu",
            "SELECT usage FROM (SELECT usage FROM cpu)",
            "SELECT top(usage, 3) FROM cpu",
            "SELECT derivative(usage) FROM cpu",
            "SELECT usage INTO other FROM cpu",
            "SHOW MEASUREMENTS",
            "SELECT usage FROM nodb..cpu",
            "SELECT usage, mean(usage) FROM cpu",
        ] {
            assert!(!prepared(q), "{q}");
        }
    }

    /// A receiver that goes away stops the query at the next line.
    #[test]
    fn a_gone_receiver_stops_the_query() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Ctx(store(dir.path()));
        let stmts = crate::parse_query("SELECT * FROM cpu; SELECT * FROM cpu").unwrap();
        let mut sent = 0;
        let r = execute_chunked(
            &stmts,
            &ctx,
            Some("db"),
            None,
            ChunkedOptions {
                epoch: Epoch::Rfc3339,
                chunk_size: 10,
                slice_rows: Some(5),
            },
            &mut |_| {
                sent += 1;
                if sent == 3 {
                    Err(ChunkedError::Disconnected)
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(r, Err(ChunkedError::Disconnected));
        assert_eq!(sent, 3);
    }
}

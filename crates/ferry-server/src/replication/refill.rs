//! Refilling a gap from the store: one time window of one measurement at a time, sent like
//! a batch, progress saved per window (see `gaps.rs`).

use ferry_pipeline::{Backoff, RateLimiter, RejectedLinesFile};

use super::error::StreamError;
use super::gaps::Gaps;
use super::stream::{Sent, Stream};
use super::transform::transform;

impl Stream {
    /// Refills one window of the oldest gap from the store.
    pub(super) async fn refill_step(
        &self,
        gaps: &mut Gaps,
        rejected: &mut RejectedLinesFile,
        limiter: Option<&RateLimiter>,
        backoff: &Backoff,
        attempt: u32,
    ) -> Sent {
        let store = self.engine.readable_store().await;
        let mut measurements = store.measurements();
        if !self.rep.measurements.is_empty() {
            measurements.retain(|m| self.rep.measurements.contains(m));
        }
        let gap = gaps.list[0].clone();
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        if let Some(cutoff) = ferry_catalog::retention_cutoff_ns(self.retention_seconds, now) {
            if gap.start_ns < cutoff && gap.measurement_index == 0 && gap.resume_ns.is_none() {
                let expired = (cutoff.min(gap.end_ns) as i128 - gap.start_ns as i128) as f64
                    / (gap.end_ns as i128 - gap.start_ns as i128).max(1) as f64;
                let lost = (gap.lines as f64 * expired).round() as u64;
                if lost > 0 {
                    self.status.lock().points_lost_to_retention += lost;
                    tracing::warn!(replication = %self.rep.id, points = lost, "part of a replication gap had already expired by the bucket's retention");
                }
            }
        }
        let Some(m) = measurements.get(gap.measurement_index).cloned() else {
            gaps.list.remove(0);
            let _ = gaps.save();
            return Sent::Ok;
        };
        let from = gap.resume_ns.unwrap_or(gap.start_ns);
        let window = store.time_range(&m).and_then(|r| {
            let lo = from.max(r.min_time);
            let hi = (gap.end_ns - 1).min(r.max_time);
            crate::windows::part_windows(lo, hi, r.min_time, r.max_time, r.rows_upper_bound)
                .into_iter()
                .next()
        });
        let Some((w_start, w_end)) = window else {
            let g = &mut gaps.list[0];
            g.measurement_index += 1;
            g.resume_ns = None;
            let _ = gaps.save();
            return Sent::Ok;
        };
        // a refill window is read whole: hold one batch's share meanwhile (memory.rs)
        let _share = self
            .budget
            .wait_for(self.rep.max_batch_bytes.max(1) as usize)
            .await;
        let add_tags = self.rep.add_tags.clone();
        let mm = m.clone();
        let lp = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, StreamError> {
            let req = ferry_store::ScanRequest {
                measurement: mm.clone(),
                start_ns: w_start,
                end_ns: w_end,
                tag_filter: None,
                fields: None,
            };
            let mut raw = Vec::new();
            for s in store.scan(&req)? {
                crate::lpout::write_series(&mut raw, &mm, &s);
            }
            let mut out = Vec::with_capacity(raw.len());
            transform(&raw, &[], &add_tags, &mut out);
            Ok(out)
        })
        .await
        .map_err(StreamError::from)
        .and_then(|r| r);
        let lp = match lp {
            Ok(lp) => lp,
            Err(e) => {
                self.attention(
                    None,
                    format!("cannot read the local store to refill a gap: {e}"),
                );
                return Sent::Attention;
            }
        };
        let lines = ferry_pipeline::batch::count_lines(&lp) as u64;
        let bytes = lp.len() as u64;
        let sent = if lp.is_empty() {
            Sent::Ok
        } else {
            self.send(lp, &[], lines, rejected, limiter, backoff, attempt)
                .await
        };
        if let Sent::Ok = sent {
            let g = &mut gaps.list[0];
            g.resume_ns = Some(w_end);
            g.bytes = g.bytes.saturating_sub(bytes);
            if w_end >= gap.end_ns {
                g.measurement_index += 1;
                g.resume_ns = None;
            }
            if let Err(e) = gaps.save() {
                self.attention(None, format!("cannot save the stream's gaps: {e}"));
                return Sent::Attention;
            }
        }
        sent
    }
}

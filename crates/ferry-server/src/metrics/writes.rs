//! Write API metrics: requests by answer, lines and bytes written, per API (v1, v2).
//!
//! Bumped with relaxed atomic adds: one per request for its answer (from a layer around
//! the write routes, so refusals made before the handler runs, such as a bad token, count
//! too) and two per written request for its lines and bytes. No lock, no allocation.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::encode;

/// Which write API a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `POST /write` (InfluxDB 1.x).
    V1,
    /// `POST /api/v2/write`.
    V2,
}

impl Api {
    const ALL: [Api; 2] = [Api::V1, Api::V2];

    fn as_str(self) -> &'static str {
        match self {
            Api::V1 => "v1",
            Api::V2 => "v2",
        }
    }
}

/// The answers counted under their own code; any other is counted as `other`.
const CODES: [u16; 14] = [
    204, 400, 401, 403, 404, 405, 408, 413, 415, 422, 429, 500, 503, 504,
];
const OTHER: usize = CODES.len();

#[derive(Debug, Default)]
struct PerApi {
    lines: AtomicU64,
    bytes: AtomicU64,
    answers: [AtomicU64; CODES.len() + 1],
}

/// The write APIs' counters since start.
#[derive(Debug, Default)]
pub struct WriteStats {
    apis: [PerApi; 2],
}

impl WriteStats {
    fn api(&self, api: Api) -> &PerApi {
        &self.apis[api as usize]
    }

    /// A write request answered `status`.
    pub fn answered(&self, api: Api, status: u16) {
        let i = CODES.iter().position(|c| *c == status).unwrap_or(OTHER);
        self.api(api).answers[i].fetch_add(1, Ordering::Relaxed);
    }

    /// A request wrote `lines` points from `bytes` bytes of line protocol (uncompressed).
    pub fn written(&self, api: Api, lines: usize, bytes: usize) {
        let a = self.api(api);
        a.lines.fetch_add(lines as u64, Ordering::Relaxed);
        a.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// Reads [`WriteStats`] at scrape time.
#[derive(Debug)]
pub(crate) struct WritesCollector(pub std::sync::Arc<WriteStats>);

impl Collector for WritesCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let s = &self.0;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        encode::counter(
            &mut enc,
            "ferry_write_requests",
            "Write requests by API and HTTP answer (204 written; 4xx/5xx refused).",
            Api::ALL.into_iter().flat_map(|api| {
                let answers = &s.api(api).answers;
                (0..=OTHER).filter_map(move |i| {
                    let n = load(&answers[i]);
                    // 204 is always listed, so that rates start from 0
                    let code = match CODES.get(i) {
                        Some(204) => "204".to_string(),
                        _ if n == 0 => return None,
                        Some(c) => c.to_string(),
                        None => "other".to_string(),
                    };
                    Some(([("api", api.as_str().to_string()), ("code", code)], n))
                })
            }),
        )?;
        encode::counter(
            &mut enc,
            "ferry_write_lines",
            "Points (lines of line protocol) written, by API.",
            Api::ALL.map(|api| ([("api", api.as_str())], load(&s.api(api).lines))),
        )?;
        encode::counter(
            &mut enc,
            "ferry_write_bytes",
            "Line protocol bytes (uncompressed) of the write requests that wrote points, by API.",
            Api::ALL.map(|api| ([("api", api.as_str())], load(&s.api(api).bytes))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counts_answers_lines_and_bytes_per_api() {
        let stats = Arc::new(WriteStats::default());
        stats.answered(Api::V2, 204);
        stats.answered(Api::V2, 204);
        stats.answered(Api::V1, 401);
        stats.answered(Api::V1, 418);
        stats.written(Api::V2, 10, 300);
        stats.written(Api::V2, 5, 100);
        let mut reg = prometheus_client::registry::Registry::default();
        reg.register_collector(Box::new(WritesCollector(stats)));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &reg).unwrap();
        for line in [
            "# TYPE ferry_write_requests_total counter",
            "ferry_write_requests_total{api=\"v1\",code=\"204\"} 0",
            "ferry_write_requests_total{api=\"v1\",code=\"401\"} 1",
            "ferry_write_requests_total{api=\"v1\",code=\"other\"} 1",
            "ferry_write_requests_total{api=\"v2\",code=\"204\"} 2",
            "ferry_write_lines_total{api=\"v1\"} 0",
            "ferry_write_lines_total{api=\"v2\"} 15",
            "ferry_write_bytes_total{api=\"v2\"} 400",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
        assert!(!text.contains("code=\"400\""), "{text}");
    }
}

//! Task metrics: runs by final status.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::encode;

/// The statuses a run ends with (InfluxDB 2's names).
const STATUSES: [&str; 3] = ["success", "failed", "canceled"];

/// Task runs since start, by status.
#[derive(Debug, Default)]
pub struct TaskStats {
    runs: [AtomicU64; 3],
}

impl TaskStats {
    /// A run ended with `status` (`success`, `failed` or `canceled`; others are ignored).
    pub fn finished(&self, status: &str) {
        if let Some(i) = STATUSES.iter().position(|s| *s == status) {
            self.runs[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Reads [`TaskStats`] at scrape time.
#[derive(Debug)]
pub(crate) struct TasksCollector(pub Arc<TaskStats>);

impl Collector for TasksCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        encode::counter(
            &mut enc,
            "ferry_task_runs",
            "Task runs by final status.",
            STATUSES
                .iter()
                .zip(&self.0.runs)
                .map(|(s, n)| ([("status", *s)], n.load(Ordering::Relaxed))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_by_status() {
        let stats = Arc::new(TaskStats::default());
        stats.finished("success");
        stats.finished("success");
        stats.finished("failed");
        stats.finished("started");
        let mut reg = prometheus_client::registry::Registry::default();
        reg.register_collector(Box::new(TasksCollector(stats)));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &reg).unwrap();
        for line in [
            "# TYPE ferry_task_runs_total counter",
            "ferry_task_runs_total{status=\"success\"} 2",
            "ferry_task_runs_total{status=\"failed\"} 1",
            "ferry_task_runs_total{status=\"canceled\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
    }
}

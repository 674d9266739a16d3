//! Downsampling: one point per series and window, numeric fields aggregated, the rest `last`.
//!
//! Output rules (stable types, so a destination never sees a field type conflict):
//! * floats: the aggregate is a float (`count` an integer);
//! * integers / unsigned: `sum`, `min`, `max`, `first`, `last` keep the type, `count` is an
//!   integer, `mean` is a float (InfluxQL's `mean`) or, with `keepIntegers`, the mean rounded
//!   to the nearest integer (half away from zero) in the field's own type;
//! * strings and booleans: always the window's last value;
//! * the point's time is the window start (InfluxQL's `GROUP BY time` label), tags are the
//!   series' tags (`GROUP BY *`), field names are the source's, and empty windows produce
//!   nothing (`fill(none)`).

use ferry_lp::{FieldValue, Point};
use ferry_store::SeriesData;
use serde::{Deserialize, Serialize};

use crate::schedule::align_down;

/// The aggregate applied to numeric fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// Arithmetic mean (the default).
    #[default]
    Mean,
    /// Number of values.
    Count,
    /// Sum of the values.
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Value with the earliest time in the window.
    First,
    /// Value with the latest time in the window.
    Last,
}

impl Aggregate {
    /// Parses `mean`, `count`, `sum`, `min`, `max`, `first`, `last`.
    pub fn parse(s: &str) -> Option<Aggregate> {
        serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase())).ok()
    }

    /// The InfluxQL function name.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregate::Mean => "mean",
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::First => "first",
            Aggregate::Last => "last",
        }
    }
}

/// One field's values in one window.
#[derive(Default)]
struct Acc {
    n: u64,
    fsum: f64,
    isum: i64,
    usum: u64,
    first: Option<FieldValue>,
    last: Option<FieldValue>,
    min: Option<FieldValue>,
    max: Option<FieldValue>,
}

fn less(a: &FieldValue, b: &FieldValue) -> bool {
    match (a, b) {
        (FieldValue::Float(x), FieldValue::Float(y)) => x < y,
        (FieldValue::Integer(x), FieldValue::Integer(y)) => x < y,
        (FieldValue::UInteger(x), FieldValue::UInteger(y)) => x < y,
        _ => false,
    }
}

impl Acc {
    fn add(&mut self, v: &FieldValue) {
        self.n += 1;
        match v {
            FieldValue::Float(f) => self.fsum += f,
            FieldValue::Integer(i) => {
                self.fsum += *i as f64;
                self.isum = self.isum.wrapping_add(*i);
            }
            FieldValue::UInteger(u) => {
                self.fsum += *u as f64;
                self.usum = self.usum.wrapping_add(*u);
            }
            _ => {}
        }
        if self.first.is_none() {
            self.first = Some(v.clone());
        }
        if self.min.as_ref().is_none_or(|m| less(v, m)) {
            self.min = Some(v.clone());
        }
        if self.max.as_ref().is_none_or(|m| less(m, v)) {
            self.max = Some(v.clone());
        }
        self.last = Some(v.clone());
    }

    fn result(self, agg: Aggregate, keep_integers: bool) -> Option<FieldValue> {
        let last = self.last?;
        let numeric = matches!(
            last,
            FieldValue::Float(_) | FieldValue::Integer(_) | FieldValue::UInteger(_)
        );
        if !numeric {
            return Some(last);
        }
        Some(match agg {
            Aggregate::Last => last,
            Aggregate::First => self.first?,
            Aggregate::Min => self.min?,
            Aggregate::Max => self.max?,
            Aggregate::Count => FieldValue::Integer(self.n as i64),
            Aggregate::Sum => match last {
                FieldValue::Integer(_) => FieldValue::Integer(self.isum),
                FieldValue::UInteger(_) => FieldValue::UInteger(self.usum),
                _ => FieldValue::Float(self.fsum),
            },
            Aggregate::Mean => {
                let m = self.fsum / self.n as f64;
                match last {
                    FieldValue::Integer(_) if keep_integers => {
                        FieldValue::Integer(m.round() as i64)
                    }
                    FieldValue::UInteger(_) if keep_integers => {
                        FieldValue::UInteger(m.round().max(0.0) as u64)
                    }
                    _ => FieldValue::Float(m),
                }
            }
        })
    }
}

/// Aggregates scanned series (one measurement) into points named `measurement`, one per
/// series and `window`-aligned window that has values. Points come series by series, in
/// time order.
pub fn aggregate_series(
    measurement: &str,
    series: &[SeriesData],
    window: i64,
    agg: Aggregate,
    keep_integers: bool,
) -> Vec<Point> {
    let mut out = Vec::new();
    for s in series {
        let mut i = 0;
        while i < s.times.len() {
            let w = align_down(s.times[i], window);
            let mut j = i;
            while j < s.times.len() && s.times[j] < w + window {
                j += 1;
            }
            let mut fields = Vec::new();
            for (name, col) in &s.fields {
                let mut acc = Acc::default();
                for v in col[i..j].iter().flatten() {
                    acc.add(v);
                }
                if let Some(v) = acc.result(agg, keep_integers) {
                    if !matches!(v, FieldValue::Float(f) if !f.is_finite()) {
                        fields.push((name.clone(), v));
                    }
                }
            }
            if !fields.is_empty() {
                out.push(Point {
                    measurement: measurement.to_string(),
                    tags: s.tags.clone(),
                    fields,
                    time: w,
                });
            }
            i = j;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> SeriesData {
        SeriesData {
            tags: vec![("host".into(), "a".into())],
            times: vec![0, 10, 59, 60, 130],
            fields: vec![
                (
                    "f".into(),
                    vec![
                        Some(FieldValue::Float(1.0)),
                        Some(FieldValue::Float(2.0)),
                        None,
                        Some(FieldValue::Float(4.0)),
                        None,
                    ],
                ),
                (
                    "i".into(),
                    vec![
                        Some(FieldValue::Integer(1)),
                        Some(FieldValue::Integer(2)),
                        Some(FieldValue::Integer(4)),
                        None,
                        None,
                    ],
                ),
                (
                    "s".into(),
                    vec![
                        Some(FieldValue::String("x".into())),
                        None,
                        Some(FieldValue::String("y".into())),
                        None,
                        Some(FieldValue::String("z".into())),
                    ],
                ),
            ],
        }
    }

    #[test]
    fn mean_by_window() {
        let p = aggregate_series("m", &[series()], 60, Aggregate::Mean, false);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].time, 0);
        assert_eq!(
            p[0].fields,
            vec![
                ("f".into(), FieldValue::Float(1.5)),
                ("i".into(), FieldValue::Float(7.0 / 3.0)),
                ("s".into(), FieldValue::String("y".into())),
            ]
        );
        assert_eq!(p[1].fields, vec![("f".into(), FieldValue::Float(4.0))]);
        assert_eq!(p[2].time, 120);
        let k = aggregate_series("m", &[series()], 60, Aggregate::Mean, true);
        assert_eq!(k[0].fields[1], ("i".into(), FieldValue::Integer(2)));
        let c = aggregate_series("m", &[series()], 60, Aggregate::Sum, false);
        assert_eq!(c[0].fields[1], ("i".into(), FieldValue::Integer(7)));
        let c = aggregate_series("m", &[series()], 60, Aggregate::Max, false);
        assert_eq!(c[0].fields[0], ("f".into(), FieldValue::Float(2.0)));
    }
}

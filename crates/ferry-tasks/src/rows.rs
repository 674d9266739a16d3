//! InfluxQL result rows → points (`SELECT … INTO`-like): the series name is the measurement
//! (unless overridden), GROUP BY tags are tags, the `time` column is the timestamp, every
//! other non-null column is a field of its own type.

use ferry_influxql::{Series, Value};
use ferry_lp::{FieldValue, Point};

/// Converts result series to points. Rows without a time or without any non-null field
/// produce nothing.
pub fn series_to_points(series: &[Series], measurement: Option<&str>) -> Vec<Point> {
    let mut out = Vec::new();
    for s in series {
        let Some(name) = measurement.or(s.name.as_deref()).filter(|n| !n.is_empty()) else {
            continue;
        };
        let time_col = s.columns.iter().position(|c| c == "time");
        let mut tags: Vec<(String, String)> = s
            .tags
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        tags.sort();
        for row in &s.values {
            let Some(time) = time_col.and_then(|i| match row.get(i) {
                Some(Value::Time(t) | Value::ZonedTime(t, _) | Value::Int(t)) => Some(*t),
                _ => None,
            }) else {
                continue;
            };
            let mut fields = Vec::new();
            for (i, v) in row.iter().enumerate() {
                if Some(i) == time_col {
                    continue;
                }
                let fv = match v {
                    Value::Float(f) if f.is_finite() => FieldValue::Float(*f),
                    Value::Int(n) => FieldValue::Integer(*n),
                    Value::Str(s) => FieldValue::String(s.clone()),
                    Value::Bool(b) => FieldValue::Boolean(*b),
                    _ => continue,
                };
                let col = s.columns.get(i).cloned().unwrap_or_default();
                if col.is_empty() || fields.iter().any(|(k, _)| *k == col) {
                    continue;
                }
                fields.push((col, fv));
            }
            if !fields.is_empty() {
                out.push(Point {
                    measurement: name.to_string(),
                    tags: tags.clone(),
                    fields,
                    time,
                });
            }
        }
    }
    out
}

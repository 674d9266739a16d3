//! Turning scanned series back into line protocol.

use ferry_lp::Point;
use ferry_store::SeriesData;

/// Appends one line per row of `s` (whole points: every field present at that time).
pub fn write_series(out: &mut Vec<u8>, measurement: &str, s: &SeriesData) {
    let mut p = Point {
        measurement: measurement.to_string(),
        tags: s.tags.clone(),
        fields: Vec::new(),
        time: 0,
    };
    for (row, &t) in s.times.iter().enumerate() {
        p.fields.clear();
        for (name, col) in &s.fields {
            if let Some(v) = &col[row] {
                p.fields.push((name.clone(), v.clone()));
            }
        }
        if p.fields.is_empty() {
            continue;
        }
        p.time = t;
        ferry_lp::write_point(out, &p);
    }
}

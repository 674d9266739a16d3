//! Writing points and series keys back out as line protocol.

use crate::escape::{
    escape_measurement, escape_measurement_into, escape_string_into, escape_tag, escape_tag_into,
};
use crate::types::FieldValue;
use crate::view::{FieldRef, PointView};

/// Appends `p` as one canonical line (ending in `\n`, timestamp in nanoseconds).
///
/// Tags are written in the order given (a parsed [`Point`] has them sorted), floats in their
/// shortest round-tripping form (`1.0`, `1e21`, `1.5e-7`), integers with `i`, unsigned with
/// `u`, strings quoted and escaped.
///
/// Non-finite floats cannot be written in line protocol and are skipped; if no field is
/// left, nothing is written. Names with a newline, an empty tag value, or a trailing
/// backslash cannot be represented either (see [`crate::escape_tag`]) and produce a line that
/// does not parse back to the same point.
pub fn write_point<P: PointView + ?Sized>(out: &mut Vec<u8>, p: &P) {
    let start = out.len();
    escape_measurement_into(out, p.measurement());
    for (k, v) in p.tags() {
        out.push(b',');
        escape_tag_into(out, k);
        out.push(b'=');
        escape_tag_into(out, v);
    }
    let mut sep = b' ';
    let mut any = false;
    for (k, v) in p.fields() {
        if let FieldRef::Float(f) = v {
            if !f.is_finite() {
                continue;
            }
        }
        out.push(sep);
        sep = b',';
        any = true;
        escape_tag_into(out, k);
        out.push(b'=');
        write_field_ref(out, v);
    }
    if !any {
        out.truncate(start);
        return;
    }
    out.push(b' ');
    out.extend_from_slice(itoa::Buffer::new().format(p.time()).as_bytes());
    out.push(b'\n');
}

/// Appends a field value as line protocol (`1.5`, `3i`, `4u`, `"s"`, `true`).
/// A non-finite float is written as Rust prints it, which line protocol rejects.
pub fn write_field_value(out: &mut Vec<u8>, v: &FieldValue) {
    write_field_ref(out, v.as_field_ref())
}

fn write_field_ref(out: &mut Vec<u8>, v: FieldRef<'_>) {
    match v {
        FieldRef::Float(f) => {
            if f.is_finite() {
                crate::float::write_f64(out, f);
            } else {
                out.extend_from_slice(f.to_string().as_bytes());
            }
        }
        FieldRef::Integer(i) => {
            out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            out.push(b'i');
        }
        FieldRef::UInteger(u) => {
            out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
            out.push(b'u');
        }
        FieldRef::String(s) => {
            out.push(b'"');
            escape_string_into(out, s);
            out.push(b'"');
        }
        FieldRef::Boolean(b) => {
            out.extend_from_slice(if b { b"true" } else { b"false" });
        }
    }
}

/// Appends InfluxDB's escaped series key, e.g. `cpu,host=a,region=us\ west`, as
/// `SHOW SERIES` prints it. Tags are written in the order given; pass them sorted by key.
pub fn write_series_key<K: AsRef<str>, V: AsRef<str>>(
    out: &mut String,
    measurement: &str,
    tags: &[(K, V)],
) {
    out.push_str(&escape_measurement(measurement));
    for (k, v) in tags {
        out.push(',');
        out.push_str(&escape_tag(k.as_ref()));
        out.push('=');
        out.push_str(&escape_tag(v.as_ref()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Point;

    fn line(p: &Point) -> String {
        let mut out = Vec::new();
        write_point(&mut out, p);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_every_type() {
        let p = Point {
            measurement: "weird meas,1".into(),
            tags: vec![
                ("rack id".into(), "r=0, row 0".into()),
                ("region".into(), "us east".into()),
            ],
            fields: vec![
                ("a=b".into(), FieldValue::Float(63.761)),
                ("f1".into(), FieldValue::Float(1.0)),
                ("big".into(), FieldValue::Float(1e21)),
                ("small".into(), FieldValue::Float(-1.5e-7)),
                ("i".into(), FieldValue::Integer(-42)),
                ("u".into(), FieldValue::UInteger(u64::MAX)),
                ("b".into(), FieldValue::Boolean(true)),
                ("c".into(), FieldValue::Boolean(false)),
                ("msg".into(), FieldValue::String("hi \"there\" \\ x".into())),
            ],
            time: 1_700_000_000_000_000_000,
        };
        assert_eq!(
            line(&p),
            "weird\\ meas\\,1,rack\\ id=r\\=0\\,\\ row\\ 0,region=us\\ east \
             a\\=b=63.761,f1=1.0,big=1e21,small=-1.5e-7,i=-42i,u=18446744073709551615u,\
             b=true,c=false,msg=\"hi \\\"there\\\" \\\\ x\" 1700000000000000000\n"
        );
    }

    #[test]
    fn skips_non_finite_floats() {
        let mut p = Point {
            measurement: "m".into(),
            tags: vec![],
            fields: vec![
                ("nan".into(), FieldValue::Float(f64::NAN)),
                ("ok".into(), FieldValue::Integer(1)),
                ("inf".into(), FieldValue::Float(f64::INFINITY)),
            ],
            time: -5,
        };
        assert_eq!(line(&p), "m ok=1i -5\n");
        p.fields.remove(1);
        let mut out = b"keep\n".to_vec();
        write_point(&mut out, &p);
        assert_eq!(out, b"keep\n");
    }

    #[test]
    fn series_key() {
        let mut s = String::new();
        write_series_key(&mut s, "cpu", &[("host", "a"), ("region", "us west")]);
        assert_eq!(s, "cpu,host=a,region=us\\ west");
        let mut s = String::new();
        let tags: Vec<(String, String)> = vec![("k=1".into(), "v,2".into())];
        write_series_key(&mut s, "my meas,x=y", &tags);
        assert_eq!(s, "my\\ meas\\,x=y,k\\=1=v\\,2");
        let mut s = String::new();
        write_series_key::<&str, &str>(&mut s, "bare", &[]);
        assert_eq!(s, "bare");
    }
}

//! Escaping and unescaping of names and string values.
//!
//! Line protocol escapes with a backslash. A backslash always pairs with the byte after it
//! when a line is scanned, but only the pairs listed below are unescaped; any other pair
//! (e.g. `\a`, `\\` in a name) is kept literally, as InfluxDB does.
//!
//! | element                               | unescaped pairs        |
//! |---------------------------------------|------------------------|
//! | measurement                           | `\,` `\ ` `\=`         |
//! | tag key, tag value, field key         | `\,` `\=` `\ `         |
//! | string field value (inside quotes)    | `\"` `\\`              |
//!
//! Consequence (shared with InfluxDB): a name that ends with a backslash, or has an odd run
//! of backslashes right before `,`, `=` or a space, cannot be written as line protocol.

use std::borrow::Cow;

/// Is `b` escaped when writing a measurement name?
#[inline]
fn meas_special(b: u8) -> bool {
    b == b',' || b == b' '
}

/// Is `b` escaped when writing a tag key, tag value or field key?
#[inline]
fn tag_special(b: u8) -> bool {
    b == b',' || b == b' ' || b == b'='
}

/// Is `b` escaped inside a quoted string field value?
#[inline]
fn string_special(b: u8) -> bool {
    b == b'"' || b == b'\\'
}

/// Escapes a measurement name: `,` and space get a backslash.
pub fn escape_measurement(s: &str) -> Cow<'_, str> {
    escape_cow(s, meas_special)
}

/// Escapes a tag key, tag value or field key: `,`, `=` and space get a backslash.
pub fn escape_tag(s: &str) -> Cow<'_, str> {
    escape_cow(s, tag_special)
}

/// Escapes a string field value (without the surrounding quotes): `"` and `\` get a backslash.
pub fn escape_string_field(s: &str) -> Cow<'_, str> {
    escape_cow(s, string_special)
}

fn escape_cow(s: &str, special: fn(u8) -> bool) -> Cow<'_, str> {
    if !s.bytes().any(special) {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len() + 8);
    escape_into(&mut out, s, special);
    // Only ASCII backslashes were inserted before ASCII bytes: still valid UTF-8.
    Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| unreachable!()))
}

/// Appends `s` to `out`, inserting a backslash before every byte for which `special` holds.
#[inline]
pub(crate) fn escape_into(out: &mut Vec<u8>, s: &str, special: fn(u8) -> bool) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if special(b) {
            out.extend_from_slice(&bytes[start..i]);
            out.push(b'\\');
            start = i;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends an escaped measurement name to `out`.
#[inline]
pub(crate) fn escape_measurement_into(out: &mut Vec<u8>, s: &str) {
    escape_into(out, s, meas_special)
}

/// Appends an escaped tag key/value or field key to `out`.
#[inline]
pub(crate) fn escape_tag_into(out: &mut Vec<u8>, s: &str) {
    escape_into(out, s, tag_special)
}

/// Appends an escaped string field value (no quotes) to `out`.
#[inline]
pub(crate) fn escape_string_into(out: &mut Vec<u8>, s: &str) {
    escape_into(out, s, string_special)
}

/// Unescapes a measurement name. `had_backslash` is a hint from the scanner: when false,
/// the text is copied as is.
#[inline]
pub(crate) fn unescape_name(s: &str, had_backslash: bool) -> String {
    if had_backslash {
        unescape_with(s, tag_special)
    } else {
        s.to_owned()
    }
}

/// Unescapes the contents of a quoted string field value.
#[inline]
pub(crate) fn unescape_string(s: &str, had_backslash: bool) -> String {
    if had_backslash {
        unescape_with(s, string_special)
    } else {
        s.to_owned()
    }
}

/// Walks backslash pairs: `\c` becomes `c` when `special(c)`, else both bytes are kept.
fn unescape_with(s: &str, special: fn(u8) -> bool) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if i + 1 < bytes.len() && special(bytes[i + 1]) {
                // Both are ASCII, so `start..i` and `i + 1..` are char boundaries.
                out.push_str(&s[start..i]);
                start = i + 1;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape_measurement("a b,c=d"), "a\\ b\\,c=d");
        assert_eq!(escape_tag("a b,c=d"), "a\\ b\\,c\\=d");
        assert_eq!(
            escape_string_field(r#"say "hi" \ ok"#),
            r#"say \"hi\" \\ ok"#
        );
        assert!(matches!(escape_tag("plain"), Cow::Borrowed("plain")));
        assert_eq!(escape_tag("ünï cødé"), "ünï\\ cødé");
    }

    #[test]
    fn unescapes() {
        assert_eq!(unescape_name("a\\ b\\,c\\=d", true), "a b,c=d");
        // Other pairs are kept literally, and pairs are consumed left to right.
        assert_eq!(unescape_name("a\\b\\\\c", true), "a\\b\\\\c");
        assert_eq!(unescape_name("a\\\\\\,b", true), "a\\\\,b");
        assert_eq!(unescape_name("end\\", true), "end\\");
        assert_eq!(unescape_string(r#"x \"y\" \\ \n"#, true), "x \"y\" \\ \\n");
        assert_eq!(unescape_name("a\\,b", false), "a\\,b");
    }
}

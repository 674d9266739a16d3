//! One `/query` answer document straight to line protocol, written as it is decoded.
//!
//! Decoding a chunk into a tree of values first ([`super::QueryChunk`]) took a quarter of
//! `ferry sync`'s CPU (building, then dropping, a `Vec` and a `Value` per cell) and held the
//! whole decoded chunk in memory beside its lines. These seeds walk the document with serde
//! (the same code for JSON and MessagePack) and write each row's line as soon as its cells
//! are read. The lines are exactly those of [`super::series::series_to_lp`] for the same document
//! (the tests hold the two to each other).
//!
//! A series' `name`, `tags` and `columns` come before its `values` in every answer InfluxDB
//! (and Ferry) writes. If `values` comes before `name` or `columns`, its rows are decoded into
//! values and converted at the end of the series; if `tags` come after the rows were written
//! (a server that orders keys otherwise), the tags are put into the lines already written.
//! A key twice is an error, as in the tree. Where the tree is stricter on malformed answers
//! (`null` for a list, a struct written as an array, undecodable cells nobody reads), this
//! takes `null` as empty and refuses the array.

use std::collections::BTreeMap;
use std::fmt;

use ferry_lp::{escape_measurement, escape_tag, FieldType};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::error::AnswerError;
use super::series::{
    series_key, series_to_lp, write_bool, write_f64, write_i64, write_str, write_u64, FieldTypes,
    Series,
};

/// What converting one document found: the lines written, and the first error the answer
/// itself carries (`{"error": …}` at the top or in a statement), if any.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    lines: usize,
    error: Option<String>,
}

impl Converted {
    /// The lines written, or the answer's error.
    pub(crate) fn lines(self) -> Result<usize, AnswerError> {
        match self.error {
            None => Ok(self.lines),
            Some(e) => Err(AnswerError::Statement(e)),
        }
    }
}

/// Converts the document `de` reads, appending its lines to `out`.
pub(crate) fn document_to_lp<'de, D: Deserializer<'de>>(
    de: D,
    types: &FieldTypes,
    out: &mut Vec<u8>,
) -> Result<Converted, D::Error> {
    let mut cx = Cx {
        types,
        out,
        done: Converted::default(),
        statement_error: None,
    };
    de.deserialize_map(ListAndError {
        cx: &mut cx,
        key: "results",
        elem: Statement,
    })?;
    // the answer's own error first, as the value tree reports it
    let mut done = cx.done;
    done.error = done.error.or(cx.statement_error);
    Ok(done)
}

struct Cx<'t> {
    types: &'t FieldTypes,
    out: &'t mut Vec<u8>,
    /// The lines, and the top-level `error`.
    done: Converted,
    /// The first statement's `error`.
    statement_error: Option<String>,
}

/// A map with a list under `key`, each element read by `E`, and maybe an `error`: the
/// answer itself (`results`, `error`) and each statement's result (`series`, `error`).
struct ListAndError<'c, 't, E> {
    cx: &'c mut Cx<'t>,
    key: &'static str,
    elem: E,
}

impl<'de, E: Element> Visitor<'de> for ListAndError<'_, '_, E> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a map with {:?}", self.key)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let (mut list_seen, mut error_seen) = (false, false);
        while let Some(k) = m.next_key::<String>()? {
            if k == self.key {
                if std::mem::replace(&mut list_seen, true) {
                    return Err(serde::de::Error::duplicate_field(self.key));
                }
                m.next_value_seed(SeqOf(&mut *self.cx, &self.elem))?;
            } else if k == "error" {
                if std::mem::replace(&mut error_seen, true) {
                    return Err(serde::de::Error::duplicate_field("error"));
                }
                let e = m.next_value::<Option<String>>()?;
                let slot = if self.key == "results" {
                    &mut self.cx.done.error
                } else {
                    &mut self.cx.statement_error
                };
                if slot.is_none() {
                    *slot = e;
                }
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// What an element of a sequence is read as, with the shared state.
trait Element {
    fn read<'de, D: Deserializer<'de>>(&self, cx: &mut Cx<'_>, de: D) -> Result<(), D::Error>;
}

impl<E: Element> Element for &E {
    fn read<'de, D: Deserializer<'de>>(&self, cx: &mut Cx<'_>, de: D) -> Result<(), D::Error> {
        (**self).read(cx, de)
    }
}

/// A sequence whose elements are read by `E` (a `null` reads as an empty sequence).
struct SeqOf<'c, 't, E>(&'c mut Cx<'t>, E);

impl<'de, E: Element> DeserializeSeed<'de> for SeqOf<'_, '_, E> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de, E: Element> Visitor<'de> for SeqOf<'_, '_, E> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_unit<X: serde::de::Error>(self) -> Result<(), X> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element_seed(One(&mut *self.0, &self.1))?.is_some() {}
        Ok(())
    }
}

struct One<'c, 't, 'e, E>(&'c mut Cx<'t>, &'e E);

impl<'de, E: Element> DeserializeSeed<'de> for One<'_, '_, '_, E> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        self.1.read(self.0, de)
    }
}

/// One statement's result: `series`, `error`.
struct Statement;

impl Element for Statement {
    fn read<'de, D: Deserializer<'de>>(&self, cx: &mut Cx<'_>, de: D) -> Result<(), D::Error> {
        de.deserialize_map(ListAndError {
            cx,
            key: "series",
            elem: SeriesE,
        })
    }
}

/// One series: `name`, `tags`, `columns`, `values`.
struct SeriesE;

impl Element for SeriesE {
    fn read<'de, D: Deserializer<'de>>(&self, cx: &mut Cx<'_>, de: D) -> Result<(), D::Error> {
        de.deserialize_map(SeriesV(cx))
    }
}

struct SeriesV<'c, 't>(&'c mut Cx<'t>);

/// Where a series' streamed rows went, for tags that come after them.
struct Streamed {
    /// Offset in `out` of the first line.
    from: usize,
    /// Length of the escaped measurement that starts each line.
    name_len: usize,
}

impl<'de> Visitor<'de> for SeriesV<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a series (a map)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let cx = self.0;
        let mut name: Option<String> = None;
        let mut tags: Option<BTreeMap<String, String>> = None;
        let mut columns: Option<Vec<String>> = None;
        let mut buffered: Option<Vec<Vec<Value>>> = None;
        let mut streamed: Option<Streamed> = None;
        let mut seen = [false; 4];
        while let Some(k) = m.next_key::<String>()? {
            // a key twice is an error, as in the value tree
            let slot = ["name", "tags", "columns", "values"]
                .iter()
                .position(|n| *n == k);
            if let Some(i) = slot {
                if std::mem::replace(&mut seen[i], true) {
                    return Err(serde::de::Error::duplicate_field(
                        ["name", "tags", "columns", "values"][i],
                    ));
                }
            }
            match k.as_str() {
                "name" => name = Some(m.next_value::<Option<String>>()?.unwrap_or_default()),
                "tags" => {
                    let t = m.next_value::<Option<BTreeMap<String, String>>>()?;
                    if let (Some(s), Some(t)) = (&streamed, &t) {
                        insert_tags(cx.out, s, t);
                    }
                    tags = t;
                }
                "columns" => {
                    columns = Some(m.next_value::<Option<Vec<String>>>()?.unwrap_or_default())
                }
                "values" => match (&name, &columns) {
                    (Some(n), Some(c)) => {
                        let layout = Layout::new(n, tags.as_ref(), c, cx.types);
                        streamed = Some(Streamed {
                            from: cx.out.len(),
                            name_len: escape_measurement(n).len(),
                        });
                        if let Some(layout) = layout {
                            m.next_value_seed(SeqOf(&mut *cx, RowE(&layout)))?;
                        } else {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                    _ => {
                        buffered = Some(
                            m.next_value::<Option<Vec<Vec<Value>>>>()?
                                .unwrap_or_default(),
                        )
                    }
                },
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(values) = buffered {
            let series = Series {
                name: name.unwrap_or_default(),
                tags,
                columns: columns.unwrap_or_default(),
                values,
            };
            cx.done.lines += series_to_lp(&series, cx.types, cx.out);
        }
        Ok(())
    }
}

/// Puts `tags` into every line written since `s.from`, after its measurement.
fn insert_tags(out: &mut Vec<u8>, s: &Streamed, tags: &BTreeMap<String, String>) {
    let mut tag_text = Vec::new();
    series_key(&mut tag_text, "", Some(tags));
    if tag_text.is_empty() {
        return;
    }
    let lines = out.split_off(s.from);
    for line in lines.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(&line[..s.name_len]);
        out.extend_from_slice(&tag_text);
        out.extend_from_slice(&line[s.name_len..]);
    }
}

/// How a series' rows become lines.
struct Layout {
    /// The escaped series key every line starts with.
    key: Vec<u8>,
    /// Per column: `None` for the time, else the escaped field key and its type.
    cols: Vec<Option<(Vec<u8>, Option<FieldType>)>>,
}

impl Layout {
    /// `None` when there is no `time` column (no row can be written).
    fn new(
        name: &str,
        tags: Option<&BTreeMap<String, String>>,
        columns: &[String],
        types: &FieldTypes,
    ) -> Option<Layout> {
        let time_col = columns.iter().position(|c| c == "time")?;
        let mut key = Vec::with_capacity(64);
        series_key(&mut key, name, tags);
        let cols = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (i != time_col).then(|| {
                    (
                        escape_tag(c).into_owned().into_bytes(),
                        types.get(c).copied(),
                    )
                })
            })
            .collect();
        Some(Layout { key, cols })
    }
}

/// One row: `[cell, cell, …]`, the time among them.
struct RowE<'l>(&'l Layout);

impl Element for RowE<'_> {
    fn read<'de, D: Deserializer<'de>>(&self, cx: &mut Cx<'_>, de: D) -> Result<(), D::Error> {
        let start = cx.out.len();
        cx.out.extend_from_slice(&self.0.key);
        let mut row = Row {
            out: &mut *cx.out,
            sep: b' ',
            time: None,
            writable: true,
        };
        de.deserialize_seq(RowV(&mut row, self.0))?;
        let Row {
            sep,
            time,
            writable,
            ..
        } = row;
        match time {
            Some(t) if writable && sep == b',' => {
                cx.out.push(b' ');
                cx.out
                    .extend_from_slice(itoa::Buffer::new().format(t).as_bytes());
                cx.out.push(b'\n');
                cx.done.lines += 1;
            }
            // no field, no time, or a cell no field can hold: no line
            _ => cx.out.truncate(start),
        }
        Ok(())
    }
}

struct Row<'o> {
    out: &'o mut Vec<u8>,
    /// What goes before the next field: `' '` before the first, `','` after.
    sep: u8,
    time: Option<i64>,
    writable: bool,
}

struct RowV<'r, 'o, 'l>(&'r mut Row<'o>, &'l Layout);

impl<'de> Visitor<'de> for RowV<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row (a sequence)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let more = match self.1.cols.get(i) {
                Some(None) => match s.next_element::<Time>()? {
                    Some(t) => {
                        self.0.time = t.0;
                        true
                    }
                    None => false,
                },
                Some(Some((name, ty))) => s
                    .next_element_seed(CellSeed {
                        row: &mut *self.0,
                        name,
                        ty: *ty,
                    })?
                    .is_some(),
                // cells past the columns are not read into fields
                None => s.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// A time cell: an integer that fits an `i64`, else no time (the row is skipped).
struct Time(Option<i64>);

impl<'de> serde::Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Time, D::Error> {
        de.deserialize_any(TimeV)
    }
}

struct TimeV;

impl<'de> Visitor<'de> for TimeV {
    type Value = Time;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a time")
    }
    fn visit_i64<X: serde::de::Error>(self, v: i64) -> Result<Time, X> {
        Ok(Time(Some(v)))
    }
    fn visit_u64<X: serde::de::Error>(self, v: u64) -> Result<Time, X> {
        Ok(Time(i64::try_from(v).ok()))
    }
    fn visit_f64<X: serde::de::Error>(self, _: f64) -> Result<Time, X> {
        Ok(Time(None))
    }
    fn visit_str<X: serde::de::Error>(self, _: &str) -> Result<Time, X> {
        Ok(Time(None))
    }
    fn visit_bool<X: serde::de::Error>(self, _: bool) -> Result<Time, X> {
        Ok(Time(None))
    }
    fn visit_unit<X: serde::de::Error>(self) -> Result<Time, X> {
        Ok(Time(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Time, A::Error> {
        IgnoredAny.visit_seq(s).map(|_| Time(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Time, A::Error> {
        IgnoredAny.visit_map(m).map(|_| Time(None))
    }
}

/// A field cell: written as `<sep>name=value` unless it is null.
struct CellSeed<'r, 'o, 'n> {
    row: &'r mut Row<'o>,
    name: &'n [u8],
    ty: Option<FieldType>,
}

impl CellSeed<'_, '_, '_> {
    /// Starts the field (separator, key, `=`) and hands `out` to `write`.
    fn field(self, write: impl FnOnce(&mut Vec<u8>)) {
        let row = self.row;
        if !row.writable {
            return;
        }
        row.out.push(row.sep);
        row.sep = b',';
        row.out.extend_from_slice(self.name);
        row.out.push(b'=');
        write(row.out);
    }
}

impl<'de> DeserializeSeed<'de> for CellSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field value")
    }
    fn visit_bool<X: serde::de::Error>(self, v: bool) -> Result<(), X> {
        self.field(|out| write_bool(out, v));
        Ok(())
    }
    fn visit_i64<X: serde::de::Error>(self, v: i64) -> Result<(), X> {
        let ty = self.ty;
        self.field(|out| write_i64(out, v, ty));
        Ok(())
    }
    fn visit_u64<X: serde::de::Error>(self, v: u64) -> Result<(), X> {
        let ty = self.ty;
        self.field(|out| write_u64(out, v, ty));
        Ok(())
    }
    fn visit_f64<X: serde::de::Error>(self, v: f64) -> Result<(), X> {
        // a non-finite float decodes to null in a value tree: no field
        if v.is_finite() {
            self.field(|out| write_f64(out, v));
        }
        Ok(())
    }
    fn visit_str<X: serde::de::Error>(self, v: &str) -> Result<(), X> {
        self.field(|out| write_str(out, v));
        Ok(())
    }
    fn visit_unit<X: serde::de::Error>(self) -> Result<(), X> {
        Ok(())
    }
    fn visit_none<X: serde::de::Error>(self) -> Result<(), X> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<(), A::Error> {
        self.row.writable = false;
        IgnoredAny.visit_seq(s).map(|_| ())
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<(), A::Error> {
        self.row.writable = false;
        IgnoredAny.visit_map(m).map(|_| ())
    }
}

//! Reading a point without owning it: [`PointView`] is what the store's write path asks of
//! a point, answered both by an owned [`Point`] and by a line of a parsed body
//! ([`LineRef`](crate::LineRef)), which keeps its names where they are in the body.

use crate::types::{FieldType, FieldValue, Point};

/// A field's value, borrowed: a string stays where it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldRef<'a> {
    /// A float (never NaN or infinite when parsed).
    Float(f64),
    /// A signed integer.
    Integer(i64),
    /// An unsigned integer.
    UInteger(u64),
    /// A string (unescaped).
    String(&'a str),
    /// A boolean.
    Boolean(bool),
}

impl FieldRef<'_> {
    /// The type of this value.
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldRef::Float(_) => FieldType::Float,
            FieldRef::Integer(_) => FieldType::Integer,
            FieldRef::UInteger(_) => FieldType::UInteger,
            FieldRef::String(_) => FieldType::String,
            FieldRef::Boolean(_) => FieldType::Boolean,
        }
    }

    /// The value owned (a string is copied).
    pub fn to_value(&self) -> FieldValue {
        match *self {
            FieldRef::Float(x) => FieldValue::Float(x),
            FieldRef::Integer(x) => FieldValue::Integer(x),
            FieldRef::UInteger(x) => FieldValue::UInteger(x),
            FieldRef::String(x) => FieldValue::String(x.to_owned()),
            FieldRef::Boolean(x) => FieldValue::Boolean(x),
        }
    }
}

impl FieldValue {
    /// The value borrowed.
    pub fn as_field_ref(&self) -> FieldRef<'_> {
        match self {
            FieldValue::Float(x) => FieldRef::Float(*x),
            FieldValue::Integer(x) => FieldRef::Integer(*x),
            FieldValue::UInteger(x) => FieldRef::UInteger(*x),
            FieldValue::String(x) => FieldRef::String(x),
            FieldValue::Boolean(x) => FieldRef::Boolean(*x),
        }
    }
}

/// A point as the write path reads it, with [`Point`]'s invariants: tags sorted by key with
/// unique keys, fields with unique keys in the order first seen, names unescaped.
pub trait PointView {
    /// The measurement name.
    fn measurement(&self) -> &str;
    /// Unix time in nanoseconds.
    fn time(&self) -> i64;
    /// How many tags [`tags`](Self::tags) yields.
    fn tag_count(&self) -> usize;
    /// The tags, sorted by key.
    fn tags(&self) -> impl Iterator<Item = (&str, &str)>;
    /// How many fields [`fields`](Self::fields) yields.
    fn field_count(&self) -> usize;
    /// The fields, in the order first seen on the line.
    fn fields(&self) -> impl Iterator<Item = (&str, FieldRef<'_>)>;

    /// The point owned.
    fn to_point(&self) -> Point {
        Point {
            measurement: self.measurement().to_owned(),
            tags: self
                .tags()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            fields: self
                .fields()
                .map(|(k, v)| (k.to_owned(), v.to_value()))
                .collect(),
            time: self.time(),
        }
    }
}

impl PointView for Point {
    fn measurement(&self) -> &str {
        &self.measurement
    }
    fn time(&self) -> i64 {
        self.time
    }
    fn tag_count(&self) -> usize {
        self.tags.len()
    }
    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    fn field_count(&self) -> usize {
        self.fields.len()
    }
    fn fields(&self) -> impl Iterator<Item = (&str, FieldRef<'_>)> {
        self.fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_field_ref()))
    }
    fn to_point(&self) -> Point {
        self.clone()
    }
}

impl<T: PointView> PointView for &T {
    fn measurement(&self) -> &str {
        (**self).measurement()
    }
    fn time(&self) -> i64 {
        (**self).time()
    }
    fn tag_count(&self) -> usize {
        (**self).tag_count()
    }
    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        (**self).tags()
    }
    fn field_count(&self) -> usize {
        (**self).field_count()
    }
    fn fields(&self) -> impl Iterator<Item = (&str, FieldRef<'_>)> {
        (**self).fields()
    }
    fn to_point(&self) -> Point {
        (**self).to_point()
    }
}

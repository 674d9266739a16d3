//! Writing data files: [`FileWriter`], for persists and merges, which write a batch of
//! series at a time (and `write_file`, all at once, for tests). Both store the series index and time
//! marks the `index` part reads back, and choose the encodings reads rely on (small pages,
//! dictionaries only for strings).

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use ferry_lp::{FieldType, FieldValue};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::index::{StoredSeries, TimeMarks};
use super::{KIND, SERIES_META};
use crate::error::StoreError;
use crate::types::SeriesRows;

/// Rows per row group.
const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Rows (about) a persist or a merge hands the writer at a time: the writer encodes them
/// into its open row group, so a batch smaller than a row group changes nothing on disk,
/// while the batch (its values as `Option<FieldValue>`, 32 bytes each, and their Arrow
/// arrays) is what a persist or a merge holds besides the writer: 16,384 rows of the `cpu`
/// shape are ~4 MB, 65,536 were ~17 MB.
pub(crate) const WRITE_BATCH_ROWS: usize = 16 * 1024;
/// Rows per data page (at most): a single-series read decodes about this many values per
/// column instead of a whole row group.
const PAGE_ROWS: usize = 2048;

fn field_with_kind(name: &str, dt: DataType, nullable: bool, kind: &str) -> Field {
    Field::new(name, dt, nullable)
        .with_metadata(HashMap::from([(KIND.to_string(), kind.to_string())]))
}

fn arrow_type(t: FieldType) -> DataType {
    match t {
        FieldType::Float => DataType::Float64,
        FieldType::Integer => DataType::Int64,
        FieldType::UInteger => DataType::UInt64,
        FieldType::String => DataType::Utf8,
        FieldType::Boolean => DataType::Boolean,
    }
}

/// Summary of a written file.
pub(crate) struct Written {
    pub min_time: i64,
    pub max_time: i64,
    pub rows: u64,
}

/// Writes `series` (sorted by key, each with ascending unique times) to a new file at `path`
/// and fsyncs it (tests' files). Columns: `time`, one Utf8 column per tag key, one typed column per field
/// that has at least one value.
#[cfg(test)]
pub(crate) fn write_file(
    path: &Path,
    field_names: &[String],
    series: &[SeriesRows],
) -> Result<Written, StoreError> {
    let tag_keys: std::collections::BTreeSet<&str> = series
        .iter()
        .flat_map(|s| s.key.iter().map(|(k, _)| k.as_str()))
        .collect();
    // The fields with at least one value, with their type and value column.
    let (fields, positions): (Vec<(String, FieldType)>, Vec<usize>) = field_names
        .iter()
        .enumerate()
        .filter_map(|(fi, name)| {
            let ty = series
                .iter()
                .flat_map(|s| s.cols.get(fi).into_iter().flatten())
                .find_map(|v| v.as_ref().map(|v| v.field_type()))?;
            Some(((name.clone(), ty), fi))
        })
        .unzip();
    let mut w = FileWriter::create(path, tag_keys.into_iter().map(String::from), fields)?;
    w.write_cols(series, &positions)?;
    w.finish()
}

/// A data file written a batch of series at a time, so a merge of large files never holds
/// more than a batch: rows must come sorted by series key (across batches too), each series
/// once, with ascending unique times. The file is complete and fsynced after
/// [`finish`](Self::finish); before that it holds no series index and must not be used.
pub(crate) struct FileWriter {
    w: ArrowWriter<File>,
    path: std::path::PathBuf,
    schema: Arc<Schema>,
    tag_keys: Vec<String>,
    fields: Vec<(String, FieldType)>,
    index: Vec<StoredSeries>,
    min_time: i64,
    max_time: i64,
    rows: u64,
}

impl FileWriter {
    /// Creates the file with the given tag keys and fields (in column order).
    pub fn create(
        path: &Path,
        tag_keys: impl IntoIterator<Item = String>,
        fields: Vec<(String, FieldType)>,
    ) -> Result<FileWriter, StoreError> {
        let mut tag_keys: Vec<String> = tag_keys.into_iter().collect();
        tag_keys.sort();
        tag_keys.dedup();
        let mut cols = vec![field_with_kind(
            "time",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
            "time",
        )];
        for k in &tag_keys {
            cols.push(field_with_kind(k, DataType::Utf8, true, "tag"));
        }
        for (name, ty) in &fields {
            cols.push(field_with_kind(name, arrow_type(*ty), true, "field"));
        }
        let schema = Arc::new(Schema::new(cols));
        // Dictionaries only for strings: a numeric column chunk's dictionary page (up to 1 MiB)
        // would be read and decompressed in full for every single-series read of it.
        let mut props = WriterProperties::builder()
            .set_compression(Compression::LZ4_RAW)
            .set_max_row_group_size(ROW_GROUP_ROWS)
            .set_data_page_row_count_limit(PAGE_ROWS)
            .set_write_batch_size(PAGE_ROWS)
            .set_dictionary_enabled(false);
        for f in schema.fields() {
            let col = ColumnPath::from(f.name().as_str());
            match f.data_type() {
                DataType::Utf8 => props = props.set_column_dictionary_enabled(col, true),
                // Time and integers as deltas: 10M cpu points take 333 MB instead of 370 MB
                // (PLAIN), and whole-range counts read them faster.
                DataType::Timestamp(..) | DataType::Int64 => {
                    props = props
                        .set_column_encoding(col, parquet::basic::Encoding::DELTA_BINARY_PACKED)
                }
                _ => {}
            }
        }
        let file = File::create(path)?;
        let w = ArrowWriter::try_new(file, schema.clone(), Some(props.build()))?;
        Ok(FileWriter {
            w,
            path: path.to_path_buf(),
            schema,
            tag_keys,
            fields,
            index: Vec::new(),
            min_time: i64::MAX,
            max_time: i64::MIN,
            rows: 0,
        })
    }

    /// Appends `series`, whose value columns are in the writer's field order.
    pub fn write(&mut self, series: &[SeriesRows]) -> Result<(), StoreError> {
        let positions: Vec<usize> = (0..self.fields.len()).collect();
        self.write_cols(series, &positions)
    }

    /// Appends `series`; the writer's field `i` is value column `positions[i]` of each.
    fn write_cols(&mut self, series: &[SeriesRows], positions: &[usize]) -> Result<(), StoreError> {
        let rows: usize = series.iter().map(|s| s.times.len()).sum();
        if rows == 0 {
            return Ok(());
        }
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        let mut times = Vec::with_capacity(rows);
        for s in series {
            times.extend_from_slice(&s.times);
        }
        cols.push(Arc::new(TimestampNanosecondArray::from(times)));
        for k in &self.tag_keys {
            let mut b = StringBuilder::with_capacity(rows, rows * 8);
            for s in series {
                let v = s
                    .key
                    .binary_search_by(|(tk, _)| tk.cmp(k))
                    .ok()
                    .map(|i| s.key[i].1.as_str());
                for _ in 0..s.times.len() {
                    b.append_option(v);
                }
            }
            cols.push(Arc::new(b.finish()));
        }
        for ((_, ty), &fi) in self.fields.iter().zip(positions) {
            let values = series.iter().flat_map(|s| {
                let n = s.times.len();
                let col = s.cols.get(fi);
                (0..n).map(move |i| col.and_then(|c| c[i].as_ref()))
            });
            cols.push(value_array(*ty, values));
        }
        for s in series.iter().filter(|s| !s.times.is_empty()) {
            let (lo, hi) = (s.times[0], s.times[s.times.len() - 1]);
            self.min_time = self.min_time.min(lo);
            self.max_time = self.max_time.max(hi);
            self.index.push(StoredSeries {
                k: s.key.clone(),
                n: s.times.len() as u64,
                lo,
                hi,
                m: TimeMarks::of(&s.times),
            });
        }
        self.rows += rows as u64;
        let batch = RecordBatch::try_new(self.schema.clone(), cols)?;
        self.w.write(&batch)?;
        Ok(())
    }

    /// Writes the series index and the footer, and fsyncs the file.
    pub fn finish(mut self) -> Result<Written, StoreError> {
        let index =
            serde_json::to_string(&self.index).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.w
            .append_key_value_metadata(KeyValue::new(SERIES_META.to_string(), index));
        self.w.close()?;
        File::open(&self.path)?.sync_all()?;
        let empty = self.rows == 0;
        Ok(Written {
            min_time: if empty { 0 } else { self.min_time },
            max_time: if empty { 0 } else { self.max_time },
            rows: self.rows,
        })
    }
}

/// One field's column; a value of another type than `ty` is stored as null.
fn value_array<'a>(
    ty: FieldType,
    values: impl Iterator<Item = Option<&'a FieldValue>>,
) -> ArrayRef {
    match ty {
        FieldType::Float => Arc::new(Float64Array::from_iter(values.map(|v| match v {
            Some(FieldValue::Float(x)) => Some(*x),
            _ => None,
        }))),
        FieldType::Integer => Arc::new(Int64Array::from_iter(values.map(|v| match v {
            Some(FieldValue::Integer(x)) => Some(*x),
            _ => None,
        }))),
        FieldType::UInteger => Arc::new(UInt64Array::from_iter(values.map(|v| match v {
            Some(FieldValue::UInteger(x)) => Some(*x),
            _ => None,
        }))),
        FieldType::String => Arc::new(StringArray::from_iter(values.map(|v| match v {
            Some(FieldValue::String(x)) => Some(x.as_str()),
            _ => None,
        }))),
        // (BooleanArray's FromIterator needs an upper size bound, which flat_map lacks.)
        FieldType::Boolean => Arc::new(BooleanArray::from(
            values
                .map(|v| match v {
                    Some(FieldValue::Boolean(x)) => Some(*x),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
    }
}

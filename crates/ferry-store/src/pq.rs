//! Parquet files: one per (measurement, partition, sequence), rows sorted by series then time.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt64Builder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use ferry_lp::{FieldType, FieldValue};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;

use crate::buffer::SeriesRows;
use crate::scan::{Acc, TagPredicate};
use crate::StoreError;

const KIND: &str = "ferry.kind";
const ROW_GROUP_ROWS: usize = 64 * 1024;

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
/// and fsyncs it. Columns: `time`, one Utf8 column per tag key, one typed column per field
/// that has at least one value.
pub(crate) fn write_file(
    path: &Path,
    field_names: &[String],
    series: &[SeriesRows],
) -> Result<Written, StoreError> {
    let rows: usize = series.iter().map(|s| s.times.len()).sum();
    let tag_keys: BTreeSet<&str> = series
        .iter()
        .flat_map(|s| s.key.iter().map(|(k, _)| k.as_str()))
        .collect();

    let mut fields = vec![field_with_kind(
        "time",
        DataType::Timestamp(TimeUnit::Nanosecond, None),
        false,
        "time",
    )];
    let mut cols: Vec<ArrayRef> = Vec::new();

    let mut times = Vec::with_capacity(rows);
    for s in series {
        times.extend_from_slice(&s.times);
    }
    let min_time = times.iter().copied().min().unwrap_or(0);
    let max_time = times.iter().copied().max().unwrap_or(0);
    cols.push(Arc::new(TimestampNanosecondArray::from(times)));

    for k in &tag_keys {
        let mut b = StringBuilder::with_capacity(rows, rows * 8);
        for s in series {
            let v = s
                .key
                .binary_search_by(|(tk, _)| tk.as_str().cmp(k))
                .ok()
                .map(|i| s.key[i].1.as_str());
            for _ in 0..s.times.len() {
                b.append_option(v);
            }
        }
        fields.push(field_with_kind(k, DataType::Utf8, true, "tag"));
        cols.push(Arc::new(b.finish()));
    }

    for (fi, name) in field_names.iter().enumerate() {
        let ty = series
            .iter()
            .flat_map(|s| s.cols.get(fi).into_iter().flatten())
            .find_map(|v| v.as_ref().map(|v| v.field_type()));
        let Some(ty) = ty else { continue };
        let values = series.iter().flat_map(|s| {
            let n = s.times.len();
            let col = s.cols.get(fi);
            (0..n).map(move |i| col.and_then(|c| c[i].as_ref()))
        });
        let arr: ArrayRef = match ty {
            FieldType::Float => {
                let mut b = Float64Builder::with_capacity(rows);
                for v in values {
                    b.append_option(match v {
                        Some(FieldValue::Float(x)) => Some(*x),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            FieldType::Integer => {
                let mut b = Int64Builder::with_capacity(rows);
                for v in values {
                    b.append_option(match v {
                        Some(FieldValue::Integer(x)) => Some(*x),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            FieldType::UInteger => {
                let mut b = UInt64Builder::with_capacity(rows);
                for v in values {
                    b.append_option(match v {
                        Some(FieldValue::UInteger(x)) => Some(*x),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            FieldType::String => {
                let mut b = StringBuilder::with_capacity(rows, rows * 8);
                for v in values {
                    b.append_option(match v {
                        Some(FieldValue::String(x)) => Some(x.as_str()),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
            FieldType::Boolean => {
                let mut b = BooleanBuilder::with_capacity(rows);
                for v in values {
                    b.append_option(match v {
                        Some(FieldValue::Boolean(x)) => Some(*x),
                        _ => None,
                    });
                }
                Arc::new(b.finish())
            }
        };
        fields.push(field_with_kind(name, arrow_type(ty), true, "field"));
        cols.push(arr);
    }

    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), cols)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_size(ROW_GROUP_ROWS)
        .build();
    let file = File::create(path)?;
    let mut w = ArrowWriter::try_new(file, schema, Some(props))?;
    w.write(&batch)?;
    w.close()?;
    File::open(path)?.sync_all()?;
    Ok(Written {
        min_time,
        max_time,
        rows: rows as u64,
    })
}

enum ColReader<'a> {
    F(&'a Float64Array),
    I(&'a Int64Array),
    U(&'a UInt64Array),
    S(&'a StringArray),
    B(&'a BooleanArray),
    Missing,
}

impl ColReader<'_> {
    fn new(a: &dyn Array) -> ColReader<'_> {
        let any = a.as_any();
        if let Some(x) = any.downcast_ref::<Float64Array>() {
            ColReader::F(x)
        } else if let Some(x) = any.downcast_ref::<Int64Array>() {
            ColReader::I(x)
        } else if let Some(x) = any.downcast_ref::<UInt64Array>() {
            ColReader::U(x)
        } else if let Some(x) = any.downcast_ref::<StringArray>() {
            ColReader::S(x)
        } else if let Some(x) = any.downcast_ref::<BooleanArray>() {
            ColReader::B(x)
        } else {
            ColReader::Missing
        }
    }

    #[inline]
    fn get(&self, i: usize) -> Option<FieldValue> {
        match self {
            ColReader::F(a) => a.is_valid(i).then(|| FieldValue::Float(a.value(i))),
            ColReader::I(a) => a.is_valid(i).then(|| FieldValue::Integer(a.value(i))),
            ColReader::U(a) => a.is_valid(i).then(|| FieldValue::UInteger(a.value(i))),
            ColReader::S(a) => a
                .is_valid(i)
                .then(|| FieldValue::String(a.value(i).to_string())),
            ColReader::B(a) => a.is_valid(i).then(|| FieldValue::Boolean(a.value(i))),
            ColReader::Missing => None,
        }
    }
}

fn kind_of(f: &Field) -> &str {
    f.metadata()
        .get(KIND)
        .map(|s| s.as_str())
        .unwrap_or_else(|| {
            if f.name() == "time" {
                "time"
            } else if f.data_type() == &DataType::Utf8 {
                "tag"
            } else {
                "field"
            }
        })
}

/// Reads the rows of one file with `start <= time < end` whose series satisfy `pred`,
/// projecting the requested `fields` (in that order), into `acc`.
pub(crate) fn read_file(
    path: &Path,
    start: i64,
    end: i64,
    pred: Option<&TagPredicate>,
    fields: &[String],
    acc: &mut Acc,
) -> Result<(), StoreError> {
    let file = File::open(path)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let schema = builder.schema().clone();
    let mut time_idx = None;
    let mut tag_idx: Vec<usize> = Vec::new();
    let mut field_idx: Vec<Option<usize>> = vec![None; fields.len()];
    for (i, f) in schema.fields().iter().enumerate() {
        match kind_of(f) {
            "time" => time_idx = Some(i),
            "tag" => tag_idx.push(i),
            _ => {
                for (j, name) in fields.iter().enumerate() {
                    if name == f.name() && field_idx[j].is_none() {
                        field_idx[j] = Some(i);
                    }
                }
            }
        }
    }
    let time_idx = time_idx
        .ok_or_else(|| StoreError::Corrupt(format!("{}: no time column", path.display())))?;
    // Tag columns sorted by key so that series keys come out sorted.
    tag_idx.sort_by(|&a, &b| schema.field(a).name().cmp(schema.field(b).name()));

    // Row-group pruning on time statistics.
    let md = builder.metadata().clone();
    let mut groups = Vec::new();
    for (g, rg) in md.row_groups().iter().enumerate() {
        let keep = match rg.column(time_idx).statistics() {
            Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                (Some(&lo), Some(&hi)) => lo < end && hi >= start,
                _ => true,
            },
            _ => true,
        };
        if keep {
            groups.push(g);
        }
    }
    if groups.is_empty() {
        return Ok(());
    }

    let mut roots: Vec<usize> = vec![time_idx];
    roots.extend(&tag_idx);
    roots.extend(field_idx.iter().flatten());
    roots.sort_unstable();
    roots.dedup();
    let pos = |i: usize| roots.binary_search(&i).expect("projected");
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_row_groups(groups)
        .with_batch_size(8192)
        .build()?;

    let tag_names: Vec<String> = tag_idx
        .iter()
        .map(|&i| schema.field(i).name().clone())
        .collect();
    let mut cur_key: Vec<(String, String)> = Vec::new();
    let mut cur_slot: Option<usize> = None;
    let mut have_key = false;
    for batch in reader {
        let batch = batch?;
        let tcol = batch.column(pos(time_idx));
        let times: &[i64] =
            if let Some(a) = tcol.as_any().downcast_ref::<TimestampNanosecondArray>() {
                a.values()
            } else if let Some(a) = tcol.as_any().downcast_ref::<Int64Array>() {
                a.values()
            } else {
                return Err(StoreError::Corrupt(format!(
                    "{}: bad time column type",
                    path.display()
                )));
            };
        let tags: Vec<Option<&StringArray>> = tag_idx
            .iter()
            .map(|&i| batch.column(pos(i)).as_any().downcast_ref::<StringArray>())
            .collect();
        let readers: Vec<ColReader> = field_idx
            .iter()
            .map(|fi| match fi {
                Some(i) => ColReader::new(batch.column(pos(*i)).as_ref()),
                None => ColReader::Missing,
            })
            .collect();
        for (row, &t) in times.iter().enumerate() {
            if t < start || t >= end {
                continue;
            }
            if !have_key || !same_key(&cur_key, &tag_names, &tags, row) {
                cur_key.clear();
                for (name, arr) in tag_names.iter().zip(&tags) {
                    if let Some(a) = arr {
                        if a.is_valid(row) && !a.value(row).is_empty() {
                            cur_key.push((name.clone(), a.value(row).to_string()));
                        }
                    }
                }
                have_key = true;
                cur_slot = match pred {
                    Some(p) if !p.matches(&cur_key) => None,
                    _ => Some(acc.slot(&cur_key)),
                };
            }
            if let Some(slot) = cur_slot {
                acc.push_row(slot, t, readers.iter().map(|r| r.get(row)));
            }
        }
    }
    Ok(())
}

fn same_key(
    cur: &[(String, String)],
    names: &[String],
    tags: &[Option<&StringArray>],
    row: usize,
) -> bool {
    let mut it = cur.iter();
    for (name, arr) in names.iter().zip(tags) {
        let Some(a) = arr else { continue };
        if !a.is_valid(row) || a.value(row).is_empty() {
            continue;
        }
        match it.next() {
            Some((k, v)) if k == name && v == a.value(row) => {}
            _ => return false,
        }
    }
    it.next().is_none()
}

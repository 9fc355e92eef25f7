//! Parquet: streamed in Arrow record batches of 8,192 rows (memory: one batch), columns matched
//! to fields by name like CSV headers. `line` is the 1-based row number plus one, as if the
//! column names were a header row.
//!
//! Values keep their types: strings → `Text`; integers → `Int` (a `UInt64` beyond `i64` →
//! `Decimal` scale 0); floats → `Float`; decimals → `Decimal` with the column's scale;
//! `Date32`/`Date64` → `Date`; timestamps without a time zone → `Date` at midnight, else `Text`
//! (`2020-01-02 08:30:00`, with `Z` when the column is UTC-anchored); booleans → `Bool`;
//! dictionary-encoded columns (pandas categoricals) as their values; nulls → `Null`. Other column
//! types (lists, structs, binary …) have no catalogue meaning: the file is a
//! `ReadError::Parquet` naming the column. pandas' index columns (`__index_level_0__`) are not
//! data and are ignored.
//!
//! A page that turns out corrupt after some rows were read ends the reader with
//! `ReadError::Parquet` (the records before it were yielded; none after).

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Float32Type, Float64Type,
    Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::{FieldMap, MidFileError, ReadError, raw_json};
use crate::record::{RawRecord, RawValue, ReadItem};

const BATCH_ROWS: usize = 8192;

pub(crate) struct ParquetRows {
    header: Vec<String>,
    map: Vec<Option<usize>>,
    fields: usize,
    reader: ParquetRecordBatchReader,
    /// The current batch, column by column (`None` for ignored columns); values are moved out
    /// row by row.
    columns: Vec<Option<Vec<RawValue>>>,
    batch_rows: usize,
    pos: usize,
    record: u64,
    /// Rows the footer declares (a claim of the file's, used only for progress).
    total_rows: u64,
}

impl ParquetRows {
    pub(crate) fn new(path: &Path, file: File, fields: &FieldMap) -> Result<Self, ReadError> {
        let parquet_error = |detail: String| ReadError::Parquet {
            path: path.to_path_buf(),
            detail,
        };
        // The footer and schema come from the unit's bytes; a parser panic on corrupt input is
        // this file's error, not the run's end.
        let opened = catch_unwind(AssertUnwindSafe(|| {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
            let header: Vec<String> = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let types: Vec<DataType> = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect();
            let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
            let reader = builder.with_batch_size(BATCH_ROWS).build()?;
            Ok::<_, parquet::errors::ParquetError>((header, types, reader, total_rows))
        }));
        let (header, types, reader, total_rows) = match opened {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => return Err(parquet_error(e.to_string())),
            Err(_) => {
                return Err(parquet_error(
                    "the Parquet parser failed on this file".into(),
                ));
            }
        };
        let map = fields.map_columns(path, &header, is_pandas_index)?;
        for (c, t) in types.iter().enumerate() {
            if map[c].is_some() && !supported(t) {
                return Err(parquet_error(format!(
                    "column {:?} has type {t}, which no catalogue field type can hold",
                    header[c]
                )));
            }
        }
        Ok(ParquetRows {
            header,
            map,
            fields: fields.len(),
            reader,
            columns: Vec::new(),
            batch_rows: 0,
            pos: 0,
            record: 0,
            total_rows,
        })
    }

    /// (rows yielded, rows the footer declares).
    pub(crate) fn progress(&self) -> (u64, u64) {
        (self.record, self.total_rows.max(self.record))
    }

    pub(crate) fn header(&self) -> &[String] {
        &self.header
    }

    pub(crate) fn next_item(&mut self) -> Option<Result<ReadItem, MidFileError>> {
        while self.pos >= self.batch_rows {
            let batch = match catch_unwind(AssertUnwindSafe(|| self.reader.next())) {
                Ok(None) => return None,
                Ok(Some(Ok(batch))) => batch,
                Ok(Some(Err(e))) => return Some(Err(MidFileError::Parquet(e.to_string()))),
                Err(_) => {
                    return Some(Err(MidFileError::Parquet(
                        "the Parquet parser failed on this file".into(),
                    )));
                }
            };
            if let Err(e) = self.load(&batch) {
                return Some(Err(MidFileError::Parquet(e)));
            }
        }
        let r = self.pos;
        self.pos += 1;
        self.record += 1;
        let raw = raw_json(
            self.header
                .iter()
                .zip(&self.columns)
                .filter_map(|(h, col)| Some((h.as_str(), col.as_ref()?.get(r)?))),
        );
        let mut values = vec![RawValue::Null; self.fields];
        for (c, col) in self.columns.iter_mut().enumerate() {
            if let (Some(Some(f)), Some(col)) = (self.map.get(c), col.as_mut())
                && let Some(v) = col.get_mut(r)
            {
                values[*f] = std::mem::replace(v, RawValue::Null);
            }
        }
        Some(Ok(ReadItem::Record(RawRecord {
            line: self.record + 1,
            record: self.record,
            values,
            raw,
        })))
    }

    fn load(&mut self, batch: &RecordBatch) -> Result<(), String> {
        self.columns.clear();
        for (c, array) in batch.columns().iter().enumerate() {
            if self.map.get(c).copied().flatten().is_some() {
                let values = convert(array.as_ref())?;
                if values.len() != batch.num_rows() {
                    return Err("a column's length differs from the batch's".into());
                }
                self.columns.push(Some(values));
            } else {
                self.columns.push(None);
            }
        }
        self.batch_rows = batch.num_rows();
        self.pos = 0;
        Ok(())
    }
}

fn is_pandas_index(name: &str) -> bool {
    name.starts_with("__index_level_") && name.ends_with("__")
}

/// Whether [`convert`] reads this Arrow type.
fn supported(t: &DataType) -> bool {
    match t {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(..)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => supported(values),
        _ => false,
    }
}

/// One column of a batch as raw values.
fn convert(a: &dyn Array) -> Result<Vec<RawValue>, String> {
    let n = a.len();
    let mismatch = || format!("column data does not match its type {}", a.data_type());
    let out = match a.data_type() {
        DataType::Null => vec![RawValue::Null; n],
        DataType::Boolean => {
            let arr = a.as_boolean_opt().ok_or_else(mismatch)?;
            (0..n)
                .map(|i| nullable(arr.is_null(i), || RawValue::Bool(arr.value(i))))
                .collect()
        }
        DataType::Int8 => primitive::<Int8Type>(a, |v| RawValue::Int(v.into()))?,
        DataType::Int16 => primitive::<Int16Type>(a, |v| RawValue::Int(v.into()))?,
        DataType::Int32 => primitive::<Int32Type>(a, |v| RawValue::Int(v.into()))?,
        DataType::Int64 => primitive::<Int64Type>(a, RawValue::Int)?,
        DataType::UInt8 => primitive::<UInt8Type>(a, |v| RawValue::Int(v.into()))?,
        DataType::UInt16 => primitive::<UInt16Type>(a, |v| RawValue::Int(v.into()))?,
        DataType::UInt32 => primitive::<UInt32Type>(a, |v| RawValue::Int(v.into()))?,
        DataType::UInt64 => primitive::<UInt64Type>(a, |v| match i64::try_from(v) {
            Ok(i) => RawValue::Int(i),
            Err(_) => RawValue::Decimal {
                value: v.into(),
                scale: 0,
            },
        })?,
        DataType::Float32 => primitive::<Float32Type>(a, |v| RawValue::Float(v.into()))?,
        DataType::Float64 => primitive::<Float64Type>(a, RawValue::Float)?,
        DataType::Decimal32(_, s) => primitive::<Decimal32Type>(a, |v| RawValue::Decimal {
            value: v.into(),
            scale: *s,
        })?,
        DataType::Decimal64(_, s) => primitive::<Decimal64Type>(a, |v| RawValue::Decimal {
            value: v.into(),
            scale: *s,
        })?,
        DataType::Decimal128(_, s) => primitive::<Decimal128Type>(a, |v| RawValue::Decimal {
            value: v,
            scale: *s,
        })?,
        DataType::Date32 => primitive::<Date32Type>(a, |d| {
            date_from_days(i64::from(d)).unwrap_or_else(|| RawValue::Int(d.into()))
        })?,
        DataType::Date64 => primitive::<Date64Type>(a, |ms| {
            date_from_days(ms.div_euclid(86_400_000)).unwrap_or(RawValue::Int(ms))
        })?,
        DataType::Timestamp(unit, tz) => {
            let utc = tz.is_some();
            match unit {
                TimeUnit::Second => {
                    primitive::<TimestampSecondType>(a, |v| timestamp(v, 1_000_000_000, utc))?
                }
                TimeUnit::Millisecond => {
                    primitive::<TimestampMillisecondType>(a, |v| timestamp(v, 1_000_000, utc))?
                }
                TimeUnit::Microsecond => {
                    primitive::<TimestampMicrosecondType>(a, |v| timestamp(v, 1_000, utc))?
                }
                TimeUnit::Nanosecond => {
                    primitive::<TimestampNanosecondType>(a, |v| timestamp(v, 1, utc))?
                }
            }
        }
        DataType::Utf8 => {
            let arr = a.as_string_opt::<i32>().ok_or_else(mismatch)?;
            (0..n)
                .map(|i| nullable(arr.is_null(i), || text(arr.value(i))))
                .collect()
        }
        DataType::LargeUtf8 => {
            let arr = a.as_string_opt::<i64>().ok_or_else(mismatch)?;
            (0..n)
                .map(|i| nullable(arr.is_null(i), || text(arr.value(i))))
                .collect()
        }
        DataType::Utf8View => {
            let arr = a.as_string_view_opt().ok_or_else(mismatch)?;
            (0..n)
                .map(|i| nullable(arr.is_null(i), || text(arr.value(i))))
                .collect()
        }
        DataType::Dictionary(..) => {
            let dict = a.as_any_dictionary_opt().ok_or_else(mismatch)?;
            let values = convert(dict.values().as_ref())?;
            let keys = dict.normalized_keys();
            (0..n)
                .map(|i| match keys.get(i).and_then(|&k| values.get(k)) {
                    Some(v) if !a.is_null(i) => v.clone(),
                    _ => RawValue::Null,
                })
                .collect()
        }
        other => return Err(format!("unsupported column type {other}")),
    };
    Ok(out)
}

fn nullable(is_null: bool, value: impl FnOnce() -> RawValue) -> RawValue {
    if is_null { RawValue::Null } else { value() }
}

fn primitive<T: ArrowPrimitiveType>(
    a: &dyn Array,
    f: impl Fn(T::Native) -> RawValue,
) -> Result<Vec<RawValue>, String> {
    let arr = a
        .as_primitive_opt::<T>()
        .ok_or_else(|| format!("column data does not match its type {}", a.data_type()))?;
    Ok((0..arr.len())
        .map(|i| nullable(arr.is_null(i), || f(arr.value(i))))
        .collect())
}

fn text(s: &str) -> RawValue {
    if s.is_empty() {
        RawValue::Null
    } else {
        RawValue::Text(s.to_string())
    }
}

fn date_from_days(days: i64) -> Option<RawValue> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    epoch
        .checked_add_signed(chrono::TimeDelta::try_days(days)?)
        .map(RawValue::Date)
}

/// A timestamp of `v` units of `nanos_per_unit` nanoseconds since the epoch.
fn timestamp(v: i64, nanos_per_unit: i64, utc: bool) -> RawValue {
    let nanos = i128::from(v) * i128::from(nanos_per_unit);
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000);
    let t: Option<NaiveDateTime> = i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, u32::try_from(sub).ok()?))
        .map(|t| t.naive_utc());
    match t {
        Some(t) if !utc && t.time() == NaiveTime::MIN => RawValue::Date(t.date()),
        Some(t) => {
            let mut s = t.format("%Y-%m-%d %H:%M:%S%.f").to_string();
            if utc {
                s.push('Z');
            }
            RawValue::Text(s)
        }
        None => RawValue::Int(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(
            timestamp(86_400, 1_000_000_000, false),
            RawValue::Date(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap_or_default())
        );
        assert_eq!(
            timestamp(90_000_000, 1_000, false),
            RawValue::Text("1970-01-01 00:01:30".into())
        );
        assert_eq!(
            timestamp(0, 1, true),
            RawValue::Text("1970-01-01 00:00:00Z".into())
        );
    }

    #[test]
    fn pandas_index() {
        assert!(is_pandas_index("__index_level_0__"));
        assert!(!is_pandas_index("身份证号"));
    }
}

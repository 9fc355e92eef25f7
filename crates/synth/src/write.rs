//! Writers for the unit file formats: CSV (UTF-8, UTF-8 with BOM, GBK), JSON Lines, XLSX and
//! Parquet. A writer takes typed cells in the catalogue's field order with the fields' labels as
//! the header, as a department's export would.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field as ArrowField, Schema};
use chrono::NaiveDate;
use miaopi_catalog::{DataType, Field, FileFormat, TextEncoding};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::SynthError;

/// One value of a record. Text formats receive dates already written out (with their noise) as
/// `Str`; XLSX and Parquet receive `Date` and store it natively.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Str(String),
    Int(i64),
    /// A decimal with two places, in hundredths (`123450` = `1234.50`).
    Cents(i64),
    Date(NaiveDate),
    Bool(bool),
}

impl Cell {
    pub fn text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Str(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Cents(c) => format!("{}.{:02}", c / 100, (c % 100).abs()),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        }
    }
}

/// Days between Excel's epoch (1899-12-30, which absorbs the 1900 leap-year bug) and a date.
pub fn excel_serial(d: NaiveDate) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or(NaiveDate::MIN);
    (d - epoch).num_days() as f64
}

/// Raw damage a writer may be asked to do to one row (unfixable mess).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Drop the last column (CSV).
    MissingColumn,
    /// Bytes invalid in the file's encoding inside a field (CSV).
    BadBytes,
    /// The JSON object cut short (JSON Lines).
    Truncated,
}

pub trait RecordSink: Send {
    fn write(&mut self, cells: &[Cell], damage: Option<Damage>) -> Result<(), SynthError>;
    /// Flushes and closes; returns the file's size in bytes.
    fn finish(self: Box<Self>) -> Result<u64, SynthError>;
}

pub fn open_sink(
    path: &Path,
    format: FileFormat,
    encoding: Option<TextEncoding>,
    fields: &[Field],
) -> Result<Box<dyn RecordSink>, SynthError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| SynthError::io(dir, e))?;
    }
    Ok(match format {
        FileFormat::Csv => Box::new(CsvSink::create(
            path,
            encoding.unwrap_or(TextEncoding::Utf8),
            fields,
        )?),
        FileFormat::Jsonl => Box::new(JsonlSink::create(path, fields)?),
        FileFormat::Xlsx => Box::new(XlsxSink::create(path, fields)?),
        FileFormat::Parquet => Box::new(ParquetSink::create(path, fields)?),
    })
}

fn create_file(path: &Path) -> Result<BufWriter<File>, SynthError> {
    let f = File::create(path).map_err(|e| SynthError::io(path, e))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

// ---------------------------------------------------------------------------------- CSV

pub struct CsvSink {
    path: PathBuf,
    out: BufWriter<File>,
    encoding: TextEncoding,
    line: String,
    encoded: Vec<u8>,
    bytes: u64,
}

impl CsvSink {
    fn create(path: &Path, encoding: TextEncoding, fields: &[Field]) -> Result<Self, SynthError> {
        let mut sink = CsvSink {
            path: path.to_path_buf(),
            out: create_file(path)?,
            encoding,
            line: String::with_capacity(256),
            encoded: Vec::with_capacity(512),
            bytes: 0,
        };
        if encoding == TextEncoding::Utf8Bom {
            sink.put(&[0xEF, 0xBB, 0xBF])?;
        }
        let header: Vec<Cell> = fields.iter().map(|f| Cell::Str(f.label.clone())).collect();
        sink.write(&header, None)?;
        Ok(sink)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), SynthError> {
        self.out
            .write_all(bytes)
            .map_err(|e| SynthError::io(&self.path, e))?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn push_field(line: &mut String, s: &str) {
        if s.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&s.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(s);
        }
    }
}

impl RecordSink for CsvSink {
    fn write(&mut self, cells: &[Cell], damage: Option<Damage>) -> Result<(), SynthError> {
        self.line.clear();
        let n = if damage == Some(Damage::MissingColumn) {
            cells.len().saturating_sub(1)
        } else {
            cells.len()
        };
        // The byte damage lands in the middle of the row, after the first field.
        let mut bad_at = None;
        for (i, c) in cells[..n].iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            match c {
                Cell::Str(s) => Self::push_field(&mut self.line, s),
                Cell::Null => {}
                other => self.line.push_str(&other.text()),
            }
            if i == 0 && damage == Some(Damage::BadBytes) {
                bad_at = Some(self.line.len());
            }
        }
        let gbk = self.encoding == TextEncoding::Gbk;
        self.line.push_str(if gbk { "\r\n" } else { "\n" });
        self.encoded.clear();
        if gbk {
            // GBK covers every character the generator writes; encoding_rs would turn an
            // unmappable one into an HTML entity, which the tests would catch.
            let (bytes, _, _) = encoding_rs::GBK.encode(&self.line);
            self.encoded.extend_from_slice(&bytes);
        } else {
            self.encoded.extend_from_slice(self.line.as_bytes());
        }
        if let Some(at) = bad_at {
            let at = if gbk {
                encoding_rs::GBK.encode(&self.line[..at]).0.len()
            } else {
                at
            };
            // 0xFF is not a valid lead byte in GBK/GB18030, and never valid in UTF-8.
            let junk: &[u8] = if gbk {
                &[0xFF, 0xFF]
            } else {
                &[0xC3, 0x28, 0xFF]
            };
            self.encoded.splice(at..at, junk.iter().copied());
        }
        let encoded = std::mem::take(&mut self.encoded);
        let r = self.put(&encoded);
        self.encoded = encoded;
        r
    }

    fn finish(mut self: Box<Self>) -> Result<u64, SynthError> {
        self.out
            .flush()
            .map_err(|e| SynthError::io(&self.path, e))?;
        Ok(self.bytes)
    }
}

// ---------------------------------------------------------------------------------- JSON Lines

pub struct JsonlSink {
    path: PathBuf,
    out: BufWriter<File>,
    labels: Vec<String>,
    bytes: u64,
}

impl JsonlSink {
    fn create(path: &Path, fields: &[Field]) -> Result<Self, SynthError> {
        Ok(JsonlSink {
            path: path.to_path_buf(),
            out: create_file(path)?,
            labels: fields.iter().map(|f| f.label.clone()).collect(),
            bytes: 0,
        })
    }
}

impl RecordSink for JsonlSink {
    fn write(&mut self, cells: &[Cell], damage: Option<Damage>) -> Result<(), SynthError> {
        // Written by hand to keep the unit's column order (serde_json's map would sort keys).
        let enc = |e: serde_json::Error| SynthError::Encode(e.to_string());
        let mut line = String::with_capacity(256);
        line.push('{');
        for (i, (label, c)) in self.labels.iter().zip(cells).enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&serde_json::to_string(label).map_err(enc)?);
            line.push(':');
            match c {
                Cell::Null => line.push_str("null"),
                Cell::Int(i) => line.push_str(&i.to_string()),
                Cell::Cents(_) => line.push_str(&c.text()),
                Cell::Bool(b) => line.push_str(if *b { "true" } else { "false" }),
                other => line.push_str(&serde_json::to_string(&other.text()).map_err(enc)?),
            }
        }
        line.push('}');
        if damage == Some(Damage::Truncated) {
            let cut = line
                .char_indices()
                .nth(line.chars().count() * 2 / 3)
                .map(|(i, _)| i)
                .unwrap_or(0);
            line.truncate(cut);
        }
        line.push('\n');
        self.out
            .write_all(line.as_bytes())
            .map_err(|e| SynthError::io(&self.path, e))?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<u64, SynthError> {
        self.out
            .flush()
            .map_err(|e| SynthError::io(&self.path, e))?;
        Ok(self.bytes)
    }
}

// ---------------------------------------------------------------------------------- XLSX

pub struct XlsxSink {
    path: PathBuf,
    workbook: rust_xlsxwriter::Workbook,
    date_format: rust_xlsxwriter::Format,
    row: u32,
}

impl XlsxSink {
    fn create(path: &Path, fields: &[Field]) -> Result<Self, SynthError> {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        // rust_xlsxwriter stamps the current time into docProps/core.xml; a fixed creation
        // time keeps the file byte-identical across runs.
        let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2020, 8, 21)
            .map_err(|e| SynthError::Encode(e.to_string()))?;
        workbook.set_properties(
            &rust_xlsxwriter::DocProperties::new()
                .set_creation_datetime(&created)
                .set_author("miaopi-synth"),
        );
        let sheet = workbook.add_worksheet();
        sheet
            .set_name("登记数据")
            .map_err(|e| SynthError::Encode(e.to_string()))?;
        for (col, f) in fields.iter().enumerate() {
            sheet
                .write_string(0, col as u16, &f.label)
                .map_err(|e| SynthError::Encode(e.to_string()))?;
        }
        Ok(XlsxSink {
            path: path.to_path_buf(),
            workbook,
            date_format: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd"),
            row: 1,
        })
    }
}

impl RecordSink for XlsxSink {
    fn write(&mut self, cells: &[Cell], _damage: Option<Damage>) -> Result<(), SynthError> {
        let sheet = self
            .workbook
            .worksheet_from_index(0)
            .map_err(|e| SynthError::Encode(e.to_string()))?;
        let enc = |e: rust_xlsxwriter::XlsxError| SynthError::Encode(e.to_string());
        for (col, c) in cells.iter().enumerate() {
            let col = col as u16;
            match c {
                Cell::Null => {}
                Cell::Str(s) => {
                    sheet.write_string(self.row, col, s).map_err(enc)?;
                }
                Cell::Int(i) => {
                    sheet.write_number(self.row, col, *i as f64).map_err(enc)?;
                }
                Cell::Cents(c) => {
                    sheet
                        .write_number(self.row, col, *c as f64 / 100.0)
                        .map_err(enc)?;
                }
                Cell::Date(d) => {
                    sheet
                        .write_number_with_format(
                            self.row,
                            col,
                            excel_serial(*d),
                            &self.date_format,
                        )
                        .map_err(enc)?;
                }
                Cell::Bool(b) => {
                    sheet.write_boolean(self.row, col, *b).map_err(enc)?;
                }
            }
        }
        self.row += 1;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<u64, SynthError> {
        self.workbook
            .save(&self.path)
            .map_err(|e| SynthError::Encode(format!("{}: {e}", self.path.display())))?;
        let meta = std::fs::metadata(&self.path).map_err(|e| SynthError::io(&self.path, e))?;
        Ok(meta.len())
    }
}

// ---------------------------------------------------------------------------------- Parquet

enum ColumnBuilder {
    Str(StringBuilder),
    Int(Int64Builder),
    Dec(Decimal128Builder),
    Date(Date32Builder),
    Bool(BooleanBuilder),
}

pub struct ParquetSink {
    path: PathBuf,
    writer: Option<ArrowWriter<File>>,
    schema: Arc<Schema>,
    builders: Vec<ColumnBuilder>,
    pending: usize,
}

const PARQUET_BATCH_ROWS: usize = 65_536;

/// The Arrow type a catalogue field is stored as in a unit's Parquet export.
pub fn arrow_type(t: DataType) -> ArrowType {
    match t {
        DataType::String | DataType::Month => ArrowType::Utf8,
        DataType::Integer => ArrowType::Int64,
        DataType::Decimal => ArrowType::Decimal128(18, 2),
        DataType::Date => ArrowType::Date32,
        DataType::Boolean => ArrowType::Boolean,
    }
}

impl ParquetSink {
    fn create(path: &Path, fields: &[Field]) -> Result<Self, SynthError> {
        let schema = Arc::new(Schema::new(
            fields
                .iter()
                .map(|f| ArrowField::new(f.label.clone(), arrow_type(f.data_type), true))
                .collect::<Vec<_>>(),
        ));
        let file = File::create(path).map_err(|e| SynthError::io(path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| SynthError::Encode(e.to_string()))?;
        let mut sink = ParquetSink {
            path: path.to_path_buf(),
            writer: Some(writer),
            schema,
            builders: Vec::new(),
            pending: 0,
        };
        sink.builders = sink.new_builders(fields)?;
        Ok(sink)
    }

    fn new_builders(&self, fields: &[Field]) -> Result<Vec<ColumnBuilder>, SynthError> {
        fields
            .iter()
            .map(|f| {
                Ok(match f.data_type {
                    DataType::String | DataType::Month => ColumnBuilder::Str(StringBuilder::new()),
                    DataType::Integer => ColumnBuilder::Int(Int64Builder::new()),
                    DataType::Decimal => ColumnBuilder::Dec(
                        Decimal128Builder::new()
                            .with_precision_and_scale(18, 2)
                            .map_err(|e| SynthError::Encode(e.to_string()))?,
                    ),
                    DataType::Date => ColumnBuilder::Date(Date32Builder::new()),
                    DataType::Boolean => ColumnBuilder::Bool(BooleanBuilder::new()),
                })
            })
            .collect()
    }

    fn flush_batch(&mut self) -> Result<(), SynthError> {
        if self.pending == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    ColumnBuilder::Str(b) => Arc::new(b.finish()),
                    ColumnBuilder::Int(b) => Arc::new(b.finish()),
                    ColumnBuilder::Dec(b) => Arc::new(b.finish()),
                    ColumnBuilder::Date(b) => Arc::new(b.finish()),
                    ColumnBuilder::Bool(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| SynthError::Encode(e.to_string()))?;
        if let Some(w) = self.writer.as_mut() {
            w.write(&batch)
                .map_err(|e| SynthError::Encode(e.to_string()))?;
        }
        self.pending = 0;
        Ok(())
    }
}

impl RecordSink for ParquetSink {
    fn write(&mut self, cells: &[Cell], _damage: Option<Damage>) -> Result<(), SynthError> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
        for (b, c) in self.builders.iter_mut().zip(cells) {
            match (b, c) {
                (ColumnBuilder::Str(b), Cell::Null) => b.append_null(),
                (ColumnBuilder::Str(b), c) => b.append_value(c.text()),
                (ColumnBuilder::Int(b), Cell::Int(i)) => b.append_value(*i),
                (ColumnBuilder::Dec(b), Cell::Cents(c)) => b.append_value(*c as i128),
                (ColumnBuilder::Date(b), Cell::Date(d)) => {
                    b.append_value((*d - epoch).num_days() as i32)
                }
                (ColumnBuilder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
                (ColumnBuilder::Int(b), _) => b.append_null(),
                (ColumnBuilder::Dec(b), _) => b.append_null(),
                (ColumnBuilder::Date(b), _) => b.append_null(),
                (ColumnBuilder::Bool(b), _) => b.append_null(),
            }
        }
        self.pending += 1;
        if self.pending >= PARQUET_BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<u64, SynthError> {
        self.flush_batch()?;
        if let Some(w) = self.writer.take() {
            w.close().map_err(|e| SynthError::Encode(e.to_string()))?;
        }
        let meta = std::fs::metadata(&self.path).map_err(|e| SynthError::io(&self.path, e))?;
        Ok(meta.len())
    }
}

// ---------------------------------------------------------------------------------- truth

/// `truth/<unit>/<file>.truth.csv`: one line per source record, in the same order:
/// `record,entities,noise` — the record's 1-based number among the file's data records, the true
/// entity behind each keyed field (`field=person:<ID>;…`), and the noise applied (`;`-joined).
pub struct TruthSink {
    path: PathBuf,
    out: BufWriter<File>,
    line: String,
}

impl TruthSink {
    pub fn create(path: &Path) -> Result<Self, SynthError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| SynthError::io(dir, e))?;
        }
        let mut out = create_file(path)?;
        out.write_all(b"record,entities,noise\n")
            .map_err(|e| SynthError::io(path, e))?;
        Ok(TruthSink {
            path: path.to_path_buf(),
            out,
            line: String::with_capacity(128),
        })
    }

    pub fn write(
        &mut self,
        record: u64,
        entities: &str,
        noise: &[crate::noise::NoiseKind],
    ) -> Result<(), SynthError> {
        use std::fmt::Write as _;
        self.line.clear();
        let _ = write!(self.line, "{record},{entities},");
        for (i, n) in noise.iter().enumerate() {
            if i > 0 {
                self.line.push(';');
            }
            self.line.push_str(n.code());
        }
        self.line.push('\n');
        self.out
            .write_all(self.line.as_bytes())
            .map_err(|e| SynthError::io(&self.path, e))
    }

    pub fn finish(mut self) -> Result<(), SynthError> {
        self.out.flush().map_err(|e| SynthError::io(&self.path, e))
    }
}

//! 文件读取: streaming readers for the files units send (CSV, JSON Lines, XLSX, Parquet).
//!
//! [`open`] checks that a file can be read as a catalogue resource at all — it exists, is not
//! empty or binary, its columns match the resource's fields — and fails with a [`ReadError`]
//! (nothing is yielded) when it cannot. The [`Reader`] then yields every data record in file
//! order, either as a [`RawRecord`](crate::RawRecord) (values in the catalogue's field order) or
//! as a [`BadRecord`](crate::BadRecord) with the reason it could not be split into fields.
//! Nothing is skipped silently: only entirely empty lines (CSV, JSON Lines) and empty rows (XLSX)
//! are not records.
//!
//! Columns are matched to fields by header text equal to the field's `label` (中文列名, as units
//! send it) or its `name`, ignoring surrounding whitespace and a BOM; they may come in any order.
//!
//! | format | memory | `raw` |
//! |---|---|---|
//! | CSV | one record (≤ `max_line_bytes`) plus a 256 KiB buffer | the record's text as received |
//! | JSON Lines | one line (≤ `max_line_bytes`) plus a 256 KiB buffer | the line as received |
//! | XLSX | the first sheet's non-empty cells (≤ 10 M cells) and the shared strings | a JSON object, header → value |
//! | Parquet | one batch of 8,192 rows | a JSON object, column → value |
//!
//! Values: CSV cells are `Text` (empty cell → `Null`). JSON strings are `Text`, integers `Int`
//! (beyond `i64`: `Decimal` with scale 0), other numbers `Decimal` with the exact digits written
//! (`1234.50` → `Decimal { value: 123450, scale: 2 }`, so money is never rounded through a float)
//! or, in exponent form only, `Float`; booleans `Bool`; nested arrays and objects their JSON text.
//! XLSX and Parquet cells keep their types (see the submodules). In every format an empty string
//! is `Null`, as an empty CSV cell is, so "absent" has one spelling downstream.

mod csv;
mod jsonl;
mod parquet;
mod text;
mod xlsx;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use miaopi_catalog::{FileFormat, Resource, TextEncoding};

use crate::record::{RawValue, ReadItem};

/// 读取选项.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// 单行字节上限: a CSV record or JSON line longer than this (without its line terminator)
    /// is quarantined as `LineTooLong` and skipped to the next newline without being held in
    /// memory. Default 1 MiB.
    pub max_line_bytes: u64,
    /// 字符编码 of a text file: `None` = the catalogue's; when the catalogue has none either
    /// (JSON Lines, or a resource without one), detected from the first 64 KiB.
    pub encoding: Option<TextEncoding>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_line_bytes: 1 << 20,
            encoding: None,
        }
    }
}

/// 文件级错误: the file cannot be read as this resource at all, so no record is yielded.
///
/// Only [`ReadError::Io`] can also occur mid-file (from [`Reader`]'s iterator), after which the
/// reader stops.
#[derive(thiserror::Error, Debug)]
pub enum ReadError {
    /// 读取失败: the operating system could not open or read the file.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// 空文件: zero bytes, or only empty lines (no header). A header with no rows is not an
    /// error: it reads as zero records.
    #[error("{}: the file is empty", path.display())]
    Empty { path: PathBuf },
    /// 二进制文件: a CSV or JSON Lines file with NUL bytes in its first 8 KiB.
    #[error("{}: the file looks binary (NUL bytes near the start), not text", path.display())]
    Binary { path: PathBuf },
    /// 表头不符: the columns do not match the catalogue's fields. Names are the file's header
    /// texts (unknown, duplicate) and the catalogue's labels (missing).
    #[error("{}: the columns do not match the catalogue: {}", path.display(), header_problems_en(missing_required, unknown, duplicate))]
    Header {
        path: PathBuf,
        /// Labels of required fields with no column.
        missing_required: Vec<String>,
        /// Columns that are neither a field's label nor its name.
        unknown: Vec<String>,
        /// Columns that name a field another column already names (the same text twice, or a
        /// field's label and its name).
        duplicate: Vec<String>,
    },
    /// 表头无法读取: the header line is longer than the line limit, or its quoting never closes.
    #[error("{}: the header cannot be read: {detail}", path.display())]
    HeaderUnreadable { path: PathBuf, detail: String },
    /// Excel 工作簿无法读取: not a workbook, truncated, corrupt, or too large.
    #[error("{}: not a readable XLSX workbook: {detail}", path.display())]
    Xlsx { path: PathBuf, detail: String },
    /// Parquet 文件无法读取: not Parquet, truncated, corrupt, or a column type with no meaning
    /// for the catalogue.
    #[error("{}: not a readable Parquet file: {detail}", path.display())]
    Parquet { path: PathBuf, detail: String },
    /// 编码错误: the header itself does not decode in the file's encoding.
    #[error("{}: encoding: {detail}", path.display())]
    Encoding { path: PathBuf, detail: String },
}

impl ReadError {
    /// Stable machine reason code, for the intake report and the console.
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::Io { .. } => "io_error",
            ReadError::Empty { .. } => "empty_file",
            ReadError::Binary { .. } => "binary_file",
            ReadError::Header { .. } => "header_mismatch",
            ReadError::HeaderUnreadable { .. } => "header_unreadable",
            ReadError::Xlsx { .. } => "xlsx_unreadable",
            ReadError::Parquet { .. } => "parquet_unreadable",
            ReadError::Encoding { .. } => "encoding_error",
        }
    }

    /// The file the error concerns.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::Empty { path }
            | ReadError::Binary { path }
            | ReadError::Header { path, .. }
            | ReadError::HeaderUnreadable { path, .. }
            | ReadError::Xlsx { path, .. }
            | ReadError::Parquet { path, .. }
            | ReadError::Encoding { path, .. } => path,
        }
    }

    /// The error in Chinese, for the unit that sent the file and the console.
    pub fn message_zh(&self) -> String {
        let file = self.path().display();
        match self {
            ReadError::Io { source, .. } => format!("文件 {file} 读取失败：{source}"),
            ReadError::Empty { .. } => format!("文件 {file} 为空（没有表头，也没有数据）"),
            ReadError::Binary { .. } => {
                format!(
                    "文件 {file} 不是文本文件（开头含有 NUL 字节，疑似二进制、压缩文件或 UTF-16 编码）"
                )
            }
            ReadError::Header {
                missing_required,
                unknown,
                duplicate,
                ..
            } => {
                let mut m = format!("文件 {file} 的表头与目录不符：");
                let mut parts = Vec::new();
                if !missing_required.is_empty() {
                    parts.push(format!("缺少必填列{}", quote_zh(missing_required)));
                }
                if !unknown.is_empty() {
                    parts.push(format!("有目录中没有的列{}", quote_zh(unknown)));
                }
                if !duplicate.is_empty() {
                    parts.push(format!("列重复{}", quote_zh(duplicate)));
                }
                m.push_str(&parts.join("；"));
                m
            }
            ReadError::HeaderUnreadable { detail, .. } => {
                format!("文件 {file} 的表头无法读取：{detail}")
            }
            ReadError::Xlsx { detail, .. } => {
                format!("文件 {file} 不是可读取的 Excel 工作簿（可能已截断或损坏）：{detail}")
            }
            ReadError::Parquet { detail, .. } => {
                format!("文件 {file} 不是可读取的 Parquet 文件（可能已截断或损坏）：{detail}")
            }
            ReadError::Encoding { detail, .. } => format!("文件 {file} 编码错误：{detail}"),
        }
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        ReadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `「身份证号」「姓名」`; an empty header cell is shown as `「」（空列名）` so it is visible.
fn quote_zh(names: &[String]) -> String {
    names
        .iter()
        .map(|n| {
            if n.is_empty() {
                "「」（空列名）".to_string()
            } else {
                format!("「{n}」")
            }
        })
        .collect::<Vec<_>>()
        .join("")
}

fn header_problems_en(missing: &[String], unknown: &[String], duplicate: &[String]) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing required columns {}", list(missing)));
    }
    if !unknown.is_empty() {
        parts.push(format!("unknown columns {}", list(unknown)));
    }
    if !duplicate.is_empty() {
        parts.push(format!("duplicate columns {}", list(duplicate)));
    }
    parts.join("; ")
}

/// Opens a unit's file as the given resource (按目录读取): checks the file and its header, then
/// yields every data record in order.
pub fn open(path: &Path, resource: &Resource, opts: &ReadOptions) -> Result<Reader, ReadError> {
    let mut file = File::open(path).map_err(|e| ReadError::io(path, e))?;
    let mut len = file.metadata().map_err(|e| ReadError::io(path, e))?.len();
    if len == 0 {
        return Err(ReadError::Empty {
            path: path.to_path_buf(),
        });
    }
    let fields = FieldMap::new(resource);
    let declared = opts.encoding.or(resource.encoding);
    let inner = match resource.format {
        FileFormat::Csv | FileFormat::Jsonl => {
            let mut sample = text::read_prefix(&mut file, text::DETECT_BYTES)
                .map_err(|e| ReadError::io(path, e))?;
            let mut declared = declared;
            if let Some(utf16) = text::utf16_bom(&sample) {
                let (utf8, utf8_len) =
                    text::transcode_utf16(&mut file, utf16).map_err(|e| ReadError::io(path, e))?;
                file = utf8;
                len = utf8_len;
                sample = text::read_prefix(&mut file, text::DETECT_BYTES)
                    .map_err(|e| ReadError::io(path, e))?;
                declared = Some(TextEncoding::Utf8);
            }
            let probe = &sample[..sample.len().min(text::BINARY_PROBE_BYTES)];
            if probe.contains(&0) {
                return Err(ReadError::Binary {
                    path: path.to_path_buf(),
                });
            }
            let codec = text::choose_codec(declared, &sample);
            let start = text::bom_len(codec, &sample) as u64;
            let lines = text::LineReader::new(file, start).map_err(|e| ReadError::io(path, e))?;
            if resource.format == FileFormat::Csv {
                Inner::Csv(Box::new(csv::CsvRows::new(
                    path,
                    lines,
                    codec,
                    &fields,
                    opts.max_line_bytes,
                )?))
            } else {
                Inner::Jsonl(Box::new(jsonl::JsonlRows::new(
                    lines,
                    codec,
                    &fields,
                    opts.max_line_bytes,
                )))
            }
        }
        FileFormat::Xlsx => Inner::Xlsx(Box::new(xlsx::XlsxRows::new(path, file, &fields)?)),
        FileFormat::Parquet => {
            Inner::Parquet(Box::new(parquet::ParquetRows::new(path, file, &fields)?))
        }
    };
    Ok(Reader {
        path: path.to_path_buf(),
        file_bytes: len,
        inner,
        finished: false,
    })
}

/// 记录读取器: yields every data record of one file, in order. `Err` only for an I/O failure
/// mid-file, after which it yields nothing more.
pub struct Reader {
    path: PathBuf,
    file_bytes: u64,
    inner: Inner,
    finished: bool,
}

enum Inner {
    Csv(Box<csv::CsvRows>),
    Jsonl(Box<jsonl::JsonlRows>),
    Xlsx(Box<xlsx::XlsxRows>),
    Parquet(Box<parquet::ParquetRows>),
}

impl Reader {
    /// The encoding the file is decoded with: `"UTF-8"`, `"GBK"` (declared; decoded as its
    /// superset GB18030) or `"GB18030"` (detected). XLSX and Parquet store text as UTF-8.
    pub fn encoding(&self) -> &'static str {
        match &self.inner {
            Inner::Csv(r) => r.codec().name(),
            Inner::Jsonl(r) => r.codec().name(),
            Inner::Xlsx(_) | Inner::Parquet(_) => "UTF-8",
        }
    }

    /// The column headers as the file has them (trimmed), in file order: the CSV header line,
    /// the XLSX first row, the Parquet column names. JSON Lines has no header: empty.
    pub fn header(&self) -> &[String] {
        match &self.inner {
            Inner::Csv(r) => r.header(),
            Inner::Jsonl(_) => &[],
            Inner::Xlsx(r) => r.header(),
            Inner::Parquet(r) => r.header(),
        }
    }

    /// JSON Lines keys seen so far that name no field (ignored, not errors: JSON exports often
    /// carry extra keys). Empty for the other formats, whose unknown columns are header errors.
    /// At most 1,000 are kept, so a file with a new key on every line cannot exhaust memory.
    pub fn unknown_keys(&self) -> &BTreeSet<String> {
        static NONE: BTreeSet<String> = BTreeSet::new();
        match &self.inner {
            Inner::Jsonl(r) => r.unknown_keys(),
            _ => &NONE,
        }
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How far through the file the reader is: bytes for CSV and JSON Lines, rows for XLSX and
    /// Parquet (whose bytes are not read in order).
    pub fn progress(&self) -> ReadProgress {
        let (done, total, unit) = match &self.inner {
            Inner::Csv(r) => (r.offset(), self.file_bytes, ProgressUnit::Bytes),
            Inner::Jsonl(r) => (r.offset(), self.file_bytes, ProgressUnit::Bytes),
            Inner::Xlsx(r) => {
                let (d, t) = r.progress();
                (d, t, ProgressUnit::Rows)
            }
            Inner::Parquet(r) => {
                let (d, t) = r.progress();
                (d, t, ProgressUnit::Rows)
            }
        };
        ReadProgress {
            done: done.min(total),
            total,
            unit,
        }
    }
}

/// 读取进度: `done` of `total`, in `unit`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadProgress {
    pub done: u64,
    pub total: u64,
    pub unit: ProgressUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressUnit {
    Bytes,
    Rows,
}

impl Iterator for Reader {
    type Item = Result<ReadItem, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let item = match &mut self.inner {
            Inner::Csv(r) => r.next_item(),
            Inner::Jsonl(r) => r.next_item(),
            Inner::Xlsx(r) => r.next_item().map(Ok),
            Inner::Parquet(r) => r.next_item(),
        };
        match item {
            None | Some(Err(_)) => self.finished = true,
            Some(Ok(_)) => {}
        }
        item.map(|r| r.map_err(|e| e.into_read_error(&self.path)))
    }
}

/// A failure mid-file, turned into a [`ReadError`] with the path by [`Reader`].
pub(crate) enum MidFileError {
    Io(io::Error),
    Parquet(String),
}

impl MidFileError {
    fn into_read_error(self, path: &Path) -> ReadError {
        match self {
            MidFileError::Io(e) => ReadError::io(path, e),
            MidFileError::Parquet(detail) => ReadError::Parquet {
                path: path.to_path_buf(),
                detail,
            },
        }
    }
}

impl From<io::Error> for MidFileError {
    fn from(e: io::Error) -> Self {
        MidFileError::Io(e)
    }
}

// ------------------------------------------------------------------------------ columns

/// The resource's fields as the readers need them: lookup by label or name, and which are
/// required.
#[derive(Clone)]
pub(crate) struct FieldMap {
    by_text: HashMap<String, usize>,
    labels: Vec<String>,
    required: Vec<bool>,
}

impl FieldMap {
    fn new(resource: &Resource) -> Self {
        let mut by_text = HashMap::new();
        // Names first, labels second: should a label ever equal another field's name, the
        // label (what units write) wins.
        for (i, f) in resource.fields.iter().enumerate() {
            by_text.insert(f.name.clone(), i);
        }
        for (i, f) in resource.fields.iter().enumerate() {
            by_text.insert(f.label.clone(), i);
        }
        FieldMap {
            by_text,
            labels: resource.fields.iter().map(|f| f.label.clone()).collect(),
            required: resource.fields.iter().map(|f| f.required).collect(),
        }
    }

    /// Number of catalogue fields (the length of every record's `values`).
    pub(crate) fn len(&self) -> usize {
        self.labels.len()
    }

    /// The catalogue label of field `i`.
    pub(crate) fn label(&self, i: usize) -> &str {
        self.labels.get(i).map_or("", String::as_str)
    }

    /// The field a header text or JSON key names, if any.
    pub(crate) fn lookup(&self, text: &str) -> Option<usize> {
        self.by_text.get(clean_header(text)).copied()
    }

    /// Maps file columns to fields: `Ok(map)` with `map[column] = Some(field)` (or `None` for a
    /// column `ignore` accepts), or the header error naming every problem at once.
    pub(crate) fn map_columns(
        &self,
        path: &Path,
        header: &[String],
        ignore: impl Fn(&str) -> bool,
    ) -> Result<Vec<Option<usize>>, ReadError> {
        let mut map = Vec::with_capacity(header.len());
        let mut seen = vec![false; self.len()];
        let mut unknown = Vec::new();
        let mut duplicate = Vec::new();
        for h in header {
            if ignore(h) {
                map.push(None);
                continue;
            }
            match self.lookup(h) {
                Some(i) if seen[i] => {
                    duplicate.push(h.clone());
                    map.push(None);
                }
                Some(i) => {
                    seen[i] = true;
                    map.push(Some(i));
                }
                None => {
                    unknown.push(h.clone());
                    map.push(None);
                }
            }
        }
        let missing_required: Vec<String> = (0..self.len())
            .filter(|&i| self.required[i] && !seen[i])
            .map(|i| self.labels[i].clone())
            .collect();
        if missing_required.is_empty() && unknown.is_empty() && duplicate.is_empty() {
            Ok(map)
        } else {
            Err(ReadError::Header {
                path: path.to_path_buf(),
                missing_required,
                unknown,
                duplicate,
            })
        }
    }
}

/// A header cell or JSON key as compared with the catalogue: without surrounding whitespace
/// (ideographic spaces included) or a BOM, which spreadsheets and exports leave behind.
pub(crate) fn clean_header(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

// ------------------------------------------------------------------------------ raw JSON

/// Writes `s` as a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut from = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[from..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        from = i + c.len_utf8();
    }
    out.push_str(&s[from..]);
    out.push('"');
}

/// Writes a typed value as JSON: dates as `"2020-01-02"`, decimals with their exact digits,
/// non-finite floats as strings (JSON has no NaN).
pub(crate) fn push_json_value(out: &mut String, v: &RawValue) {
    match v {
        RawValue::Null => out.push_str("null"),
        RawValue::Text(s) => push_json_str(out, s),
        RawValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        RawValue::Float(f) if f.is_finite() => {
            let _ = write!(out, "{f}");
        }
        RawValue::Float(f) => {
            let _ = write!(out, "\"{f}\"");
        }
        RawValue::Decimal { value, scale } => out.push_str(&decimal_text(*value, *scale)),
        RawValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        RawValue::Date(d) => {
            let _ = write!(out, "\"{}\"", d.format("%Y-%m-%d"));
        }
    }
}

/// `value / 10^scale` written out exactly (`123450, 2` → `1234.50`).
pub(crate) fn decimal_text(value: i128, scale: i8) -> String {
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    if scale <= 0 {
        let zeros = "0".repeat(usize::from(scale.unsigned_abs()));
        return format!("{sign}{digits}{zeros}");
    }
    let scale = usize::from(scale.unsigned_abs());
    if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        format!("{sign}{int}.{frac}")
    } else {
        format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
    }
}

/// A JSON object of header → value in column order (XLSX and Parquet `raw`).
pub(crate) fn raw_json<'a>(cols: impl Iterator<Item = (&'a str, &'a RawValue)>) -> String {
    let mut out = String::with_capacity(128);
    out.push('{');
    for (i, (k, v)) in cols.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, k);
        out.push(':');
        push_json_value(&mut out, v);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_exactly() {
        assert_eq!(decimal_text(123450, 2), "1234.50");
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(7, 0), "7");
        assert_eq!(decimal_text(7, -2), "700");
        assert_eq!(decimal_text(i128::MIN, 3).len(), 41);
    }

    #[test]
    fn json_strings_escape() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\n\u{1}张");
        assert_eq!(s, r#""a\"b\\c\n\u0001张""#);
        let back: String = serde_json::from_str(&s).unwrap_or_default();
        assert_eq!(back, "a\"b\\c\n\u{1}张");
    }

    #[test]
    fn readers_can_move_to_worker_threads() {
        fn send<T: Send>() {}
        send::<Reader>();
        send::<ReadError>();
    }

    #[test]
    fn header_cells_are_cleaned() {
        assert_eq!(clean_header("\u{feff} 姓名\u{3000}"), "姓名");
    }
}

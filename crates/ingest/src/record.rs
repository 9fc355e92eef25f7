//! The records that flow from the readers to the standardiser.

use chrono::NaiveDate;
use serde::Serialize;

/// One value as the unit's file holds it, before any validation. Text formats give `Text`;
/// XLSX and Parquet may give typed values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum RawValue {
    /// Absent column, empty cell, JSON null.
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    /// An exact decimal: `value / 10^scale`.
    Decimal {
        value: i128,
        scale: i8,
    },
    Bool(bool),
    /// A native date (an XLSX date cell, a Parquet Date32).
    Date(NaiveDate),
}

/// One data record of a source file, its values in the catalogue's field order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RawRecord {
    /// Where the record starts: the 1-based physical line (CSV, JSONL) or sheet row (XLSX, the
    /// header being row 1); for Parquet the 1-based row number plus one (as if a header).
    pub line: u64,
    /// The 1-based number of the data record in the file (the generator's truth `record`).
    pub record: u64,
    /// One value per catalogue field, in the catalogue's order (columns the file lacks are
    /// `Null`).
    pub values: Vec<RawValue>,
    /// The record as received, as text (for the quarantine and the `ods` layer's lineage).
    pub raw: String,
}

/// Why a record could not even be read into fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RecordProblem {
    /// Bytes that are not valid in the file's encoding.
    BadEncoding { encoding: String },
    /// A CSV row with more or fewer columns than the header.
    WrongColumnCount { expected: usize, found: usize },
    /// A line longer than the configured limit (the rest of the line was skipped unread).
    LineTooLong { bytes: u64, limit: u64 },
    /// A JSON Lines line that is not a JSON object.
    MalformedJson { detail: String },
    /// A CSV row whose quoting never closes before the end of the file (or within the line
    /// limit): the row's first line is the bad record, and reading resumes on the next line.
    UnterminatedQuote,
    /// An XLSX cell holding an Excel error value (`#N/A`, `#REF!` …): its value is unknown.
    CellError { column: String, error: String },
}

impl RecordProblem {
    /// Stable machine reason code (quarantine `reason_code`).
    pub fn code(&self) -> &'static str {
        match self {
            RecordProblem::BadEncoding { .. } => "bad_encoding",
            RecordProblem::WrongColumnCount { .. } => "wrong_column_count",
            RecordProblem::LineTooLong { .. } => "line_too_long",
            RecordProblem::MalformedJson { .. } => "malformed_json",
            RecordProblem::UnterminatedQuote => "unterminated_quote",
            RecordProblem::CellError { .. } => "cell_error",
        }
    }

    /// The reason in Chinese, for the quarantine and the console.
    pub fn message_zh(&self) -> String {
        match self {
            RecordProblem::BadEncoding { encoding } => {
                format!("含有不符合 {encoding} 编码的字节，无法解码")
            }
            RecordProblem::WrongColumnCount { expected, found } => {
                format!("列数错误：表头有 {expected} 列，本行有 {found} 列")
            }
            RecordProblem::LineTooLong { bytes, limit } => {
                format!("行过长：{bytes} 字节，超过上限 {limit} 字节")
            }
            RecordProblem::MalformedJson { detail } => format!("不是合法的 JSON 对象：{detail}"),
            RecordProblem::UnterminatedQuote => {
                "引号未闭合：直至文件结束（或超过行长上限）仍未找到配对的引号".to_string()
            }
            RecordProblem::CellError { column, error } => {
                format!("单元格「{column}」是 Excel 错误值 {error}，取值未知")
            }
        }
    }
}

/// A record that could not be read into fields; it goes to quarantine as it was received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadRecord {
    pub line: u64,
    pub record: u64,
    /// The received bytes as text (invalid bytes replaced by U+FFFD), truncated for very long
    /// lines.
    pub raw: String,
    pub problem: RecordProblem,
}

/// What a reader yields for each data record.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadItem {
    Record(RawRecord),
    Bad(BadRecord),
}

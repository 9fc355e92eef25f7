//! CSV (RFC 4180, read leniently): streamed record by record.
//!
//! A record is one physical line unless a quoted cell holds a newline; then it runs on to the
//! line where the quote closes (`line` is where it starts). Lines end in `\n` or `\r\n`. A `"`
//! opens a quoted cell only at the start of a cell; inside one, `""` is a quote; a `"` elsewhere,
//! or text after a closing quote, is kept as written (what Excel and most exporters read).
//!
//! The whole record is decoded at once (one validation or decoder pass per line, not per cell);
//! the delimiters `,` (or a tab, when the header has tabs and no comma: Excel's "Unicode 文本"
//! export) `"` `\r` `\n` are ASCII and never occur inside a multi-byte character in UTF-8 or
//! GB18030, so records are found on the raw bytes before decoding.

use std::borrow::Cow;
use std::path::Path;

use super::text::{LineRead, LineReader, TextCodec, strip_terminator};
use super::{FieldMap, MidFileError, ReadError, clean_header};
use crate::record::{BadRecord, RawRecord, RawValue, ReadItem, RecordProblem};

pub(crate) struct CsvRows {
    lines: LineReader,
    codec: TextCodec,
    header: Vec<String>,
    /// `map[column]` = the catalogue field the column holds.
    map: Vec<usize>,
    /// The columns are exactly the fields, in catalogue order (the usual case): values are
    /// pushed, not placed.
    in_field_order: bool,
    fields: usize,
    limit: u64,
    /// The current record's bytes, reused for every record.
    buf: Vec<u8>,
    record: u64,
    /// The cell delimiter: `,`, or a tab for a tab-separated export (Excel's "Unicode 文本").
    delim: u8,
}

/// What [`CsvRows::read_record`] left in `buf`.
enum Got {
    Eof,
    /// A whole record (its final terminator included); `quoted` if it has a `"` at all.
    Record {
        line: u64,
        quoted: bool,
    },
    /// The first `limit` bytes of an over-long line.
    TooLong {
        line: u64,
        bytes: u64,
    },
    /// The first physical line of a record whose quote never closed (before the end of the file
    /// or within the line limit); reading goes on with the next line.
    Unterminated {
        line: u64,
    },
}

impl CsvRows {
    pub(crate) fn new(
        path: &Path,
        lines: LineReader,
        codec: TextCodec,
        fields: &FieldMap,
        limit: u64,
    ) -> Result<Self, ReadError> {
        let mut rows = CsvRows {
            lines,
            codec,
            header: Vec::new(),
            map: Vec::new(),
            in_field_order: false,
            fields: fields.len(),
            limit,
            buf: Vec::with_capacity(1024),
            record: 0,
            delim: b',',
        };
        let unreadable = |detail: String| ReadError::HeaderUnreadable {
            path: path.to_path_buf(),
            detail,
        };
        match rows.read_record().map_err(|e| ReadError::io(path, e))? {
            Got::Eof => {
                return Err(ReadError::Empty {
                    path: path.to_path_buf(),
                });
            }
            Got::TooLong { bytes, .. } => {
                return Err(unreadable(format!(
                    "表头行有 {bytes} 字节，超过单行上限 {limit} 字节"
                )));
            }
            Got::Unterminated { .. } => return Err(unreadable("表头中的引号未闭合".into())),
            Got::Record { .. } => {}
        }
        let content = strip_terminator(&rows.buf);
        // A header with tabs and no comma is a tab-separated file, whatever its name.
        if content.contains(&b'\t') && !content.contains(&b',') {
            rows.delim = b'\t';
        }
        let text = codec.decode(content).ok_or_else(|| ReadError::Encoding {
            path: path.to_path_buf(),
            detail: format!(
                "表头含有不符合 {} 编码的字节（文件可能使用了其他编码）",
                codec.name()
            ),
        })?;
        rows.header = split_record(&text, rows.delim)
            .into_iter()
            .map(|c| clean_header(&c).to_string())
            .collect();
        let map = fields.map_columns(path, &rows.header, |_| false)?;
        // Every column maps to a field once the header is accepted.
        rows.map = map.into_iter().flatten().collect();
        rows.in_field_order =
            rows.map.len() == rows.fields && rows.map.iter().enumerate().all(|(c, &f)| c == f);
        Ok(rows)
    }

    /// Bytes of the file consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.lines.offset()
    }

    pub(crate) fn codec(&self) -> TextCodec {
        self.codec
    }

    pub(crate) fn header(&self) -> &[String] {
        &self.header
    }

    pub(crate) fn next_item(&mut self) -> Option<Result<ReadItem, MidFileError>> {
        let got = match self.read_record() {
            Ok(g) => g,
            Err(e) => return Some(Err(e.into())),
        };
        let (line, problem) = match got {
            Got::Eof => return None,
            Got::Record { line, quoted } => {
                self.record += 1;
                return Some(Ok(self.parse(line, quoted)));
            }
            Got::TooLong { line, bytes } => (
                line,
                RecordProblem::LineTooLong {
                    bytes,
                    limit: self.limit,
                },
            ),
            Got::Unterminated { line } => (line, RecordProblem::UnterminatedQuote),
        };
        self.record += 1;
        Some(Ok(ReadItem::Bad(BadRecord {
            line,
            record: self.record,
            raw: self.codec.decode_lossy(strip_terminator(&self.buf)),
            problem,
        })))
    }

    /// Reads the next record into `buf`, skipping empty lines.
    fn read_record(&mut self) -> std::io::Result<Got> {
        loop {
            self.buf.clear();
            match self.lines.read_line(&mut self.buf, self.limit)? {
                LineRead::Eof => return Ok(Got::Eof),
                LineRead::TooLong { bytes } => {
                    return Ok(Got::TooLong {
                        line: self.lines.line_no(),
                        bytes,
                    });
                }
                LineRead::Line => {}
            }
            let line = self.lines.line_no();
            if strip_terminator(&self.buf).is_empty() {
                continue;
            }
            // `contains` on bytes is memchr: the quote-free common case costs one scan.
            if !self.buf.contains(&b'"') {
                return Ok(Got::Record {
                    line,
                    quoted: false,
                });
            }
            let mut scan = QuoteScan::new(self.delim);
            scan.feed(&self.buf);
            if !scan.open() {
                return Ok(Got::Record { line, quoted: true });
            }
            let first_len = self.buf.len();
            let after_first = self.lines.offset();
            loop {
                let used = self.buf.len() as u64;
                let from = self.buf.len();
                match self
                    .lines
                    .read_line(&mut self.buf, self.limit.saturating_sub(used))?
                {
                    LineRead::Line => {
                        scan.feed(&self.buf[from..]);
                        if !scan.open() {
                            return Ok(Got::Record { line, quoted: true });
                        }
                    }
                    LineRead::Eof | LineRead::TooLong { .. } => {
                        // Most likely a stray quote: report the line it opened on and give the
                        // lines it swallowed back, so one typo cannot take the rest of the file
                        // (or a megabyte of it) with it.
                        self.buf.truncate(first_len);
                        self.lines.rewind(after_first, line)?;
                        return Ok(Got::Unterminated { line });
                    }
                }
            }
        }
    }

    fn bad(&self, line: u64, problem: RecordProblem, raw: String) -> ReadItem {
        ReadItem::Bad(BadRecord {
            line,
            record: self.record,
            raw,
            problem,
        })
    }

    /// Splits the record in `buf` into the catalogue's fields.
    fn parse(&self, line: u64, quoted: bool) -> ReadItem {
        let content = strip_terminator(&self.buf);
        let Some(text) = self.codec.decode(content) else {
            return self.bad(
                line,
                RecordProblem::BadEncoding {
                    encoding: self.codec.name().to_string(),
                },
                self.codec.decode_lossy(content),
            );
        };
        let expected = self.map.len();
        let mut values: Vec<RawValue>;
        if quoted {
            let cells = split_record(&text, self.delim);
            if cells.len() != expected {
                return self.wrong_count(line, expected, cells.len(), &text);
            }
            values = vec![RawValue::Null; self.fields];
            for (c, cell) in cells.into_iter().enumerate() {
                values[self.map[c]] = cell_value(cell);
            }
        } else {
            let delim = self.delim;
            let found = content.iter().filter(|&&b| b == delim).count() + 1;
            if found != expected {
                return self.wrong_count(line, expected, found, &text);
            }
            if self.in_field_order {
                values = Vec::with_capacity(self.fields);
                values.extend(text.split(char::from(delim)).map(str_value));
            } else {
                values = vec![RawValue::Null; self.fields];
                for (c, cell) in text.split(char::from(delim)).enumerate() {
                    values[self.map[c]] = str_value(cell);
                }
            }
        }
        ReadItem::Record(RawRecord {
            line,
            record: self.record,
            values,
            raw: text.into_owned(),
        })
    }

    fn wrong_count(&self, line: u64, expected: usize, found: usize, text: &str) -> ReadItem {
        self.bad(
            line,
            RecordProblem::WrongColumnCount { expected, found },
            text.to_string(),
        )
    }
}

fn str_value(cell: &str) -> RawValue {
    if cell.is_empty() {
        RawValue::Null
    } else {
        RawValue::Text(cell.to_string())
    }
}

fn cell_value(cell: Cow<'_, str>) -> RawValue {
    if cell.is_empty() {
        RawValue::Null
    } else {
        RawValue::Text(cell.into_owned())
    }
}

/// Quote state carried across the physical lines of one record. Mirrors [`split_record`]: a
/// quote opens only at the start of a cell.
#[derive(Debug, Clone, Copy)]
struct QuoteScan {
    in_quotes: bool,
    /// Inside quotes, a `"` was just seen: either the first of `""` or the closing quote.
    quote_pending: bool,
    cell_start: bool,
    delim: u8,
}

impl QuoteScan {
    fn new(delim: u8) -> Self {
        QuoteScan {
            in_quotes: false,
            quote_pending: false,
            cell_start: true,
            delim,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.in_quotes {
                if self.quote_pending {
                    self.quote_pending = false;
                    if b == b'"' {
                        continue;
                    }
                    self.in_quotes = false;
                } else {
                    if b == b'"' {
                        self.quote_pending = true;
                    }
                    continue;
                }
            }
            match b {
                d if d == self.delim => self.cell_start = true,
                b'"' if self.cell_start => {
                    self.in_quotes = true;
                    self.cell_start = false;
                }
                _ => self.cell_start = false,
            }
        }
    }

    /// Whether the record continues on the next line (a quote pending at the end of the file
    /// closes the cell).
    fn open(&self) -> bool {
        self.in_quotes && !self.quote_pending
    }
}

/// Splits one decoded record (without its final terminator) into cells, unquoting quoted ones.
fn split_record(text: &str, delim: u8) -> Vec<Cow<'_, str>> {
    let b = text.as_bytes();
    let mut cells = Vec::new();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let mut cell = String::new();
            let mut seg = i + 1;
            let mut j = seg;
            // Up to the closing quote (or, never for a record `read_record` accepted, the end).
            loop {
                match b[j..].iter().position(|&c| c == b'"') {
                    None => {
                        cell.push_str(&text[seg..]);
                        j = b.len();
                        break;
                    }
                    Some(q) => {
                        let q = j + q;
                        cell.push_str(&text[seg..q]);
                        if b.get(q + 1) == Some(&b'"') {
                            cell.push('"');
                            seg = q + 2;
                            j = seg;
                        } else {
                            j = q + 1;
                            break;
                        }
                    }
                }
            }
            let end = find_delim(b, j, delim);
            cell.push_str(&text[j..end]);
            cells.push(Cow::Owned(cell));
            if end >= b.len() {
                break;
            }
            i = end + 1;
        } else {
            let end = find_delim(b, i, delim);
            cells.push(Cow::Borrowed(&text[i..end]));
            if end >= b.len() {
                break;
            }
            i = end + 1;
        }
    }
    cells
}

fn find_delim(b: &[u8], from: usize, delim: u8) -> usize {
    b.get(from..)
        .and_then(|rest| rest.iter().position(|&c| c == delim))
        .map_or(b.len(), |p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        split_record(s, b',')
            .into_iter()
            .map(Cow::into_owned)
            .collect()
    }

    #[test]
    fn splits_rfc4180() {
        assert_eq!(split("a,b,c"), ["a", "b", "c"]);
        assert_eq!(split("a,,"), ["a", "", ""]);
        assert_eq!(
            split(r#""a,b","say ""hi""",c"#),
            ["a,b", r#"say "hi""#, "c"]
        );
        assert_eq!(split("\"line1\nline2\",x"), ["line1\nline2", "x"]);
        assert_eq!(split(r#""""#), [""]);
        // Lenient: a quote inside an unquoted cell, text after a closing quote.
        assert_eq!(split(r#"ab"c,"d"e"#), [r#"ab"c"#, "de"]);
    }

    #[test]
    fn quote_scan_follows_records() {
        let mut s = QuoteScan::new(b',');
        s.feed(b"a,\"b\n");
        assert!(s.open());
        s.feed(b"c\",d\n");
        assert!(!s.open());
        let mut s = QuoteScan::new(b',');
        s.feed(b"ab\"c,d\n");
        assert!(!s.open(), "a quote inside a cell opens nothing");
        let mut s = QuoteScan::new(b',');
        s.feed(b"\"a\"\"\n");
        assert!(s.open(), "an escaped quote does not close");
    }
}

//! XLSX: the workbook's first worksheet; row 1 is the header, every later non-empty row a
//! record (`line` = the sheet row number).
//!
//! Memory: calamine keeps the shared-string table, and the sheet's *non-empty* cells are read
//! into memory when the file is opened (a sparse sheet costs what it holds, not its bounding
//! box). At most 10 million cells are accepted, beyond which the file is a `ReadError::Xlsx`: the
//! units send one workbook per year of registrations, tens of thousands of cells. A workbook that
//! is corrupt anywhere in the sheet therefore fails as a whole before any record is yielded.
//!
//! Values: number cells formatted as dates → `Date` (with a time of day → `Text`
//! `2020-01-02 08:30:00`); numbers with an integral value → `Int`, others `Float`; text → `Text`
//! as written (the standardiser trims); booleans → `Bool`; empty → `Null`. A cell holding an
//! Excel error (`#N/A`, `#REF!` …) makes the row a `CellError` bad record: its value is unknown,
//! and a string field would otherwise accept `#N/A` as a name.

use std::fs::File;
use std::io::BufReader;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use calamine::{DataRef, Reader as _, SheetType, Xlsx};
use chrono::{NaiveTime, Timelike};

use super::{FieldMap, ReadError, clean_header, raw_json};
use crate::record::{BadRecord, RawRecord, RawValue, ReadItem, RecordProblem};

/// The most non-empty cells read from one sheet (see the module documentation).
const MAX_CELLS: usize = 10_000_000;

/// Largest integer an `f64` holds exactly: beyond it an integral float is not an exact integer.
const F64_EXACT_INT: f64 = 9_007_199_254_740_992.0;

pub(crate) struct XlsxRows {
    header: Vec<String>,
    map: Vec<Option<usize>>,
    fields: usize,
    rows: std::vec::IntoIter<SheetRow>,
    /// Data rows in the sheet (the workbook is parsed whole on open).
    total_rows: u64,
    record: u64,
}

/// One sheet row's non-empty cells, by column.
struct SheetRow {
    /// 0-based sheet row.
    row: u32,
    cells: Vec<(u32, Cell)>,
}

enum Cell {
    Value(RawValue),
    /// An Excel error value, as Excel shows it (`#N/A`).
    Error(String),
}

impl XlsxRows {
    pub(crate) fn new(path: &Path, file: File, fields: &FieldMap) -> Result<Self, ReadError> {
        let xlsx_error = |detail: String| ReadError::Xlsx {
            path: path.to_path_buf(),
            detail,
        };
        // calamine parses zip and XML from the unit's bytes; should it panic on some corrupt
        // input, that is this file's error, not the intake run's end.
        let rows = match catch_unwind(AssertUnwindSafe(|| load_first_sheet(file))) {
            Ok(Ok(rows)) => rows,
            Ok(Err(detail)) => return Err(xlsx_error(detail)),
            Err(_) => return Err(xlsx_error("the workbook parser failed on this file".into())),
        };
        let mut rows = rows.into_iter();
        let Some(first) = rows.next() else {
            return Err(ReadError::Empty {
                path: path.to_path_buf(),
            });
        };
        if first.row != 0 {
            return Err(ReadError::HeaderUnreadable {
                path: path.to_path_buf(),
                detail: "第 1 行（表头）为空".into(),
            });
        }
        let width = first.cells.last().map_or(0, |(c, _)| *c as usize + 1);
        let mut header = vec![String::new(); width];
        for (c, cell) in &first.cells {
            if let Some(h) = header.get_mut(*c as usize) {
                *h = clean_header(&cell_text(cell)).to_string();
            }
        }
        let map = fields.map_columns(path, &header, |_| false)?;
        Ok(XlsxRows {
            header,
            map,
            fields: fields.len(),
            total_rows: rows.len() as u64,
            rows,
            record: 0,
        })
    }

    /// (sheet rows consumed, sheet rows) after the header.
    pub(crate) fn progress(&self) -> (u64, u64) {
        (self.total_rows - self.rows.len() as u64, self.total_rows)
    }

    pub(crate) fn header(&self) -> &[String] {
        &self.header
    }

    pub(crate) fn next_item(&mut self) -> Option<ReadItem> {
        let row = self.rows.next()?;
        self.record += 1;
        let line = u64::from(row.row) + 1;
        let width = self.header.len();
        // Column-ordered values for `raw`, with any cells beyond the header.
        let last = row.cells.last().map_or(0, |(c, _)| *c as usize + 1);
        let mut by_col: Vec<RawValue> = vec![RawValue::Null; width.max(last)];
        let mut error: Option<(usize, String)> = None;
        for (c, cell) in row.cells {
            let c = c as usize;
            by_col[c] = match cell {
                Cell::Value(v) => v,
                Cell::Error(e) => {
                    if error.is_none() {
                        error = Some((c, e.clone()));
                    }
                    RawValue::Text(e)
                }
            };
        }
        let names: Vec<String> = (0..by_col.len())
            .map(|c| {
                self.header
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| column_letters(c))
            })
            .collect();
        let raw = raw_json(names.iter().map(String::as_str).zip(by_col.iter()));
        let bad = |problem| {
            ReadItem::Bad(BadRecord {
                line,
                record: self.record,
                raw: raw.clone(),
                problem,
            })
        };
        if last > width {
            return Some(bad(RecordProblem::WrongColumnCount {
                expected: width,
                found: last,
            }));
        }
        if let Some((c, error)) = error {
            return Some(bad(RecordProblem::CellError {
                column: names[c].clone(),
                error,
            }));
        }
        let mut values = vec![RawValue::Null; self.fields];
        for (c, v) in by_col.into_iter().enumerate() {
            if let Some(Some(f)) = self.map.get(c) {
                values[*f] = v;
            }
        }
        Some(ReadItem::Record(RawRecord {
            line,
            record: self.record,
            values,
            raw,
        }))
    }
}

/// Reads the first worksheet's non-empty cells, grouped by row in row order.
fn load_first_sheet(file: File) -> Result<Vec<SheetRow>, String> {
    let mut workbook: Xlsx<BufReader<File>> =
        Xlsx::new(BufReader::new(file)).map_err(|e| e.to_string())?;
    let name = workbook
        .sheets_metadata()
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .ok_or_else(|| "the workbook has no worksheet".to_string())?;
    let mut cells = workbook
        .worksheet_cells_reader(&name)
        .map_err(|e| e.to_string())?;
    let mut rows: Vec<SheetRow> = Vec::new();
    let mut count = 0usize;
    while let Some(cell) = cells.next_cell().map_err(|e| e.to_string())? {
        let value = convert(cell.get_value());
        if matches!(value, Cell::Value(RawValue::Null)) {
            continue;
        }
        count += 1;
        if count > MAX_CELLS {
            return Err(format!(
                "the first worksheet has more than {MAX_CELLS} non-empty cells"
            ));
        }
        let (r, c) = cell.get_position();
        match rows.last_mut() {
            Some(last) if last.row == r => last.cells.push((c, value)),
            _ => rows.push(SheetRow {
                row: r,
                cells: vec![(c, value)],
            }),
        }
    }
    // Writers emit rows and cells in order; a hand-edited sheet need not.
    if !rows.is_sorted_by_key(|r| r.row) {
        rows.sort_by_key(|r| r.row);
        let mut merged: Vec<SheetRow> = Vec::with_capacity(rows.len());
        for r in rows {
            match merged.last_mut() {
                Some(last) if last.row == r.row => last.cells.extend(r.cells),
                _ => merged.push(r),
            }
        }
        rows = merged;
    }
    for r in &mut rows {
        if !r.cells.is_sorted_by_key(|(c, _)| *c) {
            r.cells.sort_by_key(|(c, _)| *c);
        }
    }
    Ok(rows)
}

fn convert(v: &DataRef<'_>) -> Cell {
    Cell::Value(match v {
        DataRef::Empty => RawValue::Null,
        DataRef::Int(i) => RawValue::Int(*i),
        DataRef::Float(f) => float_value(*f),
        DataRef::String(s) => text_value(s),
        DataRef::SharedString(s) => text_value(s),
        DataRef::Bool(b) => RawValue::Bool(*b),
        DataRef::DateTime(dt) if dt.is_datetime() => match dt.as_datetime() {
            Some(t) if t.time() == NaiveTime::MIN => RawValue::Date(t.date()),
            Some(t) if t.nanosecond() == 0 => {
                RawValue::Text(t.format("%Y-%m-%d %H:%M:%S").to_string())
            }
            Some(t) => RawValue::Text(t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()),
            None => float_value(dt.as_f64()),
        },
        // A duration (`[h]:mm`): no catalogue type means it; keep the number of days.
        DataRef::DateTime(dt) => float_value(dt.as_f64()),
        DataRef::DateTimeIso(s) => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => RawValue::Date(d),
            Err(_) => text_value(s),
        },
        DataRef::DurationIso(s) => text_value(s),
        DataRef::Error(e) => return Cell::Error(e.to_string()),
    })
}

fn float_value(f: f64) -> RawValue {
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= F64_EXACT_INT {
        RawValue::Int(f as i64)
    } else {
        RawValue::Float(f)
    }
}

fn text_value(s: &str) -> RawValue {
    if s.is_empty() {
        RawValue::Null
    } else {
        RawValue::Text(s.to_string())
    }
}

/// A header cell as text, whatever its type (a year typed as a number is still a header).
fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Error(e) => e.clone(),
        Cell::Value(RawValue::Text(s)) => s.clone(),
        Cell::Value(RawValue::Null) => String::new(),
        Cell::Value(RawValue::Int(i)) => i.to_string(),
        Cell::Value(RawValue::Float(f)) => f.to_string(),
        Cell::Value(RawValue::Bool(b)) => b.to_string(),
        Cell::Value(RawValue::Date(d)) => d.format("%Y-%m-%d").to_string(),
        Cell::Value(RawValue::Decimal { value, scale }) => super::decimal_text(*value, *scale),
    }
}

/// Excel's column name (`0` → `A`, `26` → `AA`), for cells beyond the header in `raw`.
fn column_letters(mut c: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16383), "XFD");
    }

    #[test]
    fn floats() {
        assert_eq!(float_value(3.0), RawValue::Int(3));
        assert_eq!(float_value(3.5), RawValue::Float(3.5));
        assert_eq!(float_value(1e300), RawValue::Float(1e300));
    }
}

//! Shared helpers for the generator's integration tests: generating a district once per test
//! binary, and reading every output format with readers independent of the generator's writers.
//!
//! The readers deliberately re-implement what an intake would do (CSV splitting, GBK decoding,
//! JSON key order, Excel serial dates, Arrow columns) instead of reusing `miaopi_synth::write`,
//! so a writer bug cannot hide behind the same code reading it back.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Int64Type};
use chrono::{Datelike, NaiveDate};
use miaopi_catalog::{DataType, EntityRole, FileFormat, Pack, Resource, TextEncoding};
use miaopi_model::ResidentId;
use miaopi_synth::{FileReport, Manifest, NoProgress, SynthConfig, generate};

// ------------------------------------------------------------------------------ generation

pub fn pack_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packs/futian"))
}

pub fn pack() -> &'static Pack {
    static PACK: OnceLock<Pack> = OnceLock::new();
    PACK.get_or_init(|| match Pack::load(&pack_dir()) {
        Ok(p) => p,
        Err(errors) => panic!(
            "the Futian pack does not load:\n{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    })
}

/// Size of the shared district most tests read.
pub const DISTRICT_PEOPLE: u64 = 10_000;

pub fn district_config() -> SynthConfig {
    SynthConfig {
        people: DISTRICT_PEOPLE,
        ..SynthConfig::default()
    }
}

/// A generated output directory with the configuration and the manifest `generate` returned.
pub struct Generated {
    pub label: &'static str,
    pub out: PathBuf,
    pub cfg: SynthConfig,
    pub manifest: Manifest,
}

/// Generates into a fixed directory under Cargo's per-target scratch space (not a TempDir,
/// whose Drop would never run in a static and would leak a copy per run); `generate` clears
/// sources/ and truth/ before writing, so nothing stale survives.
pub fn generate_shared(label: &'static str, cfg: SynthConfig) -> Generated {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("synth-{label}-{}", env!("CARGO_CRATE_NAME")));
    let manifest = generate(pack(), &out, &cfg, &NoProgress)
        .unwrap_or_else(|e| panic!("generating the {label} district: {e}"))
        .manifest;
    Generated {
        label,
        out,
        cfg,
        manifest,
    }
}

/// The shared district: 10,000 people, default seed and noise, generated once per test binary.
pub fn district() -> &'static Generated {
    static D: OnceLock<Generated> = OnceLock::new();
    D.get_or_init(|| generate_shared("default10k", district_config()))
}

// ------------------------------------------------------------------------------ cells

/// One cell as an independent reader sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Text(String),
    /// A number (JSON number, Excel number, Parquet integer or decimal), as written.
    Num(String),
    Bool(bool),
    /// A native date (an Excel date cell or a Parquet Date32).
    Date(NaiveDate),
}

impl Val {
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null) || matches!(self, Val::Text(s) if s.is_empty())
    }

    /// The text of a text cell (`None` for other kinds and for null).
    pub fn text(&self) -> Option<&str> {
        match self {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a text cell, or "" for null/other.
    pub fn str(&self) -> &str {
        self.text().unwrap_or("")
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Null => f.write_str("<null>"),
            Val::Text(s) => write!(f, "{s:?}"),
            Val::Num(s) => f.write_str(s),
            Val::Bool(b) => write!(f, "{b}"),
            Val::Date(d) => write!(f, "date {d}"),
        }
    }
}

/// One data record of a source file.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The line's bytes without its terminator (CSV, JSONL); empty for XLSX and Parquet.
    pub raw: Vec<u8>,
    /// The cells in column order; `None` when the record cannot be parsed (a cut JSON line).
    pub cells: Option<Vec<Val>>,
    /// JSONL: the object's keys in the order written.
    pub keys: Vec<String>,
    /// The line's bytes are not valid in the file's encoding.
    pub decode_error: bool,
    /// The line ended with CRLF.
    pub crlf: bool,
    /// A quoted CSV field was left open at the end of the line (an embedded newline).
    pub open_quote: bool,
    /// A decoded GBK line contains an HTML numeric character reference (`&#...;`), which is
    /// what encoding_rs writes for a character GBK cannot hold.
    pub html_entity: bool,
}

impl Row {
    pub fn cell(&self, i: usize) -> Option<&Val> {
        self.cells.as_ref().and_then(|c| c.get(i))
    }
}

/// A source file as read back.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
    /// CSV: the file starts with a UTF-8 BOM.
    pub bom: bool,
    /// CSV: the header line ended with CRLF.
    pub header_crlf: bool,
    /// Text formats: the file's last byte is `\n`.
    pub ends_with_newline: bool,
    /// Parquet: the Arrow type of each column.
    pub arrow_types: Vec<arrow_schema::DataType>,
    /// Parquet: the row count in the file's metadata.
    pub parquet_rows: i64,
    /// XLSX: the first cell of the used range (should be (0, 0): the header in A1).
    pub xlsx_start: Option<(u32, u32)>,
}

// ------------------------------------------------------------------------------ CSV

/// Splits one CSV line (terminator removed) into fields, RFC 4180 quoting. Returns the fields
/// and whether a quote was left open (the record would continue on the next line).
pub fn split_csv(line: &str) -> (Vec<String>, bool) {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            fields.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    fields.push(cur);
    (fields, quoted)
}

fn decode(encoding: TextEncoding, bytes: &[u8]) -> (String, bool) {
    match encoding {
        TextEncoding::Gbk => {
            let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(bytes);
            (text.into_owned(), had_errors)
        }
        TextEncoding::Utf8 | TextEncoding::Utf8Bom => match std::str::from_utf8(bytes) {
            Ok(s) => (s.to_string(), false),
            Err(_) => (String::from_utf8_lossy(bytes).into_owned(), true),
        },
    }
}

/// Splits a text file into lines on `\n` (safe for GBK: its trail bytes are never 0x0A),
/// returning each line without terminator and whether it ended in CRLF.
fn lines(bytes: &[u8]) -> Vec<(&[u8], bool)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let (line, crlf) = match line.strip_suffix(b"\r") {
            Some(l) => (l, true),
            None => (line, false),
        };
        out.push((line, crlf));
        rest = next;
    }
    out
}

pub fn read_csv(path: &Path, encoding: TextEncoding) -> Source {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bom = bytes.starts_with(&[0xEF, 0xBB, 0xBF]);
    let body = if bom { &bytes[3..] } else { &bytes[..] };
    let mut src = Source {
        bom,
        ends_with_newline: bytes.last() == Some(&b'\n'),
        ..Source::default()
    };
    let mut it = lines(body).into_iter();
    let Some((head, crlf)) = it.next() else {
        return src;
    };
    let (head_text, _) = decode(encoding, head);
    src.header = split_csv(&head_text).0;
    src.header_crlf = crlf;
    for (line, crlf) in it {
        let (text, decode_error) = decode(encoding, line);
        let (fields, open_quote) = split_csv(&text);
        let html_entity = encoding == TextEncoding::Gbk && text.contains("&#");
        src.rows.push(Row {
            raw: line.to_vec(),
            cells: Some(
                fields
                    .into_iter()
                    .map(|f| {
                        if f.is_empty() {
                            Val::Null
                        } else {
                            Val::Text(f)
                        }
                    })
                    .collect(),
            ),
            keys: Vec::new(),
            decode_error,
            crlf,
            open_quote,
            html_entity,
        });
    }
    src
}

// ------------------------------------------------------------------------------ JSON Lines

/// A JSON object with its keys in the order written (serde_json's own map sorts them).
pub struct OrderedObject(pub Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = map.next_entry::<String, serde_json::Value>()? {
                    entries.push(e);
                }
                Ok(OrderedObject(entries))
            }
        }
        d.deserialize_map(V)
    }
}

pub fn read_jsonl(path: &Path) -> Source {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut src = Source {
        ends_with_newline: bytes.last() == Some(&b'\n'),
        ..Source::default()
    };
    for (line, crlf) in lines(&bytes) {
        let (text, decode_error) = decode(TextEncoding::Utf8, line);
        let parsed = serde_json::from_str::<OrderedObject>(&text).ok();
        let (cells, keys) = match parsed {
            Some(OrderedObject(entries)) => {
                let keys = entries.iter().map(|(k, _)| k.clone()).collect();
                let cells = entries
                    .into_iter()
                    .map(|(_, v)| match v {
                        serde_json::Value::Null => Val::Null,
                        serde_json::Value::String(s) => Val::Text(s),
                        serde_json::Value::Bool(b) => Val::Bool(b),
                        serde_json::Value::Number(n) => Val::Num(n.to_string()),
                        other => Val::Text(other.to_string()),
                    })
                    .collect();
                (Some(cells), keys)
            }
            None => (None, Vec::new()),
        };
        if src.header.is_empty() && !keys.is_empty() {
            src.header = keys.clone();
        }
        src.rows.push(Row {
            raw: line.to_vec(),
            cells,
            keys,
            decode_error,
            crlf,
            ..Row::default()
        });
    }
    src
}

// ------------------------------------------------------------------------------ XLSX

/// Excel's 1900 date system: serial 1 = 1900-01-01 with the phantom 1900-02-29, so serials
/// after February 1900 count from 1899-12-30.
pub fn excel_date(serial: f64) -> Option<NaiveDate> {
    if serial.fract() != 0.0 || serial < 61.0 {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(chrono::Days::new(serial as u64))
}

pub fn read_xlsx(path: &Path) -> Source {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> = open_workbook(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let range = wb
        .worksheet_range_at(0)
        .unwrap_or_else(|| panic!("{}: no worksheet", path.display()))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut src = Source {
        xlsx_start: range.start(),
        ..Source::default()
    };
    let mut rows = range.rows();
    if let Some(head) = rows.next() {
        src.header = head.iter().map(|c| c.to_string()).collect();
    }
    for r in rows {
        let cells = r
            .iter()
            .map(|c| match c {
                Data::Empty => Val::Null,
                Data::String(s) => Val::Text(s.clone()),
                Data::Int(i) => Val::Num(i.to_string()),
                Data::Float(f) => Val::Num(f.to_string()),
                Data::Bool(b) => Val::Bool(*b),
                Data::DateTime(dt) => match excel_date(dt.as_f64()) {
                    Some(d) if dt.is_datetime() => Val::Date(d),
                    _ => Val::Num(dt.as_f64().to_string()),
                },
                Data::DateTimeIso(s) | Data::DurationIso(s) => Val::Text(s.clone()),
                Data::Error(e) => Val::Text(format!("#ERROR {e:?}")),
            })
            .collect();
        src.rows.push(Row {
            cells: Some(cells),
            ..Row::default()
        });
    }
    src
}

// ------------------------------------------------------------------------------ Parquet

pub fn read_parquet(path: &Path) -> Source {
    use arrow_schema::DataType as A;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut src = Source {
        header: builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        arrow_types: builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect(),
        parquet_rows: builder.metadata().file_metadata().num_rows(),
        ..Source::default()
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let reader = builder
        .build()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for batch in reader {
        let batch = batch.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let start = src.rows.len();
        for _ in 0..batch.num_rows() {
            src.rows.push(Row {
                cells: Some(Vec::with_capacity(batch.num_columns())),
                ..Row::default()
            });
        }
        for col in batch.columns() {
            for i in 0..batch.num_rows() {
                let v = if col.is_null(i) {
                    Val::Null
                } else {
                    match col.data_type() {
                        A::Utf8 => Val::Text(col.as_string::<i32>().value(i).to_string()),
                        A::Int64 => Val::Num(col.as_primitive::<Int64Type>().value(i).to_string()),
                        A::Decimal128(_, _) => {
                            let a = col.as_primitive::<Decimal128Type>();
                            Val::Num(a.value_as_string(i))
                        }
                        A::Date32 => {
                            let days = col.as_primitive::<Date32Type>().value(i);
                            Val::Date(
                                epoch
                                    .checked_add_signed(chrono::Duration::days(days as i64))
                                    .unwrap(),
                            )
                        }
                        A::Boolean => Val::Bool(col.as_boolean().value(i)),
                        other => panic!("{}: unexpected Arrow type {other}", path.display()),
                    }
                };
                if let Some(c) = src.rows[start + i].cells.as_mut() {
                    c.push(v)
                }
            }
        }
    }
    src
}

pub fn read_source(path: &Path, resource: &Resource) -> Source {
    match resource.format {
        FileFormat::Csv => read_csv(path, resource.encoding.unwrap_or(TextEncoding::Utf8)),
        FileFormat::Jsonl => read_jsonl(path),
        FileFormat::Xlsx => read_xlsx(path),
        FileFormat::Parquet => read_parquet(path),
    }
}

// ------------------------------------------------------------------------------ truth

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub field: String,
    pub kind: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthLine {
    pub record: u64,
    pub entities: Vec<Entity>,
    pub noise: Vec<String>,
    pub line: String,
}

impl TruthLine {
    pub fn has(&self, code: &str) -> bool {
        self.noise.iter().any(|n| n == code)
    }

    pub fn count(&self, code: &str) -> usize {
        self.noise.iter().filter(|n| *n == code).count()
    }

    pub fn entity(&self, field: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.field == field)
    }

    pub fn is_duplicate(&self) -> bool {
        self.has("duplicate")
    }

    /// Whether the record was damaged so that its cells cannot be trusted to line up with the
    /// header (a column dropped, or the JSON cut).
    pub fn unparseable(&self) -> bool {
        self.has("broken_columns") || self.has("broken_json")
    }

    pub fn broken(&self) -> bool {
        self.noise.iter().any(|n| n.starts_with("broken_"))
    }
}

/// Reads `record,entities,noise`; panics on a malformed line (that is a finding).
pub fn read_truth(path: &Path) -> Vec<TruthLine> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut it = text.lines();
    assert_eq!(
        it.next(),
        Some("record,entities,noise"),
        "{}: truth header",
        path.display()
    );
    it.map(|line| {
        let parts: Vec<&str> = line.splitn(3, ',').collect();
        assert_eq!(
            parts.len(),
            3,
            "{}: malformed truth line {line:?}",
            path.display()
        );
        let record = parts[0]
            .parse()
            .unwrap_or_else(|_| panic!("{}: record number in {line:?}", path.display()));
        let entities = parts[1]
            .split(';')
            .filter(|s| !s.is_empty())
            .map(|e| {
                let (field, rest) = e
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{}: entity {e:?} in {line:?}", path.display()));
                let (kind, key) = rest
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{}: entity {e:?} in {line:?}", path.display()));
                Entity {
                    field: field.to_string(),
                    kind: kind.to_string(),
                    key: key.to_string(),
                }
            })
            .collect();
        let noise = parts[2]
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        TruthLine {
            record,
            entities,
            noise,
            line: line.to_string(),
        }
    })
    .collect()
}

// ------------------------------------------------------------------------------ tables

/// A small CSV table (the entity truth files, no quoting): header and rows.
#[derive(Debug, Clone)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn read(path: &Path) -> Table {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut it = text.lines();
        let header: Vec<String> = it
            .next()
            .unwrap_or_default()
            .split(',')
            .map(str::to_string)
            .collect();
        let rows: Vec<Vec<String>> = it
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(
                r.len(),
                header.len(),
                "{} line {}: {} columns, header has {}",
                path.display(),
                i + 2,
                r.len(),
                header.len()
            );
        }
        Table { header, rows }
    }

    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    pub fn column(&self, name: &str) -> impl Iterator<Item = &str> {
        let c = self.col(name);
        self.rows.iter().map(move |r| r[c].as_str())
    }

    /// Row index by the value of a key column (panics on a duplicate key).
    pub fn index(&self, name: &str) -> HashMap<String, usize> {
        let c = self.col(name);
        let mut m = HashMap::new();
        for (i, r) in self.rows.iter().enumerate() {
            assert!(
                m.insert(r[c].clone(), i).is_none(),
                "duplicate {name} {}",
                r[c]
            );
        }
        m
    }
}

/// The entity truth of the shared district, indexed.
pub struct Entities {
    pub people: Table,
    pub people_by_id: HashMap<String, usize>,
    pub outsiders: Table,
    pub outsiders_by_id: HashMap<String, usize>,
    pub enterprises: Table,
    pub enterprises_by_uscc: HashMap<String, usize>,
}

impl Entities {
    pub fn read(out: &Path) -> Entities {
        let people = Table::read(&out.join("truth/people.csv"));
        let outsiders = Table::read(&out.join("truth/outsiders.csv"));
        let enterprises = Table::read(&out.join("truth/enterprises.csv"));
        Entities {
            people_by_id: people.index("resident_id"),
            outsiders_by_id: outsiders.index("resident_id"),
            enterprises_by_uscc: enterprises.index("uscc"),
            people,
            outsiders,
            enterprises,
        }
    }

    /// A person's true name, from people.csv or outsiders.csv.
    pub fn person_name(&self, id: &str) -> Option<&str> {
        if let Some(&i) = self.people_by_id.get(id) {
            return Some(&self.people.rows[i][self.people.col("name")]);
        }
        self.outsiders_by_id
            .get(id)
            .map(|&i| self.outsiders.rows[i][self.outsiders.col("name")].as_str())
    }

    pub fn person(&self, id: &str, column: &str) -> Option<&str> {
        self.people_by_id
            .get(id)
            .map(|&i| self.people.rows[i][self.people.col(column)].as_str())
    }
}

// ------------------------------------------------------------------------------ loaded files

/// One generated file with its catalogue resource, its contents and its truth.
pub struct FileData {
    /// The district's label, for messages.
    pub label: &'static str,
    pub report: FileReport,
    pub resource: Resource,
    pub source: Source,
    pub truth: Vec<TruthLine>,
}

impl FileData {
    pub fn col(&self, field: &str) -> Option<usize> {
        self.resource.fields.iter().position(|f| f.name == field)
    }

    /// `label:sources/unit/file`, for messages.
    pub fn name(&self) -> String {
        format!("{}:{}", self.label, self.report.path)
    }

    /// (row, truth) pairs, in file order (lengths are checked by the record-count test).
    pub fn records(&self) -> impl Iterator<Item = (&Row, &TruthLine)> {
        self.source.rows.iter().zip(&self.truth)
    }
}

/// Reads every file of a generated output (in parallel: the test code is unoptimised).
pub fn load_files(label: &'static str, out: &Path, manifest: &Manifest) -> Vec<FileData> {
    let reports = &manifest.files;
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let mut slots: Vec<Option<FileData>> = (0..reports.len()).map(|_| None).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(report) = reports.get(i) else { break };
                    let resource = pack()
                        .resource(&report.resource)
                        .unwrap_or_else(|| panic!("no resource {}", report.resource))
                        .clone();
                    let source = read_source(&out.join(&report.path), &resource);
                    let truth = read_truth(&out.join(&report.truth));
                    let fd = FileData {
                        label,
                        report: report.clone(),
                        resource,
                        source,
                        truth,
                    };
                    done.lock().unwrap().push((i, fd));
                }
            });
        }
    });
    for (i, fd) in done.into_inner().unwrap() {
        slots[i] = Some(fd);
    }
    slots
        .into_iter()
        .map(|s| s.expect("every file read"))
        .collect()
}

/// Every file under `dir`, as sorted paths relative to it with `/` separators.
pub fn relative_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

// ------------------------------------------------------------------------------ dates

/// The written forms of a date seen across units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Style {
    /// `2020-01-02`
    Iso,
    /// `2020/1/2`
    Slash,
    /// `20200102`
    Compact,
    /// `2020年1月2日`
    Chinese,
    /// `25/3/2020` (day above 12)
    DayFirst,
    /// `二〇二〇年一月二日`
    ChineseNumerals,
}

/// `二〇二〇年一月二日` → (2020, 1, 2); `None` unless every part is Chinese numerals.
fn chinese_numeral_parts(s: &str) -> Option<(i32, u32, u32)> {
    const DIGITS: &str = "〇一二三四五六七八九";
    let digit = |c: char| DIGITS.chars().position(|d| d == c).map(|p| p as u32);
    let rest = s.strip_suffix('日')?;
    let (y, rest) = rest.split_once('年')?;
    let (m, d) = rest.split_once('月')?;
    let year = y
        .chars()
        .try_fold(0u32, |acc, c| digit(c).map(|v| acc * 10 + v))
        .filter(|_| y.chars().count() == 4)?;
    let small = |t: &str| -> Option<u32> {
        let cs: Vec<char> = t.chars().collect();
        match cs.as_slice() {
            [c] if *c != '十' => digit(*c).filter(|&v| v > 0),
            ['十'] => Some(10),
            ['十', o] => digit(*o).filter(|&v| v > 0).map(|v| 10 + v),
            [t, '十'] => digit(*t).filter(|&v| v > 1).map(|v| v * 10),
            [t, '十', o] => {
                Some(digit(*t).filter(|&v| v > 1)? * 10 + digit(*o).filter(|&v| v > 0)?)
            }
            _ => None,
        }
    };
    Some((year as i32, small(m)?, small(d)?))
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The style of a date text and the date it names (`None` for an impossible date such as
/// `2023-02-30`). `None` overall when the text is not written in any of the four styles, or
/// not in the canonical padding of its style.
pub fn date_style(s: &str) -> Option<(Style, Option<NaiveDate>)> {
    if let Some((y, m, d)) = chinese_numeral_parts(s) {
        return Some((Style::ChineseNumerals, NaiveDate::from_ymd_opt(y, m, d)));
    }
    if let [d, m, y] = s.split('/').collect::<Vec<_>>().as_slice()
        && y.len() == 4
        && (1..=2).contains(&d.len())
    {
        if !(digits(y) && digits(m) && digits(d)) || m.starts_with('0') || d.starts_with('0') {
            return None;
        }
        let day: u32 = d.parse().ok()?;
        // Day first is written only where no other reading exists.
        if day <= 12 {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, day);
        return Some((Style::DayFirst, date));
    }
    let (style, y, m, d) = if let Some(rest) = s.strip_suffix('日') {
        let (y, rest) = rest.split_once('年')?;
        let (m, d) = rest.split_once('月')?;
        (Style::Chinese, y, m, d)
    } else if s.contains('/') {
        let mut p = s.split('/');
        let (y, m, d) = (p.next()?, p.next()?, p.next()?);
        if p.next().is_some() {
            return None;
        }
        (Style::Slash, y, m, d)
    } else if s.contains('-') {
        let mut p = s.split('-');
        let (y, m, d) = (p.next()?, p.next()?, p.next()?);
        if p.next().is_some() || m.len() != 2 || d.len() != 2 {
            return None;
        }
        (Style::Iso, y, m, d)
    } else if s.len() == 8 && digits(s) {
        (Style::Compact, &s[..4], &s[4..6], &s[6..])
    } else {
        return None;
    };
    if !(digits(y) && digits(m) && digits(d)) || y.len() != 4 {
        return None;
    }
    if matches!(style, Style::Slash | Style::Chinese)
        && (m.starts_with('0') || d.starts_with('0') || m.len() > 2 || d.len() > 2)
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    Some((style, date))
}

pub fn format_date(style: Style, d: NaiveDate) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    match style {
        Style::Iso => format!("{y:04}-{m:02}-{day:02}"),
        Style::Slash => format!("{y}/{m}/{day}"),
        Style::Compact => format!("{y:04}{m:02}{day:02}"),
        Style::Chinese => format!("{y}年{m}月{day}日"),
        Style::DayFirst => format!("{day}/{m}/{y}"),
        Style::ChineseNumerals => {
            const DIGITS: [char; 10] = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
            let small = |n: u32| match (n / 10, n % 10) {
                (0, o) => DIGITS[o as usize].to_string(),
                (1, 0) => "十".to_string(),
                (1, o) => format!("十{}", DIGITS[o as usize]),
                (t, 0) => format!("{}十", DIGITS[t as usize]),
                (t, o) => format!("{}十{}", DIGITS[t as usize], DIGITS[o as usize]),
            };
            let year: String = y
                .to_string()
                .bytes()
                .map(|b| DIGITS[usize::from(b - b'0')])
                .collect();
            format!("{year}年{}月{}日", small(m), small(day))
        }
    }
}

/// The style of a month text (`2026-10`, `2026/10`, `202610`, `2026年10月`).
pub fn month_style(s: &str) -> Option<Style> {
    let valid = |y: &str, m: &str| {
        digits(y)
            && y.len() == 4
            && digits(m)
            && m.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
    };
    if let Some(rest) = s.strip_suffix('月') {
        let (y, m) = rest.split_once('年')?;
        (valid(y, m) && !m.starts_with('0')).then_some(Style::Chinese)
    } else if let Some((y, m)) = s.split_once('/') {
        (valid(y, m) && !m.starts_with('0')).then_some(Style::Slash)
    } else if let Some((y, m)) = s.split_once('-') {
        (valid(y, m) && m.len() == 2).then_some(Style::Iso)
    } else if s.len() == 6 && digits(s) {
        valid(&s[..4], &s[4..]).then_some(Style::Compact)
    } else {
        None
    }
}

// ------------------------------------------------------------------------------ persons

/// The true ID behind a person-ID cell, and the ID noise (if any) that explains the written
/// text. `Err` when the text is not explained by the true ID and at most one ID noise.
pub fn classify_id(text: &str, truth: &ResidentId) -> Result<Option<&'static str>, String> {
    let t = truth.as_str();
    if text == t {
        return Ok(None);
    }
    if text.is_empty() {
        return Ok(Some("id_missing"));
    }
    let tb = t.as_bytes();
    let xb = text.as_bytes();
    if text.chars().count() == 15 {
        return match ResidentId::parse_lenient(text) {
            Ok(p) if p.id == *truth => Ok(Some("id_legacy15")),
            other => Err(format!("15-character {text:?} for {t}: {other:?}")),
        };
    }
    if t.ends_with('X') && text == t.replace('X', "x") {
        return Ok(Some("id_lowercase_x"));
    }
    if xb.len() == 18 && xb[..17] == tb[..17] && xb[17] != tb[17] {
        return Ok(Some("id_wrong_check"));
    }
    if xb.len() == 18 && xb[17] == tb[17] {
        let mut a = xb[..17].to_vec();
        let mut b = tb[..17].to_vec();
        a.sort_unstable();
        b.sort_unstable();
        let differing = (0..17).filter(|&i| xb[i] != tb[i]).count();
        if a == b && differing == 2 {
            return Ok(Some("id_transposed"));
        }
    }
    let compact: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if compact != text && compact == t {
        return Ok(Some("id_separators"));
    }
    let read: String = text
        .chars()
        .map(|c| match c {
            'O' => '0',
            'l' | 'I' => '1',
            'Z' => '2',
            'S' => '5',
            'B' => '8',
            c => c,
        })
        .collect();
    if read != text && read == t {
        return Ok(Some("id_look_alike"));
    }
    Err(format!("{text:?} is not a known mess of {t}"))
}

/// Fields that carry a person's name, with the entity field naming that person: `name` ↔
/// `resident_id`, `X_name` ↔ `X_id` (or the entity `X`, as `newborn_name` ↔ `newborn`).
pub fn name_fields(resource: &Resource) -> Vec<(usize, String)> {
    let has = |n: &str| resource.fields.iter().any(|f| f.name == n);
    resource
        .fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            if f.name == "name" {
                has("resident_id").then(|| (i, "resident_id".to_string()))
            } else {
                let stem = f.name.strip_suffix("_name")?;
                let id = format!("{stem}_id");
                Some((i, if has(&id) { id } else { stem.to_string() }))
            }
        })
        .collect()
}

/// Phone fields with the entity field naming the person: `phone` ↔ `resident_id`,
/// `X_phone` ↔ `X_id`.
pub fn phone_fields(resource: &Resource) -> Vec<(usize, String)> {
    resource
        .fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            if f.name == "phone" {
                Some((i, "resident_id".to_string()))
            } else {
                f.name
                    .strip_suffix("_phone")
                    .map(|stem| (i, format!("{stem}_id")))
            }
        })
        .collect()
}

/// The role-carrying fields of a resource with their column.
pub fn keyed_fields(resource: &Resource) -> Vec<(usize, EntityRole, String)> {
    resource
        .fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.role.map(|r| (i, r, f.name.clone())))
        .collect()
}

pub fn date_columns(resource: &Resource) -> Vec<usize> {
    resource
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.data_type == DataType::Date)
        .map(|(i, _)| i)
        .collect()
}

/// The text of cell `col`, with the invalid bytes of a broken_encoding row (written right after
/// the first field; they decode as U+FFFD, plus '(' for the UTF-8 junk) removed.
pub fn cell_text<'a>(row: &'a Row, t: &TruthLine, col: usize) -> &'a str {
    let s = row.cell(col).map(|c| c.str()).unwrap_or("");
    if col == 0 && t.has("broken_encoding") {
        s.trim_end_matches(['\u{FFFD}', '('])
    } else {
        s
    }
}

/// Tallies strings (for comparing multisets of noise codes).
pub fn tally<'a>(it: impl IntoIterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut m = BTreeMap::new();
    for s in it {
        *m.entry(s).or_default() += 1;
    }
    m
}

/// Collects up to `limit` failure messages, then counts the rest, so one broken invariant
/// reports a few examples instead of thousands of lines.
#[derive(Default)]
pub struct Failures {
    pub messages: Vec<String>,
    pub total: usize,
}

impl Failures {
    pub fn push(&mut self, msg: impl Into<String>) {
        self.total += 1;
        if self.messages.len() < 15 {
            self.messages.push(msg.into());
        }
    }

    pub fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.push(msg());
        }
    }

    #[track_caller]
    pub fn assert_none(&self, what: &str) {
        assert!(
            self.total == 0,
            "{what}: {} failure(s), e.g.:\n  {}",
            self.total,
            self.messages.join("\n  ")
        );
    }
}

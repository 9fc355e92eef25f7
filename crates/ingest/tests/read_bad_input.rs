//! The readers on hand-made files: what cannot be read at all is a file error naming the
//! problem; what can is read record by record, with every damaged record accounted for.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::NaiveDate;
use miaopi_catalog::{FileFormat, Pack, Resource, TextEncoding};
use miaopi_ingest::read::{ReadError, ReadOptions, Reader, open};
use miaopi_ingest::{BadRecord, RawRecord, RawValue, ReadItem, RecordProblem};
use miaopi_synth::write::{Cell, open_sink};
use tempfile::TempDir;

fn pack() -> &'static Pack {
    static PACK: OnceLock<Pack> = OnceLock::new();
    PACK.get_or_init(|| {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packs/futian"));
        Pack::load(dir).unwrap_or_else(|e| panic!("the Futian pack does not load: {e:?}"))
    })
}

/// 居住登记 (police/residence_registrations): 9 fields, 身份证号 / 联系电话 / 居住地址 /
/// 居住证有效期 optional, the rest required. As `format`, with `encoding`.
fn residence(format: FileFormat, encoding: Option<TextEncoding>) -> Resource {
    let mut r = pack()
        .resource("residence_registrations")
        .unwrap_or_else(|| panic!("no residence_registrations"))
        .clone();
    r.format = format;
    r.encoding = encoding;
    r
}

const HEADER: &str =
    "身份证号,姓名,性别,出生日期,联系电话,居住地址编码,居住地址,登记日期,居住证有效期";
const ROW: &str = "440304199001011234,张三,男,19900101,13800000000,4403040010010000001,福田区南园街道1号,20200102,20250102";

fn tmp() -> TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn csv_utf8() -> Resource {
    residence(FileFormat::Csv, Some(TextEncoding::Utf8))
}

fn open_ok(path: &Path, r: &Resource, opts: &ReadOptions) -> Reader {
    open(path, r, opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn items(path: &Path, r: &Resource, opts: &ReadOptions) -> Vec<ReadItem> {
    open_ok(path, r, opts)
        .map(|i| i.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn record(item: &ReadItem) -> &RawRecord {
    match item {
        ReadItem::Record(r) => r,
        ReadItem::Bad(b) => panic!("expected a record, got {b:?}"),
    }
}

fn bad(item: &ReadItem) -> &BadRecord {
    match item {
        ReadItem::Bad(b) => b,
        ReadItem::Record(r) => panic!("expected a bad record, got {r:?}"),
    }
}

fn text(s: &str) -> RawValue {
    RawValue::Text(s.to_string())
}

#[test]
fn empty_files_are_file_errors() {
    let dir = tmp();
    for (format, name) in [
        (FileFormat::Csv, "e.csv"),
        (FileFormat::Jsonl, "e.jsonl"),
        (FileFormat::Xlsx, "e.xlsx"),
        (FileFormat::Parquet, "e.parquet"),
    ] {
        let path = write(&dir, name, b"");
        match open(&path, &residence(format, None), &ReadOptions::default()) {
            Err(e @ ReadError::Empty { .. }) => {
                assert_eq!(e.code(), "empty_file");
                assert!(e.message_zh().contains("为空"));
            }
            Err(e) => panic!("{name}: expected Empty, got {e}"),
            Ok(_) => panic!("{name}: an empty file opened"),
        }
    }
    // Blank lines only: no header either.
    let path = write(&dir, "blank.csv", b"\r\n\n\n");
    assert!(matches!(
        open(&path, &csv_utf8(), &ReadOptions::default()),
        Err(ReadError::Empty { .. })
    ));
}

#[test]
fn header_only_is_zero_records() {
    let dir = tmp();
    for body in [
        HEADER.to_string(),
        format!("{HEADER}\r\n"),
        format!("{HEADER}\n\n\n"),
    ] {
        let path = write(&dir, "h.csv", body.as_bytes());
        let reader = open_ok(&path, &csv_utf8(), &ReadOptions::default());
        assert_eq!(reader.header().len(), 9);
        assert_eq!(reader.count(), 0);
    }
    let path = write(&dir, "blank.jsonl", b"\n  \n");
    assert_eq!(
        items(
            &path,
            &residence(FileFormat::Jsonl, None),
            &ReadOptions::default()
        )
        .len(),
        0
    );
}

#[test]
fn binary_files_are_refused() {
    let dir = tmp();
    // Deterministic "random" bytes with NULs among them (an LCG: no RNG dependency needed).
    let mut x: u32 = 12345;
    let bytes: Vec<u8> = (0..20_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    assert!(bytes[..8192].contains(&0));
    let path = write(&dir, "random.csv", &bytes);
    for r in [
        csv_utf8(),
        residence(FileFormat::Csv, None),
        residence(FileFormat::Jsonl, None),
    ] {
        match open(&path, &r, &ReadOptions::default()) {
            Err(e @ ReadError::Binary { .. }) => assert_eq!(e.code(), "binary_file"),
            Err(e) => panic!("expected Binary, got {e}"),
            Ok(_) => panic!("random bytes opened as text"),
        }
    }
}

#[test]
fn header_mismatch_names_the_columns() {
    let dir = tmp();
    // 姓名 (required) missing, 备注 unknown, 联系电话 (optional) missing: only the first two
    // are errors.
    let body = "身份证号,性别,出生日期,居住地址编码,居住地址,登记日期,居住证有效期,备注\n1,2,3,4,5,6,7,8\n";
    let path = write(&dir, "bad_header.csv", body.as_bytes());
    match open(&path, &csv_utf8(), &ReadOptions::default()) {
        Err(
            ref e @ ReadError::Header {
                ref missing_required,
                ref unknown,
                ref duplicate,
                ..
            },
        ) => {
            assert_eq!(missing_required, &["姓名"]);
            assert_eq!(unknown, &["备注"]);
            assert!(duplicate.is_empty());
            assert_eq!(e.code(), "header_mismatch");
            let zh = e.message_zh();
            assert!(zh.contains("缺少必填列「姓名」"), "{zh}");
            assert!(zh.contains("「备注」"), "{zh}");
            let en = e.to_string();
            assert!(en.contains("姓名") && en.contains("备注"), "{en}");
        }
        Err(e) => panic!("expected a header error, got {e}"),
        Ok(_) => panic!("a wrong header was accepted"),
    }
    // The same field twice (by label and by name) is ambiguous.
    let body = format!("{HEADER},name\n");
    let path = write(&dir, "dup.csv", body.as_bytes());
    match open(&path, &csv_utf8(), &ReadOptions::default()) {
        Err(ReadError::Header { duplicate, .. }) => assert_eq!(duplicate, ["name"]),
        other => panic!("expected a duplicate-column error, got {:?}", other.err()),
    }
}

#[test]
fn columns_in_any_order_by_label_or_name() {
    let dir = tmp();
    // Reordered, English names mixed in, stray spaces and a BOM; the optional 联系电话,
    // 居住地址 and 居住证有效期 absent.
    let body = "\u{feff} registered_on ,姓名,resident_id,性别,出生日期,\u{3000}居住地址编码\r\n20200102,李四,440304199001011234,女,19900101,4403040010010000001\r\n";
    let path = write(&dir, "order.csv", body.as_bytes());
    let reader = open_ok(&path, &csv_utf8(), &ReadOptions::default());
    assert_eq!(
        reader.header(),
        [
            "registered_on",
            "姓名",
            "resident_id",
            "性别",
            "出生日期",
            "居住地址编码"
        ]
    );
    let all: Vec<_> = reader
        .map(|i| i.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(all.len(), 1);
    let rec = record(&all[0]);
    assert_eq!(
        rec.values,
        [
            text("440304199001011234"),
            text("李四"),
            text("女"),
            text("19900101"),
            RawValue::Null,
            text("4403040010010000001"),
            RawValue::Null,
            text("20200102"),
            RawValue::Null,
        ]
    );
    assert_eq!(rec.line, 2);
    assert_eq!(
        rec.raw,
        "20200102,李四,440304199001011234,女,19900101,4403040010010000001"
    );
}

#[test]
fn long_line_is_skipped_and_reading_goes_on() {
    let dir = tmp();
    let long = "x".repeat(10 * 1024);
    let body = format!("{HEADER}\n{ROW}\n{long}\n{ROW}\r\n\n{ROW}");
    let path = write(&dir, "long.csv", body.as_bytes());
    let opts = ReadOptions {
        max_line_bytes: 200,
        ..ReadOptions::default()
    };
    let all = items(&path, &csv_utf8(), &opts);
    assert_eq!(all.len(), 4);
    assert_eq!(record(&all[0]).line, 2);
    let b = bad(&all[1]);
    assert_eq!(
        b.problem,
        RecordProblem::LineTooLong {
            bytes: 10 * 1024,
            limit: 200
        }
    );
    assert_eq!((b.line, b.record), (3, 2));
    assert_eq!(b.raw.len(), 200, "raw keeps the first `limit` bytes");
    assert_eq!(b.problem.code(), "line_too_long");
    let after = record(&all[2]);
    assert_eq!((after.line, after.record), (4, 3));
    assert_eq!(after.raw, ROW, "CRLF stripped");
    // Line 5 is empty: not a record, but it counts.
    assert_eq!((record(&all[3]).line, record(&all[3]).record), (6, 4));
    // A long line at the very end, without a newline.
    let body = format!("{HEADER}\n{ROW}\n{long}");
    let path = write(&dir, "long_last.csv", body.as_bytes());
    let all = items(&path, &csv_utf8(), &opts);
    assert_eq!(all.len(), 2);
    assert!(matches!(
        bad(&all[1]).problem,
        RecordProblem::LineTooLong { bytes: 10240, .. }
    ));
}

#[test]
fn quoted_cells_hold_commas_quotes_and_newlines() {
    let dir = tmp();
    let body = format!(
        "{HEADER}\r\n\
         440304199001011234,\"王,五\",男,19900101,,4403040010010000001,\"福田区\r\n南园街道 \"\"1号\"\"\",20200102,\r\n\
         {ROW}\r\n"
    );
    let path = write(&dir, "quoted.csv", body.as_bytes());
    let all = items(&path, &csv_utf8(), &ReadOptions::default());
    assert_eq!(all.len(), 2);
    let rec = record(&all[0]);
    assert_eq!(rec.line, 2);
    assert_eq!(rec.values[1], text("王,五"));
    assert_eq!(rec.values[4], RawValue::Null);
    assert_eq!(rec.values[6], text("福田区\r\n南园街道 \"1号\""));
    assert_eq!(rec.values[8], RawValue::Null);
    assert!(rec.raw.starts_with("440304199001011234,\"王,五\"") && rec.raw.contains('\n'));
    // The record spanned lines 2-3: the next starts on line 4.
    assert_eq!((record(&all[1]).line, record(&all[1]).record), (4, 2));
}

#[test]
fn an_unclosed_quote_costs_one_line() {
    let dir = tmp();
    let body = format!("{HEADER}\n{ROW}\n440304199001011234,\"张三,男\n{ROW}\n{ROW}\n");
    let path = write(&dir, "stray.csv", body.as_bytes());
    let all = items(&path, &csv_utf8(), &ReadOptions::default());
    assert_eq!(all.len(), 4);
    let b = bad(&all[1]);
    assert_eq!(b.problem, RecordProblem::UnterminatedQuote);
    assert_eq!((b.line, b.record), (3, 2));
    assert_eq!(b.raw, "440304199001011234,\"张三,男");
    assert_eq!((record(&all[2]).line, record(&all[3]).line), (4, 5));
    assert_eq!(record(&all[3]).record, 4);
}

#[test]
fn wrong_column_counts_and_bad_bytes_are_bad_records() {
    let dir = tmp();
    let mut body = format!("{HEADER}\n{ROW}\n").into_bytes();
    body.extend_from_slice(b"440304199001011234,\xC3\x28\xFF,x,1,2,3,4,5,6\n");
    body.extend_from_slice(format!("{ROW},extra\n1,2\n{ROW}\n").as_bytes());
    let path = write(&dir, "mixed.csv", &body);
    let all = items(&path, &csv_utf8(), &ReadOptions::default());
    assert_eq!(all.len(), 5);
    assert_eq!(
        bad(&all[1]).problem,
        RecordProblem::BadEncoding {
            encoding: "UTF-8".into()
        }
    );
    assert!(bad(&all[1]).raw.contains('\u{fffd}'));
    assert_eq!(
        bad(&all[2]).problem,
        RecordProblem::WrongColumnCount {
            expected: 9,
            found: 10
        }
    );
    assert_eq!(
        bad(&all[3]).problem,
        RecordProblem::WrongColumnCount {
            expected: 9,
            found: 2
        }
    );
    assert_eq!(bad(&all[3]).raw, "1,2");
    assert_eq!(record(&all[4]).record, 5);
}

#[test]
fn encoding_detection() {
    let dir = tmp();
    let utf8 = format!("{HEADER}\n{ROW}\n");
    let crlf = utf8.replace('\n', "\r\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&crlf);
    let undeclared = residence(FileFormat::Csv, None);
    let expected = [text("440304199001011234"), text("张三"), text("男")];
    for (name, bytes, encoding) in [
        ("u.csv", utf8.as_bytes(), "UTF-8"),
        ("g.csv", &gbk[..], "GB18030"),
    ] {
        let path = write(&dir, name, bytes);
        let reader = open_ok(&path, &undeclared, &ReadOptions::default());
        assert_eq!(reader.encoding(), encoding, "{name}");
        let all: Vec<_> = reader
            .map(|i| i.unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(record(&all[0]).values[..3], expected, "{name}");
    }
    // The options override the catalogue: the GBK file declared UTF-8 has an undecodable header.
    let path = write(&dir, "g2.csv", &gbk);
    let opts = ReadOptions {
        encoding: Some(TextEncoding::Utf8),
        ..ReadOptions::default()
    };
    match open(
        &path,
        &residence(FileFormat::Csv, Some(TextEncoding::Gbk)),
        &opts,
    ) {
        Err(e @ ReadError::Encoding { .. }) => assert!(e.message_zh().contains("UTF-8")),
        other => panic!("expected an encoding error, got {:?}", other.err()),
    }
    // One damaged row near the top of a UTF-8 file does not make the file GB18030 (which would
    // garble every row silently): that row alone is bad.
    let mut damaged = format!("{HEADER}\n").into_bytes();
    damaged.extend_from_slice(b"440304199001011234,\xFF\xFF,x,1,2,3,4,5,6\n");
    for _ in 0..50 {
        damaged.extend_from_slice(format!("{ROW}\n").as_bytes());
    }
    let path = write(&dir, "damaged.csv", &damaged);
    let reader = open_ok(&path, &undeclared, &ReadOptions::default());
    assert_eq!(reader.encoding(), "UTF-8");
    let all: Vec<_> = reader
        .map(|i| i.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert!(matches!(
        bad(&all[0]).problem,
        RecordProblem::BadEncoding { .. }
    ));
    assert!(all[1..].iter().all(|i| record(i).values[1] == text("张三")));
    // A GBK declaration over a file with a UTF-8 BOM: the BOM wins.
    let bom = format!("\u{feff}{HEADER}\n{ROW}\n");
    let path = write(&dir, "bom.csv", bom.as_bytes());
    let reader = open_ok(
        &path,
        &residence(FileFormat::Csv, Some(TextEncoding::Gbk)),
        &ReadOptions::default(),
    );
    assert_eq!(reader.encoding(), "UTF-8");
}

#[test]
fn json_lines() {
    let dir = tmp();
    let lines = [
        r#"{"身份证号":"440304199001011234","姓名":"张三","性别":"男","出生日期":"19900101","居住地址编码":"4403040010010000001","登记日期":"20200102","extra":1,"phone":13800000000}"#,
        "",
        r#"{"name":"李四","sex":"女","birth_date":null,"address_code":4403040010010000001,"registered_on":"2020-01-02","居住地址":"a\"b","permit_valid_until":true}"#,
        r#"{"姓名":"王五","身份证号":"4403041990"#,
        r#"[1,2,3]"#,
        r#"{"姓名":"a","name":"b"}"#,
        r#"{"姓名":"赵六","居住地址":{"路":"福华路"},"联系电话":12.50}"#,
    ];
    let path = write(&dir, "r.jsonl", (lines.join("\n") + "\n").as_bytes());
    let reader = open_ok(
        &path,
        &residence(FileFormat::Jsonl, None),
        &ReadOptions::default(),
    );
    assert!(reader.header().is_empty());
    let mut reader = reader;
    let all: Vec<_> = reader
        .by_ref()
        .map(|i| i.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(all.len(), 6);
    let first = record(&all[0]);
    assert_eq!(first.values[1], text("张三"));
    assert_eq!(
        first.values[4],
        RawValue::Int(13_800_000_000),
        "the English key `phone`"
    );
    assert_eq!(first.raw, lines[0]);
    assert_eq!(
        reader
            .unknown_keys()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["extra"]
    );
    let second = record(&all[1]);
    assert_eq!((second.line, second.record), (3, 2));
    assert_eq!(second.values[0], RawValue::Null, "a missing key is null");
    assert_eq!(second.values[3], RawValue::Null);
    assert_eq!(second.values[5], RawValue::Int(4_403_040_010_010_000_001));
    assert_eq!(second.values[6], text("a\"b"));
    assert_eq!(second.values[8], RawValue::Bool(true));
    for (i, line) in [(2, 4), (3, 5), (4, 6)] {
        let b = bad(&all[i]);
        assert!(
            matches!(b.problem, RecordProblem::MalformedJson { .. }),
            "{b:?}"
        );
        assert_eq!(b.line, line);
        assert_eq!(b.raw, lines[line as usize - 1]);
    }
    let last = record(&all[5]);
    assert_eq!(last.values[6], text(r#"{"路":"福华路"}"#));
    assert_eq!(
        last.values[4],
        RawValue::Decimal {
            value: 1250,
            scale: 2
        }
    );
}

/// Writes cells with the generator's own XLSX/Parquet writer, as a unit's export would.
fn write_with_sink(path: &Path, format: FileFormat, r: &Resource, rows: &[Vec<Cell>]) {
    let mut sink = open_sink(path, format, None, &r.fields).unwrap_or_else(|e| panic!("{e}"));
    for row in rows {
        sink.write(row, None).unwrap_or_else(|e| panic!("{e}"));
    }
    sink.finish().unwrap_or_else(|e| panic!("{e}"));
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn sample_rows() -> Vec<Vec<Cell>> {
    let s = |v: &str| Cell::Str(v.to_string());
    vec![
        vec![
            s("440304199001011234"),
            s("张三"),
            s("男"),
            Cell::Date(date(1990, 1, 1)),
            Cell::Null,
            s("4403040010010000001"),
            s(" 福田区 "),
            Cell::Date(date(2020, 1, 2)),
            s("2025/1/2"),
        ],
        vec![
            Cell::Null,
            s("李四"),
            s("女"),
            Cell::Date(date(1985, 12, 31)),
            Cell::Int(13_800_000_000),
            s("4403040010010000002"),
            Cell::Null,
            Cell::Date(date(2021, 2, 3)),
            Cell::Null,
        ],
    ]
}

#[test]
fn xlsx_cells_keep_their_types() {
    let dir = tmp();
    let r = residence(FileFormat::Xlsx, None);
    let path = dir.path().join("r.xlsx");
    write_with_sink(&path, FileFormat::Xlsx, &r, &sample_rows());
    let reader = open_ok(&path, &r, &ReadOptions::default());
    assert_eq!(reader.header(), r.labels());
    assert_eq!(reader.encoding(), "UTF-8");
    let all: Vec<_> = reader
        .map(|i| i.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(all.len(), 2);
    let a = record(&all[0]);
    assert_eq!((a.line, a.record), (2, 1));
    assert_eq!(a.values[3], RawValue::Date(date(1990, 1, 1)));
    assert_eq!(a.values[4], RawValue::Null);
    assert_eq!(a.values[6], text(" 福田区 "), "text is kept as written");
    assert_eq!(a.values[7], RawValue::Date(date(2020, 1, 2)));
    assert_eq!(a.values[8], text("2025/1/2"));
    assert!(a.raw.contains(r#""登记日期":"2020-01-02""#), "{}", a.raw);
    let b = record(&all[1]);
    assert_eq!(b.values[0], RawValue::Null);
    assert_eq!(b.values[4], RawValue::Int(13_800_000_000));
    let raw: serde_json::Value = serde_json::from_str(&b.raw).unwrap_or_default();
    assert_eq!(raw["姓名"], "李四");
}

#[test]
fn parquet_columns_keep_their_types() {
    let dir = tmp();
    let r = residence(FileFormat::Parquet, None);
    let path = dir.path().join("r.parquet");
    write_with_sink(&path, FileFormat::Parquet, &r, &sample_rows());
    let reader = open_ok(&path, &r, &ReadOptions::default());
    assert_eq!(reader.header(), r.labels());
    let all: Vec<_> = reader
        .map(|i| i.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(all.len(), 2);
    let a = record(&all[0]);
    assert_eq!((a.line, a.record), (2, 1));
    assert_eq!(a.values[3], RawValue::Date(date(1990, 1, 1)));
    assert_eq!(a.values[7], RawValue::Date(date(2020, 1, 2)));
    // A text date in a Date32 column cannot be stored: the writer leaves it null.
    assert_eq!(a.values[8], RawValue::Null);
    let b = record(&all[1]);
    assert_eq!((b.line, b.record), (3, 2));
    assert_eq!(b.values[0], RawValue::Null);
    assert_eq!(b.values[1], text("李四"));
    assert!(b.raw.contains(r#""出生日期":"1985-12-31""#), "{}", b.raw);
}

#[test]
fn a_text_file_sent_as_a_workbook_is_a_file_error() {
    let dir = tmp();
    let path = write(&dir, "not.xlsx", format!("{HEADER}\n{ROW}\n").as_bytes());
    assert!(matches!(
        open(
            &path,
            &residence(FileFormat::Xlsx, None),
            &ReadOptions::default()
        ),
        Err(ReadError::Xlsx { .. })
    ));
    assert!(matches!(
        open(
            &path,
            &residence(FileFormat::Parquet, None),
            &ReadOptions::default()
        ),
        Err(ReadError::Parquet { .. })
    ));
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = tmp();
    match open(
        &dir.path().join("nope.csv"),
        &csv_utf8(),
        &ReadOptions::default(),
    ) {
        Err(e @ ReadError::Io { .. }) => {
            assert_eq!(e.code(), "io_error");
            assert!(e.message_zh().contains("nope.csv"));
        }
        other => panic!("expected Io, got {:?}", other.err()),
    }
}

//! The readers on a generated district: every source file reads to exactly its truth — one item
//! per truth line, in order, broken rows (and only they) as bad records with the right problem —
//! and text, dates and typed values come back as the units wrote them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use miaopi_catalog::{DataType, FileFormat, Pack, Resource};
use miaopi_ingest::read::{ReadError, ReadOptions, open};
use miaopi_ingest::{RawRecord, RawValue, ReadItem, RecordProblem};
use miaopi_synth::{FileReport, Manifest, NoProgress, NoiseConfig, SynthConfig, generate};

struct District {
    out: PathBuf,
    manifest: Manifest,
}

fn pack() -> &'static Pack {
    static PACK: OnceLock<Pack> = OnceLock::new();
    PACK.get_or_init(|| {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packs/futian"));
        Pack::load(dir).unwrap_or_else(|e| panic!("the Futian pack does not load: {e:?}"))
    })
}

/// One district per test binary, in Cargo's per-target scratch space (a TempDir in a static
/// would never be dropped). Broken rows at ten times the default rate, so that every broken kind
/// occurs in 3,000 people's files (at the default, a JSON Lines file may have none).
fn district() -> &'static District {
    static D: OnceLock<District> = OnceLock::new();
    D.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ingest-read-district");
        let cfg = SynthConfig {
            people: 3_000,
            noise: NoiseConfig {
                broken: 0.02,
                ..NoiseConfig::default()
            },
            ..SynthConfig::default()
        };
        let manifest = generate(pack(), &out, &cfg, &NoProgress)
            .unwrap_or_else(|e| panic!("generating the district: {e}"))
            .manifest;
        District { out, manifest }
    })
}

fn resource(code: &str) -> &'static Resource {
    pack()
        .resource(code)
        .unwrap_or_else(|| panic!("no resource {code}"))
}

fn files_of(resource: &str) -> Vec<&'static FileReport> {
    let files: Vec<_> = district()
        .manifest
        .files
        .iter()
        .filter(|f| f.resource == resource)
        .collect();
    assert!(!files.is_empty(), "no files of {resource}");
    files
}

/// The noise codes of each truth line, in order.
fn truth(file: &FileReport) -> Vec<Vec<String>> {
    let path = district().out.join(&file.truth);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("record,entities,noise"));
    lines
        .enumerate()
        .map(|(i, l)| {
            let (record, rest) = l
                .split_once(',')
                .unwrap_or_else(|| panic!("truth line {l}"));
            assert_eq!(record.parse::<usize>().ok(), Some(i + 1), "truth numbering");
            let noise = rest.rsplit_once(',').map_or("", |(_, n)| n);
            noise
                .split(';')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn read_all(file: &FileReport, opts: &ReadOptions) -> (Vec<ReadItem>, &'static str) {
    let path = district().out.join(&file.path);
    let reader = open(&path, resource(&file.resource), opts)
        .unwrap_or_else(|e| panic!("{}: {e}", file.path));
    let encoding = reader.encoding();
    let items = reader
        .map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", file.path)))
        .collect();
    (items, encoding)
}

fn records(file: &FileReport) -> Vec<RawRecord> {
    read_all(file, &ReadOptions::default())
        .0
        .into_iter()
        .filter_map(|i| match i {
            ReadItem::Record(r) => Some(r),
            ReadItem::Bad(_) => None,
        })
        .collect()
}

fn field_index(resource: &Resource, name: &str) -> usize {
    resource
        .fields
        .iter()
        .position(|f| f.name == name)
        .unwrap_or_else(|| panic!("{} has no field {name}", resource.code))
}

const BROKEN_AT_READ: [&str; 3] = ["broken_columns", "broken_encoding", "broken_json"];

#[test]
fn every_file_reads_to_its_truth() {
    let d = district();
    let mut bad_by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut total = 0usize;
    for file in &d.manifest.files {
        let truth = truth(file);
        let (items, _) = read_all(file, &ReadOptions::default());
        let r = resource(&file.resource);
        assert_eq!(
            items.len(),
            truth.len(),
            "{}: records + bad records must equal the truth lines",
            file.path
        );
        assert_eq!(
            items.len() as u64,
            file.records,
            "{}: manifest count",
            file.path
        );
        let mut last_line = 0;
        for (i, (item, noise)) in items.iter().zip(&truth).enumerate() {
            let (record, line) = match item {
                ReadItem::Record(rec) => (rec.record, rec.line),
                ReadItem::Bad(b) => (b.record, b.line),
            };
            assert_eq!(record, i as u64 + 1, "{}: record numbers", file.path);
            assert!(line > last_line, "{}: lines increase", file.path);
            last_line = line;
            let broken: Vec<&str> = noise
                .iter()
                .map(String::as_str)
                .filter(|n| BROKEN_AT_READ.contains(n))
                .collect();
            match item {
                ReadItem::Record(rec) => {
                    assert!(
                        broken.is_empty(),
                        "{} record {}: truth says {broken:?} but it read fine: {}",
                        file.path,
                        i + 1,
                        rec.raw
                    );
                    assert_eq!(rec.values.len(), r.fields.len());
                    assert!(!rec.raw.is_empty());
                }
                ReadItem::Bad(bad) => {
                    let expected = match bad.problem {
                        RecordProblem::WrongColumnCount { .. } => "broken_columns",
                        RecordProblem::BadEncoding { .. } => "broken_encoding",
                        RecordProblem::MalformedJson { .. } => "broken_json",
                        ref other => panic!("{}: unexpected problem {other:?}", file.path),
                    };
                    assert_eq!(
                        broken,
                        [expected],
                        "{} record {}: read as {:?}, truth noise {noise:?}",
                        file.path,
                        i + 1,
                        bad.problem
                    );
                    *bad_by_kind.entry(expected).or_default() += 1;
                }
            }
        }
        total += items.len();
    }
    assert_eq!(total as u64, d.manifest.records_total);
    // The district must actually exercise every kind of read-time damage.
    for kind in BROKEN_AT_READ {
        let applied = d.manifest.noise.applied.get(kind).copied().unwrap_or(0);
        assert!(applied > 0, "the district has no {kind} rows");
        assert_eq!(
            bad_by_kind.get(kind).copied().unwrap_or(0) as u64,
            applied,
            "{kind}: bad records vs the manifest's count"
        );
    }
}

#[test]
fn broken_dates_read_fine() {
    let mut seen = 0;
    for file in &district().manifest.files {
        let truth = truth(file);
        let (items, _) = read_all(file, &ReadOptions::default());
        for (item, noise) in items.iter().zip(&truth) {
            if noise.iter().any(|n| n == "broken_date")
                && !noise.iter().any(|n| BROKEN_AT_READ.contains(&n.as_str()))
            {
                assert!(
                    matches!(item, ReadItem::Record(_)),
                    "{}: a broken date is the standardiser's to reject: {item:?}",
                    file.path
                );
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "no broken_date rows in the district");
}

#[test]
fn csv_headers_are_the_catalogue_labels() {
    for file in &district().manifest.files {
        let r = resource(&file.resource);
        if r.format != FileFormat::Csv {
            continue;
        }
        let reader = open(&district().out.join(&file.path), r, &ReadOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reader.header(), r.labels(), "{}", file.path);
    }
}

fn is_cjk_name(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty()
        && s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
        && !s.contains('\u{fffd}')
}

#[test]
fn gbk_files_decode() {
    for code in ["hukou_residents", "residence_registrations"] {
        let r = resource(code);
        let name = field_index(r, "name");
        for file in files_of(code) {
            let (items, encoding) = read_all(file, &ReadOptions::default());
            assert_eq!(encoding, "GBK", "{}", file.path);
            let recs: Vec<_> = items
                .iter()
                .filter_map(|i| match i {
                    ReadItem::Record(r) => Some(r),
                    ReadItem::Bad(_) => None,
                })
                .collect();
            assert!(recs.len() > 100, "{}: {} records", file.path, recs.len());
            for rec in recs {
                match &rec.values[name] {
                    RawValue::Text(s) => assert!(is_cjk_name(s), "{}: name {s:?}", file.path),
                    other => panic!("{} line {}: name is {other:?}", file.path, rec.line),
                }
                assert!(!rec.raw.contains('\r') && !rec.raw.contains('\n'));
            }
        }
    }
}

#[test]
fn bom_file_header_matches() {
    let file = files_of("driving_licences")[0];
    let bytes = std::fs::read(district().out.join(&file.path)).unwrap_or_default();
    assert!(
        bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "交警's CSV carries a BOM"
    );
    let (items, encoding) = read_all(file, &ReadOptions::default());
    assert_eq!(encoding, "UTF-8");
    let first = items.iter().find_map(|i| match i {
        ReadItem::Record(r) => Some(r),
        ReadItem::Bad(_) => None,
    });
    assert_eq!(first.map(|r| r.line), Some(2));
}

#[test]
fn detection_when_the_catalogue_gives_no_encoding() {
    let opts = ReadOptions::default();
    for (code, expected) in [
        ("hukou_residents", "GB18030"),
        ("residence_registrations", "GB18030"),
        ("death_registrations", "UTF-8"),
        ("driving_licences", "UTF-8"),
        ("social_insurance_contributions", "UTF-8"),
    ] {
        let mut r = resource(code).clone();
        r.encoding = None;
        for file in files_of(code) {
            let path = district().out.join(&file.path);
            let detected = open(&path, &r, &opts).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(detected.encoding(), expected, "{}", file.path);
            let detected: Vec<ReadItem> = detected
                .map(|i| i.unwrap_or_else(|e| panic!("{e}")))
                .collect();
            let (declared, declared_encoding) = read_all(file, &opts);
            assert_eq!(detected.len(), declared.len(), "{}", file.path);
            for (d, mut c) in detected.into_iter().zip(declared) {
                // Only the name of the encoding a bad row violates differs (GBK declared,
                // GB18030 detected).
                if let ReadItem::Bad(b) = &mut c
                    && let RecordProblem::BadEncoding { encoding } = &mut b.problem
                {
                    assert_eq!(encoding, declared_encoding);
                    *encoding = expected.to_string();
                }
                assert!(d == c, "{}: detected {d:?}, declared {c:?}", file.path);
            }
        }
    }
}

#[test]
fn xlsx_dates_are_dates() {
    let r = resource("marriage_registrations");
    let on = field_index(r, "registered_on");
    let mut dates = 0;
    let mut texts = 0;
    for file in files_of("marriage_registrations") {
        // marriage_registrations_2006.xlsx: one workbook per registration year.
        let year: i32 = file
            .path
            .trim_end_matches(".xlsx")
            .rsplit('_')
            .next()
            .and_then(|y| y.parse().ok())
            .unwrap_or_else(|| panic!("no year in {}", file.path));
        let truth = truth(file);
        let (items, _) = read_all(file, &ReadOptions::default());
        for (item, noise) in items.iter().zip(&truth) {
            let ReadItem::Record(rec) = item else {
                panic!(
                    "{}: XLSX rows are never broken at read time: {item:?}",
                    file.path
                );
            };
            let dated = !noise
                .iter()
                .any(|n| n == "date_format" || n == "broken_date");
            match &rec.values[on] {
                RawValue::Date(d) if dated => {
                    use chrono::Datelike;
                    assert_eq!(d.year(), year, "{} line {}", file.path, rec.line);
                    assert!(rec.raw.contains(&d.format("\"%Y-%m-%d\"").to_string()));
                    dates += 1;
                }
                RawValue::Text(_) if !dated => texts += 1,
                other => panic!(
                    "{} line {}: registered_on {other:?} with noise {noise:?}",
                    file.path, rec.line
                ),
            }
            for (f, v) in r.fields.iter().zip(&rec.values) {
                if f.data_type == DataType::String && f.required {
                    assert!(
                        matches!(v, RawValue::Text(_)),
                        "{}: {} is {v:?}",
                        file.path,
                        f.name
                    );
                }
            }
        }
    }
    assert!(dates > 100 && texts > 0, "dates {dates}, texts {texts}");
}

#[test]
fn parquet_values_are_typed() {
    let mut checked = 0;
    for file in &district().manifest.files {
        let r = resource(&file.resource);
        if r.format != FileFormat::Parquet {
            continue;
        }
        for rec in records(file) {
            for (f, v) in r.fields.iter().zip(&rec.values) {
                let ok = match (f.data_type, v) {
                    (_, RawValue::Null) => !f.required,
                    (DataType::String | DataType::Month, RawValue::Text(_)) => true,
                    (DataType::Integer, RawValue::Int(_)) => true,
                    (DataType::Decimal, RawValue::Decimal { scale: 2, .. }) => true,
                    (DataType::Date, RawValue::Date(_)) => true,
                    (DataType::Boolean, RawValue::Bool(_)) => true,
                    _ => false,
                };
                assert!(
                    ok,
                    "{} row {}: {} ({}) is {v:?}",
                    file.path, rec.record, f.name, f.data_type
                );
                checked += 1;
            }
            assert!(rec.raw.starts_with('{') && rec.raw.ends_with('}'));
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&rec.raw);
            assert!(parsed.is_ok(), "raw is JSON: {}", rec.raw);
        }
    }
    assert!(checked > 1000, "{checked} parquet values");
}

#[test]
fn jsonl_numbers_are_exact() {
    let r = resource("rental_registrations");
    let rent = r
        .fields
        .iter()
        .position(|f| f.data_type == DataType::Decimal)
        .unwrap_or_else(|| panic!("rental_registrations has no decimal field"));
    let recs = records(files_of("rental_registrations")[0]);
    assert!(!recs.is_empty());
    for rec in recs {
        match &rec.values[rent] {
            RawValue::Decimal { value, scale: 2 } => {
                let text = format!("{}.{:02}", value / 100, value % 100);
                assert!(rec.raw.contains(&text), "{} in {}", text, rec.raw);
            }
            other => panic!("rent {other:?} in {}", rec.raw),
        }
    }
}

/// The first half of a generated file's bytes, in a temporary directory.
fn truncated(file: &FileReport, dir: &Path) -> PathBuf {
    let bytes = std::fs::read(district().out.join(&file.path)).unwrap_or_default();
    assert!(bytes.len() > 1000);
    let name = Path::new(&file.path).file_name().unwrap_or_default();
    let path = dir.join(name);
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
    path
}

#[test]
fn truncated_xlsx_is_a_file_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = *files_of("marriage_registrations")
        .iter()
        .max_by_key(|f| f.bytes)
        .unwrap_or_else(|| panic!("no workbook"));
    let path = truncated(file, dir.path());
    match open(
        &path,
        resource("marriage_registrations"),
        &ReadOptions::default(),
    ) {
        Err(e @ ReadError::Xlsx { .. }) => {
            assert_eq!(e.code(), "xlsx_unreadable");
            assert!(e.message_zh().contains("Excel"), "{}", e.message_zh());
        }
        Err(e) => panic!("expected an XLSX error, got {e}"),
        Ok(_) => panic!("a truncated workbook opened"),
    }
}

#[test]
fn truncated_parquet_is_a_file_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = files_of("education_degrees")[0];
    let path = truncated(file, dir.path());
    match open(
        &path,
        resource("education_degrees"),
        &ReadOptions::default(),
    ) {
        Err(e @ ReadError::Parquet { .. }) => assert_eq!(e.code(), "parquet_unreadable"),
        Err(e) => panic!("expected a Parquet error, got {e}"),
        Ok(_) => panic!("a truncated Parquet file opened"),
    }
}

#[test]
fn a_workbook_read_as_text_is_binary() {
    // An XLSX (a zip) sent where the catalogue expects CSV.
    let file = files_of("marriage_registrations")[0];
    let mut r = resource("death_registrations").clone();
    r.encoding = None;
    match open(
        &district().out.join(&file.path),
        &r,
        &ReadOptions::default(),
    ) {
        Err(ReadError::Binary { .. }) => {}
        Err(e) => panic!("expected Binary, got {e}"),
        Ok(_) => panic!("a zip opened as CSV"),
    }
}

/// Progress climbs monotonically to its total, in the unit the format allows: bytes of a text
/// file (its whole length at the end), rows of a workbook or Parquet file (its record count).
#[test]
fn progress_reaches_the_total_in_every_format() {
    use miaopi_ingest::ProgressUnit;
    let mut formats_seen = std::collections::BTreeSet::new();
    for file in &district().manifest.files {
        let resource = resource(&file.resource);
        let path = district().out.join(&file.path);
        let mut reader = open(&path, resource, &ReadOptions::default()).unwrap();
        let start = reader.progress();
        assert_eq!(start.done.min(start.total), start.done, "{}", file.path);
        let mut last = start.done;
        let mut items = 0u64;
        while let Some(item) = reader.next() {
            item.unwrap();
            items += 1;
            let p = reader.progress();
            assert!(p.done >= last, "{}: progress went back", file.path);
            assert!(p.done <= p.total, "{}: past the total", file.path);
            last = p.done;
        }
        let end = reader.progress();
        assert_eq!(
            end.done, end.total,
            "{}: not at the total at the end",
            file.path
        );
        match resource.format {
            FileFormat::Csv | FileFormat::Jsonl => {
                assert_eq!(end.unit, ProgressUnit::Bytes);
                assert_eq!(end.total, file.bytes, "{}", file.path);
            }
            FileFormat::Xlsx | FileFormat::Parquet => {
                assert_eq!(end.unit, ProgressUnit::Rows);
                assert_eq!(end.total, items, "{}", file.path);
            }
        }
        formats_seen.insert(format!("{:?}", resource.format));
    }
    assert_eq!(formats_seen.len(), 4, "{formats_seen:?}");
}

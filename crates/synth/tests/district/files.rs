//! Files, record counts, headers, encodings and types: the sources as an intake sees them,
//! checked against the catalogue, the truth files and the manifest.

use std::collections::BTreeSet;

use arrow_schema::DataType as A;
use miaopi_catalog::{DataType, EntityRole, FileFormat, TextEncoding};

use crate::common::{Failures, keyed_fields, pack, relative_files};
use crate::{all_files, both};

/// `*`-only glob match (the catalogue's `files` patterns).
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.len() >= head.len() + tail.len() && name.starts_with(head) && {
                let rest = &name[head.len()..];
                (0..=rest.len())
                    .filter(|&i| rest.is_char_boundary(i))
                    .any(|i| glob(tail, &rest[i..]))
            }
        }
    }
}

#[test]
fn manifest_lists_exactly_the_files_written() {
    for l in both() {
        manifest_lists_files_of(l.generated);
    }
}

fn manifest_lists_files_of(d: &crate::common::Generated) {
    let m = &d.manifest;
    let mut expected: Vec<String> = m
        .files
        .iter()
        .flat_map(|f| [f.path.clone(), f.truth.clone()])
        .chain(
            [
                "truth/people.csv",
                "truth/enterprises.csv",
                "truth/outsiders.csv",
                "scenarios.json",
                "manifest.json",
            ]
            .map(String::from),
        )
        .collect();
    expected.sort();
    let before = expected.len();
    expected.dedup();
    assert_eq!(before, expected.len(), "the manifest names a file twice");
    assert_eq!(relative_files(&d.out), expected);

    let mut f = Failures::default();
    for r in &m.files {
        let res = pack()
            .resource(&r.resource)
            .unwrap_or_else(|| panic!("{}: resource {} not in the pack", r.path, r.resource));
        f.check(r.unit == res.unit, || {
            format!("{}: unit {} != {}", r.path, r.unit, res.unit)
        });
        let ext = match res.format {
            FileFormat::Csv => "csv",
            FileFormat::Jsonl => "jsonl",
            FileFormat::Xlsx => "xlsx",
            FileFormat::Parquet => "parquet",
        };
        let file_name = r.path.rsplit('/').next().unwrap_or_default();
        f.check(
            r.path == format!("sources/{}/{file_name}", res.unit) && file_name.ends_with(ext),
            || format!("{}: not sources/{}/*.{ext}", r.path, res.unit),
        );
        f.check(glob(&res.files, file_name), || {
            format!(
                "{}: does not match the catalogue's files = {:?}",
                r.path, res.files
            )
        });
        f.check(
            r.truth == format!("truth/{}/{file_name}.truth.csv", res.unit),
            || format!("{}: truth path {}", r.path, r.truth),
        );
        let size = std::fs::metadata(d.out.join(&r.path))
            .map(|m| m.len())
            .unwrap_or(0);
        f.check(size == r.bytes, || {
            format!(
                "{}: {size} bytes on disk, manifest says {}",
                r.path, r.bytes
            )
        });
    }
    f.assert_none("manifest file entries");

    // Every resource of the pack is written, with records, and the per-resource summary adds up.
    let written: BTreeSet<&str> = m.files.iter().map(|f| f.resource.as_str()).collect();
    for r in &pack().resources {
        assert!(
            written.contains(r.code.as_str()),
            "resource {} was not written",
            r.code
        );
    }
    for rr in &m.resources {
        let of: Vec<_> = m
            .files
            .iter()
            .filter(|f| f.resource == rr.resource)
            .collect();
        assert_eq!(rr.files, of.len(), "{}: file count", rr.resource);
        assert_eq!(
            rr.records,
            of.iter().map(|f| f.records).sum::<u64>(),
            "{}",
            rr.resource
        );
        assert_eq!(
            rr.bytes,
            of.iter().map(|f| f.bytes).sum::<u64>(),
            "{}",
            rr.resource
        );
        assert!(
            rr.records > 0,
            "{}: no records at {} people",
            rr.resource,
            d.cfg.people
        );
    }
    assert_eq!(
        m.records_total,
        m.files.iter().map(|f| f.records).sum::<u64>()
    );
    assert_eq!(m.bytes_total, m.files.iter().map(|f| f.bytes).sum::<u64>());

    // manifest.json on disk is the manifest `generate` returned.
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(on_disk, serde_json::to_value(m).unwrap());
}

#[test]
fn every_record_has_one_truth_line() {
    let mut f = Failures::default();
    for fd in all_files() {
        let n = fd.source.rows.len();
        f.check(n == fd.truth.len(), || {
            format!("{}: {n} records, {} truth lines", fd.name(), fd.truth.len())
        });
        f.check(n as u64 == fd.report.records, || {
            format!(
                "{}: {n} records, manifest says {}",
                fd.name(),
                fd.report.records
            )
        });
        if fd.resource.format == FileFormat::Parquet {
            f.check(fd.source.parquet_rows == n as i64, || {
                format!(
                    "{}: metadata says {} rows, read {n}",
                    fd.name(),
                    fd.source.parquet_rows
                )
            });
        }
        if matches!(fd.resource.format, FileFormat::Csv | FileFormat::Jsonl) {
            f.check(fd.source.ends_with_newline, || {
                format!("{}: no final newline", fd.name())
            });
        }
        for (i, t) in fd.truth.iter().enumerate() {
            f.check(t.record == i as u64 + 1, || {
                format!(
                    "{}: truth line {} has record {}",
                    fd.name(),
                    i + 1,
                    t.record
                )
            });
        }
    }
    f.assert_none("record counts");
}

#[test]
fn truth_entities_name_fields_of_the_resource() {
    let mut f = Failures::default();
    for fd in all_files() {
        let res = &fd.resource;
        let required_key = res.fields.iter().any(|x| x.role.is_some() && x.required);
        for t in &fd.truth {
            let mut seen = BTreeSet::new();
            for e in &t.entities {
                f.check(seen.insert(e.field.as_str()), || {
                    format!(
                        "{}: field {} named twice in {:?}",
                        fd.name(),
                        e.field,
                        t.line
                    )
                });
                let role = res.field(&e.field).and_then(|x| x.role);
                let kinds: &[&str] = match (e.field.as_str(), role) {
                    ("newborn", None) if res.code == "birth_certificates" => &["person"],
                    (_, Some(EntityRole::PersonId)) => &["person"],
                    (_, Some(EntityRole::CreditCode)) => &["enterprise"],
                    (_, Some(EntityRole::PartyId)) => &["person", "enterprise"],
                    (_, Some(EntityRole::AddressCode)) => &["address"],
                    (_, Some(EntityRole::BuildingCode)) => &["building"],
                    (_, Some(EntityRole::HouseId)) => &["house"],
                    (_, None) => &[],
                };
                f.check(kinds.contains(&e.kind.as_str()), || {
                    format!(
                        "{}: entity {}={}:{} is not a keyed field of {} with that kind",
                        fd.name(),
                        e.field,
                        e.kind,
                        e.key,
                        res.code
                    )
                });
                f.check(!e.key.is_empty(), || {
                    format!("{}: empty key in {:?}", fd.name(), t.line)
                });
            }
            if required_key {
                f.check(!t.entities.is_empty(), || {
                    format!("{}: truth names no entity: {:?}", fd.name(), t.line)
                });
            }
        }
    }
    f.assert_none("truth entities");
}

#[test]
fn keyed_cells_agree_with_truth_entities() {
    // In every record whose columns line up: a non-empty keyed cell is named in the truth, a
    // named field is non-empty unless its ID is missing, and codes other than person IDs
    // (which carry ID noise, checked in mess.rs) are written exactly as the truth's key.
    let mut f = Failures::default();
    for fd in all_files() {
        let keyed = keyed_fields(&fd.resource);
        for (row, t) in fd.records() {
            if t.unparseable() {
                continue;
            }
            for (col, _, field) in &keyed {
                let cell = row.cell(*col).map(|c| c.str()).unwrap_or("");
                match t.entity(field) {
                    None => f.check(cell.is_empty(), || {
                        format!(
                            "{} #{}: {field}={cell:?} has no truth entity",
                            fd.name(),
                            t.record
                        )
                    }),
                    Some(e) if e.kind == "person" => {
                        f.check(!cell.is_empty() || t.has("id_missing"), || {
                            format!(
                                "{} #{}: {field} is empty without id_missing",
                                fd.name(),
                                t.record
                            )
                        })
                    }
                    // A broken_encoding row carries its invalid bytes right after the first
                    // field, so there the first cell only starts with the key.
                    // An employer may be named by the organisation code inside its credit code.
                    Some(e) => f.check(
                        cell == e.key
                            || (t.has("broken_encoding") && *col == 0 && cell.starts_with(&e.key))
                            || (t.has("organisation_code")
                                && e.kind == "enterprise"
                                && e.key.len() == 18
                                && cell == format!("{}-{}", &e.key[8..16], &e.key[16..17])),
                        || {
                            format!(
                                "{} #{}: {field}={cell:?}, truth {}:{}",
                                fd.name(),
                                t.record,
                                e.kind,
                                e.key
                            )
                        },
                    ),
                }
            }
        }
    }
    f.assert_none("keyed cells");
}

#[test]
fn text_decodes_except_on_broken_encoding_rows() {
    let mut f = Failures::default();
    let mut broken_seen = 0;
    for fd in all_files() {
        if !matches!(fd.resource.format, FileFormat::Csv | FileFormat::Jsonl) {
            continue;
        }
        for (row, t) in fd.records() {
            let broken = t.has("broken_encoding");
            broken_seen += broken as usize;
            f.check(row.decode_error == broken, || {
                format!(
                    "{} #{}: decode error {} but truth noise {:?}",
                    fd.name(),
                    t.record,
                    row.decode_error,
                    t.noise
                )
            });
            f.check(!row.html_entity, || {
                format!(
                    "{} #{}: a character GBK cannot hold was written as &#…;",
                    fd.name(),
                    t.record
                )
            });
            // The generator never writes embedded newlines: no open quote, no CR/LF in a cell.
            f.check(!row.open_quote, || {
                format!("{} #{}: quote left open", fd.name(), t.record)
            });
            if let Some(cells) = &row.cells {
                f.check(
                    cells.iter().all(|c| !c.str().contains(['\n', '\r'])),
                    || format!("{} #{}: a cell holds a line break", fd.name(), t.record),
                );
            }
        }
    }
    f.assert_none("decoding");
    assert!(broken_seen > 0, "no broken_encoding row to check");
}

#[test]
fn jsonl_lines_parse_unless_broken_json() {
    let mut f = Failures::default();
    let mut broken_seen = 0;
    for fd in all_files().filter(|f| f.resource.format == FileFormat::Jsonl) {
        let labels = fd.resource.labels();
        for (row, t) in fd.records() {
            let broken = t.has("broken_json");
            broken_seen += broken as usize;
            f.check(row.cells.is_some() != broken, || {
                format!(
                    "{} #{}: parses={} but truth noise {:?}: {}",
                    fd.name(),
                    t.record,
                    row.cells.is_some(),
                    t.noise,
                    String::from_utf8_lossy(&row.raw)
                )
            });
            if row.cells.is_some() {
                f.check(row.keys == labels, || {
                    format!("{} #{}: keys {:?}", fd.name(), t.record, row.keys)
                });
            }
        }
    }
    f.assert_none("JSON Lines parsing");
    assert!(broken_seen > 0, "no broken_json row to check");
}

#[test]
fn headers_are_the_catalogue_labels_in_order() {
    let mut f = Failures::default();
    for fd in all_files() {
        let labels = fd.resource.labels();
        f.check(fd.source.header == labels, || {
            format!(
                "{}: header {:?}, catalogue {:?}",
                fd.name(),
                fd.source.header,
                labels
            )
        });
        if fd.resource.format == FileFormat::Xlsx {
            f.check(fd.source.xlsx_start == Some((0, 0)), || {
                format!(
                    "{}: the sheet starts at {:?}, not A1",
                    fd.name(),
                    fd.source.xlsx_start
                )
            });
        }
        // Record width: every record that is not damaged has one cell per label.
        for (row, t) in fd.records() {
            if t.unparseable() {
                continue;
            }
            let n = row.cells.as_ref().map_or(0, |c| c.len());
            f.check(n == labels.len(), || {
                format!(
                    "{} #{}: {n} cells, {} labels",
                    fd.name(),
                    t.record,
                    labels.len()
                )
            });
        }
    }
    f.assert_none("headers");
}

#[test]
fn csv_bom_and_line_endings_follow_the_encoding() {
    let mut f = Failures::default();
    let mut seen = BTreeSet::new();
    for fd in all_files() {
        match fd.resource.format {
            FileFormat::Csv => {
                let enc = fd
                    .resource
                    .encoding
                    .expect("a CSV resource declares its encoding");
                seen.insert(enc.as_str());
                let crlf = enc == TextEncoding::Gbk;
                f.check(fd.source.bom == (enc == TextEncoding::Utf8Bom), || {
                    format!("{} ({enc}): BOM present = {}", fd.name(), fd.source.bom)
                });
                f.check(fd.source.header_crlf == crlf, || {
                    format!("{} ({enc}): header line ending", fd.name())
                });
                let wrong = fd.source.rows.iter().filter(|r| r.crlf != crlf).count();
                f.check(wrong == 0, || {
                    format!(
                        "{} ({enc}): {wrong} lines not ending in {}",
                        fd.name(),
                        if crlf { "CRLF" } else { "LF" }
                    )
                });
            }
            FileFormat::Jsonl => {
                let wrong = fd.source.rows.iter().filter(|r| r.crlf).count();
                f.check(wrong == 0, || format!("{}: {wrong} CRLF lines", fd.name()));
            }
            _ => {}
        }
    }
    f.assert_none("BOM and line endings");
    // The pack exercises all three encodings, so each rule above was checked at least once.
    assert_eq!(seen, BTreeSet::from(["gbk", "utf8", "utf8_bom"]));
}

#[test]
fn parquet_schema_types_match_the_catalogue() {
    let mut checked = 0;
    for fd in all_files().filter(|f| f.resource.format == FileFormat::Parquet) {
        let expected: Vec<A> = fd
            .resource
            .fields
            .iter()
            .map(|x| match x.data_type {
                DataType::String | DataType::Month => A::Utf8,
                DataType::Integer => A::Int64,
                DataType::Decimal => A::Decimal128(18, 2),
                DataType::Date => A::Date32,
                DataType::Boolean => A::Boolean,
            })
            .collect();
        assert_eq!(fd.source.arrow_types, expected, "{}", fd.name());
        checked += 1;
    }
    assert!(checked > 0, "no Parquet file");
}

#[test]
fn required_fields_are_filled() {
    // A field the catalogue marks required is never empty in a record whose columns line up.
    // (An ID noise that empties a required field would break the catalogue's contract.)
    let mut f = Failures::default();
    for fd in all_files() {
        for (row, t) in fd.records() {
            if t.unparseable() {
                continue;
            }
            for (i, field) in fd.resource.fields.iter().enumerate() {
                if field.required {
                    let empty = row.cell(i).is_none_or(|c| c.is_null());
                    f.check(!empty, || {
                        format!(
                            "{} #{}: required field {} is empty (truth {:?})",
                            fd.name(),
                            t.record,
                            field.name,
                            t.line
                        )
                    });
                }
            }
        }
    }
    f.assert_none("required fields");
}

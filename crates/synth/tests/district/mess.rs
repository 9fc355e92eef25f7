//! Each kind of mess is real: what the truth says was done to a record is visible in the
//! source text, and a record the truth calls clean is written exactly as the truth.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use miaopi_catalog::{Convention, DataType, FileFormat};
use miaopi_model::{ResidentId, ResidentIdError};
use miaopi_synth::NoiseKind;
use miaopi_synth::names::{HOMOPHONES, surname_len, to_traditional};

use crate::common::{
    Failures, FileData, Row, Style, TruthLine, Val, cell_text, classify_id, date_columns,
    date_style, month_style, name_fields, phone_fields, tally,
};
use crate::{Loaded, all_files, both, noisy_district};

fn codes_with<'a>(t: &'a TruthLine, prefix: &str) -> BTreeMap<&'a str, usize> {
    tally(
        t.noise
            .iter()
            .map(String::as_str)
            .filter(|c| c.starts_with(prefix)),
    )
}

#[test]
fn id_noise_shows_in_the_source() {
    for l in both() {
        let mut f = Failures::default();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let (mut transposed_valid, mut transposed_invalid) = (0, 0);
        for fd in &l.files {
            for (row, t) in fd.records() {
                if t.unparseable() {
                    continue;
                }
                let mut observed: Vec<&str> = Vec::new();
                for e in t
                    .entities
                    .iter()
                    .filter(|e| e.kind == "person" && e.field != "newborn")
                {
                    let col = fd.col(&e.field).expect("entity field is a column");
                    let text = cell_text(row, t, col);
                    let truth = ResidentId::parse(&e.key).expect("truth IDs are valid");
                    let kind = match classify_id(text, &truth) {
                        Ok(k) => k,
                        Err(msg) => {
                            f.push(format!("{} #{} {}: {msg}", fd.name(), t.record, e.field));
                            continue;
                        }
                    };
                    let Some(kind) = kind else { continue };
                    observed.push(kind);
                    *seen.entry(kind).or_default() += 1;
                    let at = || {
                        format!(
                            "{} #{} {}={text:?} (true {})",
                            fd.name(),
                            t.record,
                            e.field,
                            e.key
                        )
                    };
                    match kind {
                        "id_wrong_check" => f.check(
                            matches!(
                                ResidentId::parse(text),
                                Err(ResidentIdError::CheckMismatch { .. })
                            ),
                            || {
                                format!(
                                    "{}: not a check mismatch: {:?}",
                                    at(),
                                    ResidentId::parse(text)
                                )
                            },
                        ),
                        "id_legacy15" | "id_lowercase_x" | "id_separators" | "id_look_alike" => {
                            let lenient = ResidentId::parse_lenient(text).map(|p| p.id);
                            f.check(lenient == Ok(truth), || {
                                format!("{}: lenient parse {lenient:?}", at())
                            });
                            f.check(kind != "id_lowercase_x" || text.contains('x'), at);
                        }
                        "id_missing" => {
                            let required = fd.resource.field(&e.field).is_some_and(|x| x.required);
                            f.check(!required, || format!("{}: a required ID left empty", at()));
                        }
                        "id_transposed" => {
                            // Swaps ten positions apart keep the GB 11643 check valid; adjacent
                            // swaps never do.
                            if ResidentId::parse(text).is_ok() {
                                transposed_valid += 1;
                            } else {
                                transposed_invalid += 1;
                            }
                        }
                        _ => {}
                    }
                }
                let observed = tally(observed);
                let tagged = codes_with(t, "id_");
                f.check(observed == tagged, || {
                    format!(
                        "{} #{}: ID cells show {observed:?}, truth says {tagged:?}",
                        fd.name(),
                        t.record
                    )
                });
            }
        }
        f.assert_none(&format!("{}: ID noise", l.label()));
        for k in [
            "id_wrong_check",
            "id_transposed",
            "id_legacy15",
            "id_lowercase_x",
            "id_missing",
            "id_separators",
            "id_look_alike",
        ] {
            assert!(
                seen.get(k).copied().unwrap_or(0) > 0,
                "{}: no {k} seen: {seen:?}",
                l.label()
            );
        }
        assert!(
            transposed_valid > 0 && transposed_invalid > 0,
            "{}: transposed IDs: {transposed_valid} still pass the check, {transposed_invalid} fail",
            l.label()
        );
    }
}

fn homophones(a: char, b: char) -> bool {
    HOMOPHONES
        .iter()
        .any(|g| g.iter().any(|s| s.starts_with(a)) && g.iter().any(|s| s.starts_with(b)))
}

/// The name noise explaining `text` for the true `name`.
fn classify_name(text: &str, name: &str) -> Result<Option<&'static str>, String> {
    if text == name {
        return Ok(None);
    }
    let split = surname_len(name);
    let (sur, given): (String, String) = (
        name.chars().take(split).collect(),
        name.chars().skip(split).collect(),
    );
    if [
        format!(" {name}"),
        format!("{name} "),
        format!("{sur} {given}"),
    ]
    .contains(&text.to_string())
    {
        return Ok(Some("name_spaces"));
    }
    if text == format!("{sur}\u{3000}{given}") {
        return Ok(Some("name_full_width"));
    }
    if to_traditional(name).as_deref() == Some(text) {
        return Ok(Some("name_traditional"));
    }
    let (a, b): (Vec<char>, Vec<char>) = (name.chars().collect(), text.chars().collect());
    if a.len() == b.len() {
        let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        if diff.len() == 1 && diff[0] >= split && homophones(a[diff[0]], b[diff[0]]) {
            return Ok(Some("name_homophone"));
        }
    }
    if text == format!("{given}{sur}") {
        return Ok(Some("name_swapped_order"));
    }
    if a.len() >= 3
        && b.len() + 1 == a.len()
        && (0..a.len()).any(|skip| {
            a.iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, c)| c)
                .eq(b.iter())
        })
    {
        return Ok(Some("name_dropped_character"));
    }
    Err(format!("{text:?} is not a known mess of {name:?}"))
}

#[test]
fn name_noise_shows_in_the_source() {
    for l in both() {
        let mut f = Failures::default();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for fd in &l.files {
            let names = name_fields(&fd.resource);
            for (row, t) in fd.records() {
                if t.unparseable() {
                    continue;
                }
                let mut observed = Vec::new();
                for (col, who) in &names {
                    let Some(e) = t.entity(who) else { continue };
                    let text = cell_text(row, t, *col);
                    let truth = match e.kind.as_str() {
                        "person" => l.entities.person_name(&e.key),
                        // An enterprise owner's name is written as registered, without noise.
                        _ => l.entities.enterprises_by_uscc.get(&e.key).map(|&i| {
                            l.entities.enterprises.rows[i][l.entities.enterprises.col("name")]
                                .as_str()
                        }),
                    };
                    let Some(truth) = truth else {
                        f.push(format!(
                            "{} #{}: {} {} not in the entity truth",
                            fd.name(),
                            t.record,
                            e.kind,
                            e.key
                        ));
                        continue;
                    };
                    match classify_name(text, truth) {
                        Ok(Some(k)) if e.kind == "person" => {
                            observed.push(k);
                            *seen.entry(k).or_default() += 1;
                        }
                        Ok(None) => {}
                        Ok(Some(k)) => f.push(format!(
                            "{} #{}: enterprise name with {k}",
                            fd.name(),
                            t.record
                        )),
                        Err(msg) => f.push(format!("{} #{}: {msg}", fd.name(), t.record)),
                    }
                }
                let observed = tally(observed);
                let tagged = codes_with(t, "name_");
                f.check(observed == tagged, || {
                    format!(
                        "{} #{}: names show {observed:?}, truth says {tagged:?}",
                        fd.name(),
                        t.record
                    )
                });
            }
        }
        f.assert_none(&format!("{}: name noise", l.label()));
        for k in [
            "name_traditional",
            "name_spaces",
            "name_full_width",
            "name_homophone",
            "name_dropped_character",
            "name_swapped_order",
        ] {
            assert!(
                seen.get(k).copied().unwrap_or(0) > 0,
                "{}: no {k} seen: {seen:?}",
                l.label()
            );
        }
    }
}

/// How a written date cell reads.
enum DateCell {
    /// Written as the file's house style (a native date in XLSX).
    House,
    Native,
    /// A real date in some style.
    Styled(Style),
    /// A date that cannot exist, such as 2023-02-30.
    Impossible,
    /// No end date (`长期`), where the field accepts it.
    OpenEnd,
    Unreadable(String),
}

fn read_date(v: &Val) -> Option<DateCell> {
    match v {
        v if v.is_null() => None,
        Val::Date(_) => Some(DateCell::Native),
        Val::Text(s) if s == "长期" || s == "长期有效" => Some(DateCell::OpenEnd),
        Val::Text(s) => Some(match date_style(s) {
            Some((style, Some(_))) => DateCell::Styled(style),
            Some((_, None)) => DateCell::Impossible,
            None => DateCell::Unreadable(s.clone()),
        }),
        other => Some(DateCell::Unreadable(other.to_string())),
    }
}

/// The house style of each unit: the styles of dates in records without date noise and of
/// month cells, over all the unit's text files. Each unit must have exactly one.
fn house_styles(l: &Loaded, f: &mut Failures) -> HashMap<String, Style> {
    let mut styles: BTreeMap<&str, BTreeMap<Style, usize>> = BTreeMap::new();
    for fd in &l.files {
        if !matches!(fd.resource.format, FileFormat::Csv | FileFormat::Jsonl) {
            continue;
        }
        for (row, t) in fd.records() {
            if t.has("date_format") || t.broken() {
                continue;
            }
            for (i, field) in fd.resource.fields.iter().enumerate() {
                let Some(v) = row.cell(i).filter(|v| !v.is_null()) else {
                    continue;
                };
                let style = match field.data_type {
                    DataType::Date => match read_date(v) {
                        Some(DateCell::Styled(s)) => Some(s),
                        Some(DateCell::OpenEnd) if field.accepts.contains(&Convention::OpenEnd) => {
                            None
                        }
                        _ => {
                            f.push(format!(
                                "{} #{} {}: {v} is not a date",
                                fd.name(),
                                t.record,
                                field.name
                            ));
                            None
                        }
                    },
                    DataType::Month => {
                        let s = month_style(v.str());
                        f.check(s.is_some(), || {
                            format!(
                                "{} #{} {}: {v} is not a month",
                                fd.name(),
                                t.record,
                                field.name
                            )
                        });
                        s
                    }
                    _ => None,
                };
                if let Some(s) = style {
                    *styles
                        .entry(&fd.resource.unit)
                        .or_default()
                        .entry(s)
                        .or_default() += 1;
                }
            }
        }
    }
    let mut out = HashMap::new();
    for (unit, s) in styles {
        f.check(s.len() == 1, || {
            format!(
                "{}: unit {unit} writes dates in several styles: {s:?}",
                l.label()
            )
        });
        if let Some((&style, _)) = s.iter().max_by_key(|(_, n)| **n) {
            out.insert(unit.to_string(), style);
        }
    }
    out
}

#[test]
fn date_noise_shows_in_the_source() {
    for l in both() {
        let mut f = Failures::default();
        let house = house_styles(l, &mut f);
        let (mut seen_format, mut seen_broken) = (0, 0);
        for fd in &l.files {
            let dates = date_columns(&fd.resource);
            if dates.is_empty() || fd.resource.format == FileFormat::Parquet {
                continue;
            }
            let unit_style = house.get(&fd.resource.unit).copied();
            for (row, t) in fd.records() {
                if t.unparseable() {
                    continue;
                }
                let (mut other_style, mut impossible) = (0, Vec::new());
                for &c in &dates {
                    let Some(cell) = row.cell(c).and_then(read_date) else {
                        continue;
                    };
                    let cell = match (fd.resource.format, cell) {
                        (FileFormat::Xlsx, DateCell::Native) => DateCell::House,
                        (_, DateCell::Styled(s))
                            if fd.resource.format != FileFormat::Xlsx && Some(s) == unit_style =>
                        {
                            DateCell::House
                        }
                        (_, other) => other,
                    };
                    match cell {
                        DateCell::House => {}
                        DateCell::OpenEnd => f.check(
                            fd.resource.fields[c].accepts.contains(&Convention::OpenEnd),
                            || format!("{} #{}: 长期 in column {c}", fd.name(), t.record),
                        ),
                        DateCell::Styled(_) => other_style += 1,
                        DateCell::Impossible => impossible.push(c),
                        DateCell::Native => f.push(format!(
                            "{} #{}: a native date in a text file, column {c}",
                            fd.name(),
                            t.record
                        )),
                        DateCell::Unreadable(s) => f.push(format!(
                            "{} #{}: unreadable date {s:?} in column {c}",
                            fd.name(),
                            t.record
                        )),
                    }
                }
                seen_format += other_style;
                seen_broken += impossible.len();
                let tagged = t.count("date_format");
                let broken_date = t.count("broken_date");
                // A broken_date overwrites the first date column; if that value had been written
                // in another style, its date_format tag stays although the style is gone.
                let ok = if broken_date > 0 {
                    other_style == tagged || other_style + 1 == tagged
                } else {
                    other_style == tagged
                };
                f.check(ok, || {
                    format!(
                        "{} #{}: {other_style} dates in another style, truth says {tagged} date_format ({:?})",
                        fd.name(),
                        t.record,
                        t.line
                    )
                });
                f.check(impossible.len() == broken_date && impossible.iter().all(|&c| c == dates[0]), || {
                    format!(
                        "{} #{}: impossible dates in columns {impossible:?}, truth says {broken_date} broken_date",
                        fd.name(),
                        t.record
                    )
                });
            }
        }
        f.assert_none(&format!("{}: date noise", l.label()));
        assert!(
            seen_format > 0 && seen_broken > 0,
            "{}: {seen_format} restyled, {seen_broken} impossible",
            l.label()
        );
    }
}

#[test]
fn broken_columns_rows_lack_one_column() {
    let mut seen = 0;
    let mut f = Failures::default();
    for fd in all_files().filter(|fd| fd.resource.format == FileFormat::Csv) {
        let n = fd.resource.fields.len();
        for (row, t) in fd.records() {
            let width = row.cells.as_ref().map_or(0, Vec::len);
            let expected = if t.has("broken_columns") { n - 1 } else { n };
            seen += t.has("broken_columns") as usize;
            f.check(width == expected, || {
                format!(
                    "{} #{}: {width} columns, expected {expected} ({:?})",
                    fd.name(),
                    t.record,
                    t.noise
                )
            });
        }
    }
    f.assert_none("CSV widths");
    assert!(seen > 0, "no broken_columns row");
}

fn same_record(fd: &FileData, a: &Row, b: &Row) -> bool {
    match fd.resource.format {
        FileFormat::Csv | FileFormat::Jsonl => a.raw == b.raw,
        FileFormat::Xlsx | FileFormat::Parquet => a.cells == b.cells,
    }
}

#[test]
fn duplicates_repeat_the_previous_record_and_only_they_do() {
    let mut f = Failures::default();
    let mut seen = BTreeSet::new();
    for fd in all_files() {
        let rows = &fd.source.rows;
        for (i, (row, t)) in fd.records().enumerate() {
            let same = i > 0 && same_record(fd, row, &rows[i - 1]);
            if t.is_duplicate() {
                seen.insert(fd.resource.format.as_str());
                f.check(same, || {
                    format!(
                        "{} #{}: tagged duplicate but differs from #{}",
                        fd.name(),
                        t.record,
                        i
                    )
                });
            } else {
                f.check(!same, || {
                    format!(
                        "{} #{}: repeats #{i} without a duplicate tag",
                        fd.name(),
                        t.record
                    )
                });
            }
        }
    }
    f.assert_none("duplicates");
    assert_eq!(seen.len(), 4, "duplicates seen only in {seen:?}");
}

/// Full-width digits to ASCII and the building-word variants to 栋.
fn normalise_address(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - 0xFF10 + 0x30).unwrap_or(c),
            '座' | '幢' => '栋',
            c => c,
        })
        .collect()
}

#[test]
fn address_phone_and_stale_noise_show_in_the_source() {
    for l in both() {
        let mut f = Failures::default();
        // The standard addresses as the planning unit sends them.
        let std_file = l
            .files_of("standard_addresses")
            .next()
            .expect("standard_addresses");
        let (code_col, full_col) = (
            std_file.col("address_code").unwrap(),
            std_file.col("full_address").unwrap(),
        );
        // (A damaged row still has both: broken_columns drops the last column, broken_encoding
        // appends its bytes to the first field, which cell_text removes.)
        let standard: HashMap<&str, &str> = std_file
            .records()
            .map(|(r, t)| (cell_text(r, t, code_col), cell_text(r, t, full_col)))
            .collect();
        let originals = std_file.truth.iter().filter(|t| !t.is_duplicate()).count();
        assert_eq!(standard.len(), originals, "address codes are unique");
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for fd in &l.files {
            let address = fd.col("address");
            let phones = phone_fields(&fd.resource);
            for (row, t) in fd.records() {
                if t.unparseable() {
                    continue;
                }
                if let (Some(col), Some(e)) = (address, t.entity("address_code")) {
                    let text = cell_text(row, t, col);
                    let Some(std) = standard.get(e.key.as_str()) else {
                        f.push(format!(
                            "{} #{}: address {} not among the standard addresses",
                            fd.name(),
                            t.record,
                            e.key
                        ));
                        continue;
                    };
                    if t.has("address_variant") {
                        *seen.entry("address_variant").or_default() += 1;
                        let ok = text != *std
                            && normalise_address(std).ends_with(&normalise_address(text));
                        f.check(ok, || {
                            format!("{} #{}: variant {text:?} of {std:?}", fd.name(), t.record)
                        });
                    } else {
                        f.check(text == *std, || {
                            format!(
                                "{} #{}: {text:?} is not the standard {std:?}",
                                fd.name(),
                                t.record
                            )
                        });
                    }
                }
                let mut conflicts = 0;
                for (col, who) in &phones {
                    let Some(e) = t.entity(who) else { continue };
                    let text = cell_text(row, t, *col);
                    let current = l.entities.person(&e.key, "phone").unwrap_or("?");
                    if text != current {
                        conflicts += 1;
                        f.check(
                            text.len() == 11
                                && text.starts_with('1')
                                && text.bytes().all(|b| b.is_ascii_digit()),
                            || {
                                format!(
                                    "{} #{}: phone {text:?} is not a mobile number",
                                    fd.name(),
                                    t.record
                                )
                            },
                        );
                    }
                }
                *seen.entry("phone_conflict").or_default() += conflicts;
                f.check(conflicts == t.count("phone_conflict"), || {
                    format!(
                        "{} #{}: {conflicts} phones differ from the person's, truth {:?}",
                        fd.name(),
                        t.record,
                        t.noise
                    )
                });
            }
        }
        // Stale versions: an earlier registration at a previous address, followed by the
        // current one; every current registration is at the person's home.
        for fd in l.files_of("residence_registrations") {
            let originals: Vec<&TruthLine> =
                fd.truth.iter().filter(|t| !t.is_duplicate()).collect();
            for (k, t) in originals.iter().enumerate() {
                let (Some(p), Some(a)) = (t.entity("resident_id"), t.entity("address_code")) else {
                    f.push(format!("{} #{}: no person or address", fd.name(), t.record));
                    continue;
                };
                let home = l
                    .entities
                    .person(&p.key, "home_address_code")
                    .unwrap_or("?");
                if t.has("stale_version") {
                    *seen.entry("stale_version").or_default() += 1;
                    let next = originals.get(k + 1);
                    f.check(a.key != home, || {
                        format!("{} #{}: stale row at the current home", fd.name(), t.record)
                    });
                    f.check(
                        next.is_some_and(|n| {
                            n.entity("resident_id") == Some(p)
                                && !n.has("stale_version")
                                && n.entity("address_code").is_some_and(|x| x.key == home)
                        }),
                        || {
                            format!(
                                "{} #{}: stale row not followed by the current one",
                                fd.name(),
                                t.record
                            )
                        },
                    );
                } else {
                    f.check(a.key == home, || {
                        format!(
                            "{} #{}: current registration at {} but home is {home}",
                            fd.name(),
                            t.record,
                            a.key
                        )
                    });
                }
            }
        }
        f.assert_none(&format!("{}: address, phone and stale noise", l.label()));
        for k in ["address_variant", "phone_conflict", "stale_version"] {
            assert!(
                seen.get(k).copied().unwrap_or(0) > 0,
                "{}: no {k} seen: {seen:?}",
                l.label()
            );
        }
    }
}

#[test]
fn every_kind_of_mess_occurs_in_the_noisy_district() {
    let l = noisy_district();
    let present: BTreeSet<&str> = l
        .files
        .iter()
        .flat_map(|fd| fd.truth.iter())
        .flat_map(|t| t.noise.iter().map(String::as_str))
        .collect();
    let missing: Vec<&str> = NoiseKind::ALL
        .iter()
        .map(|k| k.code())
        .filter(|c| !present.contains(c))
        .collect();
    assert!(missing.is_empty(), "never applied: {missing:?}");
}

//! Noise accounting: the truth's noise tags against the manifest's tallies, the manifest's
//! eligible counts against what the sources hold, and the applied rates against the configured
//! ones within binomial tolerance.

use std::collections::BTreeMap;

use chrono::Datelike;
use miaopi_catalog::{DataType, FileFormat};
use miaopi_model::ResidentId;
use miaopi_synth::NoiseKind;
use miaopi_synth::names::{HOMOPHONES, surname_len, to_traditional};

use crate::common::{Failures, FileData, date_columns, name_fields};
use crate::{Loaded, both};

/// The applied tallies the truth implies. A duplicate row repeats its original's bytes, so it
/// also repeats the original's noise tags: those were applied once (to the original) and are not
/// counted again; the row's own tag is `duplicate`, counted once per duplicate row. The test
/// also checks that a duplicate's tags are exactly its predecessor's plus `duplicate`.
fn truth_tallies(l: &Loaded, f: &mut Failures) -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for fd in &l.files {
        for (i, t) in fd.truth.iter().enumerate() {
            for code in &t.noise {
                f.check(NoiseKind::from_code(code).is_some(), || {
                    format!("{} #{}: unknown noise code {code:?}", fd.name(), t.record)
                });
            }
            if t.is_duplicate() {
                f.check(t.count("duplicate") == 1, || {
                    format!("{} #{}: {:?}", fd.name(), t.record, t.noise)
                });
                let prev = i.checked_sub(1).map(|p| &fd.truth[p]);
                let ok = prev.is_some_and(|p| {
                    let mut expected = p.noise.clone();
                    expected.push("duplicate".into());
                    p.entities == t.entities && expected == t.noise
                });
                f.check(ok, || {
                    format!(
                        "{} #{}: duplicate's truth {:?} is not its predecessor's {:?} + duplicate",
                        fd.name(),
                        t.record,
                        t.line,
                        prev.map(|p| &p.line)
                    )
                });
                *counts.entry("duplicate".into()).or_default() += 1;
            } else {
                for code in &t.noise {
                    *counts.entry(code.clone()).or_default() += 1;
                }
            }
        }
    }
    counts
}

#[test]
fn truth_noise_tags_equal_the_manifest_tallies() {
    for l in both() {
        let mut f = Failures::default();
        let counts = truth_tallies(l, &mut f);
        f.assert_none(&format!("{}: truth noise tags", l.label()));
        let applied = &l.generated.manifest.noise.applied;
        let mut manifest: BTreeMap<String, u64> = applied.clone();
        let broken = manifest.remove("broken").unwrap_or(0);
        assert_eq!(
            counts,
            manifest,
            "{}: truth tags vs manifest applied",
            l.label()
        );
        let broken_kinds: u64 = counts
            .iter()
            .filter(|(k, _)| k.starts_with("broken_"))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(
            broken,
            broken_kinds,
            "{}: applied[broken] vs the broken_* kinds",
            l.label()
        );
        for (k, v) in &l.generated.manifest.noise.applied {
            let e = l.generated.manifest.noise.eligible.get(k.as_str()).copied();
            let e = if k.starts_with("broken_") {
                l.generated.manifest.noise.eligible.get("broken").copied()
            } else {
                e
            };
            assert!(
                e.is_some_and(|e| e >= *v),
                "{}: {k} applied {v} > eligible {e:?}",
                l.label()
            );
        }
    }
}

/// Number of broken kinds a file's format allows (the `broken` rate is split evenly among them).
fn broken_kinds(fd: &FileData) -> usize {
    let has_date = fd
        .resource
        .fields
        .iter()
        .any(|f| f.data_type == DataType::Date) as usize;
    match fd.resource.format {
        FileFormat::Csv => 2 + has_date,
        FileFormat::Jsonl => 1 + has_date,
        FileFormat::Xlsx => has_date,
        FileFormat::Parquet => 0,
    }
}

/// What the sources and truth say each eligible count must be.
#[derive(Default, Debug)]
struct Observed {
    id_cells: u64,
    id_optional: u64,
    id_legacy_possible: u64,
    id_ends_x: u64,
    name_cells: u64,
    name_traditional_possible: u64,
    name_homophone_possible: u64,
    address_texts: u64,
    records: u64,
    broken_eligible: u64,
    date_cells_min: u64,
    date_cells_max: u64,
    /// Σ over X-ending IDs of P(no earlier ID noise) (see `rates_are_within_tolerance`).
    lowercase_x_unblocked: f64,
    lowercase_x_unblocked_var: Vec<f64>,
    damaged: u64,
    /// Σ over files of records × 1/kinds, per broken kind.
    broken_share: BTreeMap<&'static str, f64>,
}

fn homophone_possible(name: &str) -> bool {
    name.chars().skip(surname_len(name)).any(|c| {
        HOMOPHONES
            .iter()
            .any(|g| g.iter().any(|s| s.starts_with(c)))
    })
}

fn observe(l: &Loaded) -> Observed {
    let cfg = &l.generated.cfg.noise;
    let mut o = Observed::default();
    for fd in &l.files {
        let names = name_fields(&fd.resource);
        let dates = date_columns(&fd.resource);
        let has_address = fd.resource.field("address").is_some();
        let kinds = broken_kinds(fd);
        let text_dates = fd.resource.format != FileFormat::Parquet;
        let mut file_records = 0u64;
        for (row, t) in fd.records() {
            if t.is_duplicate() {
                continue;
            }
            file_records += 1;
            o.records += 1;
            if t.has("broken_columns") || t.has("broken_encoding") || t.has("broken_json") {
                o.damaged += 1;
            }
            for e in &t.entities {
                if e.kind != "person" || e.field == "newborn" {
                    continue;
                }
                let id = ResidentId::parse(&e.key).expect("truth IDs are valid");
                let optional = !fd.resource.field(&e.field).expect("entity field").required;
                let legacy = (1900..=1999).contains(&id.birth_date().year());
                o.id_cells += 1;
                o.id_optional += optional as u64;
                o.id_legacy_possible += legacy as u64;
                if e.key.ends_with('X') {
                    o.id_ends_x += 1;
                    let q = cfg.id_wrong_check
                        + cfg.id_transposed
                        + cfg.id_separators
                        + cfg.id_look_alike
                        + if optional { cfg.id_missing } else { 0.0 }
                        + if legacy { cfg.id_legacy15 } else { 0.0 };
                    let p = cfg.id_lowercase_x * (1.0 - q);
                    o.lowercase_x_unblocked += p;
                    o.lowercase_x_unblocked_var.push(p * (1.0 - p));
                }
            }
            for (_, who) in &names {
                let Some(e) = t.entity(who) else { continue };
                if e.kind != "person" {
                    continue;
                }
                let name = l
                    .entities
                    .person_name(&e.key)
                    .expect("named person in the truth");
                o.name_cells += 1;
                o.name_traditional_possible += to_traditional(name).is_some() as u64;
                o.name_homophone_possible += homophone_possible(name) as u64;
            }
            o.address_texts += has_address as u64;
            if text_dates && !dates.is_empty() {
                if t.has("broken_json") {
                    o.date_cells_max += dates.len() as u64;
                } else {
                    let present = dates
                        .iter()
                        // A licence without end is written 长期, not as a date.
                        .filter(|&&c| {
                            row.cell(c)
                                .is_some_and(|v| !v.is_null() && !v.str().starts_with("长期"))
                        })
                        .count() as u64;
                    o.date_cells_min += present;
                    o.date_cells_max += present;
                    if t.has("broken_columns") && dates.contains(&(fd.resource.fields.len() - 1)) {
                        o.date_cells_max += 1;
                    }
                }
            }
        }
        if kinds > 0 {
            o.broken_eligible += file_records;
            let has_date = !dates.is_empty();
            let list: &[&'static str] = match fd.resource.format {
                FileFormat::Csv => &["broken_columns", "broken_encoding", "broken_date"],
                FileFormat::Jsonl => &["broken_json", "broken_date"],
                _ => &["broken_date"],
            };
            for k in list {
                if *k != "broken_date" || has_date {
                    *o.broken_share.entry(k).or_default() += file_records as f64 / kinds as f64;
                }
            }
        }
    }
    o
}

#[test]
fn eligible_counts_match_the_sources() {
    for l in both() {
        let o = observe(l);
        let e = &l.generated.manifest.noise.eligible;
        let get = |k: &str| e.get(k).copied().unwrap_or(0);
        let label = l.label();
        assert!(
            o.id_cells > 0 && o.name_cells > 0 && o.address_texts > 0,
            "{label}: {o:?}"
        );
        assert_eq!(get("id_wrong_check"), o.id_cells, "{label}: ID cells");
        assert_eq!(get("id_transposed"), o.id_cells, "{label}: ID cells");
        // id_missing is only possible where the catalogue marks the ID optional.
        assert_eq!(
            get("id_missing"),
            o.id_optional,
            "{label}: IDs in optional fields"
        );
        assert_eq!(
            get("id_legacy15"),
            o.id_legacy_possible,
            "{label}: IDs of people born 1900-1999"
        );
        assert_eq!(
            get("id_lowercase_x"),
            o.id_ends_x,
            "{label}: IDs ending in X"
        );
        assert_eq!(
            get("name_spaces"),
            o.name_cells,
            "{label}: person-name cells"
        );
        assert_eq!(
            get("name_full_width"),
            o.name_cells,
            "{label}: person-name cells"
        );
        assert_eq!(
            get("name_traditional"),
            o.name_traditional_possible,
            "{label}: names with a traditional form"
        );
        assert_eq!(
            get("address_variant"),
            o.address_texts,
            "{label}: free-text addresses"
        );
        assert_eq!(get("duplicate"), o.records, "{label}: original records");
        assert_eq!(
            get("broken"),
            o.broken_eligible,
            "{label}: records of breakable files"
        );
        let dates = get("date_format");
        assert!(
            (o.date_cells_min..=o.date_cells_max).contains(&dates),
            "{label}: date_format eligible {dates}, the sources hold {}..={} written dates",
            o.date_cells_min,
            o.date_cells_max
        );
    }
}

#[test]
fn name_homophone_eligible_counts_only_names_it_can_alter() {
    // Like name_traditional (counted only for names with a traditional form) and id_legacy15
    // (only for IDs of people born 1900–1999), name_homophone should count a name as eligible
    // only when it has a given-name character with a homophone; otherwise the mess cannot be
    // applied and applied/eligible understates the configured rate.
    for l in both() {
        let o = observe(l);
        let e = l
            .generated
            .manifest
            .noise
            .eligible
            .get("name_homophone")
            .copied();
        assert_eq!(
            e,
            Some(o.name_homophone_possible),
            "{}: name_homophone eligible vs the {} of {} name cells that have a homophone \
             candidate (noise.rs person_name counts every name)",
            l.label(),
            o.name_homophone_possible,
            o.name_cells
        );
    }
}

/// Asserts `applied` is within 4 standard deviations (+1 for rounding) of `expected`.
fn within(
    label: &str,
    kind: &str,
    applied: u64,
    expected: f64,
    var: f64,
    n: u64,
) -> Option<String> {
    let tol = 4.0 * var.sqrt() + 1.0;
    let ok = (applied as f64 - expected).abs() <= tol;
    (!ok).then(|| {
        format!(
            "{label}: {kind} applied {applied} of {n}, expected {expected:.1} ± {tol:.1} \
             (observed rate {:.5}, expected {:.5})",
            applied as f64 / n.max(1) as f64,
            expected / n.max(1) as f64
        )
    })
}

#[test]
fn rates_are_within_binomial_tolerance() {
    // Each applied count is compared with its expectation under the generator's documented
    // rules, only where the sample is large enough (≥ 2000 eligible, ≥ 30 expected):
    //
    // * Most kinds: each eligible value is hit independently with the configured rate p, so
    //   applied ~ Binomial(eligible, p).
    // * id_lowercase_x: person_id draws one x ∈ [0,1) and walks the branches id_wrong_check,
    //   id_transposed, id_missing (only if the field may be empty), id_legacy15 (only for IDs
    //   of people born 1900–1999), id_separators, id_look_alike, each taking a disjoint
    //   interval of x of its rate; only when
    //   none of them hit (probability 1 − q, q the sum of the rates that applied to that ID) is
    //   the lower-case x tried, with its own rate. So each X-ending ID is hit with probability
    //   p_x·(1 − q_i), q_i computed per ID from its field (optional?) and birth year.
    // * name_homophone: applied only when the name has a given-name character with a
    //   homophone, so the expectation is p over those names only.
    // * duplicate: a record damaged beyond repair (columns, encoding, JSON) is never sent twice.
    // * broken_*: a breakable record is broken with the `broken` rate, the kind chosen evenly
    //   among the kinds its format allows (CSV: columns, encoding, date if it has a date field;
    //   JSONL: JSON, date if any; XLSX: date if any).
    for l in both() {
        let cfg = &l.generated.cfg.noise;
        let m = &l.generated.manifest.noise;
        let o = observe(l);
        let applied = |k: &str| m.applied.get(k).copied().unwrap_or(0);
        let label = l.label();
        let mut f = Failures::default();
        let mut checked = Vec::new();
        let mut check = |kind: &str, a: u64, expected: f64, var: f64, n: u64| {
            if n >= 2000 && expected >= 30.0 {
                checked.push(kind.to_string());
                if let Some(msg) = within(label, kind, a, expected, var, n) {
                    f.push(msg);
                }
            }
        };
        for kind in NoiseKind::ALL {
            let code = kind.code();
            let p = cfg.rate(kind);
            match kind {
                NoiseKind::IdLowercaseX => {
                    let var: f64 = o.lowercase_x_unblocked_var.iter().sum();
                    check(
                        code,
                        applied(code),
                        o.lowercase_x_unblocked,
                        var,
                        o.id_ends_x,
                    );
                }
                NoiseKind::NameHomophone => {
                    let n = o.name_homophone_possible;
                    check(
                        code,
                        applied(code),
                        p * n as f64,
                        n as f64 * p * (1.0 - p),
                        n,
                    );
                }
                NoiseKind::Duplicate => {
                    let n = o.records - o.damaged;
                    check(
                        code,
                        applied(code),
                        p * n as f64,
                        n as f64 * p * (1.0 - p),
                        o.records,
                    );
                }
                NoiseKind::BrokenColumns
                | NoiseKind::BrokenEncoding
                | NoiseKind::BrokenDate
                | NoiseKind::BrokenJson => {
                    // Each breakable record is hit with p/k_f; Σ n_f/k_f is the share. The
                    // variance Σ n_f·(p/k_f)(1 − p/k_f) is bounded by the mean.
                    let share = o.broken_share.get(code).copied().unwrap_or(0.0);
                    let mean = share * p;
                    check(code, applied(code), mean, mean, o.broken_eligible);
                }
                _ => {
                    let n = m.eligible.get(code).copied().unwrap_or(0);
                    check(
                        code,
                        applied(code),
                        p * n as f64,
                        n as f64 * p * (1.0 - p),
                        n,
                    );
                }
            }
        }
        let n = m.eligible.get("broken").copied().unwrap_or(0);
        check(
            "broken",
            applied("broken"),
            cfg.broken * n as f64,
            n as f64 * cfg.broken * (1.0 - cfg.broken),
            n,
        );
        f.assert_none(&format!("{label}: noise rates"));
        // The default district is big enough to check the common kinds.
        if label == "default10k" {
            for k in [
                "id_wrong_check",
                "id_transposed",
                "id_legacy15",
                "id_lowercase_x",
                "id_missing",
                "name_traditional",
                "name_spaces",
                "date_format",
                "address_variant",
                "duplicate",
                "broken",
                "broken_columns",
                "broken_encoding",
            ] {
                assert!(
                    checked.iter().any(|c| c == k),
                    "{label}: {k} was not checked: {checked:?}"
                );
            }
        }
    }
}

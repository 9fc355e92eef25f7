//! The standardiser against the generator's truth: a 3,000-person district is generated once,
//! every source file is read with `miaopi_ingest::read::open` and standardised, and each
//! record's outcome is compared with what the generator knows it did (`truth/…truth.csv`:
//! the true entity behind every key field and the noise applied).
//!
//! One pass over the district fills a [`Summary`]; each test asserts one part of it, and
//! `report` prints where every noise kind ends (run with `--nocapture`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use miaopi_catalog::{EntityRole, Pack, Resource};
use miaopi_ingest::read::{ReadOptions, open};
use miaopi_ingest::standardize::reason;
use miaopi_ingest::{
    FixKind, KeyStatus, Outcome, RawRecord, RawValue, ReadItem, Standardizer, Value,
    normalise_address,
};
use miaopi_synth::{NoProgress, SynthConfig};

const PEOPLE: u64 = 3_000;

fn pack() -> &'static Pack {
    static PACK: OnceLock<Pack> = OnceLock::new();
    PACK.get_or_init(|| {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packs/futian"));
        Pack::load(dir).unwrap_or_else(|errors| {
            panic!(
                "the Futian pack does not load:\n{}",
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
    })
}

/// One line of a truth file.
struct Truth {
    /// field → (kind, key), e.g. `resident_id` → (`person`, `440304…`).
    entities: HashMap<String, (String, String)>,
    noise: Vec<String>,
}

impl Truth {
    fn has(&self, noise: &str) -> bool {
        self.noise.iter().any(|n| n == noise)
    }

    fn entity(&self, field: &str) -> Option<(&str, &str)> {
        self.entities
            .get(field)
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn read_truth(path: &Path) -> Vec<Truth> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .map(|line| {
            let mut cols = line.splitn(3, ',');
            let _record = cols.next();
            let entities = cols
                .next()
                .unwrap_or("")
                .split(';')
                .filter(|s| !s.is_empty())
                .filter_map(|e| {
                    let (field, rest) = e.split_once('=')?;
                    let (kind, key) = rest.split_once(':')?;
                    Some((field.to_string(), (kind.to_string(), key.to_string())))
                })
                .collect();
            let noise = cols
                .next()
                .unwrap_or("")
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            Truth { entities, noise }
        })
        .collect()
}

/// A simple CSV table of the truth directory (no quoted fields there): header → column.
fn read_table(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Where records of one noise kind ended.
#[derive(Debug, Default, Clone)]
struct Ends {
    total: u64,
    rejected: u64,
    key_invalid: u64,
    key_missing: u64,
    fixed: u64,
    clean: u64,
}

#[derive(Debug, Default)]
struct Transpositions {
    /// (span, resource has the subject's birth date and sex) → (total, caught)
    by_kind: BTreeMap<(usize, bool), (u64, u64)>,
}

/// A row of the address register, for the address parser's own check.
struct RegisterRow {
    full_address: String,
    street_code: String,
    community_code: String,
    road: String,
    house_number: String,
    building_code: String,
    unit: Option<String>,
    room: Option<String>,
}

#[derive(Default)]
struct Summary {
    files: u64,
    records: u64,
    bad_records: u64,
    /// noise code (or `none`) → where its records ended.
    ends: BTreeMap<String, Ends>,
    fix_counts: BTreeMap<&'static str, u64>,
    reject_codes: BTreeMap<&'static str, u64>,
    transpositions: Transpositions,
    /// Failures by check; each test asserts its list is empty.
    failures: BTreeMap<&'static str, Vec<String>>,
    /// How many values each check compared (so an empty failure list is not vacuous).
    checked: BTreeMap<&'static str, u64>,
    register: Vec<RegisterRow>,
    /// address code → standard address, from the register as standardised.
    register_by_code: HashMap<String, String>,
    building_names: HashMap<String, String>,
    read_errors: Vec<String>,
}

impl Summary {
    fn fail(&mut self, check: &'static str, message: String) {
        let list = self.failures.entry(check).or_default();
        if list.len() < 50 {
            list.push(message);
        } else if list.len() == 50 {
            list.push("… (more)".to_string());
        }
    }

    fn check(&mut self, check: &'static str) {
        *self.checked.entry(check).or_default() += 1;
    }

    fn failures(&self, check: &str) -> &[String] {
        self.failures.get(check).map_or(&[], Vec::as_slice)
    }

    fn assert_clean(&self, check: &'static str) {
        let n = self.checked.get(check).copied().unwrap_or(0);
        assert!(n > 0, "check {check} compared nothing");
        let f = self.failures(check);
        assert!(
            f.is_empty(),
            "{check}: {} failures of {n}:\n{}",
            f.len(),
            f.join("\n")
        );
    }
}

/// The true people (residents and outsiders) and enterprises.
struct World {
    person_name: HashMap<String, String>,
    person_birth: HashMap<String, String>,
    person_death: HashMap<String, String>,
    enterprise_name: HashMap<String, String>,
}

fn load_world(truth: &Path) -> World {
    let mut w = World {
        person_name: HashMap::new(),
        person_birth: HashMap::new(),
        person_death: HashMap::new(),
        enterprise_name: HashMap::new(),
    };
    for row in read_table(&truth.join("people.csv")) {
        let id = row["resident_id"].clone();
        w.person_name.insert(id.clone(), row["name"].clone());
        w.person_birth.insert(id.clone(), row["birth_date"].clone());
        w.person_death.insert(id, row["death_date"].clone());
    }
    for row in read_table(&truth.join("outsiders.csv")) {
        w.person_name
            .insert(row["resident_id"].clone(), row["name"].clone());
    }
    for row in read_table(&truth.join("enterprises.csv")) {
        w.enterprise_name
            .insert(row["uscc"].clone(), row["name"].clone());
    }
    w
}

/// The files of a resource in its unit's directory: `<code>.<ext>` or `<code>_<period>.<ext>`.
fn files_of(sources: &Path, resource: &Resource) -> Vec<PathBuf> {
    let dir = sources.join(&resource.unit);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    let Some(rest) = name.strip_prefix(resource.code.as_str()) else {
                        return false;
                    };
                    rest.starts_with('.')
                        || rest
                            .strip_prefix('_')
                            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Generates the 3,000-person district into a fresh temporary directory.
fn generate_district() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("standardize-district-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let cfg = SynthConfig {
        people: PEOPLE,
        ..Default::default()
    };
    miaopi_synth::generate(pack(), dir.path(), &cfg, &NoProgress)
        .unwrap_or_else(|e| panic!("generating the district: {e}"));
    dir
}

fn summary() -> &'static Summary {
    static SUMMARY: OnceLock<Summary> = OnceLock::new();
    SUMMARY.get_or_init(build_summary)
}

fn build_summary() -> Summary {
    let pack = pack();
    // A directory of this process's own, removed when the summary is built: other test runs
    // (another profile, a parallel `cargo test`) may generate at the same time.
    let dir = generate_district();
    let out = dir.path();
    let world = load_world(&out.join("truth"));
    let mut s = Summary::default();
    // Buildings and the address register first: later checks compare with them.
    let mut resources: Vec<&Resource> = pack.resources.iter().collect();
    resources.sort_by_key(|r| match r.code.as_str() {
        "buildings" => 0,
        "standard_addresses" => 1,
        _ => 2,
    });
    for resource in resources {
        let std = Standardizer::new(pack, resource)
            .unwrap_or_else(|e| panic!("standardizer for {}: {e}", resource.code));
        for path in files_of(&out.join("sources"), resource) {
            s.files += 1;
            let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let truth_path = out
                .join("truth")
                .join(&resource.unit)
                .join(format!("{file_name}.truth.csv"));
            let truth = read_truth(&truth_path);
            let reader = match open(&path, resource, &ReadOptions::default()) {
                Ok(r) => r,
                Err(e) => {
                    s.read_errors.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            for item in reader {
                match item {
                    Ok(ReadItem::Record(rec)) => {
                        let Some(t) = usize::try_from(rec.record)
                            .ok()
                            .and_then(|r| truth.get(r.wrapping_sub(1)))
                        else {
                            s.fail(
                                "truth",
                                format!("{file_name}: no truth for record {}", rec.record),
                            );
                            continue;
                        };
                        s.records += 1;
                        check_record(&mut s, &world, resource, &std, &rec, t, file_name);
                    }
                    Ok(ReadItem::Bad(bad)) => {
                        s.bad_records += 1;
                        let t = truth.get((bad.record as usize).wrapping_sub(1));
                        let broken = t.is_some_and(|t| {
                            t.has("broken_columns")
                                || t.has("broken_encoding")
                                || t.has("broken_json")
                        });
                        if !broken {
                            s.fail(
                                "reader",
                                format!("{file_name} record {}: read as bad ({:?}) without broken noise", bad.record, bad.problem),
                            );
                        }
                    }
                    Err(e) => s.read_errors.push(format!("{}: {e}", path.display())),
                }
            }
        }
    }
    s
}

fn text_of(v: &RawValue) -> String {
    match v {
        RawValue::Null => String::new(),
        RawValue::Text(t) => t.clone(),
        other => format!("{other:?}"),
    }
}

/// The noise an ID field shows, judged from its text against the true ID.
fn id_noise(raw: &str, truth: &str) -> &'static str {
    let raw = raw.trim();
    if raw == truth {
        "none"
    } else if raw.is_empty() {
        "id_missing"
    } else if raw.chars().count() == 15 {
        "id_legacy15"
    } else if raw == truth.replace('X', "x") {
        "id_lowercase_x"
    } else if raw.contains([' ', '-']) {
        "id_separators"
    } else if raw.contains(['O', 'l', 'I', 'Z', 'S', 'B']) {
        "id_look_alike"
    } else if raw.get(..17) == truth.get(..17) {
        "id_wrong_check"
    } else {
        "id_transposed"
    }
}

#[allow(clippy::too_many_arguments)]
fn check_record(
    s: &mut Summary,
    world: &World,
    resource: &Resource,
    std: &Standardizer,
    rec: &RawRecord,
    truth: &Truth,
    file: &str,
) {
    let here = |field: &str| format!("{file} record {} {field}", rec.record);
    let outcome = std.standardize(rec);
    let broken_read =
        truth.has("broken_columns") || truth.has("broken_encoding") || truth.has("broken_json");
    if broken_read {
        s.fail(
            "reader",
            format!("{}: a broken row reached the standardiser", here("")),
        );
        return;
    }

    // Where the record ended, per noise kind.
    let class = match &outcome {
        Outcome::Rejected { reasons } => {
            for r in reasons {
                *s.reject_codes.entry(r.code).or_default() += 1;
            }
            "rejected"
        }
        Outcome::Accepted { fixes, keys, .. } => {
            for f in fixes {
                *s.fix_counts.entry(f.kind.code()).or_default() += 1;
            }
            if keys
                .iter()
                .any(|(_, k)| matches!(k, KeyStatus::Invalid { .. }))
            {
                "key_invalid"
            } else if keys.iter().any(|(_, k)| *k == KeyStatus::Missing) {
                "key_missing"
            } else if !fixes.is_empty() {
                "fixed"
            } else {
                "clean"
            }
        }
    };
    let mut kinds: Vec<&str> = truth.noise.iter().map(String::as_str).collect();
    if kinds.is_empty() {
        kinds.push("none");
    }
    kinds.sort_unstable();
    kinds.dedup();
    for k in kinds {
        let e = s.ends.entry(k.to_string()).or_default();
        e.total += 1;
        match class {
            "rejected" => e.rejected += 1,
            "key_invalid" => e.key_invalid += 1,
            "key_missing" => e.key_missing += 1,
            "fixed" => e.fixed += 1,
            _ => e.clean += 1,
        }
    }

    // Broken dates are rejected as invalid dates; nothing else is rejected.
    s.check("rejections");
    match (&outcome, truth.has("broken_date")) {
        (Outcome::Rejected { reasons }, true) => {
            if !reasons.iter().any(|r| r.code == reason::INVALID_DATE) {
                s.fail(
                    "rejections",
                    format!("{}: broken date rejected as {reasons:?}", here("")),
                );
            }
        }
        (Outcome::Accepted { .. }, true) => {
            s.fail(
                "rejections",
                format!("{}: broken date accepted: {:?}", here(""), rec.values),
            );
        }
        (Outcome::Rejected { reasons }, false) => {
            s.fail(
                "rejections",
                format!(
                    "{}: rejected without broken noise ({:?}): {reasons:?}; raw {:?}",
                    here(""),
                    truth.noise,
                    rec.raw
                ),
            );
        }
        (Outcome::Accepted { .. }, false) => {}
    }
    let Outcome::Accepted {
        values,
        fixes,
        keys,
    } = &outcome
    else {
        return;
    };
    let field_index = |name: &str| resource.fields.iter().position(|f| f.name == name);
    let key_status = |name: &str| keys.iter().find(|(n, _)| &**n == name).map(|(_, k)| k);
    let has_fix =
        |name: &str, kind: FixKind| fixes.iter().any(|f| &*f.field == name && f.kind == kind);

    // Idempotence: the standardised values, written out as text, standardise to themselves
    // with no fix at all — but "no end" (a null where 长期 was read), which has no text of its
    // own: written 长期 again, it is read with the same open_ended fix.
    s.check("idempotent");
    let again = RawRecord {
        line: rec.line,
        record: rec.record,
        values: values
            .iter()
            .zip(&resource.fields)
            .map(|(v, f)| match v {
                Value::Null if has_fix(&f.name, FixKind::OpenEnded) => {
                    RawValue::Text("长期".into())
                }
                Value::Null => RawValue::Null,
                other => RawValue::Text(other.to_string()),
            })
            .collect(),
        raw: String::new(),
    };
    match std.standardize(&again) {
        Outcome::Accepted {
            values: v2,
            fixes: f2,
            keys: k2,
        } => {
            let f2: Vec<_> = f2
                .into_iter()
                .filter(|f| f.kind != FixKind::OpenEnded)
                .collect();
            if &v2 != values || !f2.is_empty() || &k2 != keys {
                s.fail(
                    "idempotent",
                    format!("{}: {values:?} → {v2:?}, fixes {f2:?}", here("")),
                );
            }
        }
        Outcome::Rejected { reasons } => {
            s.fail(
                "idempotent",
                format!("{}: re-standardised values rejected: {reasons:?}", here("")),
            );
        }
    }

    let subject_checks = field_index("birth_date").is_some()
        && field_index("sex").is_some()
        && resource.fields_with_role(EntityRole::PersonId).count() == 1;

    for (i, field) in resource.fields.iter().enumerate() {
        let value = &values[i];
        let raw = &rec.values[i];
        // Code tables: every value is a code of its table.
        if let Some(table) = &field.code_table {
            s.check("codes");
            let ok = match value {
                Value::Null => true,
                Value::Str(c) => pack()
                    .code_table(table)
                    .is_some_and(|t| t.entry(c).is_some()),
                _ => false,
            };
            if !ok {
                s.fail(
                    "codes",
                    format!("{}: {value:?} is not a code of {table}", here(&field.name)),
                );
            }
        }
        match field.role {
            Some(EntityRole::PersonId | EntityRole::PartyId | EntityRole::CreditCode) => {
                let Some((kind, key)) = truth.entity(&field.name) else {
                    continue;
                };
                let status = key_status(&field.name);
                let raw_text = text_of(raw);
                if kind == "enterprise" && truth.has("organisation_code") {
                    // The old organisation code, kept for linking to the credit code.
                    s.check("ids");
                    let organisation_code = format!("{}-{}", &key[8..16], &key[16..17]);
                    if !matches!(
                        status,
                        Some(KeyStatus::Invalid {
                            code: "uscc_is_organisation_code",
                            ..
                        })
                    ) || value.as_str() != Some(organisation_code.as_str())
                    {
                        s.fail(
                            "ids",
                            format!(
                                "{}: organisation code {raw_text:?} → {value:?} {status:?}, \
                                 truth {key}",
                                here(&field.name)
                            ),
                        );
                    }
                    continue;
                }
                if kind == "enterprise" {
                    s.check("ids");
                    if status != Some(&KeyStatus::Valid) || value.as_str() != Some(key) {
                        s.fail(
                            "ids",
                            format!(
                                "{}: credit code {raw_text:?} → {value:?} {status:?}, truth {key}",
                                here(&field.name)
                            ),
                        );
                    }
                    continue;
                }
                s.check("ids");
                let noise = id_noise(&raw_text, key);
                if noise != "none" && !truth.has(noise) {
                    s.fail(
                        "ids",
                        format!(
                            "{}: {raw_text:?} looks like {noise} but the truth says {:?}",
                            here(&field.name),
                            truth.noise
                        ),
                    );
                }
                let valid_as_truth =
                    status == Some(&KeyStatus::Valid) && value.as_str() == Some(key);
                match noise {
                    "none" => {
                        if !valid_as_truth {
                            s.fail(
                                "ids",
                                format!(
                                    "{}: clean ID {raw_text} → {value:?} {status:?}",
                                    here(&field.name)
                                ),
                            );
                        }
                    }
                    "id_lowercase_x" | "id_legacy15" | "id_separators" | "id_look_alike" => {
                        let fix = match noise {
                            "id_legacy15" => FixKind::IdUpgraded15,
                            "id_separators" => FixKind::IdSeparatorsRemoved,
                            "id_look_alike" => FixKind::IdLookAlikeLetters,
                            _ => FixKind::IdLowercaseX,
                        };
                        if !valid_as_truth || !has_fix(&field.name, fix) {
                            s.fail(
                                "ids",
                                format!(
                                    "{}: {noise} {raw_text} → {value:?} {status:?}",
                                    here(&field.name)
                                ),
                            );
                        }
                    }
                    "id_wrong_check" => {
                        if !matches!(
                            status,
                            Some(KeyStatus::Invalid {
                                code: "id_check_mismatch",
                                ..
                            })
                        ) {
                            s.fail(
                                "ids",
                                format!(
                                    "{}: wrong check {raw_text} → {status:?}",
                                    here(&field.name)
                                ),
                            );
                        }
                    }
                    "id_missing" => {
                        if status != Some(&KeyStatus::Missing) || !value.is_null() {
                            s.fail(
                                "ids",
                                format!("{}: missing ID → {value:?} {status:?}", here(&field.name)),
                            );
                        }
                    }
                    _ => {
                        // Transposed: which positions moved?
                        let diff: Vec<usize> = raw_text
                            .bytes()
                            .zip(key.bytes())
                            .enumerate()
                            .filter(|(_, (a, b))| a != b)
                            .map(|(i, _)| i)
                            .collect();
                        let span = match diff.as_slice() {
                            [a, b] => b - a,
                            _ => 0,
                        };
                        let caught = matches!(status, Some(KeyStatus::Invalid { .. }));
                        let e = s
                            .transpositions
                            .by_kind
                            .entry((span, subject_checks))
                            .or_default();
                        e.0 += 1;
                        e.1 += u64::from(caught);
                        if span == 1 && !caught {
                            s.fail(
                                "ids",
                                format!(
                                    "{}: adjacent swap {raw_text} accepted as valid",
                                    here(&field.name)
                                ),
                            );
                        }
                        if value.as_str() == Some(key) {
                            s.fail(
                                "ids",
                                format!(
                                    "{}: transposed {raw_text} standardised to the true ID",
                                    here(&field.name)
                                ),
                            );
                        }
                    }
                }
            }
            Some(EntityRole::AddressCode | EntityRole::BuildingCode | EntityRole::HouseId) => {
                if let Some((_, key)) = truth.entity(&field.name) {
                    s.check("keys");
                    if value.as_str() != Some(key)
                        || key_status(&field.name) != Some(&KeyStatus::Valid)
                    {
                        s.fail(
                            "keys",
                            format!("{}: {value:?}, truth {key}", here(&field.name)),
                        );
                    }
                }
            }
            None => {}
        }
    }

    // Names: the standardised name is the true one (a same-pinyin character cannot be
    // detected, nor a dropped character or a swapped order, so records with that noise are
    // skipped).
    if !truth.has("name_homophone")
        && !truth.has("name_dropped_character")
        && !truth.has("name_swapped_order")
    {
        for (i, field) in resource.fields.iter().enumerate() {
            let name = field.name.as_str();
            if name != "name" && !name.ends_with("_name") {
                continue;
            }
            let base = name.strip_suffix("_name").unwrap_or("");
            let candidates: Vec<String> = if name == "name" {
                vec!["resident_id".into(), "uscc".into()]
            } else {
                vec![format!("{base}_id"), base.to_string()]
            };
            let Some((kind, key)) = candidates.iter().find_map(|c| truth.entity(c)) else {
                continue;
            };
            let expected = match kind {
                "person" => world.person_name.get(key),
                "enterprise" => world.enterprise_name.get(key),
                _ => None,
            };
            let Some(expected) = expected else {
                s.fail(
                    "names",
                    format!("{}: no true name for {kind}:{key}", here(name)),
                );
                continue;
            };
            s.check("names");
            if values[i].as_str() != Some(expected.as_str()) {
                s.fail(
                    "names",
                    format!(
                        "{}: {:?} → {:?}, true name {expected} (noise {:?})",
                        here(name),
                        rec.values[i],
                        values[i],
                        truth.noise
                    ),
                );
            }
        }
    }

    // Dates: the subject's birth and death dates are the true ones, whatever style they came in.
    let subject = truth
        .entity("resident_id")
        .or_else(|| truth.entity("newborn"))
        .filter(|(k, _)| *k == "person")
        .map(|(_, id)| id);
    if let Some(id) = subject {
        for (field, truth_map) in [
            ("birth_date", &world.person_birth),
            ("death_date", &world.person_death),
        ] {
            let (Some(i), Some(want)) = (field_index(field), truth_map.get(id)) else {
                continue;
            };
            s.check("dates");
            let got = values[i]
                .as_date()
                .map(|d| d.to_string())
                .unwrap_or_default();
            if &got != want {
                s.fail(
                    "dates",
                    format!(
                        "{}: {:?} → {:?}, true {want}",
                        here(field),
                        rec.values[i],
                        values[i]
                    ),
                );
            }
        }
    }
    if truth.has("date_format") {
        s.check("dates");
        let formatted = resource.fields.iter().any(|f| {
            f.data_type == miaopi_catalog::DataType::Date
                && (has_fix(&f.name, FixKind::DateFormat)
                    || has_fix(&f.name, FixKind::DayFirstDate)
                    || has_fix(&f.name, FixKind::ChineseNumeralDate))
        });
        // A date written in the house style of another unit may still be ISO (the canonical
        // form): only then is there nothing to fix.
        let iso_only = resource.fields.iter().enumerate().all(|(i, f)| {
            f.data_type != miaopi_catalog::DataType::Date
                || matches!(&rec.values[i], RawValue::Text(t) if t.len() == 10 && t.as_bytes()[4] == b'-')
                // 长期 (no end) is not a date to restyle.
                || matches!(&rec.values[i], RawValue::Text(t) if t.starts_with("长期"))
                || !matches!(&rec.values[i], RawValue::Text(_))
        });
        if !formatted && !iso_only {
            s.fail(
                "dates",
                format!(
                    "{}: date_format noise but no date_format fix: {:?}",
                    here(""),
                    rec.values
                ),
            );
        }
    }

    // Addresses: a free-text address standardises to the register's standard address of the
    // true address code.
    for (i, field) in resource.fields.iter().enumerate() {
        if field.name != "address" {
            continue;
        }
        let Some((_, code)) = truth.entity("address_code") else {
            continue;
        };
        let Some(want) = s.register_by_code.get(code).cloned() else {
            // The register's own row for this code was broken (quarantined by the reader).
            s.check("addresses_without_register_row");
            continue;
        };
        s.check("addresses");
        if values[i].as_str() != Some(want.as_str()) {
            s.fail(
                "addresses",
                format!(
                    "{}: {:?} → {:?}, register {want} (noise {:?})",
                    here("address"),
                    rec.values[i],
                    values[i],
                    truth.noise
                ),
            );
        }
        if truth.has("address_variant") && !has_fix("address", FixKind::AddressNormalised) {
            s.fail(
                "addresses",
                format!("{}: address_variant without a fix", here("address")),
            );
        }
    }

    // The register itself.
    if resource.code == "standard_addresses" {
        let col = |name: &str| {
            field_index(name)
                .and_then(|i| values[i].as_str())
                .map(str::to_string)
        };
        if let (
            Some(full_address),
            Some(street_code),
            Some(community_code),
            Some(road),
            Some(house_number),
            Some(building_code),
        ) = (
            col("full_address"),
            col("street_code"),
            col("community_code"),
            col("road"),
            col("house_number"),
            col("building_code"),
        ) {
            if let Some(code) = col("address_code") {
                s.register_by_code.insert(code, full_address.clone());
            }
            s.register.push(RegisterRow {
                full_address,
                street_code,
                community_code,
                road,
                house_number,
                building_code,
                unit: col("unit"),
                room: col("room"),
            });
        }
    }
    if resource.code == "buildings"
        && let (Some(code), Some(name)) = (
            field_index("building_code").and_then(|i| values[i].as_str()),
            field_index("name").and_then(|i| values[i].as_str()),
        )
    {
        s.building_names.insert(code.to_string(), name.to_string());
    }
}

// ------------------------------------------------------------------------------ tests

#[test]
fn every_file_reads() {
    let s = summary();
    assert!(s.files >= 25, "only {} files", s.files);
    assert!(s.records > 50_000, "only {} records", s.records);
    assert!(s.read_errors.is_empty(), "{:#?}", s.read_errors);
    let f = s.failures("reader");
    assert!(f.is_empty(), "{f:#?}");
    assert!(s.failures("truth").is_empty(), "{:#?}", s.failures("truth"));
}

/// Every record with an impossible date is rejected as `invalid_date`; every other record —
/// all the fixable mess — is accepted.
#[test]
fn only_broken_dates_are_rejected() {
    summary().assert_clean("rejections");
}

#[test]
fn person_ids_match_the_truth() {
    summary().assert_clean("ids");
}

#[test]
fn other_keys_match_the_truth() {
    summary().assert_clean("keys");
}

#[test]
fn names_match_the_truth() {
    summary().assert_clean("names");
}

#[test]
fn dates_match_the_truth() {
    summary().assert_clean("dates");
}

#[test]
fn addresses_match_the_register() {
    summary().assert_clean("addresses");
}

#[test]
fn code_values_are_codes() {
    summary().assert_clean("codes");
}

#[test]
fn standardising_is_idempotent() {
    summary().assert_clean("idempotent");
}

/// The parser splits every register address into the register's own columns, and leaves it
/// unchanged.
#[test]
fn register_addresses_parse_into_their_columns() {
    let s = summary();
    assert!(!s.register.is_empty());
    let mut failures = Vec::new();
    for r in &s.register {
        let p = normalise_address(&r.full_address, pack());
        let building = s.building_names.get(&r.building_code);
        let ok = p.standard == r.full_address
            && p.street_code.as_deref() == Some(r.street_code.as_str())
            && p.community_code.as_deref() == Some(r.community_code.as_str())
            && p.road.as_deref() == Some(r.road.as_str())
            && p.number.as_ref().map(|n| format!("{n}号")).as_deref()
                == Some(r.house_number.as_str())
            && p.unit.as_ref().map(|u| format!("{u}单元")) == r.unit
            && p.room == r.room
            && p.building.as_ref() == building;
        if !ok && failures.len() < 20 {
            failures.push(format!(
                "{} → {p:?} (building {building:?})",
                r.full_address
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Where each noise kind ends, the transposition catch rate and the fixes applied (printed for
/// the report; run with `--nocapture`).
#[test]
fn report() {
    let s = summary();
    let mut out = String::new();
    out.push_str(&format!(
        "{} files, {} records standardised, {} bad records (reader)\n",
        s.files, s.records, s.bad_records
    ));
    out.push_str(&format!(
        "{:<20} {:>8} {:>9} {:>11} {:>11} {:>8} {:>8}\n",
        "noise", "records", "rejected", "key_invalid", "key_missing", "fixed", "clean"
    ));
    for (k, e) in &s.ends {
        out.push_str(&format!(
            "{:<20} {:>8} {:>9} {:>11} {:>11} {:>8} {:>8}\n",
            k, e.total, e.rejected, e.key_invalid, e.key_missing, e.fixed, e.clean
        ));
    }
    out.push_str("transpositions (span, resource has subject birth date+sex) → caught/total:\n");
    let (mut total, mut caught) = (0, 0);
    for ((span, subject), (n, c)) in &s.transpositions.by_kind {
        out.push_str(&format!(
            "  span {span:>2}, subject fields {subject:<5}: {c}/{n}\n"
        ));
        total += n;
        caught += c;
    }
    out.push_str(&format!("  all: {caught}/{total}\n"));
    out.push_str(&format!("fixes: {:?}\n", s.fix_counts));
    out.push_str(&format!("reject codes: {:?}\n", s.reject_codes));
    out.push_str(&format!("checked: {:?}\n", s.checked));
    eprintln!("{out}");
    assert!(s.records > 0);
    // Every ID noise kind occurred, so the ID checks are not vacuous.
    for kind in [
        "id_wrong_check",
        "id_transposed",
        "id_legacy15",
        "id_lowercase_x",
        "id_missing",
    ] {
        assert!(
            s.ends.get(kind).is_some_and(|e| e.total > 0),
            "no {kind} in the district"
        );
    }
}

//! From the world to the units' files: one emitter per resource, writing the catalogue's
//! columns in order, applying the mess, and writing the truth of every record beside it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate};
use miaopi_catalog::{DataType, FileFormat, Resource};
use miaopi_model::{ResidentId, Sex};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::noise::{self, DateStyle, NoiseConfig, NoiseCounts, NoiseKind, Tally};
use crate::world::{EDUCATION_LEVELS, Party, PersonIdx, World, age_on};
use crate::write::{Cell, Damage, RecordSink, TruthSink, open_sink};
use crate::{Progress, SynthError};

/// One output file to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// A resource written as one file.
    Whole(&'static str),
    /// 社保参保缴费 for one month (the first day of the month).
    InsuranceMonth(NaiveDate),
    /// 纳税申报 for one month.
    TaxMonth(NaiveDate),
    /// 婚姻登记 for one calendar year.
    MarriageYear(i32),
}

impl Job {
    pub fn resource(&self) -> &'static str {
        match self {
            Job::Whole(r) => r,
            Job::InsuranceMonth(_) => "social_insurance_contributions",
            Job::TaxMonth(_) => "tax_declarations",
            Job::MarriageYear(_) => "marriage_registrations",
        }
    }

    pub fn file_name(&self, ext: &str) -> String {
        match self {
            Job::Whole(r) => format!("{r}.{ext}"),
            Job::InsuranceMonth(m) | Job::TaxMonth(m) => {
                format!("{}_{:04}{:02}.{ext}", self.resource(), m.year(), m.month())
            }
            Job::MarriageYear(y) => format!("{}_{y}.{ext}", self.resource()),
        }
    }

    /// Relative weight, so the biggest files start first on the worker threads.
    pub fn weight(&self) -> u32 {
        match self {
            Job::InsuranceMonth(_) => 100,
            Job::TaxMonth(_) => 10,
            Job::Whole("standard_addresses") | Job::Whole("property_registrations") => 20,
            _ => 5,
        }
    }
}

pub fn extension(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Csv => "csv",
        FileFormat::Jsonl => "jsonl",
        FileFormat::Xlsx => "xlsx",
        FileFormat::Parquet => "parquet",
    }
}

/// The written date style a unit uses in its text exports.
fn house_style(unit: &str) -> DateStyle {
    match unit {
        "police" => DateStyle::Compact,
        "traffic_police" | "court" => DateStyle::Slash,
        "civil_affairs" => DateStyle::Chinese,
        _ => DateStyle::Iso,
    }
}

fn month_text(style: DateStyle, d: NaiveDate) -> String {
    match style {
        DateStyle::Iso | DateStyle::DayFirst | DateStyle::ChineseNumerals => {
            format!("{:04}-{:02}", d.year(), d.month())
        }
        DateStyle::Slash => format!("{}/{}", d.year(), d.month()),
        DateStyle::Compact => format!("{:04}{:02}", d.year(), d.month()),
        DateStyle::Chinese => format!("{}年{}月", d.year(), d.month()),
    }
}

fn cents(yuan: u32) -> Cell {
    Cell::Cents(yuan as i64 * 100)
}

fn coord(x: f64) -> Cell {
    Cell::Str(format!("{x:.6}"))
}

fn month_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d)
}

fn month_end(d: NaiveDate) -> NaiveDate {
    month_start(d)
        .checked_add_months(Months::new(1))
        .and_then(|m| m.pred_opt())
        .unwrap_or(d)
}

/// What one finished file reports to the manifest.
#[derive(Debug, Clone)]
pub struct FileOutput {
    pub unit: String,
    pub resource: String,
    pub path: PathBuf,
    pub truth_path: PathBuf,
    pub records: u64,
    pub bytes: u64,
    pub counts: NoiseCounts,
    /// Records the platform cannot use as sent, so that scenarios expect what the delivered
    /// data support rather than what the world knows.
    pub lost: Vec<LostRecord>,
}

/// A record that reaches the platform unusable for one or more of the entities it names: it
/// cannot be read at all (`broken`, quarantined at intake), or a person's ID was left out
/// (`id_missing`), so nothing ties it to that person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRecord {
    /// The record's keyed entities as in its truth line: (field, entity key).
    pub entities: Vec<(String, String)>,
    /// Unreadable: every entity it names loses it.
    pub broken: bool,
    /// Fields whose person ID was left out: only those entities lose it.
    pub missing: Vec<String>,
    /// Fields whose person ID was sent damaged beyond lenient reading (a wrong check character,
    /// two digits swapped). Tracked for birth certificates only, where the parents' IDs are
    /// themselves facts (they name the parents whose 户籍 and marriage are read); elsewhere the
    /// linker repairs a damaged ID.
    pub damaged: Vec<String>,
    /// Fields of a register row (户籍人口, 居住登记) whose ID was sent as another well-formed ID
    /// that contradicts the row's own birth date or sex (two digits ten apart swapped): the
    /// platform keeps the row but cannot trust what it says, so the facts read from it are
    /// unknown (转人工), not lost.
    pub contradicting: Vec<String>,
    /// Which world item the record states, where records of one entity must be told apart
    /// (a degree's certificate number, an insurance type, a scoring cycle's start).
    pub item: Option<String>,
}

impl LostRecord {
    /// Whether the ID of `key` in `field` was sent damaged.
    pub fn damages(&self, field: &str, key: &str) -> bool {
        self.damaged.iter().any(|d| d == field)
            && self.entities.iter().any(|(f, k)| f == field && k == key)
    }

    /// Whether the register row names `key` in `field` under an ID that contradicts the row.
    pub fn contradicts(&self, field: &str, key: &str) -> bool {
        self.contradicting.iter().any(|d| d == field)
            && self.entities.iter().any(|(f, k)| f == field && k == key)
    }

    /// Whether the entity `key` named in `field` loses this record.
    pub fn loses(&self, field: &str, key: &str) -> bool {
        self.entities.iter().any(|(f, k)| f == field && k == key)
            && (self.broken || self.missing.iter().any(|m| m == field))
    }
}

/// State while writing one file: the RNG of this file alone (so files are independent of the
/// order threads run them in), the sinks, and the record being assembled.
pub struct FileCtx<'w> {
    pub world: &'w World,
    noise_cfg: &'w NoiseConfig,
    rng: ChaCha8Rng,
    counts: Tally,
    sink: Box<dyn RecordSink>,
    truth: TruthSink,
    format: FileFormat,
    field_types: Vec<DataType>,
    house: DateStyle,
    records: u64,
    progress: &'w dyn Progress,
    unreported: u64,
    cells: Vec<Cell>,
    entities: String,
    noise: Vec<NoiseKind>,
    /// Fields of the current record whose person ID was left out.
    missing: Vec<String>,
    /// Fields of the current record whose person ID was damaged (when tracked).
    damaged: Vec<String>,
    track_damaged: bool,
    /// Fields of the current record whose ID contradicts the record (registers only).
    contradicting: Vec<String>,
    track_contradicting: bool,
    /// Write the next person ID as a ten-apart swap that changes its birth date or sex (a
    /// planted case of [`LostRecord::contradicting`]).
    plant_contradiction: bool,
    /// The world item the current record states (see [`LostRecord::item`]).
    item: Option<String>,
    lost: Vec<LostRecord>,
}

impl<'w> FileCtx<'w> {
    fn person_id(&mut self, field: &str, id: &ResidentId, allow_missing: bool) {
        let v = noise::person_id(
            &mut self.rng,
            self.noise_cfg,
            id,
            allow_missing,
            std::mem::take(&mut self.plant_contradiction),
            &mut self.counts,
        );
        self.entity(field, "person", id.as_str());
        if let Some(k) = v.noise {
            if self.track_contradicting
                && k == NoiseKind::IdTransposed
                && ResidentId::parse(&v.text)
                    .is_ok_and(|w| w.birth_date() != id.birth_date() || w.sex() != id.sex())
            {
                self.contradicting.push(field.to_owned());
            }
            if k == NoiseKind::IdMissing {
                self.missing.push(field.to_owned());
            }
            if self.track_damaged && matches!(k, NoiseKind::IdWrongCheck | NoiseKind::IdTransposed)
            {
                self.damaged.push(field.to_owned());
            }
            self.noise.push(k);
        }
        self.cells.push(if v.text.is_empty() {
            Cell::Null
        } else {
            Cell::Str(v.text)
        });
    }

    fn party(&mut self, field: &str, party: Party, allow_missing: bool) {
        match party {
            Party::Person(i) => {
                let id = self.world.people[i as usize].id;
                self.person_id(field, &id, allow_missing);
            }
            Party::Outsider(i) => {
                let id = self.world.outsiders[i as usize].id;
                self.person_id(field, &id, allow_missing);
            }
            Party::Enterprise(i) => {
                let code = self.world.enterprises[i as usize].uscc.to_string();
                self.entity(field, "enterprise", &code);
                self.cells.push(Cell::Str(code));
            }
        }
    }

    /// An enterprise's credit code as the unit writes it (at the configured rate, its pre-2016
    /// organisation code).
    fn credit_code(&mut self, field: &str, code: &str) {
        self.entity(field, "enterprise", code);
        let v = noise::credit_code(&mut self.rng, self.noise_cfg, code, &mut self.counts);
        if let Some(k) = v.noise {
            self.noise.push(k);
        }
        self.cells.push(Cell::Str(v.text));
    }

    /// Sex as the unit writes it (its code or its label), at the configured rate in Latin
    /// letters.
    fn sex(&mut self, sex: Sex, as_label: bool) {
        self.counts.eligible(NoiseKind::SexLatin);
        let text = if self.rng.random_bool(self.noise_cfg.sex_latin) {
            self.counts.applied(NoiseKind::SexLatin);
            self.noise.push(NoiseKind::SexLatin);
            match sex {
                Sex::Male => "M",
                Sex::Female => "F",
            }
        } else if as_label {
            sex.label_zh()
        } else {
            sex.code()
        };
        self.cells.push(Cell::Str(text.to_owned()));
    }

    /// A quantity in hundredths of the field's unit, at the configured rate written with a
    /// unit: areas (`㎡`, `平方米`) or registered capital in 万元 (`人民币…万元`, or in 元).
    fn quantity(&mut self, hundredths: i64, area: bool) {
        let cell = Cell::Cents(hundredths);
        if !matches!(self.format, FileFormat::Csv | FileFormat::Jsonl) {
            self.cells.push(cell);
            return;
        }
        self.counts.eligible(NoiseKind::ValueWithUnit);
        if !self.rng.random_bool(self.noise_cfg.value_with_unit) {
            self.cells.push(cell);
            return;
        }
        self.counts.applied(NoiseKind::ValueWithUnit);
        self.noise.push(NoiseKind::ValueWithUnit);
        let text = cell.text();
        let written = match (area, self.rng.random_bool(0.5)) {
            (true, true) => format!("{text}㎡"),
            (true, false) => format!("{text}平方米"),
            (false, true) => format!("人民币{text}万元"),
            // 1 万元 = 10,000 元: hundredths of 万元 × 100 are 元.
            (false, false) => format!("{}元", hundredths * 100),
        };
        self.cells.push(Cell::Str(written));
    }

    fn name(&mut self, name: &str) {
        let v = noise::person_name(&mut self.rng, self.noise_cfg, name, &mut self.counts);
        if let Some(k) = v.noise {
            self.noise.push(k);
        }
        self.cells.push(Cell::Str(v.text));
    }

    fn date(&mut self, d: NaiveDate) {
        match self.format {
            FileFormat::Parquet => self.cells.push(Cell::Date(d)),
            FileFormat::Xlsx => {
                // Most clerks type real dates (stored as Excel serials); some type text.
                self.counts.eligible(NoiseKind::DateFormat);
                if self.rng.random_bool(self.noise_cfg.date_format) {
                    self.counts.applied(NoiseKind::DateFormat);
                    self.noise.push(NoiseKind::DateFormat);
                    let style = DateStyle::ALL[self.rng.random_range(0..DateStyle::ALL.len())];
                    self.cells.push(Cell::Str(style.format(d)));
                } else {
                    self.cells.push(Cell::Date(d));
                }
            }
            _ => {
                let v = noise::date(
                    &mut self.rng,
                    self.noise_cfg,
                    d,
                    self.house,
                    &mut self.counts,
                );
                if let Some(k) = v.noise {
                    self.noise.push(k);
                }
                self.cells.push(Cell::Str(v.text));
            }
        }
    }

    fn opt_date(&mut self, d: Option<NaiveDate>) {
        match d {
            Some(d) => self.date(d),
            None => self.cells.push(Cell::Null),
        }
    }

    fn month(&mut self, d: NaiveDate) {
        let style = if self.format == FileFormat::Parquet {
            DateStyle::Iso
        } else {
            self.house
        };
        self.cells.push(Cell::Str(month_text(style, d)));
    }

    fn text(&mut self, s: impl Into<String>) {
        self.cells.push(Cell::Str(s.into()));
    }

    fn cell(&mut self, c: Cell) {
        self.cells.push(c);
    }

    fn address_code(&mut self, field: &str, address: u32) {
        let code = self.world.addresses[address as usize].code.clone();
        self.entity(field, "address", &code);
        self.cells.push(Cell::Str(code));
    }

    fn address_text(&mut self, address: u32) {
        let standard = self.world.full_address(address);
        let v = noise::address(&mut self.rng, self.noise_cfg, &standard, &mut self.counts);
        if let Some(k) = v.noise {
            self.noise.push(k);
        }
        self.cells.push(Cell::Str(v.text));
    }

    fn phone(&mut self, person: u32) {
        let p = &self.world.people[person as usize];
        let mut phone = p.phone;
        if let Some(&old) = self.world.previous_phone.get(&person) {
            self.counts.eligible(NoiseKind::PhoneConflict);
            if self.rng.random_bool(self.noise_cfg.phone_conflict) {
                self.counts.applied(NoiseKind::PhoneConflict);
                self.noise.push(NoiseKind::PhoneConflict);
                phone = old;
            }
        }
        self.cells.push(Cell::Str(phone.to_string()));
    }

    fn entity(&mut self, field: &str, kind: &str, key: &str) {
        if !self.entities.is_empty() {
            self.entities.push(';');
        }
        self.entities.push_str(field);
        self.entities.push('=');
        self.entities.push_str(kind);
        self.entities.push(':');
        self.entities.push_str(key);
    }

    /// Whether the stale-version mess applies to this record (eligible records only).
    fn roll_stale(&mut self) -> bool {
        self.counts.eligible(NoiseKind::StaleVersion);
        let hit = self.rng.random_bool(self.noise_cfg.stale_version);
        if hit {
            self.counts.applied(NoiseKind::StaleVersion);
        }
        hit
    }

    /// Writes the assembled record (possibly broken, possibly twice) and its truth.
    fn emit(&mut self) -> Result<(), SynthError> {
        debug_assert_eq!(
            self.cells.len(),
            self.field_types.len(),
            "cells must match the catalogue's fields"
        );
        let mut damage = None;
        let mut broken = false;
        let kinds = self.broken_kinds();
        if !kinds.is_empty() {
            self.counts.eligible_broken();
            if self.rng.random_bool(self.noise_cfg.broken) {
                broken = true;
                let kind = kinds[self.rng.random_range(0..kinds.len())];
                self.counts.applied_broken();
                self.counts.applied(kind);
                self.noise.push(kind);
                match kind {
                    NoiseKind::BrokenColumns => damage = Some(Damage::MissingColumn),
                    NoiseKind::BrokenEncoding => damage = Some(Damage::BadBytes),
                    NoiseKind::BrokenJson => damage = Some(Damage::Truncated),
                    _ => {
                        if let Some(i) = self.field_types.iter().position(|t| *t == DataType::Date)
                        {
                            let bad = ["2023-02-30", "2021-13-01", "2019-04-31", "0000-00-00"];
                            self.cells[i] =
                                Cell::Str(bad[self.rng.random_range(0..bad.len())].to_string());
                        }
                    }
                }
            }
        }
        if broken
            || !self.missing.is_empty()
            || !self.damaged.is_empty()
            || !self.contradicting.is_empty()
        {
            let entities = self
                .entities
                .split(';')
                .filter_map(|kv| {
                    let (field, entity) = kv.split_once('=')?;
                    let key = entity.split_once(':').map_or(entity, |(_, k)| k);
                    Some((field.to_owned(), key.to_owned()))
                })
                .collect();
            self.lost.push(LostRecord {
                entities,
                broken,
                missing: std::mem::take(&mut self.missing),
                damaged: std::mem::take(&mut self.damaged),
                contradicting: std::mem::take(&mut self.contradicting),
                item: self.item.clone(),
            });
        }
        self.missing.clear();
        self.damaged.clear();
        self.contradicting.clear();
        self.item = None;
        self.write_one(damage)?;
        self.counts.eligible(NoiseKind::Duplicate);
        if damage.is_none() && self.rng.random_bool(self.noise_cfg.duplicate) {
            self.counts.applied(NoiseKind::Duplicate);
            self.noise.push(NoiseKind::Duplicate);
            self.write_one(None)?;
        }
        self.cells.clear();
        self.entities.clear();
        self.noise.clear();
        Ok(())
    }

    fn write_one(&mut self, damage: Option<Damage>) -> Result<(), SynthError> {
        self.sink.write(&self.cells, damage)?;
        self.records += 1;
        self.truth
            .write(self.records, &self.entities, &self.noise)?;
        self.unreported += 1;
        if self.unreported >= 8192 {
            self.progress.rows(self.unreported);
            self.unreported = 0;
        }
        Ok(())
    }

    fn broken_kinds(&self) -> Vec<NoiseKind> {
        let has_date = self.field_types.contains(&DataType::Date);
        let mut k = Vec::with_capacity(3);
        match self.format {
            FileFormat::Csv => {
                k.push(NoiseKind::BrokenColumns);
                k.push(NoiseKind::BrokenEncoding);
                if has_date {
                    k.push(NoiseKind::BrokenDate);
                }
            }
            FileFormat::Jsonl => {
                k.push(NoiseKind::BrokenJson);
                if has_date {
                    k.push(NoiseKind::BrokenDate);
                }
            }
            FileFormat::Xlsx => {
                if has_date {
                    k.push(NoiseKind::BrokenDate);
                }
            }
            // A typed Parquet export cannot hold a malformed value.
            FileFormat::Parquet => {}
        }
        k
    }
}

/// Stable 64-bit FNV-1a of a job's name, to derive the file's own RNG seed.
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// The columns each emitter writes, in order. Checked against the catalogue before writing so
/// a pack edit that reorders or renames fields fails loudly instead of shifting columns.
fn expected_fields(resource: &str) -> &'static [&'static str] {
    match resource {
        "hukou_residents" => &[
            "resident_id",
            "name",
            "sex",
            "ethnicity",
            "birth_date",
            "household_no",
            "relation_to_head",
            "address_code",
            "moved_in_on",
            "status",
        ],
        "residence_registrations" => &[
            "resident_id",
            "name",
            "sex",
            "birth_date",
            "phone",
            "address_code",
            "address",
            "registered_on",
            "permit_valid_until",
        ],
        "criminal_records" => &["resident_id", "name", "category", "record_date"],
        "driving_licences" => &[
            "licence_no",
            "resident_id",
            "name",
            "vehicle_class",
            "first_issued_on",
            "valid_until",
            "status",
        ],
        "driving_score_cycles" => &["resident_id", "cycle_start", "cycle_end", "points"],
        "marriage_registrations" => &[
            "registration_no",
            "husband_id",
            "husband_name",
            "wife_id",
            "wife_name",
            "kind",
            "registered_on",
            "office",
        ],
        "death_registrations" => &["resident_id", "name", "death_date", "registered_on"],
        "minimum_living_allowance" => {
            &["family_no", "resident_id", "name", "start_month", "amount"]
        }
        "senior_allowance_roster" => &["resident_id", "name", "start_month", "amount"],
        "birth_certificates" => &[
            "certificate_no",
            "newborn_name",
            "sex",
            "birth_date",
            "hospital",
            "mother_id",
            "mother_name",
            "father_id",
            "father_name",
            "issued_on",
        ],
        "education_degrees" => &[
            "certificate_no",
            "resident_id",
            "name",
            "education_level",
            "degree",
            "institution",
            "graduated_on",
            "full_time",
        ],
        "school_enrolments" => &[
            "student_no",
            "resident_id",
            "name",
            "school",
            "grade_level",
            "enrolled_on",
        ],
        "social_insurance_contributions" => &[
            "resident_id",
            "employer_uscc",
            "insurance_type",
            "contribution_month",
            "contribution_base",
        ],
        "talent_certifications" => &["resident_id", "name", "category", "certified_on"],
        "talent_subsidy_payments" => &["resident_id", "name", "subsidy_type", "amount", "paid_on"],
        "enterprise_registrations" => &[
            "uscc",
            "name",
            "kind",
            "legal_rep_id",
            "legal_rep_name",
            "registered_capital",
            "established_on",
            "address_code",
            "address",
            "industry",
            "status",
        ],
        "tax_declarations" => &["uscc", "period_month", "tax_amount", "declared_on"],
        "standard_addresses" => &[
            "address_code",
            "street_code",
            "community_code",
            "road",
            "house_number",
            "building_code",
            "unit",
            "room",
            "full_address",
            "longitude",
            "latitude",
        ],
        "buildings" => &[
            "building_code",
            "name",
            "address_code",
            "floors",
            "use",
            "built_year",
            "longitude",
            "latitude",
        ],
        "property_registrations" => &[
            "property_unit_no",
            "owner_id",
            "owner_name",
            "address_code",
            "area_m2",
            "use",
            "registered_on",
            "co_ownership",
        ],
        "rental_registrations" => &[
            "filing_no",
            "lessor_id",
            "tenant_id",
            "tenant_name",
            "tenant_phone",
            "address_code",
            "start_date",
            "end_date",
            "monthly_rent",
        ],
        "city_components" => &[
            "component_code",
            "kind",
            "address_code",
            "longitude",
            "latitude",
            "status",
            "responsible_unit",
        ],
        "dishonest_debtors" => &[
            "party_id",
            "party_name",
            "case_no",
            "court",
            "listed_on",
            "status",
        ],
        "disability_certificates" => &[
            "certificate_no",
            "resident_id",
            "name",
            "category",
            "level",
            "issued_on",
            "phone",
        ],
        "qualification_exams" => &[
            "resident_id",
            "name",
            "exam_type",
            "exam_date",
            "result",
            "score",
        ],
        _ => &[],
    }
}

/// Every resource the generator writes (all of the Futian pack's).
pub const RESOURCES: &[&str] = &[
    "hukou_residents",
    "residence_registrations",
    "criminal_records",
    "driving_licences",
    "driving_score_cycles",
    "marriage_registrations",
    "death_registrations",
    "minimum_living_allowance",
    "senior_allowance_roster",
    "birth_certificates",
    "education_degrees",
    "school_enrolments",
    "social_insurance_contributions",
    "talent_certifications",
    "talent_subsidy_payments",
    "enterprise_registrations",
    "tax_declarations",
    "standard_addresses",
    "buildings",
    "property_registrations",
    "rental_registrations",
    "city_components",
    "dishonest_debtors",
    "disability_certificates",
    "qualification_exams",
];

pub fn check_contract(resource: &Resource) -> Result<(), SynthError> {
    let expected = expected_fields(&resource.code);
    let actual: Vec<&str> = resource.fields.iter().map(|f| f.name.as_str()).collect();
    if expected != actual.as_slice() {
        return Err(SynthError::Contract {
            resource: resource.code.clone(),
            expected: expected.join(","),
            actual: actual.join(","),
        });
    }
    Ok(())
}

/// The months of the social-insurance and tax history: the `n` months up to the as-of month.
pub fn history_months(as_of: NaiveDate, n: u32) -> Vec<NaiveDate> {
    let last = month_start(as_of);
    (0..n)
        .rev()
        .filter_map(|k| last.checked_sub_months(Months::new(k)))
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub fn run_job(
    job: &Job,
    world: &World,
    resource: &Resource,
    noise_cfg: &NoiseConfig,
    seed: u64,
    sources_dir: &Path,
    truth_dir: &Path,
    progress: &dyn Progress,
) -> Result<FileOutput, SynthError> {
    check_contract(resource)?;
    let file_name = job.file_name(extension(resource.format));
    let path = sources_dir.join(&resource.unit).join(&file_name);
    let truth_path = truth_dir
        .join(&resource.unit)
        .join(format!("{file_name}.truth.csv"));
    let sink = open_sink(&path, resource.format, resource.encoding, &resource.fields)?;
    let truth = TruthSink::create(&truth_path)?;
    let mut ctx = FileCtx {
        world,
        noise_cfg,
        rng: ChaCha8Rng::seed_from_u64(seed ^ fnv(&file_name)),
        counts: Tally::default(),
        sink,
        truth,
        format: resource.format,
        field_types: resource.fields.iter().map(|f| f.data_type).collect(),
        house: house_style(&resource.unit),
        records: 0,
        progress,
        unreported: 0,
        cells: Vec::with_capacity(16),
        entities: String::with_capacity(128),
        noise: Vec::new(),
        missing: Vec::new(),
        damaged: Vec::new(),
        track_damaged: resource.code == "birth_certificates",
        contradicting: Vec::new(),
        track_contradicting: matches!(
            resource.code.as_str(),
            "hukou_residents" | "residence_registrations"
        ),
        plant_contradiction: false,
        item: None,
        lost: Vec::new(),
    };
    match job {
        Job::InsuranceMonth(m) => social_insurance(&mut ctx, *m)?,
        Job::TaxMonth(m) => tax(&mut ctx, *m)?,
        Job::MarriageYear(y) => marriages(&mut ctx, *y)?,
        Job::Whole(r) => match *r {
            "hukou_residents" => hukou(&mut ctx)?,
            "residence_registrations" => residence(&mut ctx)?,
            "criminal_records" => crimes(&mut ctx)?,
            "driving_licences" => licences(&mut ctx)?,
            "driving_score_cycles" => score_cycles(&mut ctx)?,
            "death_registrations" => deaths(&mut ctx)?,
            "minimum_living_allowance" => allowance(&mut ctx)?,
            "senior_allowance_roster" => senior_roster(&mut ctx)?,
            "birth_certificates" => births(&mut ctx)?,
            "education_degrees" => degrees(&mut ctx)?,
            "school_enrolments" => enrolments(&mut ctx)?,
            "talent_certifications" => talent_certs(&mut ctx)?,
            "talent_subsidy_payments" => subsidies(&mut ctx)?,
            "enterprise_registrations" => enterprises(&mut ctx)?,
            "standard_addresses" => addresses(&mut ctx)?,
            "buildings" => buildings(&mut ctx)?,
            "property_registrations" => properties(&mut ctx)?,
            "rental_registrations" => rentals(&mut ctx)?,
            "city_components" => components(&mut ctx)?,
            "dishonest_debtors" => debtors(&mut ctx)?,
            "disability_certificates" => disabilities(&mut ctx)?,
            "qualification_exams" => exams(&mut ctx)?,
            other => return Err(SynthError::UnknownResource(other.to_string())),
        },
    }
    progress.rows(ctx.unreported);
    let records = ctx.records;
    let bytes = ctx.sink.finish()?;
    ctx.truth.finish()?;
    Ok(FileOutput {
        unit: resource.unit.clone(),
        resource: resource.code.clone(),
        path,
        truth_path,
        records,
        bytes,
        counts: ctx.counts.to_counts(),
        lost: ctx.lost,
    })
}

// ------------------------------------------------------------------------------ emitters

type R = Result<(), SynthError>;

/// The 户籍 rows written with a self-contradicting ID on purpose (besides the random ones), so
/// that every district with ID noise has this mess where a decision reads it: people of 70 to
/// 79 (alive, 户籍 in force, not paid), whom the senior allowance's scenarios offer — one in
/// 200 of them and at least one.
fn planted_contradictions(w: &World) -> HashSet<PersonIdx> {
    let paid: HashSet<PersonIdx> = w.senior_payments.iter().map(|s| s.person).collect();
    // Under 80, so that the seniors a small district approves stay clean.
    let eligible: Vec<PersonIdx> = (0..w.people.len() as PersonIdx)
        .filter(|&i| {
            let p = &w.people[i as usize];
            let age = age_on(p.birth, w.as_of);
            p.hukou
                && !p.hukou_pending
                && p.death.is_none()
                && !p.moved_out
                && (70..crate::world::SENIOR_AGE).contains(&age)
                && !paid.contains(&i)
                && noise::birth_changing_swap(&p.id).is_some()
        })
        .collect();
    let n = (1 + eligible.len() / 200).min(eligible.len());
    eligible.into_iter().rev().take(n).collect()
}

fn hukou(ctx: &mut FileCtx) -> R {
    let w = ctx.world;
    let planted = if ctx.noise_cfg.id_transposed > 0.0 {
        planted_contradictions(w)
    } else {
        HashSet::new()
    };
    for (i, p) in w.people.iter().enumerate() {
        if !p.hukou || p.hukou_pending {
            continue;
        }
        let hh = &w.households[p.household as usize];
        ctx.plant_contradiction = planted.contains(&(i as PersonIdx));
        ctx.person_id("resident_id", &p.id, false);
        ctx.name(&p.name);
        ctx.sex(p.sex, true);
        ctx.text(ethnicity_label(p.ethnicity));
        ctx.date(p.birth);
        ctx.text(hh.no.clone());
        ctx.text(p.relation);
        ctx.address_code("address_code", hh.home);
        ctx.opt_date(p.hukou_moved_in);
        ctx.text(match p.hukou_status() {
            crate::world::HukouStatus::Normal => "1",
            crate::world::HukouStatus::MovedOut => "2",
            crate::world::HukouStatus::Deceased => "3",
        });
        ctx.emit()?;
    }
    Ok(())
}

fn residence(ctx: &mut FileCtx) -> R {
    let w = ctx.world;
    for (i, p) in w.people.iter().enumerate() {
        let (Some(since), false) = (p.residence_since, p.hukou) else {
            continue;
        };
        if !p.alive_on(since) {
            continue;
        }
        let home = w.households[p.household as usize].home;
        // An older registration at a previous address, sent besides the current one.
        if let Some(&old) = w.previous_home.get(&(i as u32))
            && old != home
            && ctx.roll_stale()
        {
            let earlier = since.checked_sub_months(Months::new(14)).unwrap_or(since);
            residence_row(ctx, i as u32, old, earlier, Some(since))?;
            ctx.noise.push(NoiseKind::StaleVersion);
            // The stale row was pushed by residence_row; tag it before emitting.
            ctx.emit()?;
        }
        residence_row(ctx, i as u32, home, since, p.permit_until)?;
        ctx.emit()?;
    }
    Ok(())
}

fn residence_row(
    ctx: &mut FileCtx,
    person: u32,
    address: u32,
    since: NaiveDate,
    until: Option<NaiveDate>,
) -> R {
    let p = &ctx.world.people[person as usize];
    ctx.person_id("resident_id", &p.id, true);
    ctx.name(&p.name);
    ctx.sex(p.sex, false);
    ctx.date(p.birth);
    ctx.phone(person);
    ctx.address_code("address_code", address);
    ctx.address_text(address);
    ctx.date(since);
    ctx.opt_date(until);
    Ok(())
}

fn crimes(ctx: &mut FileCtx) -> R {
    for c in &ctx.world.crimes {
        let p = &ctx.world.people[c.person as usize];
        ctx.item = Some(format!("{}:{}", c.category, c.date));
        ctx.person_id("resident_id", &p.id, false);
        ctx.name(&p.name);
        ctx.text(c.category);
        ctx.date(c.date);
        ctx.emit()?;
    }
    Ok(())
}

/// A driving licence's end of validity: the first licence runs 6 years, the renewal 10, and
/// the licence renewed after that is valid without end (长期, 公安部令第 162 号) — `None`.
fn licence_valid_until(first: NaiveDate, as_of: NaiveDate) -> Option<NaiveDate> {
    let six = first.checked_add_months(Months::new(72)).unwrap_or(first);
    if six >= as_of {
        return Some(six);
    }
    let sixteen = six.checked_add_months(Months::new(120)).unwrap_or(six);
    (sixteen >= as_of).then_some(sixteen)
}

fn licences(ctx: &mut FileCtx) -> R {
    let as_of = ctx.world.as_of;
    for l in &ctx.world.licences {
        let p = &ctx.world.people[l.person as usize];
        ctx.text(l.licence_no.clone());
        ctx.person_id("resident_id", &p.id, false);
        ctx.name(&p.name);
        ctx.text(l.class);
        ctx.date(l.first_issued);
        match licence_valid_until(l.first_issued, as_of) {
            Some(until) => ctx.date(until),
            // How 交警 writes a licence without end (the catalogue field accepts it).
            None => ctx.text(if l.licence_no.ends_with(['0', '2', '4', '6', '8']) {
                "长期"
            } else {
                "长期有效"
            }),
        }
        ctx.text(l.status);
        ctx.emit()?;
    }
    Ok(())
}

/// The last three scoring cycles (each a year from the anniversary of first issue), oldest first.
pub fn scoring_cycles(first: NaiveDate, as_of: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let years = as_of.year() - first.year();
    let mut current = first
        .checked_add_months(Months::new(12 * years.max(0) as u32))
        .unwrap_or(first);
    if current > as_of {
        current = current.checked_sub_months(Months::new(12)).unwrap_or(first);
    }
    (0..3)
        .rev()
        .filter_map(|k| {
            let start = current.checked_sub_months(Months::new(12 * k))?;
            let end = start.checked_add_months(Months::new(12))?.pred_opt()?;
            (start >= first).then_some((start, end))
        })
        .collect()
}

fn score_cycles(ctx: &mut FileCtx) -> R {
    let as_of = ctx.world.as_of;
    for l in &ctx.world.licences {
        let p = &ctx.world.people[l.person as usize];
        let cycles = scoring_cycles(l.first_issued, as_of);
        let offset = 3 - cycles.len();
        for (k, (start, end)) in cycles.into_iter().enumerate() {
            ctx.item = Some(start.to_string());
            ctx.person_id("resident_id", &p.id, false);
            ctx.date(start);
            ctx.date(end);
            ctx.cell(Cell::Int(l.cycle_points[offset + k] as i64));
            ctx.emit()?;
        }
    }
    Ok(())
}

fn marriages(ctx: &mut FileCtx, year: i32) -> R {
    let w = ctx.world;
    let mut n = 0u32;
    for m in &w.marriages {
        if !m.registered_here {
            continue;
        }
        let events = [
            (Some(m.married_on), "J", "结婚登记"),
            (m.divorced_on, "L", "离婚登记"),
        ];
        for (d, prefix, kind) in events {
            let Some(d) = d else { continue };
            if d.year() != year {
                continue;
            }
            n += 1;
            ctx.text(format!("{prefix}440304-{year}-{n:06}"));
            ctx.party("husband_id", m.husband, false);
            ctx.name(w.party_name(m.husband));
            ctx.party("wife_id", m.wife, false);
            ctx.name(w.party_name(m.wife));
            ctx.text(kind);
            ctx.date(d);
            ctx.text("福田区民政局婚姻登记处");
            ctx.emit()?;
        }
    }
    Ok(())
}

/// The years that have at least one registered marriage or divorce.
pub fn marriage_years(world: &World) -> Vec<i32> {
    let mut years: Vec<i32> = world
        .marriages
        .iter()
        .filter(|m| m.registered_here)
        .flat_map(|m| [Some(m.married_on.year()), m.divorced_on.map(|d| d.year())])
        .flatten()
        .collect();
    years.sort_unstable();
    years.dedup();
    years
}

fn deaths(ctx: &mut FileCtx) -> R {
    for p in &ctx.world.people {
        let Some(d) = p.death else { continue };
        ctx.person_id("resident_id", &p.id, false);
        ctx.name(&p.name);
        ctx.date(d);
        let reg = d
            .checked_add_days(chrono::Days::new((p.birth.ordinal() % 20) as u64))
            .unwrap_or(d);
        ctx.date(reg.min(ctx.world.as_of));
        ctx.emit()?;
    }
    Ok(())
}

fn allowance(ctx: &mut FileCtx) -> R {
    for f in &ctx.world.allowance_families {
        for &m in &f.members {
            let p = &ctx.world.people[m as usize];
            ctx.text(f.family_no.clone());
            ctx.person_id("resident_id", &p.id, false);
            ctx.name(&p.name);
            ctx.month(f.start);
            ctx.cell(cents(f.amount));
            ctx.emit()?;
        }
    }
    Ok(())
}

fn senior_roster(ctx: &mut FileCtx) -> R {
    for s in &ctx.world.senior_payments {
        let p = &ctx.world.people[s.person as usize];
        ctx.person_id("resident_id", &p.id, false);
        ctx.name(&p.name);
        ctx.month(s.start);
        ctx.cell(cents(s.amount));
        ctx.emit()?;
    }
    Ok(())
}

fn births(ctx: &mut FileCtx) -> R {
    let w = ctx.world;
    for b in &w.births {
        let child = &w.people[b.child as usize];
        ctx.item = Some(b.certificate_no.clone());
        ctx.entity("newborn", "person", child.id.as_str());
        ctx.text(b.certificate_no.clone());
        ctx.name(&child.name);
        ctx.sex(child.sex, true);
        ctx.date(child.birth);
        ctx.text(b.hospital);
        let mother = child.mother.map(|m| &w.people[m as usize]);
        let father = child.father.map(|f| &w.people[f as usize]);
        match mother {
            Some(m) => {
                ctx.person_id("mother_id", &m.id, false);
                ctx.name(&m.name);
            }
            None => {
                ctx.cell(Cell::Null);
                ctx.cell(Cell::Null);
            }
        }
        match father {
            Some(f) => {
                ctx.person_id("father_id", &f.id, true);
                ctx.name(&f.name);
            }
            None => {
                ctx.cell(Cell::Null);
                ctx.cell(Cell::Null);
            }
        }
        ctx.date(b.issued);
        ctx.emit()?;
    }
    Ok(())
}

fn degrees(ctx: &mut FileCtx) -> R {
    for d in &ctx.world.degrees {
        let p = &ctx.world.people[d.person as usize];
        let (level, degree, _) = EDUCATION_LEVELS[d.level as usize];
        ctx.item = Some(d.certificate_no.clone());
        ctx.text(d.certificate_no.clone());
        ctx.person_id("resident_id", &p.id, true);
        ctx.name(&p.name);
        ctx.text(level);
        ctx.cell(if degree.is_empty() {
            Cell::Null
        } else {
            Cell::Str(degree.to_string())
        });
        ctx.text(d.institution);
        ctx.date(d.graduated);
        ctx.cell(Cell::Bool(d.full_time));
        ctx.emit()?;
    }
    Ok(())
}

fn enrolments(ctx: &mut FileCtx) -> R {
    for e in &ctx.world.enrolments {
        let p = &ctx.world.people[e.person as usize];
        ctx.text(format!("G{}", p.id));
        ctx.person_id("resident_id", &p.id, false);
        ctx.name(&p.name);
        ctx.text(e.school.clone());
        ctx.text(e.grade);
        ctx.date(e.enrolled);
        ctx.emit()?;
    }
    Ok(())
}

const INSURANCE_TYPES: [&str; 5] = ["110", "210", "310", "410", "510"];

fn social_insurance(ctx: &mut FileCtx, month: NaiveDate) -> R {
    let w = ctx.world;
    let (start, end) = (month_start(month), month_end(month));
    let month_label = month_text(ctx.house, month);
    for p in &w.people {
        let (Some(employer), Some(since)) = (p.employer, p.employed_since) else {
            continue;
        };
        if since > end
            || p.employed_until.is_some_and(|u| u < start)
            || p.death.is_some_and(|d| d < start)
        {
            continue;
        }
        let uscc = w.enterprises[employer as usize].uscc.to_string();
        let base = Cell::Cents(p.salary as i64 * 100);
        for t in INSURANCE_TYPES {
            ctx.item = Some(t.to_string());
            ctx.person_id("resident_id", &p.id, false);
            ctx.credit_code("employer_uscc", &uscc);
            ctx.text(t);
            ctx.text(month_label.clone());
            ctx.cell(base.clone());
            ctx.emit()?;
        }
    }
    Ok(())
}

fn talent_certs(ctx: &mut FileCtx) -> R {
    for t in &ctx.world.talent_certs {
        let p = &ctx.world.people[t.person as usize];
        ctx.person_id("resident_id", &p.id, false);
        ctx.name(&p.name);
        ctx.text(t.category);
        ctx.date(t.certified);
        ctx.emit()?;
    }
    Ok(())
}

fn subsidies(ctx: &mut FileCtx) -> R {
    for s in &ctx.world.subsidies {
        let p = &ctx.world.people[s.person as usize];
        ctx.person_id("resident_id", &p.id, false);
        ctx.name(&p.name);
        ctx.text("01");
        ctx.cell(cents(s.amount));
        ctx.date(s.paid);
        ctx.emit()?;
    }
    Ok(())
}

fn enterprises(ctx: &mut FileCtx) -> R {
    let w = ctx.world;
    for e in &w.enterprises {
        let code = e.uscc.to_string();
        ctx.entity("uscc", "enterprise", &code);
        ctx.text(code);
        ctx.text(e.name.clone());
        ctx.text(e.kind);
        ctx.party("legal_rep_id", e.legal_rep, false);
        ctx.name(w.party_name(e.legal_rep));
        ctx.quantity(e.capital_10k as i64 * 100, false);
        ctx.date(e.established);
        ctx.address_code("address_code", e.address);
        ctx.address_text(e.address);
        ctx.text(e.industry.to_string());
        ctx.text(e.status);
        ctx.emit()?;
    }
    Ok(())
}

fn tax(ctx: &mut FileCtx, month: NaiveDate) -> R {
    let w = ctx.world;
    let end = month_end(month);
    let declared = end.checked_add_days(chrono::Days::new(15)).unwrap_or(end);
    for (i, e) in w.enterprises.iter().enumerate() {
        if e.status != "1" || e.established > end {
            continue;
        }
        let code = e.uscc.to_string();
        ctx.entity("uscc", "enterprise", &code);
        ctx.text(code);
        ctx.month(month);
        // Small firms pay little; the amount wobbles month to month.
        let base = (i as i64 * 7919 % 500_000) + 1_000;
        let wobble = ctx.rng.random_range(80..120);
        ctx.cell(Cell::Cents(base * wobble));
        ctx.date(declared);
        ctx.emit()?;
    }
    Ok(())
}

fn addresses(ctx: &mut FileCtx) -> R {
    let w = ctx.world;
    for (i, a) in w.addresses.iter().enumerate() {
        let b = &w.buildings[a.building as usize];
        let c = &w.communities[b.community as usize];
        ctx.address_code("address_code", i as u32);
        ctx.text(c.street_code.clone());
        ctx.text(c.code.clone());
        ctx.text(w.roads[b.road as usize].name.clone());
        ctx.text(format!("{}号", b.number));
        ctx.entity("building_code", "building", &b.code);
        ctx.text(b.code.clone());
        if a.unit > 0 {
            ctx.text(format!("{}单元", a.unit));
            ctx.text(a.room.to_string());
        } else {
            ctx.cell(Cell::Null);
            ctx.cell(Cell::Null);
        }
        ctx.text(w.full_address(i as u32));
        ctx.cell(coord(b.lon));
        ctx.cell(coord(b.lat));
        ctx.emit()?;
    }
    Ok(())
}

fn buildings(ctx: &mut FileCtx) -> R {
    let w = ctx.world;
    for b in &w.buildings {
        ctx.entity("building_code", "building", &b.code);
        ctx.text(b.code.clone());
        ctx.text(b.name.clone());
        ctx.address_code("address_code", b.door_address);
        ctx.cell(Cell::Int(b.floors as i64));
        ctx.text(b.use_code.to_string());
        ctx.cell(Cell::Int(b.built_year as i64));
        ctx.cell(coord(b.lon));
        ctx.cell(coord(b.lat));
        ctx.emit()?;
    }
    Ok(())
}

fn properties(ctx: &mut FileCtx) -> R {
    let w = ctx.world;
    for p in &w.properties {
        let co = if p.owners.len() > 1 { "1" } else { "0" };
        for &owner in &p.owners {
            ctx.entity("property_unit_no", "house", &p.unit_no);
            ctx.text(p.unit_no.clone());
            ctx.party("owner_id", owner, false);
            let name = w.party_name(owner).to_string();
            if matches!(owner, Party::Enterprise(_)) {
                ctx.text(name);
            } else {
                ctx.name(&name);
            }
            ctx.address_code("address_code", p.address);
            ctx.quantity(p.area_m2_x100 as i64, true);
            ctx.text(p.use_code);
            ctx.date(p.registered_on);
            ctx.text(co);
            ctx.emit()?;
        }
    }
    Ok(())
}

fn rentals(ctx: &mut FileCtx) -> R {
    let w = ctx.world;
    for r in &w.rentals {
        let t = &w.people[r.tenant as usize];
        ctx.text(r.filing_no.clone());
        ctx.party("lessor_id", r.lessor, false);
        ctx.person_id("tenant_id", &t.id, true);
        ctx.name(&t.name);
        ctx.phone(r.tenant);
        ctx.address_code("address_code", r.address);
        ctx.date(r.start);
        ctx.date(r.end);
        ctx.cell(cents(r.rent));
        ctx.emit()?;
    }
    Ok(())
}

fn components(ctx: &mut FileCtx) -> R {
    for c in &ctx.world.components {
        ctx.text(c.code.clone());
        ctx.text(c.kind);
        match c.address {
            Some(a) => ctx.address_code("address_code", a),
            None => ctx.cell(Cell::Null),
        }
        ctx.cell(coord(c.lon));
        ctx.cell(coord(c.lat));
        ctx.text(c.status);
        ctx.text(c.responsible);
        ctx.emit()?;
    }
    Ok(())
}

fn debtors(ctx: &mut FileCtx) -> R {
    let w = ctx.world;
    for d in &w.debtors {
        ctx.party("party_id", d.party, false);
        let name = w.party_name(d.party).to_string();
        if matches!(d.party, Party::Enterprise(_)) {
            ctx.text(name);
        } else {
            ctx.name(&name);
        }
        ctx.text(d.case_no.clone());
        ctx.text("深圳市福田区人民法院");
        ctx.date(d.listed);
        ctx.text(d.status);
        ctx.emit()?;
    }
    Ok(())
}

fn disabilities(ctx: &mut FileCtx) -> R {
    for d in &ctx.world.disabilities {
        let p = &ctx.world.people[d.person as usize];
        ctx.text(format!("{}{}{}", p.id, d.category, d.level));
        ctx.person_id("resident_id", &p.id, false);
        ctx.name(&p.name);
        ctx.text(d.category.to_string());
        ctx.text(d.level.to_string());
        ctx.date(d.issued);
        ctx.phone(d.person);
        ctx.emit()?;
    }
    Ok(())
}

fn exams(ctx: &mut FileCtx) -> R {
    for e in &ctx.world.exams {
        let p = &ctx.world.people[e.person as usize];
        ctx.item = Some(e.date.to_string());
        ctx.person_id("resident_id", &p.id, false);
        ctx.name(&p.name);
        ctx.text(e.exam_type);
        ctx.date(e.date);
        ctx.text(if e.passed { "合格" } else { "不合格" });
        ctx.cell(Cell::Int(e.score as i64));
        ctx.emit()?;
    }
    Ok(())
}

/// GB 3304 labels for the codes the simulation uses.
fn ethnicity_label(code: u8) -> &'static str {
    match code {
        1 => "汉族",
        2 => "蒙古族",
        3 => "回族",
        4 => "藏族",
        5 => "维吾尔族",
        6 => "苗族",
        8 => "壮族",
        9 => "布依族",
        12 => "侗族",
        15 => "土家族",
        16 => "哈尼族",
        _ => "汉族",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoring_cycles_are_consecutive_years() {
        let first = NaiveDate::from_ymd_opt(2015, 5, 20).unwrap();
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let c = scoring_cycles(first, as_of);
        assert_eq!(c.len(), 3);
        assert_eq!(c[2].0, NaiveDate::from_ymd_opt(2026, 5, 20).unwrap());
        assert_eq!(c[0].0, NaiveDate::from_ymd_opt(2024, 5, 20).unwrap());
        assert_eq!(c[0].1, NaiveDate::from_ymd_opt(2025, 5, 19).unwrap());
        // A licence issued this year has one cycle only.
        let recent = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(scoring_cycles(recent, as_of).len(), 1);
    }

    #[test]
    fn history_months_end_at_as_of() {
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let m = history_months(as_of, 3);
        assert_eq!(m.iter().map(|d| d.month()).collect::<Vec<_>>(), [8, 9, 10]);
    }
}

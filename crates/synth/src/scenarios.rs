//! 秒批 scenarios: for each matter of MATTERS.md, applicants whose *true* data (the simulated
//! state, not the messy sources and not any rules engine) implies approval, rejection naming the
//! failing condition, or routing to a person because a fact is unknown.
//!
//! Each condition is judged on the truth with three values: holds, fails, unknown (the platform
//! has no data to decide it). The expected outcome is `rejected` when any condition fails,
//! else `manual_review` when any is unknown, else `approved` — the principle that missing data
//! never rejects.
//!
//! The truth is judged **as delivered**: a record that reaches the platform unusable for a
//! person — unreadable and quarantined (`broken`), or sent without that person's ID
//! (`id_missing`) — is data the platform does not have about them ([`LostRecord`]), so the
//! scenario treats it as absent, as the platform must.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value, json};

use crate::SynthConfig;
use crate::emit::LostRecord;
use crate::world::{self, Party, PersonIdx, World, age_on};

/// Applicants kept per (outcome, condition) bucket of a matter.
const PER_BUCKET: usize = 25;
/// 新生儿入户: days after birth within which the application is accepted (a parameter of the
/// matter; the simulation uses the same value to choose its applicants).
pub const NEWBORN_DEADLINE_DAYS: i64 = 90;
/// Age ceilings (exclusive) of the talent subsidy by degree: bachelor, master, doctor.
pub const TALENT_AGE_LIMITS: [u32; 3] = [30, 35, 40];
/// 网约车驾驶员证: completed years since the driving licence was first issued.
pub const DRIVING_YEARS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    Holds,
    Fails,
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub applicant: String,
    pub application_date: NaiveDate,
    pub form: Value,
    /// `approved`, `rejected` or `manual_review`.
    pub expected: &'static str,
    /// Conditions that fail (for `rejected`).
    pub failing: Vec<&'static str>,
    /// Conditions that cannot be decided from the data (for `manual_review`).
    pub unknown: Vec<&'static str>,
    /// Outcome details (amounts, which subsidies).
    pub detail: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatterScenarios {
    pub matter: &'static str,
    pub name: &'static str,
    /// Condition code → what it means (Chinese).
    pub conditions: BTreeMap<&'static str, &'static str>,
    pub scenarios: Vec<Scenario>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSet {
    pub as_of: NaiveDate,
    pub rule: &'static str,
    pub matters: Vec<MatterScenarios>,
}

impl ScenarioSet {
    /// matter → "outcome/condition" → count.
    pub fn tally(&self) -> BTreeMap<String, BTreeMap<String, usize>> {
        let mut t = BTreeMap::new();
        for m in &self.matters {
            let e: &mut BTreeMap<String, usize> = t.entry(m.matter.to_string()).or_default();
            for s in &m.scenarios {
                *e.entry(bucket_name(s)).or_default() += 1;
            }
        }
        t
    }
}

fn bucket_name(s: &Scenario) -> String {
    match s.expected {
        "rejected" => format!("rejected/{}", s.failing.first().copied().unwrap_or("")),
        // Every unknown condition names the bucket: a case unknown on two conditions (a
        // self-contradicting 户籍 row leaves both 户籍 and age unknown) is its own kind, not
        // crowded out by the many unknown on the first alone.
        "manual_review" => format!("manual_review/{}", s.unknown.join("+")),
        other => other.to_string(),
    }
}

struct Collector {
    scenarios: Vec<Scenario>,
    counts: HashMap<String, usize>,
}

impl Collector {
    fn new() -> Self {
        Collector {
            scenarios: Vec::new(),
            counts: HashMap::new(),
        }
    }

    fn offer(
        &mut self,
        applicant: String,
        date: NaiveDate,
        form: Value,
        checks: &[(&'static str, Tri)],
        detail: Value,
    ) {
        let failing: Vec<&'static str> = checks
            .iter()
            .filter(|c| c.1 == Tri::Fails)
            .map(|c| c.0)
            .collect();
        let unknown: Vec<&'static str> = checks
            .iter()
            .filter(|c| c.1 == Tri::Unknown)
            .map(|c| c.0)
            .collect();
        let expected = if !failing.is_empty() {
            "rejected"
        } else if !unknown.is_empty() {
            "manual_review"
        } else {
            "approved"
        };
        let s = Scenario {
            applicant,
            application_date: date,
            form,
            expected,
            detail: if expected == "approved" {
                detail
            } else {
                Value::Null
            },
            failing,
            unknown,
        };
        let key = bucket_name(&s);
        let n = self.counts.entry(key).or_default();
        if *n < PER_BUCKET {
            *n += 1;
            self.scenarios.push(s);
        }
    }
}

fn tri(b: bool) -> Tri {
    if b { Tri::Holds } else { Tri::Fails }
}

/// Facts the matters share, indexed once.
struct Index<'w> {
    w: &'w World,
    as_of: NaiveDate,
    senior_paid: HashSet<PersonIdx>,
    dishonest_people: HashSet<PersonIdx>,
    subsidy_paid: HashSet<PersonIdx>,
    degrees: HashMap<PersonIdx, (u8, bool)>,
    allowance: HashSet<PersonIdx>,
    disability: HashMap<PersonIdx, u8>,
    licences: HashMap<PersonIdx, usize>,
    crimes: HashMap<PersonIdx, Vec<&'static str>>,
    exams: HashMap<PersonIdx, bool>,
    registered_couples: HashSet<(PersonIdx, PersonIdx)>,
    /// (file stem, field, entity key, item) of every record a person or place lost.
    lost: HashSet<(String, String, String, Option<String>)>,
    /// The same for IDs sent damaged (birth certificates' parent IDs).
    damaged: HashSet<(String, String, String, Option<String>)>,
    /// (register file stem, person ID) of register rows whose ID contradicts the row itself.
    contradicting: HashSet<(String, String)>,
}

/// Lost records by file stem (`hukou_residents`, `marriage_registrations_2021`).
pub type Lost = HashMap<String, Vec<LostRecord>>;

impl<'w> Index<'w> {
    fn new(w: &'w World, lost_by_file: &Lost) -> Self {
        let mut lost = HashSet::new();
        let mut damaged = HashSet::new();
        let mut contradicting = HashSet::new();
        for (stem, records) in lost_by_file {
            for r in records {
                for (field, key) in &r.entities {
                    if r.contradicts(field, key) {
                        contradicting.insert((stem.clone(), key.clone()));
                    }
                    let k = (stem.clone(), field.clone(), key.clone(), r.item.clone());
                    if r.loses(field, key) {
                        lost.insert(k.clone());
                    }
                    if r.damages(field, key) {
                        damaged.insert(k);
                    }
                }
            }
        }
        let mut ix = Index {
            w,
            as_of: w.as_of,
            senior_paid: HashSet::new(),
            dishonest_people: HashSet::new(),
            subsidy_paid: HashSet::new(),
            degrees: HashMap::new(),
            allowance: HashSet::new(),
            disability: HashMap::new(),
            licences: HashMap::new(),
            crimes: HashMap::new(),
            exams: HashMap::new(),
            registered_couples: HashSet::new(),
            lost,
            damaged,
            contradicting,
        };
        let seen = |ix: &Index, stem: &str, field: &str, p: PersonIdx, item: Option<String>| {
            !ix.lost_item(stem, field, w.people[p as usize].id.as_str(), item)
        };
        for d in &w.degrees {
            if !seen(
                &ix,
                "education_degrees",
                "resident_id",
                d.person,
                Some(d.certificate_no.clone()),
            ) {
                continue;
            }
            let e = ix.degrees.entry(d.person).or_insert((d.level, d.full_time));
            if d.level >= e.0 {
                *e = (d.level, d.full_time);
            }
        }
        for e in &w.exams {
            if seen(
                &ix,
                "qualification_exams",
                "resident_id",
                e.person,
                Some(e.date.to_string()),
            ) {
                *ix.exams.entry(e.person).or_insert(false) |= e.passed;
            }
        }
        for c in &w.crimes {
            let item = Some(format!("{}:{}", c.category, c.date));
            if seen(&ix, "criminal_records", "resident_id", c.person, item) {
                ix.crimes.entry(c.person).or_default().push(c.category);
            }
        }
        ix.senior_paid = w
            .senior_payments
            .iter()
            .map(|s| s.person)
            .filter(|&p| seen(&ix, "senior_allowance_roster", "resident_id", p, None))
            .collect();
        ix.dishonest_people = w
            .debtors
            .iter()
            .filter(|d| d.status == "1")
            .filter_map(|d| match d.party {
                Party::Person(p) => Some(p),
                _ => None,
            })
            .filter(|&p| seen(&ix, "dishonest_debtors", "party_id", p, None))
            .collect();
        ix.subsidy_paid = w
            .subsidies
            .iter()
            .map(|s| s.person)
            .filter(|&p| seen(&ix, "talent_subsidy_payments", "resident_id", p, None))
            .collect();
        ix.allowance = w
            .allowance_families
            .iter()
            .flat_map(|f| f.members.iter().copied())
            .filter(|&p| seen(&ix, "minimum_living_allowance", "resident_id", p, None))
            .collect();
        ix.disability = w
            .disabilities
            .iter()
            .filter(|d| {
                seen(
                    &ix,
                    "disability_certificates",
                    "resident_id",
                    d.person,
                    None,
                )
            })
            .map(|d| (d.person, d.level))
            .collect();
        ix.licences = w
            .licences
            .iter()
            .enumerate()
            .filter(|(_, l)| seen(&ix, "driving_licences", "resident_id", l.person, None))
            .map(|(i, l)| (l.person, i))
            .collect();
        ix.registered_couples = w
            .marriages
            .iter()
            .filter(|m| m.registered_here && m.divorced_on.is_none())
            .filter_map(|m| match (m.husband, m.wife) {
                (Party::Person(h), Party::Person(f)) => {
                    let stem = format!("marriage_registrations_{}", m.married_on.year());
                    // The wife's record of the marriage is what the matter reads.
                    seen(&ix, &stem, "wife_id", f, None).then_some((h, f))
                }
                _ => None,
            })
            .collect();
        ix
    }

    /// Whether the record of `item` (any item when `None` was recorded) in file `stem` naming
    /// `key` in `field` reached the platform unusable.
    fn lost_item(&self, stem: &str, field: &str, key: &str, item: Option<String>) -> bool {
        let k = (stem.to_owned(), field.to_owned(), key.to_owned(), item);
        self.lost.contains(&k)
    }

    fn lost(&self, stem: &str, field: &str, p: PersonIdx) -> bool {
        self.lost_item(stem, field, self.w.people[p as usize].id.as_str(), None)
    }

    /// A register record that is lost defines no entity the person's ID finds. (One whose ID
    /// was damaged is still found: the linker repairs it.)
    fn register_lost(&self, stem: &str, p: PersonIdx) -> bool {
        self.lost(stem, "resident_id", p)
    }

    /// A parent's ID on a birth certificate that the platform can read as that parent's.
    fn parent_id_usable(&self, field: &str, p: PersonIdx, certificate_no: &str) -> bool {
        let k = (
            "birth_certificates".to_owned(),
            field.to_owned(),
            self.w.people[p as usize].id.as_str().to_owned(),
            Some(certificate_no.to_owned()),
        );
        !self.lost.contains(&k) && !self.damaged.contains(&k)
    }

    /// A register row of the person in `stem` names them under an ID that contradicts the row:
    /// the platform keeps it, but every fact read from it is conflicting (unknown).
    fn register_contradicts(&self, stem: &str, p: PersonIdx) -> bool {
        self.contradicting.contains(&(stem.to_owned(), self.id(p)))
    }

    /// The platform holds a residence registration of the person that it can rely on (the
    /// generator writes one for a registered non-户籍 resident; a lost one is not held, a
    /// self-contradicting one says nothing for certain).
    fn has_residence(&self, p: PersonIdx) -> bool {
        let person = &self.w.people[p as usize];
        !person.hukou
            && person.residence_since.is_some_and(|s| person.alive_on(s))
            && !self.register_lost("residence_registrations", p)
            && !self.register_contradicts("residence_registrations", p)
    }

    /// Futian 户籍 in force: a hukou record with status 正常. Unknown when the platform holds
    /// neither a hukou record nor a residence registration of the person.
    fn hukou(&self, p: PersonIdx) -> Tri {
        let person = &self.w.people[p as usize];
        if person.hukou && !person.hukou_pending && !self.register_lost("hukou_residents", p) {
            if self.register_contradicts("hukou_residents", p) {
                return Tri::Unknown;
            }
            tri(person.death.is_none() && !person.moved_out)
        } else if self.has_residence(p) {
            Tri::Fails
        } else {
            Tri::Unknown
        }
    }

    /// No death registration held (a lost one is not held).
    fn alive(&self, p: PersonIdx) -> Tri {
        tri(self.w.people[p as usize].death.is_none()
            || self.lost("death_registrations", "resident_id", p))
    }

    fn id(&self, p: PersonIdx) -> String {
        self.w.people[p as usize].id.to_string()
    }
}

/// The scenarios of every matter, judged on the world as delivered (`lost`: the records that
/// reached the platform unusable, by file stem).
pub fn build(w: &World, cfg: &SynthConfig, lost: &Lost) -> ScenarioSet {
    let ix = Index::new(w, lost);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5ce7a210);
    ScenarioSet {
        as_of: w.as_of,
        rule: "rejected if any condition fails on the true data; else manual_review if any is unknown (no data); else approved",
        matters: vec![
            senior_allowance(&ix),
            newborn_hukou(&ix),
            talent_subsidy(&ix),
            individual_business(&ix, &mut rng),
            disability_subsidies(&ix),
            ride_hailing(&ix),
        ],
    }
}

fn conditions(list: &[(&'static str, &'static str)]) -> BTreeMap<&'static str, &'static str> {
    list.iter().copied().collect()
}

fn senior_allowance(ix: &Index) -> MatterScenarios {
    let mut c = Collector::new();
    for (i, p) in ix.w.people.iter().enumerate() {
        let i = i as PersonIdx;
        let age = age_on(p.birth, ix.as_of);
        if age < 70 || p.moved_out {
            continue;
        }
        let checks = [
            ("hukou", ix.hukou(i)),
            // The age is counted from the 户籍 row's birth date, which a self-contradicting
            // row cannot give.
            (
                "age",
                if ix.register_contradicts("hukou_residents", i) {
                    Tri::Unknown
                } else {
                    tri(age >= world::SENIOR_AGE)
                },
            ),
            ("alive", ix.alive(i)),
            ("not_receiving", tri(!ix.senior_paid.contains(&i))),
        ];
        c.offer(
            ix.id(i),
            ix.as_of,
            json!({}),
            &checks,
            json!({ "monthly_amount": world::senior_amount(age) }),
        );
    }
    MatterScenarios {
        matter: "senior_allowance",
        name: "高龄老人津贴",
        conditions: conditions(&[
            ("hukou", "具有深圳市福田区户籍（公安 户籍人口，状态正常）"),
            ("age", "申请之日年满80周岁"),
            ("alive", "健在（民政 死亡登记无记录）"),
            ("not_receiving", "未在高龄津贴发放名册中"),
        ]),
        scenarios: c.scenarios,
    }
}

fn newborn_hukou(ix: &Index) -> MatterScenarios {
    let mut c = Collector::new();
    for b in &ix.w.births {
        let child = &ix.w.people[b.child as usize];
        let days = (ix.as_of - child.birth).num_days();
        if days > 365 || child.death.is_some() {
            continue;
        }
        let (Some(m), Some(f)) = (child.mother, child.father) else {
            continue;
        };
        // The certificate names the parents: a parent whose ID on it is missing or damaged is
        // unknown to the platform, and an unreadable certificate leaves everything it states
        // unknown.
        let certificate = !ix.lost_item(
            "birth_certificates",
            "newborn",
            child.id.as_str(),
            Some(b.certificate_no.clone()),
        );
        let mother_known = certificate && ix.parent_id_usable("mother_id", m, &b.certificate_no);
        let father_known = certificate && ix.parent_id_usable("father_id", f, &b.certificate_no);
        let known = |k: bool, t: Tri| if k { t } else { Tri::Unknown };
        let parent_hukou = match (
            known(mother_known, ix.hukou(m)),
            known(father_known, ix.hukou(f)),
        ) {
            (Tri::Holds, _) | (_, Tri::Holds) => Tri::Holds,
            (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
            _ => Tri::Fails,
        };
        let married = if mother_known && father_known && ix.registered_couples.contains(&(f, m)) {
            Tri::Holds
        } else {
            Tri::Unknown
        };
        let not_registered = if ix.register_contradicts("hukou_residents", b.child) {
            Tri::Unknown
        } else {
            tri(!child.hukou || child.hukou_pending || ix.register_lost("hukou_residents", b.child))
        };
        let checks = [
            ("birth_certificate", known(certificate, Tri::Holds)),
            ("parent_hukou", parent_hukou),
            ("parents_married", married),
            ("not_registered", not_registered),
            (
                "deadline",
                known(certificate, tri(days <= NEWBORN_DEADLINE_DAYS)),
            ),
            // The applicant (the mother) must be one of the parents the certificate names:
            // with the certificate lost or her ID unusable on it, that cannot be established.
            ("party:applicant", known(mother_known, Tri::Holds)),
        ];
        let form = json!({ "birth_certificate_no": b.certificate_no, "child_name": child.name, "child_id": child.id.to_string() });
        c.offer(
            ix.id(m),
            ix.as_of,
            form,
            &checks,
            json!({ "child_id": child.id.to_string() }),
        );
    }
    MatterScenarios {
        matter: "newborn_hukou",
        name: "新生儿入户",
        conditions: conditions(&[
            ("birth_certificate", "有出生医学证明（卫健）"),
            ("parent_hukou", "父母至少一方具有福田区户籍（公安）"),
            (
                "parents_married",
                "父母婚姻已登记（民政 婚姻登记）；无记录转人工",
            ),
            ("not_registered", "新生儿尚未登记户籍"),
            ("deadline", "出生之日起90日内申报"),
            (
                "party:applicant",
                "申请人（新生儿父亲或母亲）须为母亲或父亲之一",
            ),
        ]),
        scenarios: c.scenarios,
    }
}

fn talent_subsidy(ix: &Index) -> MatterScenarios {
    let mut c = Collector::new();
    let last_month_start = ix.as_of.with_day0(0).unwrap_or(ix.as_of);
    let insurance_file = format!("social_insurance_contributions_{}", ix.as_of.format("%Y%m"));
    for (i, p) in ix.w.people.iter().enumerate() {
        let i = i as PersonIdx;
        let age = age_on(p.birth, ix.as_of);
        let candidate = p.new_talent
            || (p.hukou
                && (22..=40).contains(&age)
                && p.employer.is_some()
                && i.is_multiple_of(11));
        if !candidate || !p.resident(ix.as_of) {
            continue;
        }
        let degree = ix.degrees.get(&i).copied();
        let education = match degree {
            Some((level, _)) => tri(level >= world::LEVEL_BACHELOR),
            None => Tri::Unknown,
        };
        let full_time = match degree {
            Some((_, ft)) => tri(ft),
            None => Tri::Unknown,
        };
        let new_hukou = match (ix.hukou(i), p.hukou_moved_in) {
            (Tri::Holds, Some(d)) => {
                tri((ix.as_of - d).num_days() <= world::TALENT_WINDOW_DAYS as i64)
            }
            (Tri::Holds, None) => Tri::Fails,
            (t, _) => t,
        };
        // Pension insurance (110) paid in the as-of month, as the platform receives it.
        let insured = tri(p.employer.is_some()
            && p.employed_until.is_none_or(|u| u >= last_month_start)
            && !ix.lost_item(
                &insurance_file,
                "resident_id",
                p.id.as_str(),
                Some("110".to_owned()),
            ));
        // The ceiling follows the degree; with no degree on record the age decides only below
        // the lowest ceiling (holds). At or above it the condition is unknown, even past the
        // highest ceiling: no matter rejects on missing data (MATTERS.md), and the degree is
        // missing.
        let age_limit = match degree {
            Some((l, _)) => tri(age < TALENT_AGE_LIMITS[(l.max(1) - 1).min(2) as usize]),
            None if age < TALENT_AGE_LIMITS[0] => Tri::Holds,
            None => Tri::Unknown,
        };
        let checks = [
            ("education", education),
            ("full_time", full_time),
            ("new_hukou", new_hukou),
            ("social_insurance", insured),
            ("age_limit", age_limit),
            ("not_received", tri(!ix.subsidy_paid.contains(&i))),
            ("not_dishonest", tri(!ix.dishonest_people.contains(&i))),
        ];
        let amount = match degree.map(|d| d.0) {
            Some(3) => 30_000,
            Some(2) => 25_000,
            _ => 15_000,
        };
        c.offer(
            ix.id(i),
            ix.as_of,
            json!({}),
            &checks,
            json!({ "amount": amount }),
        );
    }
    MatterScenarios {
        matter: "talent_subsidy",
        name: "新引进人才租房和生活补贴",
        conditions: conditions(&[
            ("education", "全日制本科及以上学历（教育 学历学位）"),
            ("full_time", "学历为全日制"),
            ("new_hukou", "新落户深圳户籍，落户不超过365日（公安）"),
            ("social_insurance", "由用人单位在深圳缴纳社会保险（人社）"),
            (
                "age_limit",
                "本科未满30周岁、硕士未满35周岁、博士未满40周岁",
            ),
            ("not_received", "未领取过该补贴（人社 发放记录）"),
            ("not_dishonest", "不在失信被执行人名单（法院）"),
        ]),
        scenarios: c.scenarios,
    }
}

fn individual_business(ix: &Index, rng: &mut ChaCha8Rng) -> MatterScenarios {
    let mut c = Collector::new();
    let w = ix.w;
    let mut business_rooms = Vec::new();
    let mut home_rooms = Vec::new();
    for (ai, a) in w.addresses.iter().enumerate() {
        if a.unit == 0 {
            continue;
        }
        match w.buildings[a.building as usize].use_code {
            world::USE_COMMERCIAL | world::USE_OFFICE | world::USE_MIXED => {
                business_rooms.push(ai as u32)
            }
            world::USE_RESIDENTIAL => home_rooms.push(ai as u32),
            _ => {}
        }
    }
    let taken: Vec<&world::Enterprise> = w.enterprises.iter().filter(|e| e.status == "1").collect();
    if business_rooms.is_empty() || home_rooms.is_empty() || taken.is_empty() {
        return MatterScenarios {
            matter: "individual_business",
            name: "个体工商户设立登记",
            conditions: BTreeMap::new(),
            scenarios: vec![],
        };
    }
    let names_in_use: HashSet<&str> = w.enterprises.iter().map(|e| e.name.as_str()).collect();
    let mut k = 0u32;
    for (i, p) in w.people.iter().enumerate() {
        let i = i as PersonIdx;
        let age = age_on(p.birth, ix.as_of);
        if !(16..=70).contains(&age) || !p.resident(ix.as_of) {
            continue;
        }
        if !i.is_multiple_of(5) && !ix.dishonest_people.contains(&i) {
            continue;
        }
        k += 1;
        let pick = |rooms: &Vec<u32>, rng: &mut ChaCha8Rng| rooms[rng.random_range(0..rooms.len())];
        let (room, premises_fact, name, name_fact) = match k % 5 {
            1 => (
                Some(pick(&home_rooms, rng)),
                Tri::Fails,
                fresh_name(&names_in_use, i),
                Tri::Holds,
            ),
            2 => {
                let room = pick(&business_rooms, rng);
                let e = taken[rng.random_range(0..taken.len())];
                // A registration the platform could not read does not take the name.
                let seen = !ix.lost_item("enterprise_registrations", "uscc", e.uscc.as_str(), None);
                (Some(room), Tri::Holds, e.name.clone(), tri(!seen))
            }
            3 => (None, Tri::Unknown, fresh_name(&names_in_use, i), Tri::Holds),
            _ => (
                Some(pick(&business_rooms, rng)),
                Tri::Holds,
                fresh_name(&names_in_use, i),
                Tri::Holds,
            ),
        };
        let premises = match room {
            Some(ai) => w.addresses[ai as usize].code.clone(),
            None => format!("{}9{:06}", &w.communities[0].code, 900_000 + i % 99_999),
        };
        // An address or building record the platform could not read leaves the premises
        // undecided.
        let premises_fact = match room {
            Some(ai) => {
                let a = &w.addresses[ai as usize];
                let building = &w.buildings[a.building as usize].code;
                if ix.lost_item("standard_addresses", "address_code", &a.code, None)
                    || ix.lost_item("buildings", "building_code", building, None)
                {
                    Tri::Unknown
                } else {
                    premises_fact
                }
            }
            None => premises_fact,
        };
        let identity = match (ix.hukou(i), ix.has_residence(i)) {
            (Tri::Holds, _) | (_, true) => Tri::Holds,
            _ => Tri::Unknown,
        };
        let checks = [
            ("adult", tri(age >= 18)),
            ("identity", identity),
            ("not_dishonest", tri(!ix.dishonest_people.contains(&i))),
            ("premises_use", premises_fact),
            ("name_available", name_fact),
        ];
        let form = json!({ "name": name, "premises_address_code": premises, "industry": "F" });
        c.offer(ix.id(i), ix.as_of, form, &checks, json!({}));
    }
    MatterScenarios {
        matter: "individual_business",
        name: "个体工商户设立登记",
        conditions: conditions(&[
            ("adult", "经营者年满18周岁"),
            ("identity", "身份有效（公安 户籍或居住登记）"),
            ("not_dishonest", "不在失信被执行人名单（法院）"),
            (
                "premises_use",
                "经营场所为标准地址且楼栋用途允许经营（商业/办公/商住混合）；地址不在标准地址库则转人工",
            ),
            (
                "name_available",
                "名称未被辖区内存续市场主体使用（市场监管）",
            ),
        ]),
        scenarios: c.scenarios,
    }
}

fn fresh_name(in_use: &HashSet<&str>, seed: PersonIdx) -> String {
    let mut n = seed;
    loop {
        let name = format!("深圳市福田区新申{}号便利店", n);
        if !in_use.contains(name.as_str()) {
            return name;
        }
        n += 1;
    }
}

fn disability_subsidies(ix: &Index) -> MatterScenarios {
    let mut c = Collector::new();
    for (i, p) in ix.w.people.iter().enumerate() {
        let i = i as PersonIdx;
        if !p.resident(ix.as_of) {
            continue;
        }
        let level = ix.disability.get(&i).copied();
        if level.is_none() && !(p.hukou && i.is_multiple_of(97)) {
            continue;
        }
        let certificate = if level.is_some() {
            Tri::Holds
        } else {
            Tri::Unknown
        };
        let living = ix.allowance.contains(&i);
        let nursing = level.is_some_and(|l| l <= 2);
        let benefit = if level.is_none() {
            Tri::Unknown
        } else {
            tri(living || nursing)
        };
        let checks = [
            ("hukou", ix.hukou(i)),
            ("certificate", certificate),
            ("benefit", benefit),
        ];
        c.offer(
            ix.id(i),
            ix.as_of,
            json!({}),
            &checks,
            json!({ "living_subsidy": living, "nursing_subsidy": nursing }),
        );
    }
    MatterScenarios {
        matter: "disability_subsidies",
        name: "残疾人两项补贴",
        conditions: conditions(&[
            ("hukou", "具有深圳市福田区户籍（公安）"),
            ("certificate", "持有残疾人证（残联）"),
            (
                "benefit",
                "生活补贴：家庭享受最低生活保障（民政 低保）；护理补贴：残疾等级为一级或二级；至少满足其一",
            ),
        ]),
        scenarios: c.scenarios,
    }
}

fn ride_hailing(ix: &Index) -> MatterScenarios {
    let mut c = Collector::new();
    for (i, p) in ix.w.people.iter().enumerate() {
        let i = i as PersonIdx;
        let age = age_on(p.birth, ix.as_of);
        if !p.resident(ix.as_of) || !(21..=60).contains(&age) {
            continue;
        }
        let took_exam = ix.exams.contains_key(&i);
        if !took_exam && !i.is_multiple_of(13) {
            continue;
        }
        let residence = match ix.hukou(i) {
            Tri::Holds => Tri::Holds,
            Tri::Unknown => Tri::Unknown,
            Tri::Fails => match p.permit_until {
                Some(d) => tri(d >= ix.as_of),
                None => Tri::Unknown,
            },
        };
        let licence = ix.licences.get(&i).map(|&l| &ix.w.licences[l]);
        // 满 3 年 by anniversary, the rule every age in the platform follows (a licence first
        // issued on 29 February completes its years on 28 February).
        let experience = match licence {
            Some(l) => tri(age_on(l.first_issued, ix.as_of) >= DRIVING_YEARS),
            None => Tri::Unknown,
        };
        // Only the scoring cycles the licence has lived through exist in the sources (the
        // cycles before its first issue are not cycles at all), and only those delivered count.
        let score = match licence {
            Some(l) => {
                let cycles = crate::emit::scoring_cycles(l.first_issued, ix.as_of);
                let offset = 3 - cycles.len();
                let points: Vec<u8> = cycles
                    .iter()
                    .enumerate()
                    .filter(|(_, (start, _))| {
                        !ix.lost_item(
                            "driving_score_cycles",
                            "resident_id",
                            p.id.as_str(),
                            Some(start.to_string()),
                        )
                    })
                    .map(|(k, _)| l.cycle_points[offset + k])
                    .collect();
                if points.is_empty() {
                    Tri::Unknown
                } else {
                    tri(points.iter().all(|&pt| pt < 12))
                }
            }
            None => Tri::Unknown,
        };
        let crimes = ix.crimes.get(&i);
        let no_crime = tri(!crimes.is_some_and(|cs| {
            cs.iter()
                .any(|c| matches!(*c, "01" | "02" | "03" | "04" | "05"))
        }));
        let exam = match ix.exams.get(&i) {
            Some(&passed) => tri(passed),
            None => Tri::Unknown,
        };
        let checks = [
            ("residence", residence),
            ("driving_experience", experience),
            ("no_disqualifying_record", no_crime),
            ("no_full_score", score),
            ("exam_passed", exam),
        ];
        c.offer(ix.id(i), ix.as_of, json!({}), &checks, json!({}));
    }
    MatterScenarios {
        matter: "ride_hailing_licence",
        name: "网约车驾驶员证",
        conditions: conditions(&[
            ("residence", "具有深圳户籍或有效居住证（公安）"),
            ("driving_experience", "取得机动车驾驶证满3年（公安交警）"),
            (
                "no_disqualifying_record",
                "无交通肇事犯罪、危险驾驶犯罪、吸毒、饮酒后驾驶、暴力犯罪记录（公安）",
            ),
            (
                "no_full_score",
                "最近连续3个记分周期内无记满12分记录（公安交警）",
            ),
            ("exam_passed", "网约车驾驶员从业资格考试合格（交通运输）"),
        ]),
        scenarios: c.scenarios,
    }
}

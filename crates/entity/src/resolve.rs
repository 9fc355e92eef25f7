//! Entity resolution: mentions in, one entity (or a review item) per mention out.
//!
//! Pure: no lake, no clock. The run module feeds it mentions read from `dwd` and writes its
//! decisions back.

use std::collections::HashMap;

use miaopi_index::model::REGISTER_KEY_CONFLICT;
use miaopi_link::{BlockingRule, Dataset, Decision, KeyPart, Transform, person_spec};
use miaopi_model::{ResidentId, Uscc};

use crate::EntityError;
use crate::roles::{PartyRole, RoleKind};

/// A key field's state after intake (`<field>_key_status` in `dwd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    Valid,
    Missing,
    /// The intake reason code, e.g. `id_check_mismatch`, `uscc_check_mismatch`.
    Invalid(String),
}

impl KeyState {
    pub fn from_status(status: Option<&str>) -> KeyState {
        match status {
            Some("valid") => KeyState::Valid,
            None | Some("missing") => KeyState::Missing,
            Some(code) => KeyState::Invalid(code.to_string()),
        }
    }
}

/// One record naming one party.
#[derive(Debug, Clone)]
pub struct Mention {
    /// Index into the run's roles.
    pub role: u16,
    /// Index into the run's batches.
    pub batch: u32,
    pub record: u64,
    pub key: Option<String>,
    pub key_state: KeyState,
    pub name: Option<String>,
    pub sex: Option<String>,
    pub birth: Option<String>,
    pub address: Option<String>,
}

/// The entity kinds resolution produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Person,
    LegalPerson,
}

/// A resolved entity's identifying attributes (the first seen, registers first).
#[derive(Debug, Clone)]
pub struct Entity {
    pub kind: Kind,
    /// The register key: resident ID or credit code.
    pub key: String,
    pub name: Option<String>,
    pub sex: Option<String>,
    pub birth: Option<String>,
    pub address: Option<String>,
    /// Found in a register (户籍人口, 居住登记, 企业登记), not only in other units' records.
    pub registered: bool,
    /// Mentions linked to it, by any method.
    pub mentions: u64,
    /// Of those, the mentions whose written key is this entity's key: which of two IDs ten
    /// digits apart the units wrote (a record linked probabilistically does not vote for the
    /// key of the entity it joined).
    pub key_written: u64,
    /// Merged into another entity (the same person under a swapped ID): not an entity itself.
    pub merged_into: Option<u32>,
    /// The (role, batch, record) whose attributes the entity carries: the least one seen, so
    /// the attributes do not depend on the order mentions arrive in.
    pub source: (u16, u32, u64),
}

/// The intake's key status of a well-formed resident ID whose birth date or sex contradicts
/// its own record (`miaopi_ingest::reason::ID_CONFLICTS_WITH_RECORD`; entity does not depend
/// on ingest).
const ID_CONFLICTS_WITH_RECORD: &str = "id_conflicts_with_record";

/// The intake's key status of a valid pre-2016 organisation code where a credit code belongs
/// (`miaopi_ingest::reason::USCC_IS_ORGANISATION_CODE`).
const USCC_IS_ORGANISATION_CODE: &str = "uscc_is_organisation_code";

/// How a mention was linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// Its validated key is a register key, and nothing in the record contradicts it.
    KeyExact,
    /// Its validated key names nobody in the registers: an entity known from other units only.
    KeyOutsider,
    /// Fellegi–Sunter score at or above the accept threshold.
    Probabilistic,
    /// A damaged key with exactly one register key one edit away, and no name or birth date in
    /// the record to weigh against it.
    KeyRepair,
    /// A register row whose well-formed ID contradicts the row's own birth date or sex
    /// (`id_conflicts_with_record`): linked to the one ID one edit away that agrees with the
    /// row, or kept under the ID as written when none or several do. Either way the row stays
    /// in the profile and every fact read from it is conflicting (转人工, the conflict named).
    RegisterKeyConflict,
    /// A pre-2016 organisation code (GB 11714) in place of the credit code, joined to the one
    /// registered credit code embedding it (positions 9–17), no name in the record against it.
    OrganisationCode,
    /// A valid ID that is not registered but differs from exactly one register ID in one digit
    /// with the check character recomputed (systems that "repair" a failed check), the record's
    /// name equal to the register's and its birth date and sex (its own, else the ID's) agreeing.
    CheckRecomputed,
}

impl Method {
    pub fn code(self) -> &'static str {
        match self {
            Method::KeyExact => "key_exact",
            Method::KeyOutsider => "key_outsider",
            Method::Probabilistic => "probabilistic",
            Method::KeyRepair => "key_repair",
            Method::RegisterKeyConflict => REGISTER_KEY_CONFLICT,
            Method::OrganisationCode => "organisation_code",
            Method::CheckRecomputed => "check_recomputed",
        }
    }
}

/// Why a mention went to review instead of being linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReviewReason {
    /// The best candidate's probability is between the review and accept thresholds.
    Uncertain,
    /// The key is damaged and more than one register key is one edit away.
    AmbiguousRepair,
    /// The key is valid and registered but the record's name contradicts the register.
    NameContradicts,
    /// No candidate at all.
    NoCandidate,
    /// The best candidate has a register twin: another register person who agrees with
    /// everything the record carries but its name, and the record's name is not exactly the
    /// candidate's — nothing in the record tells the two apart.
    PossibleTwin,
}

impl ReviewReason {
    pub fn code(self) -> &'static str {
        match self {
            ReviewReason::Uncertain => "uncertain",
            ReviewReason::AmbiguousRepair => "ambiguous_repair",
            ReviewReason::NameContradicts => "name_contradicts",
            ReviewReason::NoCandidate => "no_candidate",
            ReviewReason::PossibleTwin => "possible_twin",
        }
    }

    pub fn message_zh(self) -> &'static str {
        match self {
            ReviewReason::Uncertain => "匹配概率介于复核阈值与确认阈值之间，需人工确认",
            ReviewReason::AmbiguousRepair => {
                "证件号有误，且有多个登记证件号与之仅差一处，无法自动确定"
            }
            ReviewReason::NameContradicts => "证件号已登记，但记录中的姓名与登记姓名不符",
            ReviewReason::NoCandidate => "证件号缺失或有误，且未找到可能的匹配对象",
            ReviewReason::PossibleTwin => {
                "登记中另有一人（可能为双胞胎）与记录的出生日期、性别、住址均相符，记录中没有能区分二人的信息，需人工确认"
            }
        }
    }
}

/// The outcome for one mention.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    Linked {
        entity: u32,
        method: Method,
        score: f64,
    },
    Review {
        reason: ReviewReason,
        candidate: Option<u32>,
        probability: f64,
    },
}

/// One mention's decision, kept as such only for mentions sent to review (a few per
/// thousand); linked mentions live in the [`LinkIndex`].
#[derive(Debug, Clone)]
pub struct Decided {
    pub role: u16,
    pub batch: u32,
    pub record: u64,
    pub kind: Kind,
    pub resolution: Resolution,
}

impl Method {
    const ALL: [Method; 7] = [
        Method::KeyExact,
        Method::KeyOutsider,
        Method::Probabilistic,
        Method::KeyRepair,
        Method::RegisterKeyConflict,
        Method::OrganisationCode,
        Method::CheckRecomputed,
    ];

    /// One byte in the link index; 0 is "not linked".
    fn tag(self) -> u8 {
        match self {
            Method::KeyExact => 1,
            Method::KeyOutsider => 2,
            Method::Probabilistic => 3,
            Method::KeyRepair => 4,
            Method::RegisterKeyConflict => 5,
            Method::OrganisationCode => 6,
            Method::CheckRecomputed => 7,
        }
    }

    fn from_tag(tag: u8) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.tag() == tag)
    }
}

/// The entity and method of every mention of one (role, batch), by record number.
#[derive(Debug, Default, Clone)]
struct Slots {
    entity: Vec<u32>,
    method: Vec<u8>,
}

/// Every linked mention: (role, batch, record) → (entity, method), five bytes a mention.
///
/// Records are numbered densely within a batch, so a vector per (role, batch) replaces a hash
/// map of tens of millions of keys, and the resolver writes its decisions here directly instead
/// of keeping a decision struct per mention (40 bytes each; 3.7 GB for the full district).
/// Probabilistic scores, the only ones below 1, are kept apart.
#[derive(Debug, Default, Clone)]
pub struct LinkIndex {
    by: HashMap<(u16, u32), Slots>,
    scores: HashMap<(u16, u32, u64), f64>,
    linked_mentions: u64,
}

impl LinkIndex {
    const NONE: u32 = u32::MAX;

    fn set(&mut self, role: u16, batch: u32, record: u64, entity: u32, method: Method, score: f64) {
        assert_ne!(entity, Self::NONE, "entity index overflow");
        let Ok(i) = usize::try_from(record) else {
            // Unreachable on 64-bit targets; a record number a vector cannot index.
            return;
        };
        let slots = self.by.entry((role, batch)).or_default();
        if slots.entity.len() <= i {
            slots.entity.resize(i + 1, Self::NONE);
            slots.method.resize(i + 1, 0);
        }
        if slots.entity[i] == Self::NONE {
            self.linked_mentions += 1;
        }
        slots.entity[i] = entity;
        slots.method[i] = method.tag();
        if method == Method::Probabilistic {
            self.scores.insert((role, batch, record), score);
        }
    }

    /// The entity a mention was linked to.
    pub fn get(&self, role: u16, batch: u32, record: u64) -> Option<u32> {
        let slots = self.by.get(&(role, batch))?;
        let e = *slots.entity.get(usize::try_from(record).ok()?)?;
        (e != Self::NONE).then_some(e)
    }

    /// How a mention was linked, and its score (1 for every method but `probabilistic`).
    pub fn method(&self, role: u16, batch: u32, record: u64) -> Option<(Method, f64)> {
        let slots = self.by.get(&(role, batch))?;
        let i = usize::try_from(record).ok()?;
        let method = Method::from_tag(*slots.method.get(i)?)?;
        let score = match method {
            Method::Probabilistic => self
                .scores
                .get(&(role, batch, record))
                .copied()
                .unwrap_or(0.0),
            _ => 1.0,
        };
        Some((method, score))
    }

    /// Linked mentions.
    pub fn len(&self) -> u64 {
        self.linked_mentions
    }

    pub fn is_empty(&self) -> bool {
        self.linked_mentions == 0
    }

    /// Every linked mention's entity.
    pub fn entities(&self) -> impl Iterator<Item = u32> + '_ {
        self.by
            .values()
            .flat_map(|v| v.entity.iter().copied().filter(|&e| e != Self::NONE))
    }

    /// Linked mentions per role.
    pub fn per_role(&self) -> HashMap<u16, u64> {
        let mut out: HashMap<u16, u64> = HashMap::new();
        for (&(role, _), slots) in &self.by {
            *out.entry(role).or_default() +=
                slots.entity.iter().filter(|&&e| e != Self::NONE).count() as u64;
        }
        out
    }

    /// The (role, batch) groups, sorted: with [`LinkIndex::group`], a walk over every link in
    /// (role, batch, record) order that can pause (to write a chunk) between records.
    pub fn groups(&self) -> Vec<(u16, u32)> {
        let mut groups: Vec<(u16, u32)> = self.by.keys().copied().collect();
        groups.sort_unstable();
        groups
    }

    /// The links of one (role, batch): `(record, entity, method, score)` for each linked record.
    pub fn group(
        &self,
        role: u16,
        batch: u32,
    ) -> impl Iterator<Item = (u64, u32, Method, f64)> + '_ {
        let slots = self.by.get(&(role, batch));
        let entity = slots.map_or(&[][..], |s| s.entity.as_slice());
        let method = slots.map_or(&[][..], |s| s.method.as_slice());
        entity
            .iter()
            .zip(method)
            .enumerate()
            .filter(|(_, (e, _))| **e != Self::NONE)
            .filter_map(move |(i, (&e, &tag))| {
                let record = i as u64;
                let method = Method::from_tag(tag)?;
                let score = if method == Method::Probabilistic {
                    self.scores
                        .get(&(role, batch, record))
                        .copied()
                        .unwrap_or(0.0)
                } else {
                    1.0
                };
                Some((record, e, method, score))
            })
    }

    /// Points every link at `finds[entity]` (the survivor of a merge).
    fn remap(&mut self, finds: &[u32]) {
        for slots in self.by.values_mut() {
            for e in slots.entity.iter_mut().filter(|e| **e != Self::NONE) {
                *e = finds[*e as usize];
            }
        }
    }
}

/// Counts of a resolution run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ResolveCounts {
    pub mentions: u64,
    pub persons: u64,
    pub persons_registered: u64,
    pub legal_persons: u64,
    pub legal_persons_registered: u64,
    pub by_method: std::collections::BTreeMap<String, u64>,
    pub review_by_reason: std::collections::BTreeMap<String, u64>,
    pub probabilistic_candidates: u64,
    pub probabilistic_pairs_scored: u64,
    pub em_iterations: u64,
}

/// Resolves mentions in two calls: [`Resolver::add`] for every mention (registers first), then
/// [`Resolver::finish`].
pub struct Resolver {
    kinds: Vec<RoleKind>,
    registers: Vec<bool>,
    /// Whether a role's records carry a name / birth date (to weigh against a repaired key).
    descriptive: Vec<bool>,
    pub entities: Vec<Entity>,
    by_key: HashMap<(Kind, String), u32>,
    pending: Vec<(Mention, Kind, PendingWhy)>,
    /// Register persons by name, built at the first non-register mention (for recomputed
    /// checks).
    registered_by_name: Option<HashMap<String, Vec<u32>>>,
    /// Every linked mention.
    pub links: LinkIndex,
    /// Every mention sent to review.
    pub reviews: Vec<Decided>,
    pub counts: ResolveCounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PendingWhy {
    /// Missing or invalid key.
    Damaged,
    /// Valid and registered, but the name disagrees.
    NameDisagrees(u32),
    /// Valid, unregistered, and one edit from a register key.
    NearRegister,
    /// A register row whose well-formed ID contradicts the row's birth date or sex.
    RegisterContradicts,
}

/// Two names agree when equal, of equal length and one character apart (a typo), one character
/// dropped (a compound surname truncated, `欧阳娜` → `欧娜`), or with family and given name
/// swapped; anything else is weighed by the probabilistic stage rather than trusted. A key that
/// matched exactly is not vetoed by such a variant of the name.
fn names_agree(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    (x.len() == y.len() && x.iter().zip(&y).filter(|(p, q)| p != q).count() <= 1)
        || miaopi_link::one_character_dropped(a, b)
        || miaopi_link::order_swapped(a, b)
}

const ID_DIGITS: [u8; 10] = *b"0123456789";

/// A comparison this far against a link (log2 Bayes factor; −2 is 4 : 1 against) vetoes an
/// automatic probabilistic link, whatever the other comparisons add up to.
const CONTRADICTION_LOG2: f64 = -2.0;

fn min_factor(pair: &miaopi_link::PairResult) -> f64 {
    pair.log2_bayes_factors.iter().copied().fold(0.0, f64::min)
}

/// Codes one edit from `text` that `valid` accepts: one character replaced from `alphabet`
/// (the last from `last_alphabet`), or two characters swapped at one of the `gaps`.
fn one_edit_neighbours(
    text: &str,
    alphabet: &[u8],
    last_alphabet: &[u8],
    gaps: &[(usize, usize)],
    valid: impl Fn(&str) -> bool,
) -> Vec<String> {
    let bytes: Vec<u8> = text.bytes().map(|b| b.to_ascii_uppercase()).collect();
    if bytes.len() != 18 {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    let mut try_push = |candidate: &[u8]| {
        if candidate == bytes.as_slice() {
            return;
        }
        if let Ok(s) = std::str::from_utf8(candidate)
            && valid(s)
            && !out.iter().any(|o| o == s)
        {
            out.push(s.to_string());
        }
    };
    let mut work = bytes.clone();
    for i in 0..18 {
        let original = work[i];
        for &c in if i == 17 { last_alphabet } else { alphabet } {
            if c != original {
                work[i] = c;
                try_push(&work);
            }
        }
        work[i] = original;
    }
    for &(i, gap) in gaps {
        work.swap(i, i + gap);
        try_push(&work);
        work.swap(i, i + gap);
    }
    out
}

/// Resident IDs one edit from `text` that pass GB 11643: the check character recomputed, one
/// digit changed, two adjacent characters swapped, or two characters ten apart swapped (the
/// swap the check cannot see). `text` itself is excluded.
pub fn id_neighbours(text: &str) -> Vec<String> {
    let gaps: Vec<(usize, usize)> = (0..17)
        .map(|i| (i, 1))
        .chain((0..8).map(|i| (i, 10)))
        .collect();
    one_edit_neighbours(text, &ID_DIGITS, b"0123456789X", &gaps, |s| {
        ResidentId::parse(s).is_ok()
    })
}

const USCC_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Credit codes one substitution or adjacent swap from `text` that pass GB 32100.
pub fn uscc_neighbours(text: &str) -> Vec<String> {
    let gaps: Vec<(usize, usize)> = (0..17).map(|i| (i, 1)).collect();
    one_edit_neighbours(text, USCC_ALPHABET, USCC_ALPHABET, &gaps, |s| {
        Uscc::parse(s).is_ok()
    })
}

impl Resolver {
    pub fn new(roles: &[PartyRole]) -> Resolver {
        Resolver {
            kinds: roles.iter().map(|r| r.kind).collect(),
            registers: roles.iter().map(|r| r.register).collect(),
            descriptive: roles
                .iter()
                .map(|r| r.name_field.is_some() || r.birth_field.is_some())
                .collect(),
            entities: Vec::new(),
            by_key: HashMap::new(),
            pending: Vec::new(),
            registered_by_name: None,
            links: LinkIndex::default(),
            reviews: Vec::new(),
            counts: ResolveCounts::default(),
        }
    }

    /// Which kind of entity a mention names: fixed by the role, or for 证件号 by the value
    /// (a valid resident ID or credit code) or the intake's reason code (`id_…`, `uscc_…`).
    fn kind_of(&self, m: &Mention) -> Kind {
        match self.kinds.get(m.role as usize) {
            Some(RoleKind::Person) => Kind::Person,
            Some(RoleKind::LegalPerson) => Kind::LegalPerson,
            Some(RoleKind::Party) | None => match (&m.key_state, &m.key) {
                (KeyState::Invalid(code), _) if code.starts_with("uscc") => Kind::LegalPerson,
                (KeyState::Valid, Some(k)) if ResidentId::parse(k).is_err() => Kind::LegalPerson,
                _ => Kind::Person,
            },
        }
    }

    fn entity_for(&mut self, kind: Kind, m: &Mention, registered: bool) -> u32 {
        let key = m.key.clone().unwrap_or_default();
        self.entity_for_key(kind, key, m, registered)
    }

    /// The entity of `key` (created from `m`'s attributes if new), `m`'s attributes merged in.
    fn entity_for_key(&mut self, kind: Kind, key: String, m: &Mention, registered: bool) -> u32 {
        if let Some(&e) = self.by_key.get(&(kind, key.clone())) {
            let ent = &mut self.entities[e as usize];
            let source = (m.role, m.batch, m.record);
            // The least record's attributes win; others fill in where it has none.
            let earlier = source < ent.source;
            if earlier {
                ent.source = source;
            }
            for (slot, v) in [
                (&mut ent.name, &m.name),
                (&mut ent.sex, &m.sex),
                (&mut ent.birth, &m.birth),
                (&mut ent.address, &m.address),
            ] {
                if slot.is_none() || (earlier && v.is_some()) {
                    slot.clone_from(v);
                }
            }
            ent.registered |= registered;
            return e;
        }
        let e = self.entities.len() as u32;
        self.entities.push(Entity {
            kind,
            key: key.clone(),
            name: m.name.clone(),
            sex: m.sex.clone(),
            birth: m.birth.clone(),
            address: m.address.clone(),
            registered,
            mentions: 0,
            key_written: 0,
            merged_into: None,
            source: (m.role, m.batch, m.record),
        });
        self.by_key.insert((kind, key), e);
        e
    }

    fn link(&mut self, m: &Mention, kind: Kind, entity: u32, method: Method, score: f64) {
        if let Some(e) = self.entities.get_mut(entity as usize) {
            e.mentions += 1;
            if m.key.as_deref() == Some(e.key.as_str()) {
                e.key_written += 1;
            }
        }
        *self
            .counts
            .by_method
            .entry(method.code().to_string())
            .or_default() += 1;
        debug_assert_eq!(
            self.entities.get(entity as usize).map(|e| e.kind),
            Some(kind)
        );
        self.links
            .set(m.role, m.batch, m.record, entity, method, score);
    }

    fn review(
        &mut self,
        m: &Mention,
        kind: Kind,
        reason: ReviewReason,
        candidate: Option<u32>,
        probability: f64,
    ) {
        *self
            .counts
            .review_by_reason
            .entry(reason.code().to_string())
            .or_default() += 1;
        self.reviews.push(Decided {
            role: m.role,
            batch: m.batch,
            record: m.record,
            kind,
            resolution: Resolution::Review {
                reason,
                candidate,
                probability,
            },
        });
    }

    /// Takes one mention. Register mentions must all come before the others, so that the
    /// registers define the entities before anything is compared with them.
    pub fn add(&mut self, m: Mention) {
        self.counts.mentions += 1;
        let kind = self.kind_of(&m);
        let register = self
            .registers
            .get(m.role as usize)
            .copied()
            .unwrap_or(false);
        if register
            && kind == Kind::Person
            && m.key_state == KeyState::Invalid(ID_CONFLICTS_WITH_RECORD.into())
            && m.key
                .as_deref()
                .is_some_and(|k| ResidentId::parse(k).is_ok())
        {
            self.pending
                .push((m, kind, PendingWhy::RegisterContradicts));
            return;
        }
        if m.key_state != KeyState::Valid || m.key.is_none() {
            self.pending.push((m, kind, PendingWhy::Damaged));
            return;
        }
        if register {
            let e = self.entity_for(kind, &m, true);
            self.link(&m, kind, e, Method::KeyExact, 1.0);
            return;
        }
        let key = m.key.clone().unwrap_or_default();
        if let Some(&e) = self.by_key.get(&(kind, key.clone())) {
            let contradicts = match (&m.name, &self.entities[e as usize].name) {
                (Some(a), Some(b)) => kind == Kind::Person && !names_agree(a, b),
                _ => false,
            };
            if contradicts {
                self.pending.push((m, kind, PendingWhy::NameDisagrees(e)));
            } else {
                self.link(&m, kind, e, Method::KeyExact, 1.0);
            }
            return;
        }
        let registered = |n: &String| {
            self.by_key
                .get(&(Kind::Person, n.clone()))
                .is_some_and(|&e| self.entities[e as usize].registered)
        };
        if kind == Kind::Person && id_neighbours(&key).iter().any(registered) {
            self.pending.push((m, kind, PendingWhy::NearRegister));
            return;
        }
        if kind == Kind::Person
            && let Some(e) = self.check_recomputed_match(&m)
        {
            self.link(&m, kind, e, Method::CheckRecomputed, 1.0);
            return;
        }
        let e = self.entity_for(kind, &m, false);
        self.link(&m, kind, e, Method::KeyOutsider, 1.0);
    }

    /// The entity a merged one now belongs to.
    pub fn find(&self, mut e: u32) -> u32 {
        while let Some(next) = self.entities.get(e as usize).and_then(|x| x.merged_into) {
            e = next;
        }
        e
    }

    /// One person under two valid IDs that differ by swapping two digits ten places apart —
    /// the one transposition GB 11643 cannot detect — is merged into the ID more records
    /// wrote (counting the records that wrote it, not those linked to it otherwise: a
    /// register row under the swapped ID can gather probabilistic links from records that
    /// wrote the true one), unless their names, birth dates or sexes contradict. Two real people with such IDs and no contradicting attribute are far
    /// rarer than the typing error.
    fn merge_swapped_ids(&mut self) {
        let mut persons: Vec<u32> = (0..self.entities.len() as u32)
            .filter(|&e| self.entities[e as usize].kind == Kind::Person)
            .collect();
        // Key order, not discovery order: the merges do not depend on the order rows arrive.
        persons.sort_unstable_by(|a, b| {
            self.entities[*a as usize]
                .key
                .cmp(&self.entities[*b as usize].key)
        });
        for e in persons {
            if self.entities[e as usize].merged_into.is_some() {
                continue;
            }
            let key = self.entities[e as usize].key.clone();
            let bytes = key.as_bytes();
            if bytes.len() != 18 {
                continue;
            }
            for i in 0..8 {
                let mut swapped = bytes.to_vec();
                swapped.swap(i, i + 10);
                if swapped == bytes {
                    continue;
                }
                let Ok(other_key) = String::from_utf8(swapped) else {
                    continue;
                };
                let Some(&f) = self.by_key.get(&(Kind::Person, other_key)) else {
                    continue;
                };
                let (a, b) = (self.find(e), self.find(f));
                if a == b {
                    continue;
                }
                let (x, y) = (&self.entities[a as usize], &self.entities[b as usize]);
                let contradicts =
                    |p: &Option<String>, q: &Option<String>, agree: fn(&str, &str) -> bool| matches!((p, q), (Some(p), Some(q)) if !agree(p, q));
                if contradicts(&x.name, &y.name, names_agree)
                    || contradicts(&x.birth, &y.birth, |p, q| p == q)
                    || contradicts(&x.sex, &y.sex, |p, q| p == q)
                {
                    continue;
                }
                let (survivor, loser) = if (x.key_written, x.registered, x.mentions)
                    >= (y.key_written, y.registered, y.mentions)
                {
                    (a, b)
                } else {
                    (b, a)
                };
                let l = self.entities[loser as usize].clone();
                let s = &mut self.entities[survivor as usize];
                s.mentions += l.mentions;
                s.registered |= l.registered;
                for (slot, v) in [
                    (&mut s.name, l.name),
                    (&mut s.sex, l.sex),
                    (&mut s.birth, l.birth),
                    (&mut s.address, l.address),
                ] {
                    if slot.is_none() {
                        *slot = v;
                    }
                }
                self.entities[loser as usize].merged_into = Some(survivor);
                *self
                    .counts
                    .by_method
                    .entry("key_swap_merged".into())
                    .or_default() += l.mentions;
            }
        }
        // Point every decision at the surviving entity.
        let finds: Vec<u32> = (0..self.entities.len() as u32)
            .map(|e| self.find(e))
            .collect();
        self.links.remap(&finds);
        for d in &mut self.reviews {
            match &mut d.resolution {
                Resolution::Linked { entity, .. } => *entity = finds[*entity as usize],
                Resolution::Review {
                    candidate: Some(c), ..
                } => *c = finds[*c as usize],
                Resolution::Review { .. } => {}
            }
        }
    }

    /// A register row whose well-formed ID contradicts the row's own birth date or sex: the
    /// person is the one ID one edit away that agrees with the row (a ten-apart digit swap,
    /// the typing error GB 11643 cannot see, is the usual cause), or the ID as written when no
    /// single neighbour agrees (the row's birth date may be the typo). The register row keeps
    /// its place either way — it never waits in review while the person has no 户籍 — and its
    /// method tells readers that its facts conflict.
    fn settle_contradicting_register(&mut self, m: Mention, kind: Kind) {
        let written = m.key.clone().unwrap_or_default();
        let agrees_with_row = |id: &ResidentId| {
            m.birth
                .as_deref()
                .is_none_or(|b| b == id.birth_date().to_string())
                && m.sex
                    .as_deref()
                    .and_then(miaopi_model::Sex::from_code_or_label)
                    .is_none_or(|s| s == id.sex())
        };
        let agreeing: Vec<String> = id_neighbours(&written)
            .into_iter()
            .filter(|n| ResidentId::parse(n).is_ok_and(|id| agrees_with_row(&id)))
            .collect();
        let key = match <[String; 1]>::try_from(agreeing) {
            Ok([one]) => one,
            Err(_) => written,
        };
        let e = self.entity_for_key(kind, key, &m, true);
        self.link(&m, kind, e, Method::RegisterKeyConflict, 1.0);
    }

    /// Registered entities of `kind` (not merged away) by what `key_of` reads from their key.
    fn registered_by(
        &self,
        kind: Kind,
        key_of: impl Fn(&str) -> Option<String>,
    ) -> HashMap<String, Vec<u32>> {
        let mut map: HashMap<String, Vec<u32>> = HashMap::new();
        for (e, ent) in self.entities.iter().enumerate() {
            if ent.kind != kind || !ent.registered || ent.merged_into.is_some() {
                continue;
            }
            if let Some(k) = key_of(&ent.key) {
                map.entry(k).or_default().push(e as u32);
            }
        }
        map
    }

    /// Registered legal persons by the organisation code inside their credit code (positions
    /// 9–17), for records that carry the pre-2016 code. Several under one code (the code was
    /// reissued, or two registrations share it) are all kept, so the record goes to review.
    fn registered_by_organisation_code(&self) -> HashMap<String, Vec<u32>> {
        self.registered_by(Kind::LegalPerson, |key| {
            Uscc::parse(key)
                .ok()
                .map(|code| code.organisation_code().to_owned())
        })
    }

    /// The one register person whose ID differs from a valid, unregistered one in one of the
    /// first 17 digits — a wrong digit whose check character a unit's system recomputed (no
    /// single substitution turns a valid ID into another, so this is two edits and kept apart
    /// from [`id_neighbours`]) — whose name equals the record's exactly and whose
    /// birth date and sex agree with the record's (its own fields, else those the written ID
    /// carries). Exact names only: twins' names often differ by one character, and a twin's
    /// ID with one digit changed can be the other twin's.
    fn check_recomputed_match(&mut self, m: &Mention) -> Option<u32> {
        let key = m.key.as_deref()?;
        let written = ResidentId::parse(key).ok()?;
        let name = m.name.as_deref()?;
        let birth = m
            .birth
            .clone()
            .unwrap_or_else(|| written.birth_date().to_string());
        let sex = m
            .sex
            .as_deref()
            .and_then(miaopi_model::Sex::from_code_or_label)
            .unwrap_or(written.sex());
        if self.registered_by_name.is_none() {
            // Registers come first (see `add`), so they are complete by now.
            let mut map: HashMap<String, Vec<u32>> = HashMap::new();
            for (e, ent) in self.entities.iter().enumerate() {
                if ent.kind == Kind::Person
                    && ent.registered
                    && let Some(n) = &ent.name
                {
                    map.entry(n.clone()).or_default().push(e as u32);
                }
            }
            self.registered_by_name = Some(map);
        }
        let same_name = self.registered_by_name.as_ref()?.get(name)?;
        // Two valid IDs one digit apart in the first 17 always differ in the check too, so one
        // differing position there is exactly "one digit, check recomputed".
        let one_digit_apart = |other: &str| {
            other.len() == 18
                && other.as_bytes()[..17]
                    .iter()
                    .zip(&key.as_bytes()[..17])
                    .filter(|(a, b)| a != b)
                    .count()
                    == 1
        };
        let found: Vec<u32> = same_name
            .iter()
            .copied()
            .filter(|&e| {
                let ent = &self.entities[e as usize];
                ent.merged_into.is_none()
                    && one_digit_apart(&ent.key)
                    && ResidentId::parse(&ent.key)
                        .is_ok_and(|id| id.birth_date().to_string() == birth && id.sex() == sex)
            })
            .collect();
        match found.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Register persons by birth date (the register's ID's), for the twin rule.
    fn registered_persons_by_birth(&self) -> HashMap<String, Vec<u32>> {
        self.registered_by(Kind::Person, |key| {
            ResidentId::parse(key)
                .ok()
                .map(|id| id.birth_date().to_string())
        })
    }

    /// Whether a probabilistic link of `m` to `e` would pick one of two register people the
    /// record cannot tell apart: another register person born the same day, at the same
    /// address, agrees with every attribute the record carries (its name as a variant, sex,
    /// address), and the record's name is not exactly `e`'s.
    /// Twins are the case: same birth date and address, names a character apart — the record
    /// that carries no ID must name the one it means exactly.
    fn has_indistinguishable_twin(
        &self,
        m: &Mention,
        e: u32,
        by_birth: &HashMap<String, Vec<u32>>,
    ) -> bool {
        let chosen = &self.entities[e as usize];
        if m.name.is_some() && m.name == chosen.name {
            return false;
        }
        let Some(birth) = ResidentId::parse(&chosen.key)
            .ok()
            .map(|id| id.birth_date().to_string())
        else {
            return false;
        };
        by_birth.get(&birth).is_some_and(|born| {
            born.iter().any(|&other| {
                let o = &self.entities[other as usize];
                other != e
                    && o.address.is_some()
                    && o.address == chosen.address
                    && m.address
                        .as_ref()
                        .is_none_or(|a| Some(a) == o.address.as_ref())
                    && match (&m.name, &o.name) {
                        (Some(mine), Some(theirs)) => names_agree(mine, theirs),
                        _ => true,
                    }
                    && ResidentId::parse(&o.key).is_ok_and(|id| {
                        m.sex
                            .as_deref()
                            .and_then(miaopi_model::Sex::from_code_or_label)
                            .is_none_or(|s| s == id.sex())
                    })
            })
        })
    }

    /// Register entities one edit from a damaged or suspect key.
    fn repair_candidates(&self, kind: Kind, key: &str) -> Vec<u32> {
        let neighbours = match kind {
            Kind::Person => id_neighbours(key),
            Kind::LegalPerson => uscc_neighbours(key),
        };
        neighbours
            .iter()
            .filter_map(|n| self.by_key.get(&(kind, n.clone())).copied())
            .collect()
    }

    /// Resolves every pending mention and returns the decisions of all mentions.
    pub fn finish(mut self) -> Result<Resolver, EntityError> {
        let mut pending = std::mem::take(&mut self.pending);
        // The probabilistic stage samples random pairs for u by position, so its inputs go in
        // a fixed order: mentions by (role, batch, record), entities by key (below).
        pending.sort_by_key(|(m, _, _)| (m.role, m.batch, m.record));
        // Self-contradicting register rows first: they define (or join) entities the other
        // pending mentions are compared with.
        let (contradicting, pending): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(_, _, why)| *why == PendingWhy::RegisterContradicts);
        for (m, kind, _) in contradicting {
            self.settle_contradicting_register(m, kind);
        }
        let (persons, enterprises): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(_, k, _)| *k == Kind::Person);
        self.resolve_persons(persons)?;
        let by_organisation_code = self.registered_by_organisation_code();
        for (m, kind, _) in enterprises {
            let old_code = m.key_state == KeyState::Invalid(USCC_IS_ORGANISATION_CODE.into());
            let candidates = match m.key.as_deref() {
                Some(k) if old_code => {
                    let compact: String = k.chars().filter(|c| *c != '-').collect();
                    by_organisation_code
                        .get(&compact)
                        .cloned()
                        .unwrap_or_default()
                }
                Some(k) => self.repair_candidates(kind, k),
                None => Vec::new(),
            };
            let method = if old_code {
                Method::OrganisationCode
            } else {
                Method::KeyRepair
            };
            match candidates.as_slice() {
                [one] => {
                    let agrees = match (&m.name, &self.entities[*one as usize].name) {
                        (Some(a), Some(b)) => a == b,
                        _ => true,
                    };
                    if agrees {
                        self.link(&m, kind, *one, method, 1.0);
                    } else {
                        self.review(&m, kind, ReviewReason::Uncertain, Some(*one), 0.0);
                    }
                }
                [] => self.review(&m, kind, ReviewReason::NoCandidate, None, 0.0),
                [first, ..] => {
                    let first = *first;
                    self.review(&m, kind, ReviewReason::AmbiguousRepair, Some(first), 0.0)
                }
            }
        }
        self.merge_swapped_ids();
        for e in self.entities.iter().filter(|e| e.merged_into.is_none()) {
            match (e.kind, e.registered) {
                (Kind::Person, r) => {
                    self.counts.persons += 1;
                    self.counts.persons_registered += u64::from(r);
                }
                (Kind::LegalPerson, r) => {
                    self.counts.legal_persons += 1;
                    self.counts.legal_persons_registered += u64::from(r);
                }
            }
        }
        Ok(self)
    }

    fn resolve_persons(
        &mut self,
        pending: Vec<(Mention, Kind, PendingWhy)>,
    ) -> Result<(), EntityError> {
        if pending.is_empty() {
            return Ok(());
        }
        const CANDIDATE: &str = "candidate";
        let columns = [
            "name",
            "sex",
            "birth_date",
            "resident_id",
            "address_code",
            CANDIDATE,
        ];
        let mut person_entities: Vec<u32> = (0..self.entities.len() as u32)
            .filter(|&e| self.entities[e as usize].kind == Kind::Person)
            .collect();
        person_entities.sort_unstable_by(|a, b| {
            self.entities[*a as usize]
                .key
                .cmp(&self.entities[*b as usize].key)
        });
        let mut b = Dataset::new(columns);
        for (row, &e) in person_entities.iter().enumerate() {
            let ent = &self.entities[e as usize];
            b.push(
                row as u64,
                vec![
                    ent.name.clone(),
                    ent.sex.clone(),
                    ent.birth.clone(),
                    Some(ent.key.clone()),
                    ent.address.clone(),
                    Some(ent.key.clone()),
                ],
            )?;
        }
        // One A row per (mention, repair candidate), so blocking on `candidate` brings each
        // candidate into comparison; plus one without, for the other blocking rules.
        let mut a = Dataset::new(columns);
        let mut a_mention: Vec<usize> = Vec::new();
        let mut candidates_of: Vec<Vec<u32>> = Vec::with_capacity(pending.len());
        for (i, (m, kind, why)) in pending.iter().enumerate() {
            let mut cands = m
                .key
                .as_deref()
                .map(|k| self.repair_candidates(*kind, k))
                .unwrap_or_default();
            if let PendingWhy::NameDisagrees(e) = why {
                cands.push(*e);
            }
            self.counts.probabilistic_candidates += cands.len() as u64;
            let base = vec![
                m.name.clone(),
                m.sex.clone(),
                m.birth.clone(),
                m.key.clone(),
                m.address.clone(),
            ];
            for c in cands
                .iter()
                .map(|&c| Some(self.entities[c as usize].key.clone()))
                .chain([None])
            {
                let mut values = base.clone();
                values.push(c);
                a.push(a_mention.len() as u64, values)?;
                a_mention.push(i);
            }
            candidates_of.push(cands);
        }
        let mut spec = person_spec();
        // The ID-carries-birth-date comparison restates the birth-date comparison whenever one
        // side has no ID (the common case here) and would count that evidence twice; swapped
        // but valid IDs are handled by `merge_swapped_ids` instead.
        spec.comparisons.retain(|c| c.name != "id_birth_sex");
        spec.blocking.push(BlockingRule::new(
            Some("repair_candidate".into()),
            vec![KeyPart::derived(CANDIDATE, Transform::Value)],
        ));
        let outcome = miaopi_link::link(&spec, &a, &b)?;
        self.counts.probabilistic_pairs_scored += outcome.counts.pairs_compared as u64;
        self.counts.em_iterations += outcome.model.em_iterations as u64;
        // Best pair per mention, and the best probability of any other entity.
        let mut best: Vec<Option<(f64, Decision, u32)>> = vec![None; pending.len()];
        let mut runner_up: Vec<f64> = vec![0.0; pending.len()];
        let mut strongest_against: Vec<f64> = vec![0.0; pending.len()];
        for pair in &outcome.pairs {
            let (Some(&mi), Some(&e)) = (
                a_mention.get(pair.a as usize),
                person_entities.get(pair.b as usize),
            ) else {
                continue;
            };
            match best[mi] {
                Some((p, _, be)) if pair.match_probability <= p => {
                    if be != e {
                        runner_up[mi] = runner_up[mi].max(pair.match_probability);
                    }
                }
                Some((p, _, be)) => {
                    if be != e {
                        runner_up[mi] = runner_up[mi].max(p);
                    }
                    best[mi] = Some((pair.match_probability, pair.decision, e));
                    strongest_against[mi] = min_factor(pair);
                }
                None => {
                    best[mi] = Some((pair.match_probability, pair.decision, e));
                    strongest_against[mi] = min_factor(pair);
                }
            }
        }
        // Two entities both plausible, or one attribute strongly against the link (a name
        // that is neither equal, a homophone nor a typo): a person must choose, not the sum.
        let review_at = spec.decision.review_probability;
        for (i, b) in best.iter_mut().enumerate() {
            if let Some((_, d @ Decision::Link, _)) = b
                && (runner_up[i] >= review_at || strongest_against[i] < CONTRADICTION_LOG2)
            {
                *d = Decision::Review;
            }
        }
        let by_birth = self.registered_persons_by_birth();
        for (i, (m, kind, why)) in pending.into_iter().enumerate() {
            match best[i] {
                Some((p, Decision::Link, e))
                    if self.has_indistinguishable_twin(&m, e, &by_birth) =>
                {
                    self.review(&m, kind, ReviewReason::PossibleTwin, Some(e), p);
                    continue;
                }
                Some((p, Decision::Link, e)) => {
                    self.link(&m, kind, e, Method::Probabilistic, p);
                    continue;
                }
                _ if why == PendingWhy::NearRegister => {
                    // Not the registered neighbour: a real, unregistered ID.
                    let e = self.entity_for(kind, &m, false);
                    self.link(&m, kind, e, Method::KeyOutsider, 1.0);
                    continue;
                }
                _ => {}
            }
            let descriptive = self
                .descriptive
                .get(m.role as usize)
                .copied()
                .unwrap_or(false)
                && (m.name.is_some() || m.birth.is_some());
            let cands = &candidates_of[i];
            match (why, cands.as_slice(), best[i]) {
                (PendingWhy::NameDisagrees(e), _, b) => self.review(
                    &m,
                    kind,
                    ReviewReason::NameContradicts,
                    Some(e),
                    b.map_or(0.0, |x| x.0),
                ),
                (_, [one], _) if !descriptive => {
                    let e = *one;
                    self.link(&m, kind, e, Method::KeyRepair, 1.0)
                }
                (_, _, Some((p, Decision::Review, e))) => {
                    self.review(&m, kind, ReviewReason::Uncertain, Some(e), p)
                }
                (_, [first, _, ..], b) => {
                    let first = *first;
                    self.review(
                        &m,
                        kind,
                        ReviewReason::AmbiguousRepair,
                        Some(first),
                        b.map_or(0.0, |x| x.0),
                    )
                }
                (_, _, b) => self.review(
                    &m,
                    kind,
                    ReviewReason::NoCandidate,
                    b.map(|x| x.2),
                    b.map_or(0.0, |x| x.0),
                ),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_of_a_damaged_id_include_the_true_one() {
        let truth = "11010519491231002X";
        // Check character typo, digit typo (then the check fails), adjacent swap.
        for damaged in [
            "110105194912310021",
            "11010519491231003X",
            "11010519492131002X",
        ] {
            let n = id_neighbours(damaged);
            assert!(n.contains(&truth.to_string()), "{damaged}: {n:?}");
            assert!(n.iter().all(|s| ResidentId::parse(s).is_ok()));
        }
        assert!(id_neighbours("123").is_empty());
    }

    fn role(resource: &str, register: bool) -> PartyRole {
        let some = |f: &str| Some(f.to_string());
        PartyRole {
            resource: resource.into(),
            unit: "police".into(),
            kind: RoleKind::Person,
            key_field: "resident_id".into(),
            name_field: some("name"),
            sex_field: if register { some("sex") } else { None },
            birth_field: if register { some("birth_date") } else { None },
            address_field: None,
            register,
            authority: usize::from(!register),
            fields: Vec::new(),
            profile_facts: true,
        }
    }

    fn mention(role: u16, record: u64, key: &str, state: KeyState, birth: Option<&str>) -> Mention {
        Mention {
            role,
            batch: 0,
            record,
            key: Some(key.into()),
            key_state: state,
            name: Some("王芳".into()),
            sex: birth.map(|_| "2".into()),
            birth: birth.map(str::to_string),
            address: None,
        }
    }

    /// A 户籍 row whose ID has two digits ten apart swapped (the check still passes; the ID's
    /// birth date is no longer the row's): the row joins the person of the true ID that other
    /// units use, registered, instead of waiting in review — and says how it was linked.
    #[test]
    fn a_register_row_contradicting_its_own_id_joins_the_agreeing_person() {
        let truth = "11010519491231002X";
        let written = "11310519491201002X";
        assert!(
            ResidentId::parse(written).is_ok(),
            "a ten-apart swap keeps the check"
        );
        let conflict = || KeyState::Invalid(ID_CONFLICTS_WITH_RECORD.into());
        let mut r = Resolver::new(&[
            role("hukou_residents", true),
            role("social_insurance", false),
        ]);
        r.add(mention(0, 0, written, conflict(), Some("1949-12-31")));
        r.add(mention(1, 0, truth, KeyState::Valid, None));
        let r = r.finish().unwrap();
        assert!(r.reviews.is_empty(), "{:?}", r.reviews);
        let (e_row, e_other) = (r.links.get(0, 0, 0).unwrap(), r.links.get(1, 0, 0).unwrap());
        assert_eq!(e_row, e_other);
        let person = &r.entities[e_row as usize];
        assert_eq!(person.key, truth);
        assert!(person.registered);
        let methods: Vec<Method> = r.links.group(0, 0).map(|(_, _, m, _)| m).collect();
        assert_eq!(methods, [Method::RegisterKeyConflict]);
        assert_eq!(r.counts.by_method[REGISTER_KEY_CONFLICT], 1);

        // A row whose birth date no neighbour of its ID carries keeps the ID as written: the
        // register is not rewritten on a guess, and the row is still not lost to review.
        let mut r = Resolver::new(&[role("hukou_residents", true)]);
        r.add(mention(0, 0, written, conflict(), Some("1950-06-01")));
        let r = r.finish().unwrap();
        assert!(r.reviews.is_empty());
        let e = r.links.get(0, 0, 0).unwrap();
        assert_eq!(r.entities[e as usize].key, written);
        assert!(r.entities[e as usize].registered);
    }

    #[test]
    fn names_agree_on_a_typo_or_a_known_variant_only() {
        assert!(names_agree("张伟", "张伟"));
        assert!(names_agree("张伟", "张玮"));
        assert!(names_agree("欧阳娜", "欧娜"));
        assert!(names_agree("张伟明", "张明"));
        assert!(names_agree("张伟", "伟张"));
        assert!(!names_agree("张伟", "李玮"));
        assert!(!names_agree("张伟", "李伟明"));
        assert!(!names_agree("张伟明", "李明"));
    }

    /// Twins: same birth date and address, names a character apart. A record without an ID
    /// that names one exactly may link to her; one whose name is a variant of both may not.
    #[test]
    fn a_twin_is_linked_only_by_what_tells_the_two_apart() {
        let first = "11010519491231002X";
        let mut second17 = first.as_bytes()[..17].to_vec();
        second17[16] = b'4';
        let check = miaopi_model::resident_id::check_char(&second17).unwrap();
        let second = format!(
            "{}{}",
            std::str::from_utf8(&second17).unwrap(),
            check as char
        );
        let mut r = Resolver::new(&[role("hukou_residents", true), role("rental", false)]);
        for (record, id, name) in [(0, first, "王芳"), (1, second.as_str(), "王芬")] {
            let mut m = mention(0, record, id, KeyState::Valid, Some("1949-12-31"));
            m.name = Some(name.into());
            m.address = Some("440304001001001".into());
            r.add(m);
        }
        let sister = r.links.get(0, 0, 0).unwrap();
        let by_birth = r.registered_persons_by_birth();
        let record = |name: &str, address: Option<&str>| Mention {
            key: None,
            key_state: KeyState::Missing,
            name: Some(name.into()),
            address: address.map(str::to_string),
            ..mention(1, 0, first, KeyState::Missing, None)
        };
        assert!(!r.has_indistinguishable_twin(&record("王芳", None), sister, &by_birth));
        assert!(r.has_indistinguishable_twin(&record("王方", None), sister, &by_birth));
        assert!(r.has_indistinguishable_twin(
            &record("王方", Some("440304001001001")),
            sister,
            &by_birth
        ));
        // A different address is not the twin's: the record is someone at that address.
        assert!(!r.has_indistinguishable_twin(
            &record("王方", Some("440304001001999")),
            sister,
            &by_birth
        ));
    }

    /// A unit's system "repaired" a wrong digit by recomputing the check character: the ID is
    /// valid but nobody's. The register person one digit away, with the same name, birth date
    /// and sex, is the one; a different name leaves the ID its own.
    #[test]
    fn a_recomputed_check_links_to_the_register_person_when_everything_else_agrees() {
        let truth = "11010519491231002X";
        let mut first17 = truth.as_bytes()[..17].to_vec();
        first17[15] = b'7';
        let check = miaopi_model::resident_id::check_char(&first17).unwrap();
        let written = format!(
            "{}{}",
            std::str::from_utf8(&first17).unwrap(),
            check as char
        );
        assert!(
            ResidentId::parse(&written).is_ok(),
            "the check was recomputed"
        );
        assert!(
            !id_neighbours(&written).contains(&truth.to_string()),
            "two edits, not one"
        );
        for (name, links) in [("王芳", true), ("王丽", false)] {
            let mut r = Resolver::new(&[
                role("hukou_residents", true),
                role("social_insurance", false),
            ]);
            r.add(mention(0, 0, truth, KeyState::Valid, Some("1949-12-31")));
            let mut other = mention(1, 0, &written, KeyState::Valid, None);
            other.name = Some(name.into());
            r.add(other);
            let r = r.finish().unwrap();
            let register = r.links.get(0, 0, 0).unwrap();
            let linked = r.links.get(1, 0, 0);
            assert_eq!(linked == Some(register), links, "{name}");
            if links {
                let methods: Vec<Method> = r.links.group(1, 0).map(|(_, _, m, _)| m).collect();
                assert_eq!(methods, [Method::CheckRecomputed]);
            }
        }
    }
}

//! The profile model: what the index stores for one entity. Pure data, no I/O.

use std::collections::BTreeMap;
use std::fmt;

use miaopi_model::{ResidentId, Uscc};
use serde::{Deserialize, Serialize};

/// 六大基础库: the base database an entity belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// 人口: a natural person.
    Person,
    /// 法人: an enterprise, institution or other legal person.
    LegalPerson,
    /// 楼栋房屋: a building or a house (不动产单元).
    House,
    /// 标准地址: a standard address.
    Address,
    /// 证照: a licence or e-certificate.
    Certificate,
    /// 城市部件: a city component (manhole, lamp, hydrant ...).
    Component,
}

impl EntityKind {
    /// Every kind, in tag order.
    pub const ALL: [EntityKind; 6] = [
        EntityKind::Person,
        EntityKind::LegalPerson,
        EntityKind::House,
        EntityKind::Address,
        EntityKind::Certificate,
        EntityKind::Component,
    ];

    /// The stable snake_case code, as in serde and in the index's count table.
    pub fn code(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::LegalPerson => "legal_person",
            EntityKind::House => "house",
            EntityKind::Address => "address",
            EntityKind::Certificate => "certificate",
            EntityKind::Component => "component",
        }
    }

    /// The base database's Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            EntityKind::Person => "人口",
            EntityKind::LegalPerson => "法人",
            EntityKind::House => "楼栋房屋",
            EntityKind::Address => "标准地址",
            EntityKind::Certificate => "证照",
            EntityKind::Component => "城市部件",
        }
    }

    /// The byte stored in encoded profiles; part of the on-disk format, never renumber.
    pub(crate) fn tag(self) -> u8 {
        match self {
            EntityKind::Person => 1,
            EntityKind::LegalPerson => 2,
            EntityKind::House => 3,
            EntityKind::Address => 4,
            EntityKind::Certificate => 5,
            EntityKind::Component => 6,
        }
    }

    pub(crate) fn from_tag(tag: u8) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.tag() == tag)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// 实体编号: the stable id the linker assigns to an entity, e.g. `P-000123`.
///
/// Opaque to the index: it is never parsed, only compared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntityId(pub String);

impl EntityId {
    pub fn new(id: impl Into<String>) -> EntityId {
        EntityId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for EntityId {
    fn from(s: &str) -> EntityId {
        EntityId(s.to_string())
    }
}

/// What a key identifies by; the names follow the catalogue's field roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// 公民身份号码 (GB 11643).
    PersonId,
    /// 统一社会信用代码 (GB 32100).
    CreditCode,
    /// 地址编码: a standard address code.
    AddressCode,
    /// 房屋编码, e.g. 不动产单元号.
    HouseId,
    /// 楼栋编码.
    BuildingCode,
    /// 证照编号: a certificate's number or e-certificate identifier.
    CertificateNo,
    /// 部件编码: a city component's code.
    ComponentCode,
}

impl KeyKind {
    pub const ALL: [KeyKind; 7] = [
        KeyKind::PersonId,
        KeyKind::CreditCode,
        KeyKind::AddressCode,
        KeyKind::HouseId,
        KeyKind::BuildingCode,
        KeyKind::CertificateNo,
        KeyKind::ComponentCode,
    ];

    pub fn code(self) -> &'static str {
        match self {
            KeyKind::PersonId => "person_id",
            KeyKind::CreditCode => "credit_code",
            KeyKind::AddressCode => "address_code",
            KeyKind::HouseId => "house_id",
            KeyKind::BuildingCode => "building_code",
            KeyKind::CertificateNo => "certificate_no",
            KeyKind::ComponentCode => "component_code",
        }
    }

    /// The first byte of the key as stored; part of the on-disk format, never renumber.
    pub(crate) fn tag(self) -> u8 {
        match self {
            KeyKind::PersonId => 1,
            KeyKind::CreditCode => 2,
            KeyKind::AddressCode => 3,
            KeyKind::HouseId => 4,
            KeyKind::BuildingCode => 5,
            KeyKind::CertificateNo => 6,
            KeyKind::ComponentCode => 7,
        }
    }

    pub(crate) fn from_tag(tag: u8) -> Option<KeyKind> {
        KeyKind::ALL.into_iter().find(|k| k.tag() == tag)
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A look-up key: a kind and a normalised value.
///
/// The constructors normalise, so that the forms a clerk or a source file produces for the same
/// identifier meet in one key: surrounding whitespace goes, full-width characters become ASCII,
/// letters are upper-cased, and a resident ID that parses leniently (15-digit legacy numbers,
/// lower-case `x`) becomes its canonical 18-character form. An identifier that does not parse
/// stays a key in its cleaned form: invalid keys still have to be found (ARCHITECTURE.md,
/// "invalid keys are not rejects").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "RawKey", into = "RawKey")]
pub struct Key {
    kind: KeyKind,
    value: String,
}

#[derive(Serialize, Deserialize)]
struct RawKey {
    kind: KeyKind,
    value: String,
}

impl From<RawKey> for Key {
    fn from(raw: RawKey) -> Key {
        Key::new(raw.kind, &raw.value)
    }
}

impl From<Key> for RawKey {
    fn from(key: Key) -> RawKey {
        RawKey {
            kind: key.kind,
            value: key.value,
        }
    }
}

impl Key {
    /// A key of any kind, normalised as the type documents.
    pub fn new(kind: KeyKind, value: &str) -> Key {
        let cleaned = clean_identifier(value);
        let value = match kind {
            KeyKind::PersonId => match ResidentId::parse_lenient(&cleaned) {
                Ok(parsed) => parsed.id.as_str().to_string(),
                Err(_) => cleaned,
            },
            KeyKind::CreditCode => match Uscc::parse_lenient(&cleaned) {
                Ok(code) => code.as_str().to_string(),
                Err(_) => cleaned,
            },
            _ => cleaned,
        };
        Key { kind, value }
    }

    /// 一证通办: a person by resident ID number.
    pub fn person(resident_id: &str) -> Key {
        Key::new(KeyKind::PersonId, resident_id)
    }

    /// A legal person by unified social credit code.
    pub fn credit_code(uscc: &str) -> Key {
        Key::new(KeyKind::CreditCode, uscc)
    }

    /// A standard address by address code.
    pub fn address_code(code: &str) -> Key {
        Key::new(KeyKind::AddressCode, code)
    }

    /// A house by house id (不动产单元号).
    pub fn house(house_id: &str) -> Key {
        Key::new(KeyKind::HouseId, house_id)
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// The bytes the key table stores: the kind's tag, then the value. A kind prefix rather
    /// than one table per kind keeps a look-up at one B-tree descent whatever the kind.
    /// (What [`crate::IndexReader::for_each_key`] hands out.)
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.value.len());
        out.push(self.kind.tag());
        out.extend_from_slice(self.value.as_bytes());
        out
    }

    /// Builds a key from stored parts without normalising again: the stored form already is.
    pub(crate) fn from_stored(kind: KeyKind, value: String) -> Key {
        Key { kind, value }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// Trims, maps full-width ASCII (what a Chinese IME in full-width mode types) and the
/// ideographic space to ASCII, and upper-cases.
fn clean_identifier(s: &str) -> String {
    const FULL_WIDTH_OFFSET: u32 = 0xFEE0;
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => {
                char::from_u32(u32::from(c) - FULL_WIDTH_OFFSET).unwrap_or(c)
            }
            _ => c,
        })
        .collect::<String>()
        .trim()
        .to_ascii_uppercase()
}

/// 事实: one value of one field of one source record, with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// 信息资源 code, e.g. `hukou_residents`.
    pub resource: String,
    /// 信息项 name, e.g. `birth_date`.
    pub field: String,
    /// The typed value as text (dates `YYYY-MM-DD`, decimals in plain notation, codes as codes).
    pub value: String,
    /// 提供方: the source unit's code, e.g. `police`.
    pub unit: String,
    /// The intake batch the record came in (content hash).
    pub batch_id: String,
    /// When the batch was ingested, microseconds since the Unix epoch.
    pub ingested_at_us: i64,
    /// The record's number within the batch (line or record reference).
    pub record: u64,
    /// 有效期: the period the source states the value holds for, when it states one.
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    /// 敏感级别 1..=4, the catalogue's L1–L4 for this field.
    pub sensitivity: u8,
}

impl Fact {
    /// The identity merges deduplicate on: the same field of the same record of the same batch
    /// is the same fact, whatever value a re-run computes.
    pub fn identity(&self) -> (&str, &str, u64, &str) {
        (&self.resource, &self.batch_id, self.record, &self.field)
    }
}

/// How the linker tied a source record to this entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// e.g. `deterministic:person_id`, `probabilistic`.
    pub method: String,
    /// Match score in 0..=1 (1 for deterministic links).
    pub score: f64,
}

/// [`Link::method`] of a register row whose well-formed resident ID contradicts the row's own
/// birth date or sex (linked to the agreeing ID one edit away, or kept under the ID as
/// written): every fact read from that record is conflicting, and a decision on it goes to a
/// person with the contradiction named.
pub const REGISTER_KEY_CONFLICT: &str = "register_key_conflict";

/// The link of one source record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceLink {
    pub resource: String,
    pub batch_id: String,
    pub record: u64,
    pub link: Link,
}

/// Edge relations the linker emits (knowledge-graph predicates).
pub mod relation {
    pub const PARENT_OF: &str = "parent_of";
    pub const SPOUSE_OF: &str = "spouse_of";
    pub const HOUSEHOLD_MEMBER: &str = "household_member";
    pub const RESIDES_AT: &str = "resides_at";
    pub const OWNS: &str = "owns";
    pub const RENTS: &str = "rents";
    pub const EMPLOYED_BY: &str = "employed_by";
    pub const LEGAL_REP_OF: &str = "legal_rep_of";
    pub const LOCATED_AT: &str = "located_at";
    pub const IN_COMMUNITY: &str = "in_community";
    pub const IN_STREET: &str = "in_street";
}

/// 关系: a directed edge from this entity to another, with the record that states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// One of [`relation`]'s names.
    pub relation: String,
    pub to: EntityId,
    pub from_date: Option<String>,
    pub to_date: Option<String>,
    pub resource: String,
    pub batch_id: String,
}

/// A value that lost survivorship, kept so a reader can see the sources disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub value: String,
    pub resource: String,
}

/// 黄金记录: the surviving value of a field, chosen by the linker (source authority, recency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoldenValue {
    pub value: String,
    pub resource: String,
    pub unit: String,
    pub conflicts: Vec<Conflict>,
}

/// 实体档案: everything the platform knows about one entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub entity_id: EntityId,
    pub kind: EntityKind,
    /// Golden values by field name.
    pub golden: BTreeMap<String, GoldenValue>,
    pub facts: Vec<Fact>,
    pub edges: Vec<Edge>,
    /// Every key that finds this entity. A key belongs to at most one entity.
    pub keys: Vec<Key>,
    /// Link evidence per source record, where the linker recorded it.
    #[serde(default)]
    pub links: Vec<SourceLink>,
}

impl Profile {
    /// An empty profile.
    pub fn new(entity_id: EntityId, kind: EntityKind) -> Profile {
        Profile {
            entity_id,
            kind,
            golden: BTreeMap::new(),
            facts: Vec::new(),
            edges: Vec::new(),
            keys: Vec::new(),
            links: Vec::new(),
        }
    }

    /// Facts of one field, in stored order.
    pub fn facts_of<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a Fact> + 'a {
        self.facts.iter().filter(move |f| f.field == field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_keys_meet_in_the_canonical_form() {
        let canonical = Key::person("11010519491231002X");
        assert_eq!(canonical.value(), "11010519491231002X");
        assert_eq!(Key::person(" 11010519491231002x "), canonical);
        assert_eq!(
            Key::person("１１０１０５１９４９１２３１００２Ｘ"),
            canonical
        );
        // A legacy 15-digit number is upgraded (19 inserted, check character appended).
        let upgraded = Key::person("440524800101001");
        assert_eq!(upgraded.value().len(), 18);
        assert!(upgraded.value().starts_with("44052419800101001"));
        assert_eq!(Key::person(upgraded.value()), upgraded);
    }

    #[test]
    fn invalid_ids_stay_keys_in_cleaned_form() {
        let k = Key::person(" 11010519491231002y");
        assert_eq!(k.value(), "11010519491231002Y");
        assert_eq!(k.kind(), KeyKind::PersonId);
    }

    #[test]
    fn credit_codes_are_upper_cased() {
        assert_eq!(
            Key::credit_code("91350100m000100y43").value(),
            "91350100M000100Y43"
        );
    }

    #[test]
    fn kinds_differ_even_with_equal_values() {
        assert_ne!(Key::address_code("123"), Key::house("123"));
        assert_ne!(
            Key::address_code("123").to_bytes(),
            Key::house("123").to_bytes()
        );
    }

    #[test]
    fn key_bytes_lead_with_the_kind() {
        for kind in KeyKind::ALL {
            let k = Key::new(kind, "ab-12");
            let bytes = k.to_bytes();
            assert_eq!(KeyKind::from_tag(bytes[0]), Some(kind));
            assert_eq!(&bytes[1..], b"AB-12");
        }
    }

    #[test]
    fn tags_round_trip_and_are_distinct() {
        for kind in EntityKind::ALL {
            assert_eq!(EntityKind::from_tag(kind.tag()), Some(kind));
        }
        assert_eq!(EntityKind::from_tag(0), None);
        let mut tags: Vec<u8> = KeyKind::ALL.iter().map(|k| k.tag()).collect();
        tags.dedup();
        assert_eq!(tags.len(), KeyKind::ALL.len());
    }

    #[test]
    fn deserialised_keys_are_normalised() -> Result<(), serde_json::Error> {
        let k: Key = serde_json::from_str(r#"{"kind":"person_id","value":"11010519491231002x"}"#)?;
        assert_eq!(k, Key::person("11010519491231002X"));
        let kind: EntityKind = serde_json::from_str(r#""legal_person""#)?;
        assert_eq!(kind, EntityKind::LegalPerson);
        Ok(())
    }
}

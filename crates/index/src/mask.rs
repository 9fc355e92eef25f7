//! 脱敏: masking a profile for display, by field kind and sensitivity (STANDARDS.md, "Grading
//! and personal information").
//!
//! The rule, per value:
//!
//! | sensitivity | field of a kind the standard masks | any other field |
//! |---|---|---|
//! | L1 不敏感 | shown | shown |
//! | L2 低敏感, L3 较敏感, L4 敏感 | masked by kind (below) | L2 shown; L3 and L4 withheld ([`WITHHELD`]) |
//!
//! Masks by kind: resident ID `440304********0123` (first 6 and last 4; a valid unified social
//! credit code in an ID field is a legal person's public code and is shown); mobile
//! `138****8000` (first 3 and last 4); name `张*`, `欧阳**` for compound surnames; address
//! text to the community (`…南华社区****`), address codes to their 12-digit community prefix;
//! date of birth to the year (`1949-**-**`).
//!
//! A sensitivity outside 1..=4 is treated as L4: an unlabelled value is never shown by
//! default. The field kind comes from the catalogue's field naming (`resident_id`, `*_id`,
//! `name`, `*_name`, `phone`, `*_phone`, `address`, `*_address`, `address_code`,
//! `birth_date`), because this crate sees facts, not the catalogue.

use miaopi_model::{ResidentId, Uscc};

use crate::model::{Key, KeyKind, Profile};

/// What a value withheld entirely is shown as.
pub const WITHHELD: &str = "***";

/// The kinds of field the masking standard names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// 证件号码: a resident ID, or a party id that may be a credit code.
    IdNumber,
    /// 姓名.
    Name,
    /// 联系电话.
    Phone,
    /// 地址 as text.
    Address,
    /// 地址编码.
    AddressCode,
    /// 出生日期.
    BirthDate,
    Other,
}

impl FieldKind {
    /// The kind of a field by its catalogue name.
    pub fn of(field: &str) -> FieldKind {
        let f = field;
        if f == "resident_id" || f.ends_with("_id") || f == "uscc" || f.ends_with("_uscc") {
            FieldKind::IdNumber
        } else if f == "name" || f.ends_with("_name") {
            FieldKind::Name
        } else if f == "phone" || f.ends_with("_phone") || f == "mobile" {
            FieldKind::Phone
        } else if f == "address_code" || f.ends_with("_address_code") {
            FieldKind::AddressCode
        } else if f == "address" || f.ends_with("_address") {
            FieldKind::Address
        } else if f == "birth_date" || f.ends_with("_birth_date") {
            FieldKind::BirthDate
        } else {
            FieldKind::Other
        }
    }
}

/// The displayed form of one value of `field` at `sensitivity` (1..=4), per the module's rule.
pub fn mask_value(field: &str, value: &str, sensitivity: u8) -> String {
    if sensitivity == 1 {
        return value.to_string();
    }
    let level = if (2..=4).contains(&sensitivity) {
        sensitivity
    } else {
        4
    };
    match FieldKind::of(field) {
        FieldKind::IdNumber => mask_id(value),
        FieldKind::Name => mask_name(value),
        FieldKind::Phone => mask_phone(value),
        FieldKind::Address => mask_address(value),
        FieldKind::AddressCode => mask_address_code(value),
        FieldKind::BirthDate => mask_birth_date(value),
        FieldKind::Other if level == 2 => value.to_string(),
        FieldKind::Other => WITHHELD.to_string(),
    }
}

/// `440304********0123`. Invalid and legacy numbers are masked the same way by position, so an
/// ID with a wrong check digit leaks no more than a valid one.
pub fn mask_id(value: &str) -> String {
    let v = value.trim();
    if Uscc::parse(v).is_ok() && ResidentId::parse(v).is_err() {
        return v.to_string();
    }
    keep_ends(v, 6, 4)
}

/// `138****8000`; numbers too short to keep 7 characters of are hidden entirely.
pub fn mask_phone(value: &str) -> String {
    keep_ends(value.trim(), 3, 4)
}

/// Common compound surnames (复姓), so `欧阳娜娜` shows as `欧阳**` rather than `欧***`.
const COMPOUND_SURNAMES: [&str; 36] = [
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "端木", "西门", "南宫", "独孤", "百里", "呼延", "澹台", "公冶", "太史",
    "申屠", "钟离", "闻人", "赫连", "万俟", "濮阳", "淳于", "单于", "左丘", "东郭", "拓跋", "司空",
];

/// `张*`, `欧阳**`: the surname kept, each other character a star.
pub fn mask_name(value: &str) -> String {
    let chars: Vec<char> = value.trim().chars().collect();
    if chars.len() <= 1 {
        return "*".to_string();
    }
    let compound = chars.len() > 2
        && COMPOUND_SURNAMES
            .iter()
            .any(|s| s.chars().eq(chars[..2].iter().copied()));
    let keep = if compound { 2 } else { 1 };
    chars[..keep]
        .iter()
        .chain(std::iter::repeat_n(&'*', chars.len() - keep))
        .collect()
}

/// Address text kept to the community (社区), or failing that the street (街道) or district
/// (区); text naming none of them is withheld.
pub fn mask_address(value: &str) -> String {
    let v = value.trim();
    for marker in ["社区", "街道", "区"] {
        if let Some(i) = v.find(marker) {
            let end = i + marker.len();
            return if end == v.len() {
                v.to_string()
            } else {
                format!("{}****", &v[..end])
            };
        }
    }
    WITHHELD.to_string()
}

/// An address code (12-digit community code + sequence) kept to its community prefix.
pub fn mask_address_code(value: &str) -> String {
    let v = value.trim();
    let n = v.chars().count();
    if n <= 12 {
        return v.to_string();
    }
    v.chars()
        .take(12)
        .chain(std::iter::repeat_n('*', n - 12))
        .collect()
}

/// `1949-**-**`: a date of birth kept to the year.
pub fn mask_birth_date(value: &str) -> String {
    let v = value.trim();
    match v.get(..4) {
        Some(year) if year.bytes().all(|b| b.is_ascii_digit()) => format!("{year}-**-**"),
        _ => WITHHELD.to_string(),
    }
}

/// Keeps `head` and `tail` characters and stars the rest; a value too short to hide anything
/// that way is starred entirely.
fn keep_ends(v: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = v.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len().max(3));
    }
    let middle = chars.len() - head - tail;
    chars[..head]
        .iter()
        .copied()
        .chain(std::iter::repeat_n('*', middle))
        .chain(chars[chars.len() - tail..].iter().copied())
        .collect()
}

impl Profile {
    /// A copy for display: every fact, golden value and conflicting value masked by
    /// [`mask_value`], and person keys masked as IDs. Edges, links and provenance are kept: they
    /// name records and entities, not people.
    ///
    /// A golden value takes the sensitivity of the fact it came from (same field and resource),
    /// else the highest of the field's facts, else L4.
    pub fn masked(&self) -> Profile {
        let mut out = self.clone();
        for f in &mut out.facts {
            f.value = mask_value(&f.field, &f.value, f.sensitivity);
        }
        for (field, g) in &mut out.golden {
            let level = self
                .facts
                .iter()
                .find(|f| &f.field == field && f.resource == g.resource)
                .or_else(|| self.facts_of(field).max_by_key(|f| f.sensitivity))
                .map_or(4, |f| f.sensitivity);
            g.value = mask_value(field, &g.value, level);
            for c in &mut g.conflicts {
                c.value = mask_value(field, &c.value, level);
            }
        }
        for k in &mut out.keys {
            if k.kind() == KeyKind::PersonId {
                *k = Key::from_stored(KeyKind::PersonId, mask_id(k.value()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::sample_profile;

    #[test]
    fn resident_ids_keep_region_and_last_four() {
        assert_eq!(
            mask_value("resident_id", "440304199001010123", 4),
            "440304********0123"
        );
        assert_eq!(
            mask_value("mother_id", "11010519491231002X", 4),
            "110105********002X"
        );
        // An invalid check digit is masked just the same.
        assert_eq!(
            mask_value("resident_id", "440304199001010124", 4),
            "440304********0124"
        );
        // Legacy 15-digit numbers keep the same ends.
        assert_eq!(
            mask_value("owner_id", "440524800101001", 4),
            "440524*****1001"
        );
        assert_eq!(mask_value("resident_id", "12345", 4), "*****");
    }

    #[test]
    fn credit_codes_in_id_fields_are_public() {
        assert_eq!(
            mask_value("party_id", "91350100M000100Y43", 3),
            "91350100M000100Y43"
        );
        // A broken credit code is not known to be one: masked like an ID.
        assert_eq!(
            mask_value("party_id", "91350100M000100Y44", 3),
            "913501********0Y44"
        );
    }

    #[test]
    fn phones_keep_three_and_four() {
        assert_eq!(mask_value("phone", "13812348000", 3), "138****8000");
        assert_eq!(
            mask_value("tenant_phone", "075583001234", 3),
            "075*****1234"
        );
        assert_eq!(mask_value("phone", "110", 3), "***");
    }

    #[test]
    fn names_keep_the_surname() {
        assert_eq!(mask_value("name", "张三", 3), "张*");
        assert_eq!(mask_value("name", "张小三", 3), "张**");
        assert_eq!(mask_value("husband_name", "欧阳娜娜", 3), "欧阳**");
        assert_eq!(mask_value("name", "诸葛亮", 3), "诸葛*");
        // Two characters that happen to be a compound surname are a surname and a given name.
        assert_eq!(mask_value("name", "欧阳", 3), "欧*");
        assert_eq!(mask_value("name", "王", 3), "*");
    }

    #[test]
    fn addresses_keep_the_community() {
        assert_eq!(
            mask_value(
                "address",
                "深圳市福田区南园街道南华社区深南路123号深南花园3栋2单元1501",
                3
            ),
            "深圳市福田区南园街道南华社区****"
        );
        assert_eq!(
            mask_value("address", "深圳市福田区南园街道深南路123号", 3),
            "深圳市福田区南园街道****"
        );
        assert_eq!(mask_value("address", "深南路123号", 3), WITHHELD);
        assert_eq!(
            mask_value("address_code", "4403040010010000123", 3),
            "440304001001*******"
        );
    }

    #[test]
    fn birth_dates_keep_the_year() {
        assert_eq!(mask_value("birth_date", "1949-12-31", 3), "1949-**-**");
        assert_eq!(mask_value("birth_date", "unknown", 3), WITHHELD);
    }

    #[test]
    fn sensitivity_decides_for_other_fields() {
        assert_eq!(mask_value("status", "1", 1), "1");
        assert_eq!(mask_value("sex", "1", 2), "1");
        assert_eq!(mask_value("ethnicity", "01", 3), WITHHELD);
        assert_eq!(mask_value("category", "03", 4), WITHHELD);
        // Unlabelled is treated as the most sensitive.
        assert_eq!(mask_value("category", "03", 0), WITHHELD);
        assert_eq!(mask_value("category", "03", 9), WITHHELD);
    }

    #[test]
    fn l1_values_are_open_whatever_the_kind() {
        // An enterprise's name and registered address are public (企业登记, L1).
        assert_eq!(
            mask_value("name", "深圳市某某科技有限公司", 1),
            "深圳市某某科技有限公司"
        );
        assert_eq!(mask_value("address", "深南路123号", 1), "深南路123号");
    }

    #[test]
    fn profiles_are_masked_throughout() {
        let p = sample_profile("P-1", "11010519491231002X", 2);
        let m = p.masked();
        assert_eq!(m.keys[0].value(), "110105********002X");
        assert_eq!(m.keys[0].kind(), KeyKind::PersonId);
        for f in &m.facts {
            match f.field.as_str() {
                "resident_id" => assert_eq!(f.value, "110105********002X"),
                "name" => assert_eq!(f.value, "欧阳**"),
                "birth_date" => assert_eq!(f.value, "1949-**-**"),
                other => panic!("unexpected field {other}"),
            }
        }
        let name = &m.golden["name"];
        assert_eq!(name.value, "欧阳**");
        assert_eq!(name.conflicts[0].value, "欧阳**");
        // Provenance survives masking.
        assert_eq!(m.facts.len(), p.facts.len());
        assert_eq!(m.facts[0].batch_id, p.facts[0].batch_id);
        assert_eq!(m.edges, p.edges);
        // The original is untouched.
        assert_eq!(p.golden["name"].value, "欧阳小明");
    }

    #[test]
    fn golden_values_without_facts_are_withheld() {
        let mut p = sample_profile("P-1", "11010519491231002X", 1);
        p.golden.insert(
            "ethnicity".to_string(),
            crate::GoldenValue {
                value: "01".to_string(),
                resource: "hukou_residents".to_string(),
                unit: "police".to_string(),
                conflicts: vec![],
            },
        );
        assert_eq!(p.masked().golden["ethnicity"].value, WITHHELD);
    }
}

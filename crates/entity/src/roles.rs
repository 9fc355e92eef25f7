//! Where each resource names an entity, read from the catalogue's field roles.

use miaopi_catalog::{BaseClass, EntityRole, Pack, Resource};

/// What kind of entity a key field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKind {
    /// 公民身份号码 only.
    Person,
    /// 统一社会信用代码 only.
    LegalPerson,
    /// 证件号: either, told apart per value.
    Party,
}

/// One way a resource names a party (person or legal person): its key field and the fields
/// that describe that party in the same record.
///
/// Naming convention (documented in `docs/pack-format.md`): the key `X_id` goes with the name
/// `X_name` (`husband_id` ↔ `husband_name`); the record's own subject `resident_id` goes with
/// `name`, `sex`, `birth_date` and `address_code`; `party_id` ↔ `party_name`, `uscc` ↔ `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRole {
    pub resource: String,
    pub unit: String,
    pub kind: RoleKind,
    pub key_field: String,
    pub name_field: Option<String>,
    pub sex_field: Option<String>,
    pub birth_field: Option<String>,
    pub address_field: Option<String>,
    /// The record is a register of this kind of entity (户籍人口, 居住登记, 企业登记): its
    /// validated keys define the entities everything else links to.
    pub register: bool,
    /// Position in survivorship order: registers of the entity's base database first, in
    /// catalogue order, then every other resource in catalogue order.
    pub authority: usize,
    /// Every field name of the resource (to find golden-record attributes).
    pub fields: Vec<String>,
    /// Whether the record's facts are copied into this party's profile. Not for a legal
    /// person named in a record about a person (the employer of a 社保缴费 row): an employer
    /// of thousands would carry every monthly row of every employee, which the entity index
    /// cannot hold at district scale. That relation is the graph's `employs` edge instead,
    /// with its first and last month.
    pub profile_facts: bool,
}

impl PartyRole {
    pub fn resource_has(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f == field)
    }
}

fn has(resource: &Resource, name: &str) -> Option<String> {
    resource.field(name).map(|f| f.name.clone())
}

/// The party roles of every resource of the pack, in survivorship order.
pub fn roles_of(pack: &Pack) -> Vec<PartyRole> {
    let mut out = Vec::new();
    for resource in &pack.resources {
        for field in &resource.fields {
            let kind = match field.role {
                Some(EntityRole::PersonId) => RoleKind::Person,
                Some(EntityRole::CreditCode) => RoleKind::LegalPerson,
                Some(EntityRole::PartyId) => RoleKind::Party,
                _ => continue,
            };
            let subject = field.name == "resident_id" || field.name == "uscc";
            let name_field = if subject {
                has(resource, "name")
            } else {
                let prefix = field
                    .name
                    .strip_suffix("_id")
                    .or_else(|| field.name.strip_suffix("_uscc"))
                    .unwrap_or(&field.name);
                has(resource, &format!("{prefix}_name"))
            };
            let (sex_field, birth_field, address_field) = if subject && kind == RoleKind::Person {
                (
                    has(resource, "sex"),
                    has(resource, "birth_date"),
                    has(resource, "address_code"),
                )
            } else {
                (None, None, None)
            };
            let register = match kind {
                RoleKind::Person => {
                    subject
                        && resource.base_class == Some(BaseClass::Population)
                        && name_field.is_some()
                        && sex_field.is_some()
                        && birth_field.is_some()
                }
                RoleKind::LegalPerson => {
                    subject
                        && resource.base_class == Some(BaseClass::LegalPerson)
                        && name_field.is_some()
                }
                RoleKind::Party => false,
            };
            out.push(PartyRole {
                resource: resource.code.clone(),
                unit: resource.unit.clone(),
                kind,
                key_field: field.name.clone(),
                name_field,
                sex_field,
                birth_field,
                address_field,
                register,
                authority: 0,
                fields: resource.fields.iter().map(|f| f.name.clone()).collect(),
                profile_facts: true,
            });
        }
        let about_a_person = resource
            .fields
            .iter()
            .any(|f| f.role == Some(EntityRole::PersonId) && f.name == "resident_id");
        if about_a_person {
            for role in out.iter_mut().filter(|r| r.resource == resource.code) {
                if role.kind == RoleKind::LegalPerson {
                    role.profile_facts = false;
                }
            }
        }
    }
    // Registers first (stable: catalogue order within each group).
    out.sort_by_key(|r| !r.register);
    for (i, r) in out.iter_mut().enumerate() {
        r.authority = i;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn pack() -> Pack {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packs/futian"));
        Pack::load(dir).unwrap()
    }

    #[test]
    fn employers_get_no_copy_of_their_employees_contributions() {
        let roles = roles_of(&pack());
        let copied = |resource: &str, key: &str| {
            roles
                .iter()
                .find(|r| r.resource == resource && r.key_field == key)
                .map(|r| r.profile_facts)
        };
        assert_eq!(
            copied("social_insurance_contributions", "employer_uscc"),
            Some(false)
        );
        assert_eq!(
            copied("social_insurance_contributions", "resident_id"),
            Some(true)
        );
        // Other parties of a record keep their copy: the legal representative sees the
        // enterprise's registration, a spouse the marriage, the enterprise its tax returns.
        assert_eq!(
            copied("enterprise_registrations", "legal_rep_id"),
            Some(true)
        );
        assert_eq!(copied("tax_declarations", "uscc"), Some(true));
        assert!(
            roles
                .iter()
                .filter(|r| r.resource == "marriage_registrations")
                .all(|r| r.profile_facts)
        );
    }

    #[test]
    fn the_futian_registers_and_name_fields_are_found() {
        let roles = roles_of(&pack());
        let registers: Vec<(&str, &str)> = roles
            .iter()
            .filter(|r| r.register)
            .map(|r| (r.resource.as_str(), r.key_field.as_str()))
            .collect();
        assert!(
            registers.contains(&("hukou_residents", "resident_id")),
            "{registers:?}"
        );
        assert!(registers.contains(&("residence_registrations", "resident_id")));
        assert!(registers.contains(&("enterprise_registrations", "uscc")));
        assert!(
            !registers
                .iter()
                .any(|(r, _)| *r == "social_insurance_contributions")
        );
        assert!(!registers.iter().any(|(r, _)| *r == "tax_declarations"));
        // Registers come first.
        let first_non_register = roles.iter().position(|r| !r.register).unwrap();
        assert!(roles[first_non_register..].iter().all(|r| !r.register));
        let wife = roles
            .iter()
            .find(|r| r.resource == "marriage_registrations" && r.key_field == "wife_id")
            .unwrap();
        assert_eq!(wife.name_field.as_deref(), Some("wife_name"));
        assert_eq!(wife.birth_field, None);
        let hukou = roles
            .iter()
            .find(|r| r.resource == "hukou_residents")
            .unwrap();
        assert_eq!(hukou.birth_field.as_deref(), Some("birth_date"));
        let debtor = roles
            .iter()
            .find(|r| r.resource == "dishonest_debtors")
            .unwrap();
        assert_eq!(debtor.kind, RoleKind::Party);
        assert_eq!(debtor.name_field.as_deref(), Some("party_name"));
    }
}

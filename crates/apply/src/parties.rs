//! `supplied` parties (配偶、父母、子女) from the knowledge graph: a matter that declares a
//! party with `key = "supplied"` gets it from the applicant's edges in the entity index, so
//! the applicant names no relative the government already knows.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use miaopi_decide::manifest::KeySource;
use miaopi_decide::{Application, Package, PartyKind, SubjectKey};
use miaopi_index::relation;
use miaopi_model::{ResidentId, Sex};

use crate::ApplyError;
use crate::facts::FactSession;

/// Which edge of the applicant finds a role, and which sex the relative must have.
fn relation_for(role: &str) -> Option<(&'static str, Option<Sex>)> {
    match role {
        "spouse" => Some((relation::SPOUSE_OF, None)),
        "mother" => Some(("child_of", Some(Sex::Female))),
        "father" => Some(("child_of", Some(Sex::Male))),
        "child" => Some((relation::PARENT_OF, None)),
        "household_head" => Some((relation::HOUSEHOLD_MEMBER, None)),
        _ => None,
    }
}

/// Fills the application's `supplied` person parties that it does not name itself from the
/// applicant's current edges (an edge ended before the application date does not count). A
/// role found through no edge, or through several (two children), stays unnamed: its facts are
/// then missing and the decision goes to a person rather than guessing.
pub fn resolve_supplied(
    session: &FactSession<'_>,
    package: &Package,
    application: &mut Application,
) -> Result<(), ApplyError> {
    let SubjectKey::Person(applicant) = &application.applicant else {
        return Ok(());
    };
    let wanted: Vec<(&str, &'static str, Option<Sex>)> = package
        .manifest
        .parties
        .iter()
        .filter(|p| p.key == KeySource::Supplied && p.kind == PartyKind::Person)
        .filter(|p| !application.parties.contains_key(&p.role))
        .filter_map(|p| relation_for(&p.role).map(|(r, s)| (p.role.as_str(), r, s)))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let edges = session.edges_of_person(applicant.as_str())?;
    let on = application.application_date;
    let current = |to: &Option<String>| {
        to.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .is_none_or(|end| end >= on)
    };
    let mut found: BTreeMap<String, SubjectKey> = BTreeMap::new();
    for (role, rel, sex) in wanted {
        let mut keys: Vec<ResidentId> = Vec::new();
        for (_, to, _) in edges.iter().filter(|(r, _, to)| r == rel && current(to)) {
            for k in session.person_keys_of(to)? {
                if let Ok(id) = ResidentId::parse(&k)
                    && sex.is_none_or(|s| id.sex() == s)
                    && !keys.contains(&id)
                {
                    keys.push(id);
                    break;
                }
            }
        }
        if let [one] = keys.as_slice() {
            found.insert(role.to_owned(), SubjectKey::Person(*one));
        }
    }
    application.parties.extend(found);
    Ok(())
}

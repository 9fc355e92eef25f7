//! Profiles for the crate's unit tests.

use crate::model::{
    Conflict, Edge, EntityId, EntityKind, Fact, GoldenValue, Key, Link, Profile, SourceLink,
    relation,
};

pub(crate) fn fact(resource: &str, field: &str, value: &str, batch: &str, record: u64) -> Fact {
    Fact {
        resource: resource.to_string(),
        field: field.to_string(),
        value: value.to_string(),
        unit: "police".to_string(),
        batch_id: batch.to_string(),
        ingested_at_us: 1_767_225_600_000_000 + record as i64,
        record,
        valid_from: None,
        valid_to: None,
        sensitivity: 3,
    }
}

/// A person with `batches` batches of hukou facts, a golden name with a conflict, an edge and a
/// link.
pub(crate) fn sample_profile(id: &str, resident_id: &str, batches: usize) -> Profile {
    let mut p = Profile::new(EntityId::new(id), EntityKind::Person);
    p.keys.push(Key::person(resident_id));
    for b in 0..batches {
        let batch = format!("{b:064x}");
        let record = 10 + b as u64;
        let mut id_fact = fact(
            "hukou_residents",
            "resident_id",
            resident_id,
            &batch,
            record,
        );
        id_fact.sensitivity = 4;
        p.facts.push(id_fact);
        p.facts
            .push(fact("hukou_residents", "name", "欧阳小明", &batch, record));
        let mut birth = fact(
            "hukou_residents",
            "birth_date",
            "1949-12-31",
            &batch,
            record,
        );
        birth.valid_from = Some("1949-12-31".to_string());
        p.facts.push(birth);
        p.links.push(SourceLink {
            resource: "hukou_residents".to_string(),
            batch_id: batch.clone(),
            record,
            link: Link {
                method: "deterministic:person_id".to_string(),
                score: 1.0,
            },
        });
    }
    p.golden.insert(
        "name".to_string(),
        GoldenValue {
            value: "欧阳小明".to_string(),
            resource: "hukou_residents".to_string(),
            unit: "police".to_string(),
            conflicts: vec![Conflict {
                value: "欧阳晓明".to_string(),
                resource: "residence_registrations".to_string(),
            }],
        },
    );
    p.edges.push(Edge {
        relation: relation::RESIDES_AT.to_string(),
        to: EntityId::new("A-000001"),
        from_date: Some("2001-05-01".to_string()),
        to_date: None,
        resource: "hukou_residents".to_string(),
        batch_id: format!("{:064x}", 0),
    });
    p
}

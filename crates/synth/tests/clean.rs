//! With every noise rate at zero the sources equal the truth: no noise tags, and every ID and
//! credit code is valid as written.

mod common;

use miaopi_catalog::EntityRole;
use miaopi_model::{ResidentId, Uscc};
use miaopi_synth::{NoiseConfig, SynthConfig};

use common::{Entities, Failures, generate_shared, load_files, name_fields};

#[test]
fn clean_noise_gives_clean_sources() {
    let g = generate_shared(
        "clean2k",
        SynthConfig {
            people: 2_000,
            noise: NoiseConfig::clean(),
            ..SynthConfig::default()
        },
    );
    let applied: u64 = g.manifest.noise.applied.values().sum();
    assert_eq!(
        applied, 0,
        "manifest applied: {:?}",
        g.manifest.noise.applied
    );
    let files = load_files(g.label, &g.out, &g.manifest);
    let entities = Entities::read(&g.out);
    let mut f = Failures::default();
    let (mut ids, mut codes) = (0, 0);
    for fd in &files {
        f.check(fd.source.rows.len() == fd.truth.len(), || {
            format!("{}: record count", fd.name())
        });
        for (row, t) in fd.records() {
            f.check(t.noise.is_empty(), || {
                format!("{} #{}: noise {:?}", fd.name(), t.record, t.noise)
            });
            for (i, field) in fd.resource.fields.iter().enumerate() {
                let v = row.cell(i).map(|c| c.str()).unwrap_or("");
                match field.role {
                    Some(EntityRole::PersonId) if !v.is_empty() => {
                        ids += 1;
                        f.check(ResidentId::parse(v).is_ok(), || {
                            format!(
                                "{} #{} {}: {v:?} {:?}",
                                fd.name(),
                                t.record,
                                field.name,
                                ResidentId::parse(v)
                            )
                        });
                        let truth = t.entity(&field.name).map(|e| e.key.as_str());
                        f.check(truth == Some(v), || {
                            format!(
                                "{} #{} {}: {v} vs truth {truth:?}",
                                fd.name(),
                                t.record,
                                field.name
                            )
                        });
                    }
                    Some(EntityRole::CreditCode | EntityRole::PartyId)
                        if v.chars().count() == 18 =>
                    {
                        codes += 1;
                        f.check(
                            ResidentId::parse(v).is_ok() || Uscc::parse(v).is_ok(),
                            || {
                                format!(
                                    "{} #{} {}: {v:?} is neither a resident ID nor a USCC",
                                    fd.name(),
                                    t.record,
                                    field.name
                                )
                            },
                        );
                    }
                    Some(EntityRole::CreditCode | EntityRole::PartyId) => {
                        f.push(format!(
                            "{} #{} {}: {v:?} is not 18 characters",
                            fd.name(),
                            t.record,
                            field.name
                        ));
                    }
                    _ => {}
                }
            }
            // Names are written exactly as the truth's.
            for (col, who) in name_fields(&fd.resource) {
                let Some(e) = t.entity(&who).filter(|e| e.kind == "person") else {
                    continue;
                };
                let v = row.cell(col).map(|c| c.str()).unwrap_or("");
                let truth = entities.person_name(&e.key);
                f.check(truth == Some(v), || {
                    format!("{} #{}: name {v:?} vs truth {truth:?}", fd.name(), t.record)
                });
            }
        }
    }
    f.assert_none("clean sources");
    assert!(
        ids > 1000 && codes > 100,
        "{ids} IDs and {codes} codes checked"
    );
}

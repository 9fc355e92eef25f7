//! Referential consistency of the truth: every key the truth names exists where it should,
//! and the entity tables agree with themselves and with the ID numbers.

use std::collections::{HashMap, HashSet};

use miaopi_model::{ResidentId, Sex, Uscc};

use crate::common::{Failures, cell_text, pack};
use crate::{Loaded, both};

/// The values of one column of a resource's source file(s), as sent.
fn source_keys(l: &Loaded, resource: &str, field: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    for fd in l.files_of(resource) {
        let col = fd
            .col(field)
            .unwrap_or_else(|| panic!("{resource} has no field {field}"));
        for (row, t) in fd.records() {
            let v = cell_text(row, t, col);
            if !v.is_empty() {
                out.insert(v.to_string());
            }
        }
    }
    assert!(
        !out.is_empty(),
        "{}: no {resource}.{field} values",
        l.label()
    );
    out
}

#[test]
fn every_entity_in_the_truth_exists() {
    for l in both() {
        let addresses = source_keys(l, "standard_addresses", "address_code");
        let buildings = source_keys(l, "buildings", "building_code");
        let communities: HashSet<&str> =
            pack().communities().map(|(_, c)| c.code.as_str()).collect();
        let e = &l.entities;
        let mut f = Failures::default();
        let mut employers = 0;
        for fd in &l.files {
            for t in &fd.truth {
                for x in &t.entities {
                    let known = match x.kind.as_str() {
                        "person" => {
                            e.people_by_id.contains_key(&x.key)
                                || e.outsiders_by_id.contains_key(&x.key)
                        }
                        "enterprise" => {
                            employers += (x.field == "employer_uscc") as usize;
                            e.enterprises_by_uscc.contains_key(&x.key)
                        }
                        "address" => addresses.contains(&x.key),
                        "building" => buildings.contains(&x.key),
                        // Property units have no table of their own: the community code a
                        // unit number starts with must be one of the pack's communities.
                        "house" => x.key.get(..12).is_some_and(|c| communities.contains(c)),
                        _ => false,
                    };
                    f.check(known, || {
                        format!(
                            "{} #{}: {}={}:{} does not exist",
                            fd.name(),
                            t.record,
                            x.field,
                            x.kind,
                            x.key
                        )
                    });
                }
            }
        }
        f.assert_none(&format!("{}: truth entities", l.label()));
        assert!(
            employers > 0,
            "{}: no employer_uscc entity checked",
            l.label()
        );
    }
}

#[test]
fn entity_tables_are_consistent() {
    for l in both() {
        let e = &l.entities;
        let addresses = source_keys(l, "standard_addresses", "address_code");
        let mut f = Failures::default();
        let people = &e.people;
        let as_of = l.generated.cfg.as_of;
        let col = |n: &str| people.col(n);
        let (id_c, sex_c, birth_c, death_c) = (
            col("resident_id"),
            col("sex"),
            col("birth_date"),
            col("death_date"),
        );
        let mut ids: HashSet<&str> = HashSet::new();
        for r in &people.rows {
            let id = &r[id_c];
            f.check(ids.insert(id), || {
                format!("people.csv: duplicate resident_id {id}")
            });
            let Ok(parsed) = ResidentId::parse(id) else {
                f.push(format!(
                    "people.csv: {id} is not a valid GB 11643 ID: {:?}",
                    ResidentId::parse(id)
                ));
                continue;
            };
            f.check(parsed.birth_date().to_string() == r[birth_c], || {
                format!("people.csv: {id} born {} by its ID", r[birth_c])
            });
            let sex = match parsed.sex() {
                Sex::Male => "1",
                _ => "2",
            };
            f.check(sex == r[sex_c], || {
                format!("people.csv: {id} has sex {} by its ID", r[sex_c])
            });
            f.check(
                r[death_c].is_empty() || r[death_c].as_str() <= as_of.to_string().as_str(),
                || format!("people.csv: {id} dies after the as-of date: {}", r[death_c]),
            );
            let home = &r[col("home_address_code")];
            f.check(addresses.contains(home), || {
                format!("people.csv: {id} home {home} is not a standard address")
            });
            let employer = &r[col("employer_uscc")];
            f.check(
                employer.is_empty() || e.enterprises_by_uscc.contains_key(employer),
                || format!("people.csv: {id} employer {employer} not in enterprises.csv"),
            );
        }
        for r in &e.outsiders.rows {
            let id = &r[e.outsiders.col("resident_id")];
            f.check(ResidentId::parse(id).is_ok(), || {
                format!("outsiders.csv: invalid ID {id}")
            });
            f.check(!ids.contains(id.as_str()), || {
                format!("outsiders.csv: {id} is also in people.csv")
            });
        }
        // Family links point into people.csv: spouses both ways, mothers female and fathers male,
        // both born before the child.
        let by_id: HashMap<&str, &Vec<String>> =
            people.rows.iter().map(|r| (r[id_c].as_str(), r)).collect();
        for r in &people.rows {
            let id = &r[id_c];
            for (link, sex) in [
                ("spouse_id", None),
                ("mother_id", Some("2")),
                ("father_id", Some("1")),
            ] {
                let other = &r[col(link)];
                if other.is_empty() {
                    continue;
                }
                let Some(o) = by_id.get(other.as_str()) else {
                    f.push(format!("people.csv: {id} {link} {other} not in people.csv"));
                    continue;
                };
                match sex {
                    None => f.check(&o[col("spouse_id")] == id, || {
                        format!(
                            "people.csv: {id}'s spouse {other} has spouse {:?}",
                            o[col("spouse_id")]
                        )
                    }),
                    Some(s) => {
                        f.check(o[sex_c] == s, || {
                            format!("people.csv: {id}'s {link} {other} has sex {}", o[sex_c])
                        });
                        f.check(o[birth_c] < r[birth_c], || {
                            format!("people.csv: {id}'s {link} {other} is not older")
                        });
                    }
                }
            }
        }
        let ent = &e.enterprises;
        for r in &ent.rows {
            let uscc = &r[ent.col("uscc")];
            f.check(Uscc::parse(uscc).is_ok(), || {
                format!("enterprises.csv: invalid USCC {uscc}")
            });
            // Positions 9–17 are a GB 11714 organisation code, as pre-2016 records carry it.
            f.check(
                Uscc::parse(uscc).is_ok_and(|u| u.organisation_code_is_valid()),
                || format!("enterprises.csv: {uscc} embeds no valid organisation code"),
            );
            let rep = &r[ent.col("legal_rep")];
            let ok = match rep.split_once(':') {
                Some(("person", id)) => {
                    e.people_by_id.contains_key(id) || e.outsiders_by_id.contains_key(id)
                }
                Some(("enterprise", code)) => e.enterprises_by_uscc.contains_key(code),
                _ => false,
            };
            f.check(ok, || {
                format!("enterprises.csv: {uscc} legal_rep {rep} does not resolve")
            });
            let a = &r[ent.col("address_code")];
            f.check(addresses.contains(a), || {
                format!("enterprises.csv: {uscc} address {a} is not a standard address")
            });
        }
        f.assert_none(&format!("{}: entity tables", l.label()));
    }
}

//! Error paths: a bad configuration or a pack that breaks the generator's column contract is
//! an error, not a panic and not a file with shifted columns.

mod common;

use std::path::Path;

use miaopi_catalog::Pack;
use miaopi_synth::{NoProgress, SynthConfig, SynthError, generate};

use common::{pack, pack_dir, relative_files};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn zero_people_is_a_configuration_error() {
    let out = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        people: 0,
        ..SynthConfig::default()
    };
    match generate(pack(), out.path(), &cfg, &NoProgress) {
        Err(SynthError::Config(msg)) => assert!(msg.contains("people"), "{msg}"),
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(_) => panic!("generating zero people succeeded"),
    }
    assert!(relative_files(out.path()).is_empty(), "files were written");
}

#[test]
fn zero_insurance_months_is_a_configuration_error() {
    let out = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        people: 100,
        insurance_months: 0,
        ..SynthConfig::default()
    };
    assert!(matches!(
        generate(pack(), out.path(), &cfg, &NoProgress),
        Err(SynthError::Config(_))
    ));
}

#[test]
fn a_renamed_field_breaks_the_contract_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("futian");
    copy_dir(&pack_dir(), &copy);
    // Rename death_registrations.death_date consistently: the pack stays valid, but the
    // generator writes a death_date column and must refuse to put it under another name.
    let toml = copy.join("resources/civil_affairs/death_registrations.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert_eq!(text.matches("name = \"death_date\"").count(), 1, "{text}");
    std::fs::write(
        &toml,
        text.replace("name = \"death_date\"", "name = \"died_on\""),
    )
    .unwrap();
    let edited = match Pack::load(&copy) {
        Ok(p) => p,
        Err(e) => panic!(
            "the edited pack must still load: {}",
            e.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    assert!(
        edited
            .resource("death_registrations")
            .unwrap()
            .field("died_on")
            .is_some()
    );

    let out = dir.path().join("out");
    let cfg = SynthConfig {
        people: 200,
        ..SynthConfig::default()
    };
    match generate(&edited, &out, &cfg, &NoProgress) {
        Err(SynthError::Contract {
            resource,
            expected,
            actual,
        }) => {
            assert_eq!(resource, "death_registrations");
            assert!(
                expected.contains("death_date") && !expected.contains("died_on"),
                "{expected}"
            );
            assert!(
                actual.contains("died_on") && !actual.contains("death_date"),
                "{actual}"
            );
            let msg = SynthError::Contract {
                resource,
                expected,
                actual,
            }
            .to_string();
            assert!(msg.contains("death_registrations"), "{msg}");
        }
        Err(other) => panic!("expected a contract error, got {other}"),
        Ok(_) => panic!("generation succeeded with a renamed field"),
    }
    // The contract is checked before anything is written.
    assert!(
        relative_files(&out).is_empty(),
        "files were written: {:?}",
        relative_files(&out)
    );
}

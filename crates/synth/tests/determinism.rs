//! The same configuration gives byte-identical output, whatever the thread count; another seed
//! gives another district.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{generate_shared, pack, relative_files};
use miaopi_synth::{NoProgress, SynthConfig, generate};
use tempfile::TempDir;

const PEOPLE: u64 = 3_000;

fn config(seed: u64, threads: usize) -> SynthConfig {
    SynthConfig {
        people: PEOPLE,
        seed,
        threads,
        ..SynthConfig::default()
    }
}

fn run(cfg: SynthConfig) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    generate(pack(), dir.path(), &cfg, &NoProgress).expect("generate");
    dir
}

/// The reference run: default seed, one thread, shared by the tests below. It lives in a fixed
/// directory under Cargo's scratch space (a TempDir in a static would never be removed).
fn reference() -> &'static Path {
    static R: OnceLock<PathBuf> = OnceLock::new();
    R.get_or_init(|| {
        generate_shared(
            "determinism-reference",
            config(SynthConfig::default().seed, 1),
        )
        .out
    })
}

/// A second run that starts only after the reference has finished and the wall clock has moved
/// on by more than a second: a file that (wrongly) embeds the time of day at 1 s resolution,
/// as an XLSX document's creation date does, would otherwise pass when both runs fall in the
/// same second.
fn later_run(cfg: SynthConfig) -> TempDir {
    let _ = reference();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run(cfg)
}

/// Output files compared byte for byte: everything generate writes.
fn outputs(dir: &Path) -> Vec<String> {
    let files = relative_files(dir);
    assert!(
        files.iter().any(|f| f.starts_with("sources/")),
        "{}: no sources",
        dir.display()
    );
    assert!(
        files.iter().any(|f| f.starts_with("truth/")),
        "{}: no truth",
        dir.display()
    );
    assert!(
        files.contains(&"scenarios.json".to_string())
            && files.contains(&"manifest.json".to_string())
    );
    files
}

/// Asserts the two directories hold the same files with the same bytes, except those `skip`s.
fn assert_same(a: &Path, b: &Path, skip: &[&str]) {
    let (fa, fb) = (outputs(a), outputs(b));
    assert_eq!(fa, fb, "the two runs wrote different file lists");
    let differing: Vec<&String> = fa
        .iter()
        .filter(|f| !skip.contains(&f.as_str()))
        .filter(|f| std::fs::read(a.join(f)).unwrap() != std::fs::read(b.join(f)).unwrap())
        .collect();
    let (xlsx, other): (Vec<&String>, Vec<&String>) =
        differing.iter().partition(|f| f.ends_with(".xlsx"));
    assert!(
        differing.is_empty(),
        "{} files differ between runs that must be identical: {} .xlsx (e.g. {:?}) and {:?}",
        differing.len(),
        xlsx.len(),
        xlsx.first(),
        other
    );
}

#[test]
fn same_configuration_gives_identical_bytes() {
    let again = later_run(config(SynthConfig::default().seed, 1));
    assert_same(reference(), again.path(), &[]);
}

#[test]
fn thread_count_does_not_change_a_byte() {
    let two = later_run(config(SynthConfig::default().seed, 2));
    // The thread count is left out of the manifest, so every file, manifest.json included,
    // must be identical.
    assert_same(reference(), two.path(), &[]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(two.path().join("manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["config"].get("threads").is_none(),
        "threads must not be recorded"
    );
}

#[test]
fn another_seed_gives_another_district() {
    let other = run(config(SynthConfig::default().seed + 1, 0));
    let file = "sources/police/hukou_residents.csv";
    let (a, b) = (
        std::fs::read(reference().join(file)).unwrap(),
        std::fs::read(other.path().join(file)).unwrap(),
    );
    assert_ne!(a, b, "{file} is the same under another seed");
    assert_ne!(
        std::fs::read(reference().join("truth/people.csv")).unwrap(),
        std::fs::read(other.path().join("truth/people.csv")).unwrap(),
        "people.csv is the same under another seed"
    );
}

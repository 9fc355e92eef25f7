//! Shared by the integration tests: the Futian pack and its matter packages.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use miaopi_catalog::Pack;
use miaopi_decide::{DsntkEngine, Package, Packages};

pub fn pack_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packs/futian")
}

pub fn matters_dir() -> PathBuf {
    pack_dir().join("matters")
}

pub fn pack() -> &'static Pack {
    static PACK: OnceLock<Pack> = OnceLock::new();
    PACK.get_or_init(|| match Pack::load(&pack_dir()) {
        Ok(p) => p,
        Err(e) => panic!("Futian pack does not load: {e:?}"),
    })
}

/// Every package, loaded (validated and tested) once per test binary.
pub fn packages() -> &'static Packages {
    static PACKAGES: OnceLock<Packages> = OnceLock::new();
    PACKAGES.get_or_init(
        || match Packages::load(&matters_dir(), pack(), &DsntkEngine) {
            Ok(p) => p,
            Err(e) => panic!("matter packages do not load:\n{e}"),
        },
    )
}

pub fn package(code: &str) -> &'static Package {
    packages()
        .iter()
        .find(|p| p.manifest.code == code)
        .unwrap_or_else(|| panic!("no package {code}"))
}

/// A copy of a package directory under a temporary directory (`<tmp>/<code>/<version>`).
pub fn copy_package(code: &str, version: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join(code).join(version);
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(matters_dir().join(code).join(version)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
    }
    (tmp, dst)
}

//! Integration tests of governance over a real meta store (a temporary SQLite file) and the
//! Futian pack. One test binary with a module per area, to keep link time down.

mod audit;
mod demo;
mod grants;
mod identity;

use std::path::Path;

use chrono::{DateTime, Utc};
use miaopi_catalog::Pack;
use miaopi_govern::Governance;
use miaopi_meta::SqliteMeta;

pub struct Store {
    /// Kept alive so the directory outlives the test.
    pub _dir: tempfile::TempDir,
    pub meta: SqliteMeta,
    pub gov: Governance,
}

pub async fn store() -> Store {
    let dir = tempfile::tempdir().unwrap();
    let meta = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
    let gov = Governance::open(&meta).await.unwrap();
    Store {
        _dir: dir,
        meta,
        gov,
    }
}

pub fn pack() -> Pack {
    Pack::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packs/futian"
    )))
    .unwrap()
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

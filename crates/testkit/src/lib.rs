//! miaopi-testkit: the set-up the integration tests of `apply`, `batch`, `entity` and `server`
//! share — the Futian pack and its matter packages, a generated district, and its intake and
//! linking into a state directory — written once instead of once per test crate.
//!
//! Test code: it panics on failure (with the file or step named), which is what a test wants.
//! Only ever a dev-dependency.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use miaopi_batch::{BatchReport, Home, ingest_file};
use miaopi_catalog::Pack;
use miaopi_decide::{DsntkEngine, Packages};
use miaopi_entity::{LinkOptions, link_home};
use miaopi_ingest::{ReadOptions, Standardizer};
use miaopi_lake::AsOf;
use miaopi_lake::arrow::array::{Array, StringArray};
use miaopi_lake::arrow::compute::cast;
use miaopi_lake::arrow::datatypes::DataType;
use miaopi_synth::{NoProgress, SynthConfig};

/// The repository's root: from the running test's `CARGO_MANIFEST_DIR` (cargo sets it for every
/// test process; a test binary built by another checkout sharing the build cache still reads
/// this checkout's files), else this crate's own.
pub fn repo_root() -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    crate_dir.join("../..")
}

/// `packs/futian`.
pub fn pack_dir() -> PathBuf {
    repo_root().join("packs/futian")
}

/// The Futian pack, loaded once per test process.
pub fn pack() -> &'static Pack {
    static PACK: OnceLock<Pack> = OnceLock::new();
    PACK.get_or_init(|| {
        Pack::load(&pack_dir()).unwrap_or_else(|e| panic!("the Futian pack does not load: {e}"))
    })
}

/// Every matter package of the pack, loaded and tested.
pub fn packages() -> Packages {
    Packages::load(&pack_dir().join("matters"), pack(), &DsntkEngine)
        .unwrap_or_else(|e| panic!("the matter packages do not load: {e}"))
}

/// A multi-threaded runtime with every driver.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("no tokio runtime: {e}"))
}

/// A district generated into a new temporary directory (`sources/`, the truth, the
/// scenarios).
pub fn generate(cfg: &SynthConfig) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
    miaopi_synth::generate(pack(), out.path(), cfg, &NoProgress)
        .unwrap_or_else(|e| panic!("generating the district: {e}"));
    out
}

/// `people` residents, two months of social insurance (the tests' usual, small district).
pub fn small_district(people: u64) -> SynthConfig {
    SynthConfig {
        people,
        insurance_months: 2,
        ..SynthConfig::default()
    }
}

/// Ingests every file under `sources` whose resource `keep` accepts, one batch a file, in the
/// generator's order; answers each file with its batch report.
pub async fn ingest(
    home: &Home,
    sources: &Path,
    keep: impl Fn(&str) -> bool,
) -> Vec<(PathBuf, BatchReport)> {
    let (files, unrecognised) = miaopi_batch::discover(pack(), &[sources.to_path_buf()]);
    assert!(
        unrecognised.is_empty(),
        "unrecognised files: {unrecognised:?}"
    );
    let mut reports = Vec::new();
    for f in files.iter().filter(|f| keep(&f.resource.code)) {
        let std = Arc::new(
            Standardizer::new(pack(), f.resource)
                .unwrap_or_else(|e| panic!("{}: {e}", f.resource.code)),
        );
        let report = ingest_file(
            home,
            &std,
            f.resource,
            &f.path,
            &ReadOptions::default(),
            &|_| {},
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", f.path.display()));
        reports.push((f.path.clone(), report));
    }
    reports
}

/// Ingests every file under `sources` into the home at `home` and links it (base databases,
/// graph, entity index).
pub async fn ingest_and_link(home: &Path, sources: &Path) {
    let h = Home::open(home)
        .await
        .unwrap_or_else(|e| panic!("opening {}: {e}", home.display()));
    ingest(&h, sources, |_| true).await;
    link_home(pack(), home, &h.lake, &LinkOptions::default())
        .await
        .unwrap_or_else(|e| panic!("linking {}: {e}", home.display()));
}

/// The rows of a query over the home's lake, every column cast to text (`None` for null).
pub async fn text_rows(home: &Home, sql: &str) -> Vec<Vec<Option<String>>> {
    let batches = home
        .lake
        .query(sql, &AsOf::Latest)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut rows = Vec::new();
    for b in &batches {
        let cols: Vec<StringArray> = b
            .columns()
            .iter()
            .map(|c| {
                cast(c, &DataType::Utf8)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .unwrap_or_else(|| panic!("{sql}: not text after the cast"))
                    .clone()
            })
            .collect();
        for r in 0..b.num_rows() {
            rows.push(
                cols.iter()
                    .map(|c| (!c.is_null(r)).then(|| c.value(r).to_string()))
                    .collect(),
            );
        }
    }
    rows
}

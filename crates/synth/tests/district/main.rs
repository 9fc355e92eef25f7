//! Integration tests over generated districts, every file read back with independent readers
//! and checked against the catalogue, the truth and the manifest:
//!
//! * the shared district: 10,000 people, default seed and noise (what the brief of each test
//!   describes);
//! * a small noisy district (2,000 people, every rate ×10, broken rows at 5%), so that the rare
//!   kinds of mess (a cut JSON line is ~3 rows in the default district, sometimes none) are
//!   present often enough for the "mess is real" checks to see every kind.

#[path = "../common/mod.rs"]
mod common;

mod files;
mod mess;
mod noise_rates;
mod referential;
mod scenarios;

use std::sync::OnceLock;

use common::{Entities, FileData, Generated, district, generate_shared, load_files};
use miaopi_synth::{NoiseConfig, SynthConfig};

/// A generated district with every file read back.
pub struct Loaded {
    pub generated: &'static Generated,
    pub files: Vec<FileData>,
    pub entities: Entities,
}

impl Loaded {
    fn load(generated: &'static Generated) -> Loaded {
        Loaded {
            files: load_files(generated.label, &generated.out, &generated.manifest),
            entities: Entities::read(&generated.out),
            generated,
        }
    }

    pub fn label(&self) -> &'static str {
        self.generated.label
    }

    /// The files of one resource.
    pub fn files_of<'a>(&'a self, resource: &'a str) -> impl Iterator<Item = &'a FileData> {
        self.files
            .iter()
            .filter(move |f| f.resource.code == resource)
    }
}

/// The shared 10,000-person district, read back once.
pub fn main_district() -> &'static Loaded {
    static L: OnceLock<Loaded> = OnceLock::new();
    L.get_or_init(|| Loaded::load(district()))
}

pub fn noisy_config() -> SynthConfig {
    let mut noise = NoiseConfig::default().scaled(10.0);
    noise.broken = 0.05;
    SynthConfig {
        people: 2_000,
        seed: 7,
        noise,
        ..SynthConfig::default()
    }
}

/// The small noisy district.
pub fn noisy_district() -> &'static Loaded {
    static G: OnceLock<Generated> = OnceLock::new();
    static L: OnceLock<Loaded> = OnceLock::new();
    L.get_or_init(|| Loaded::load(G.get_or_init(|| generate_shared("noisy2k", noisy_config()))))
}

/// Both districts, for checks that must hold in any output.
pub fn both() -> [&'static Loaded; 2] {
    [main_district(), noisy_district()]
}

/// Every file of both districts.
pub fn all_files() -> impl Iterator<Item = &'static FileData> {
    both().into_iter().flat_map(|l| l.files.iter())
}

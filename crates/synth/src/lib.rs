//! miaopi-synth: a deterministic synthetic district for the demo, the tests and the benchmarks.
//!
//! `generate` simulates a district (people in households, marriages, births, deaths,
//! enterprises, employment, property, licences, credit records …) from the pack's regions, then
//! writes every resource of the pack as its unit would send it (CSV in UTF-8 or GBK, JSON Lines,
//! XLSX, Parquet) *with the mess real department data has*, and writes the ground truth apart:
//!
//! ```text
//! OUT/sources/<unit>/<file>            what the units send (the only input to intake)
//! OUT/truth/<unit>/<file>.truth.csv    per record: the true entities and the noise applied
//! OUT/truth/people.csv, enterprises.csv, outsiders.csv   the true entities
//! OUT/scenarios.json                   秒批 applicants with the outcome the truth implies
//! OUT/manifest.json                    configuration, files, counts, noise tallies, timings
//! ```
//!
//! The same configuration gives byte-identical output: every file has its own RNG stream
//! derived from the seed and the file's name, so the thread schedule cannot change a byte.

pub mod emit;
pub mod names;
pub mod noise;
pub mod scenarios;
pub mod world;
pub mod write;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::NaiveDate;
use miaopi_catalog::Pack;
use serde::Serialize;

pub use noise::{NoiseConfig, NoiseCounts, NoiseKind};

/// Futian's population in the 2020 census: the default size of the simulated district.
pub const FUTIAN_CENSUS_POPULATION: u64 = 1_553_225;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthConfig {
    /// Living residents on the as-of date.
    pub people: u64,
    pub seed: u64,
    /// Years of event history for births and deaths (marriage registrations go back to 1990,
    /// when the civil-affairs records were digitised).
    pub years: u32,
    /// The simulation's "today": data are as of this date. Fixed, never the clock, so output
    /// is reproducible.
    pub as_of: NaiveDate,
    /// Months of monthly social-insurance and tax rows, ending with the as-of month.
    pub insurance_months: u32,
    pub noise: NoiseConfig,
    /// Worker threads (0 = one per core). Not in the manifest: it cannot change a byte.
    #[serde(skip)]
    pub threads: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            people: FUTIAN_CENSUS_POPULATION,
            seed: 20200821,
            years: 5,
            as_of: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or(NaiveDate::MIN),
            insurance_months: 12,
            noise: NoiseConfig::default(),
            threads: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding output: {0}")]
    Encode(String),
    #[error(
        "the pack's resource {resource} has fields [{actual}] but the generator writes [{expected}]"
    )]
    Contract {
        resource: String,
        expected: String,
        actual: String,
    },
    #[error("the pack has no resource {0:?}, which the generator writes")]
    MissingResource(String),
    #[error("the generator has no emitter for resource {0:?}")]
    UnknownResource(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl SynthError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        SynthError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Receives progress from the worker threads (rows written so far).
pub trait Progress: Sync {
    fn phase(&self, _name: &str, _total_rows: Option<u64>) {}
    fn rows(&self, _n: u64) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub unit: String,
    pub resource: String,
    pub path: String,
    pub truth: String,
    pub records: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceReport {
    pub unit: String,
    pub resource: String,
    pub name: String,
    pub format: String,
    pub files: usize,
    pub records: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub generator: String,
    pub config: SynthConfig,
    pub people_total: u64,
    pub residents: u64,
    pub households: u64,
    pub enterprises: u64,
    pub files: Vec<FileReport>,
    pub resources: Vec<ResourceReport>,
    pub records_total: u64,
    pub bytes_total: u64,
    pub noise: NoiseCounts,
    pub scenarios: BTreeMap<String, BTreeMap<String, usize>>,
}

/// Timings are kept out of the manifest so that it, too, is byte-identical across runs.
#[derive(Debug, Clone)]
pub struct Timings {
    pub world_ms: u128,
    pub files_ms: u128,
    pub total_ms: u128,
}

pub struct SynthOutput {
    pub manifest: Manifest,
    pub timings: Timings,
}

/// Generates the district into `out` (created if needed; existing generated files are
/// overwritten).
pub fn generate(
    pack: &Pack,
    out: &Path,
    cfg: &SynthConfig,
    progress: &dyn Progress,
) -> Result<SynthOutput, SynthError> {
    if cfg.people == 0 {
        return Err(SynthError::Config("--people must be at least 1".into()));
    }
    if cfg.insurance_months == 0 || cfg.insurance_months > 120 {
        return Err(SynthError::Config(
            "--insurance-months must be within 1..=120".into(),
        ));
    }
    for code in emit::RESOURCES {
        let r = pack
            .resource(code)
            .ok_or_else(|| SynthError::MissingResource(code.to_string()))?;
        emit::check_contract(r)?;
    }
    let started = Instant::now();
    progress.phase("simulating the district", None);
    let world = world::build(pack, cfg);
    let world_ms = started.elapsed().as_millis();

    let sources = out.join("sources");
    let truth = out.join("truth");
    for dir in [&sources, &truth] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| SynthError::io(dir, e))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| SynthError::io(dir, e))?;
    }

    let mut jobs: Vec<emit::Job> = Vec::new();
    for code in emit::RESOURCES {
        match *code {
            "social_insurance_contributions" => jobs.extend(
                emit::history_months(cfg.as_of, cfg.insurance_months)
                    .into_iter()
                    .map(emit::Job::InsuranceMonth),
            ),
            "tax_declarations" => jobs.extend(
                emit::history_months(cfg.as_of, cfg.insurance_months)
                    .into_iter()
                    .map(emit::Job::TaxMonth),
            ),
            "marriage_registrations" => jobs.extend(
                emit::marriage_years(&world)
                    .into_iter()
                    .map(emit::Job::MarriageYear),
            ),
            other => jobs.push(emit::Job::Whole(other)),
        }
    }
    // Biggest first, so no long job starts last; results are kept in job order.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].weight()));

    let files_started = Instant::now();
    progress.phase("writing source files", Some(estimate_rows(&world, cfg)));
    let threads = if cfg.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        cfg.threads
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<emit::FileOutput, SynthError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&j) = order.get(k) else { break };
                    let job = &jobs[j];
                    let r = match pack.resource(job.resource()) {
                        Some(resource) => emit::run_job(
                            job, &world, resource, &cfg.noise, cfg.seed, &sources, &truth, progress,
                        ),
                        None => Err(SynthError::MissingResource(job.resource().to_string())),
                    };
                    let failed = r.is_err();
                    if let Ok(mut slots) = results.lock() {
                        slots[j] = Some(r);
                    }
                    if failed {
                        // Let the other workers drain: no new jobs after a failure.
                        next.store(usize::MAX / 2, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let slots = results
        .into_inner()
        .map_err(|_| SynthError::Encode("a writer thread panicked".into()))?;
    let mut outputs = Vec::with_capacity(slots.len());
    for (slot, job) in slots.into_iter().zip(&jobs) {
        match slot {
            Some(Ok(o)) => outputs.push(o),
            Some(Err(e)) => return Err(e),
            None => {
                return Err(SynthError::Encode(format!(
                    "{} was not written",
                    job.file_name("*")
                )));
            }
        }
    }

    progress.phase("writing truth and scenarios", None);
    write_entity_truth(&world, &truth)?;
    // What reached the platform unusable, by file (stem): scenarios expect what the delivered
    // data support.
    let lost: std::collections::HashMap<String, Vec<emit::LostRecord>> = outputs
        .iter()
        .filter(|o| !o.lost.is_empty())
        .map(|o| {
            let stem = o
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (stem, o.lost.clone())
        })
        .collect();
    let scenario_set = scenarios::build(&world, cfg, &lost);
    let scenario_path = out.join("scenarios.json");
    write_json(&scenario_path, &scenario_set)?;
    let files_ms = files_started.elapsed().as_millis();

    let manifest = build_manifest(pack, cfg, &world, out, &outputs, &scenario_set);
    write_json(&out.join("manifest.json"), &manifest)?;
    Ok(SynthOutput {
        manifest,
        timings: Timings {
            world_ms,
            files_ms,
            total_ms: started.elapsed().as_millis(),
        },
    })
}

/// A rough count of the rows to write, for the progress bar only.
fn estimate_rows(world: &world::World, cfg: &SynthConfig) -> u64 {
    let workers = world.people.iter().filter(|p| p.employer.is_some()).count() as u64;
    let base = world.people.len() as u64 * 2
        + world.addresses.len() as u64
        + world.properties.len() as u64
        + world.enterprises.len() as u64 * (1 + cfg.insurance_months as u64);
    base + workers * 5 * cfg.insurance_months as u64
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), SynthError> {
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| SynthError::io(path, e))?);
    serde_json::to_writer_pretty(&mut f, value).map_err(|e| SynthError::Encode(e.to_string()))?;
    f.write_all(b"\n").map_err(|e| SynthError::io(path, e))?;
    f.flush().map_err(|e| SynthError::io(path, e))
}

fn rel(out: &Path, p: &Path) -> String {
    p.strip_prefix(out)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

fn build_manifest(
    pack: &Pack,
    cfg: &SynthConfig,
    world: &world::World,
    out: &Path,
    outputs: &[emit::FileOutput],
    scenario_set: &scenarios::ScenarioSet,
) -> Manifest {
    let mut noise = NoiseCounts::default();
    let mut files = Vec::new();
    let mut by_resource: BTreeMap<String, ResourceReport> = BTreeMap::new();
    for o in outputs {
        noise.merge(&o.counts);
        files.push(FileReport {
            unit: o.unit.clone(),
            resource: o.resource.clone(),
            path: rel(out, &o.path),
            truth: rel(out, &o.truth_path),
            records: o.records,
            bytes: o.bytes,
        });
        let entry = by_resource
            .entry(o.resource.clone())
            .or_insert_with(|| ResourceReport {
                unit: o.unit.clone(),
                resource: o.resource.clone(),
                name: pack
                    .resource(&o.resource)
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                format: pack
                    .resource(&o.resource)
                    .map(|r| emit::extension(r.format).to_string())
                    .unwrap_or_default(),
                files: 0,
                records: 0,
                bytes: 0,
            });
        entry.files += 1;
        entry.records += o.records;
        entry.bytes += o.bytes;
    }
    let mut resources: Vec<ResourceReport> = by_resource.into_values().collect();
    resources.sort_by(|a, b| (&a.unit, &a.resource).cmp(&(&b.unit, &b.resource)));
    Manifest {
        generator: format!("miaopi-synth {}", env!("CARGO_PKG_VERSION")),
        config: cfg.clone(),
        people_total: world.people.len() as u64,
        residents: world
            .people
            .iter()
            .filter(|p| p.resident(cfg.as_of))
            .count() as u64,
        households: world.households.len() as u64,
        enterprises: world.enterprises.len() as u64,
        records_total: files.iter().map(|f| f.records).sum(),
        bytes_total: files.iter().map(|f| f.bytes).sum(),
        files,
        resources,
        noise,
        scenarios: scenario_set.tally(),
    }
}

/// Writes a small CSV table: a header line and one line per row (fields never hold commas).
fn write_table(
    path: &Path,
    header: &str,
    rows: impl Iterator<Item = String>,
) -> Result<(), SynthError> {
    let file = std::fs::File::create(path).map_err(|e| SynthError::io(path, e))?;
    let mut f = std::io::BufWriter::new(file);
    f.write_all(header.as_bytes())
        .map_err(|e| SynthError::io(path, e))?;
    f.write_all(b"\n").map_err(|e| SynthError::io(path, e))?;
    for row in rows {
        f.write_all(row.as_bytes())
            .map_err(|e| SynthError::io(path, e))?;
        f.write_all(b"\n").map_err(|e| SynthError::io(path, e))?;
    }
    f.flush().map_err(|e| SynthError::io(path, e))
}

/// The true entities, for scoring the linker and checking referential consistency.
fn write_entity_truth(world: &world::World, truth: &Path) -> Result<(), SynthError> {
    let opt_id = |i: Option<u32>| {
        i.map(|i| world.people[i as usize].id.to_string())
            .unwrap_or_default()
    };
    write_table(
        &truth.join("people.csv"),
        "resident_id,name,sex,birth_date,death_date,resident,hukou,hukou_status,household_no,home_address_code,phone,spouse_id,mother_id,father_id,employer_uscc,education_level,new_talent",
        world.people.iter().map(|p| {
            let hh = &world.households[p.household as usize];
            let status = if !p.hukou || p.hukou_pending {
                ""
            } else {
                match p.hukou_status() {
                    world::HukouStatus::Normal => "1",
                    world::HukouStatus::MovedOut => "2",
                    world::HukouStatus::Deceased => "3",
                }
            };
            format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                p.id,
                p.name,
                p.sex.code(),
                p.birth,
                p.death.map(|d| d.to_string()).unwrap_or_default(),
                p.resident(world.as_of) as u8,
                (p.hukou && !p.hukou_pending) as u8,
                status,
                hh.no,
                world.addresses[hh.home as usize].code,
                p.phone,
                opt_id(p.spouse),
                opt_id(p.mother),
                opt_id(p.father),
                p.employer
                    .map(|e| world.enterprises[e as usize].uscc.to_string())
                    .unwrap_or_default(),
                p.education
                    .map(|l| world::EDUCATION_LEVELS[l as usize].0)
                    .unwrap_or(""),
                p.new_talent as u8,
            )
        }),
    )?;
    write_table(
        &truth.join("enterprises.csv"),
        "uscc,name,kind,legal_rep,address_code,status,established_on",
        world.enterprises.iter().map(|e| {
            format!(
                "{},{},{},{},{},{},{}",
                e.uscc,
                e.name,
                e.kind,
                world.party_key(e.legal_rep),
                world.addresses[e.address as usize].code,
                e.status,
                e.established
            )
        }),
    )?;
    write_table(
        &truth.join("outsiders.csv"),
        "resident_id,name,sex",
        world
            .outsiders
            .iter()
            .map(|o| format!("{},{},{}", o.id, o.name, o.sex.code())),
    )
}

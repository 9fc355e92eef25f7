//! `miaopi`: the command-line tool of the miaopi data platform.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use miaopi_catalog::Pack;
use miaopi_synth::{NoiseConfig, Progress, SynthConfig, SynthOutput};

mod admin;
mod decide;
mod entity;
mod ingest;
mod serve;

#[derive(Parser)]
#[command(
    name = "miaopi",
    version,
    about = "miaopi 秒批数据中台: a government data platform for instant approvals"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The end-to-end demo: check the catalogue, generate a district, ingest it into the lake,
    /// show its quality and a query, link it, and decide one 秒批 application.
    Demo {
        /// Where to write the generated district.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// Residents to simulate.
        #[arg(long, default_value_t = 20_000)]
        people: u64,
        /// Stop after the decision instead of serving the API and console.
        #[arg(long)]
        no_serve: bool,
        /// Address to serve on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        #[command(flatten)]
        pack: PackArg,
        #[command(flatten)]
        home: HomeArg,
    },
    /// The resource catalogue (政务信息资源目录).
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Generate the synthetic district: messy source files, ground truth and 秒批 scenarios.
    Synth(SynthArgs),
    /// Ingest unit files (or a generator's sources/ directory) into the lake.
    Ingest {
        /// Files or directories (walked recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        pack: PackArg,
        /// Longest accepted line in bytes (longer lines are quarantined).
        #[arg(long, default_value_t = 1 << 20)]
        max_line_bytes: u64,
        /// Files ingested at once (0 = one per core).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        /// Do not link the new batches and update the entity index afterwards.
        #[arg(long)]
        no_link: bool,
    },
    /// Data quality per resource: rows, accepted, quarantined by reason, completeness.
    Quality {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        pack: PackArg,
    },
    /// Run SQL over the lake's tables (`ods.<resource>`, `dwd.<resource>`, `quarantine.<resource>`).
    Sql {
        query: String,
        #[arg(long, value_enum, default_value = "table")]
        format: SqlFormat,
        /// Read the tables as they were at this time (RFC 3339, e.g. 2026-11-28T09:00:00Z).
        #[arg(long)]
        as_of: Option<String>,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        pack: PackArg,
    },
    /// Link every ingested record to its person or legal person; build the base databases,
    /// the knowledge graph and the entity index.
    Link {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Link and write the lake tables, but do not touch the entity index.
        #[arg(long)]
        skip_index: bool,
        /// Rebuild the entity index from the lake instead of updating it in place.
        #[arg(long, conflicts_with = "skip_index")]
        rebuild: bool,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        pack: PackArg,
    },
    /// A person's whole profile across all sources (一证通办), masked unless --unmasked.
    Person {
        /// Resident ID number (or the person's entity id).
        id: String,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        unmasked: bool,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        pack: PackArg,
    },
    /// A legal person's whole profile across all sources.
    Enterprise {
        /// Unified social credit code (or the entity id).
        uscc: String,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        unmasked: bool,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        pack: PackArg,
    },
    /// The knowledge graph around an entity (resident ID, credit code, address code, house id
    /// or entity id), up to --depth hops.
    Graph {
        id: String,
        #[arg(long, default_value_t = 1)]
        depth: usize,
        /// Show the shortest path (within --depth hops) to this entity instead.
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        home: HomeArg,
    },
    /// 秒批 matter packages (事项包): list, run their test cases, render a service guide.
    Matter {
        #[command(subcommand)]
        command: MatterCommand,
    },
    /// 秒批: decide an application from the platform's data; the receipt goes to the meta
    /// store, an approval gets a signed electronic certificate.
    Decide {
        /// The matter code (see `miaopi matter list`), e.g. senior_allowance.
        #[arg(long)]
        matter: String,
        /// The applicant's resident ID number (or unified social credit code).
        #[arg(long)]
        applicant: String,
        /// The matter's form inputs as a JSON object (input name → value).
        #[arg(long)]
        form: Option<PathBuf>,
        /// The application date, YYYY-MM-DD (default: today, Asia/Shanghai). Never in the
        /// future; an earlier date needs --backdate-reason and lies within the matter's window.
        #[arg(long)]
        date: Option<String>,
        /// 窗口补录: why the application is dated before today (recorded in the receipt, with
        /// the operating-system user as the officer).
        #[arg(long, value_name = "REASON")]
        backdate_reason: Option<String>,
        /// 告知承诺: a condition code the applicant commits to (repeatable).
        #[arg(long = "commit", value_name = "CONDITION")]
        commitments: Vec<String>,
        /// 容缺: the applicant signs to bring missing materials by the deadline.
        #[arg(long)]
        accept_pending_materials: bool,
        /// Print the receipt (and certificate path) as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        pack: PackArg,
    },
    /// Re-evaluate a decision from its receipt alone (a receipt id in the meta store, or a
    /// receipt JSON file); fails unless the result equals the original.
    Replay {
        /// Receipt id or file.
        receipt: String,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        pack: PackArg,
    },
    /// Serve the governed API (/api/v1, OpenAPI at /api/openapi.json) and the console
    /// (/console) over the state directory. Creates no accounts: use `miaopi admin`, or
    /// `--demo` for the demo's accounts, consumers and grants.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Log lines as JSON objects instead of text.
        #[arg(long)]
        log_json: bool,
        /// Create the demo's accounts, consumers and grants (once) and print their
        /// credentials; show the demo's one-time codes on this terminal.
        #[arg(long)]
        demo: bool,
        /// Served through a TLS-terminating proxy: session cookies are `Secure`, and the client
        /// address is the one the proxy appends to X-Forwarded-For.
        #[arg(long)]
        behind_tls_proxy: bool,
        /// Applications admitted per minute per caller (five times that per client address);
        /// a load test raises it.
        #[arg(long, default_value_t = miaopi_server::limits::Limits::default().application_per_identity)]
        applications_per_minute: u32,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        pack: PackArg,
    },
    /// Accounts, consumers, API keys and grants (系统管理): each new secret printed once.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        pack: PackArg,
    },
    /// The audit chain (审计链).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Electronic certificates (电子证照).
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// The generic linker: two CSV files of people and a comparison spec (see docs/linking.md).
    LinkFiles {
        #[arg(long)]
        spec: PathBuf,
        a: PathBuf,
        b: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum MatterCommand {
    /// Every matter package with its version, validity and hash.
    List {
        #[command(flatten)]
        pack: PackArg,
    },
    /// Run the test cases of every package (or one matter's); fails on any failing case,
    /// uncovered rule row or uncovered outcome.
    Test {
        code: Option<String>,
        #[command(flatten)]
        pack: PackArg,
    },
    /// The service guide (办事指南) of a matter, generated from its package (Markdown).
    Guide {
        code: String,
        /// The version in force on this date (default: today).
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        pack: PackArg,
    },
}

#[derive(Subcommand)]
enum CertCommand {
    /// Verify a certificate file offline against the issuer's public key; fails on any change.
    Verify {
        file: PathBuf,
        /// The directory holding sm2_public.hex (default: $HOME/keys of the state directory).
        #[arg(long)]
        keys: Option<PathBuf>,
        #[command(flatten)]
        home: HomeArg,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Re-hash the whole chain: exit 1 and name the first entry edited, reordered or deleted.
    Verify {
        #[arg(long)]
        json: bool,
        /// Checkpoints exported earlier (`audit export-checkpoints`), kept outside the state
        /// directory: the chain must agree with them too, which catches a chain rewritten
        /// from scratch.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
        /// The directory holding the platform's sm2_public.hex, to check the checkpoints'
        /// signatures (default: $HOME/keys; keep a copy elsewhere).
        #[arg(long)]
        keys: Option<PathBuf>,
        #[command(flatten)]
        home: HomeArg,
    },
    /// Write a checkpoint at the chain's end and export every checkpoint, each signed with
    /// the platform's SM2 key, to a file to keep outside the state directory (锚定).
    ExportCheckpoints {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        home: HomeArg,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SqlFormat {
    Table,
    Csv,
    Json,
}

#[derive(Args)]
struct HomeArg {
    /// The state directory (default: $MIAOPI_HOME, else ./miaopi-home).
    #[arg(long)]
    home: Option<PathBuf>,
}

impl HomeArg {
    fn dir(&self) -> PathBuf {
        self.home
            .clone()
            .or_else(|| std::env::var_os("MIAOPI_HOME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("miaopi-home"))
    }
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Check a pack: every error names its file, resource and field.
    Check {
        /// The pack directory (default: packs/futian).
        pack: Option<PathBuf>,
    },
    /// Print the data model of the base databases (docs/data-model.md) as Markdown.
    DataModel {
        /// The pack directory (default: packs/futian).
        pack: Option<PathBuf>,
    },
}

#[derive(Args)]
struct PackArg {
    /// The pack directory (default: packs/futian, or $MIAOPI_PACK).
    #[arg(long)]
    pack: Option<PathBuf>,
}

#[derive(Args)]
struct SynthArgs {
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Living residents on the as-of date (Futian's 2020 census by default).
    #[arg(long, default_value_t = miaopi_synth::FUTIAN_CENSUS_POPULATION)]
    people: u64,
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    seed: u64,
    /// Years of event history (births, deaths, marriages).
    #[arg(long, default_value_t = 5)]
    years: u32,
    /// The simulation's "today" (YYYY-MM-DD).
    #[arg(long, default_value = "2026-10-31")]
    as_of: String,
    /// Months of social-insurance and tax history.
    #[arg(long, default_value_t = 12)]
    insurance_months: u32,
    /// Multiply every noise rate by this factor (0 = clean sources).
    #[arg(long, default_value_t = 1.0)]
    noise_scale: f64,
    /// Set one noise rate, e.g. `--noise id_missing=0.02` (repeatable).
    #[arg(long = "noise", value_name = "KEY=RATE")]
    noise: Vec<String>,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    pack: PackArg,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Catalog {
            command: CatalogCommand::Check { pack },
        } => catalog_check(&resolve_pack(pack)),
        Command::Catalog {
            command: CatalogCommand::DataModel { pack },
        } => {
            let pack = load_pack(&resolve_pack(pack))?;
            print!("{}", miaopi_entity::datamodel::render(&pack));
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth(args) => {
            let pack = load_pack(&resolve_pack(args.pack.pack.clone()))?;
            let cfg = synth_config(&args)?;
            let out = synthesize(&pack, &args.out, &cfg)?;
            print_summary(&out, &args.out);
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest {
            paths,
            home,
            pack,
            max_line_bytes,
            jobs,
            no_link,
        } => {
            let pack = load_pack(&resolve_pack(pack.pack))?;
            runtime()?.block_on(ingest::ingest(
                &pack,
                &home.dir(),
                &paths,
                max_line_bytes,
                jobs,
                !no_link,
            ))
        }
        Command::Quality { json, home, pack } => {
            let pack = load_pack(&resolve_pack(pack.pack))?;
            runtime()?.block_on(ingest::quality(&pack, &home.dir(), json))
        }
        Command::Sql {
            query,
            format,
            as_of,
            home,
            pack,
        } => {
            let pack = load_pack(&resolve_pack(pack.pack))?;
            runtime()?.block_on(ingest::sql(&pack, &home.dir(), &query, format, as_of))
        }
        Command::Link {
            json,
            skip_index,
            rebuild,
            home,
            pack,
        } => {
            let pack = load_pack(&resolve_pack(pack.pack))?;
            runtime()?.block_on(entity::link(&pack, &home.dir(), skip_index, rebuild, json))
        }
        Command::Person {
            id,
            json,
            unmasked,
            home,
            pack,
        } => {
            let pack = load_pack(&resolve_pack(pack.pack))?;
            entity::profile(&pack, &home.dir(), &id, json, unmasked, true)
        }
        Command::Enterprise {
            uscc,
            json,
            unmasked,
            home,
            pack,
        } => {
            let pack = load_pack(&resolve_pack(pack.pack))?;
            entity::profile(&pack, &home.dir(), &uscc, json, unmasked, false)
        }
        Command::Graph {
            id,
            depth,
            to,
            json,
            home,
        } => entity::graph(&home.dir(), &id, depth, to.as_deref(), json),
        Command::LinkFiles { spec, a, b, out } => entity::link_files(&spec, &a, &b, &out),
        Command::Matter { command } => match command {
            MatterCommand::List { pack } => {
                let dir = resolve_pack(pack.pack);
                decide::matter_list(&dir, &load_pack(&dir)?)
            }
            MatterCommand::Test { code, pack } => {
                let dir = resolve_pack(pack.pack);
                decide::matter_test(&dir, &load_pack(&dir)?, code.as_deref())
            }
            MatterCommand::Guide { code, date, pack } => {
                let dir = resolve_pack(pack.pack);
                decide::matter_guide(&dir, &load_pack(&dir)?, &code, date.as_deref())?;
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Decide {
            matter,
            applicant,
            form,
            date,
            backdate_reason,
            commitments,
            accept_pending_materials,
            json,
            home,
            pack,
        } => {
            let dir = resolve_pack(pack.pack);
            let pack = load_pack(&dir)?;
            runtime()?.block_on(decide::decide(
                &dir,
                &pack,
                &home.dir(),
                &decide::DecideArgs {
                    matter: &matter,
                    applicant: &applicant,
                    form: form.as_deref(),
                    date: date.as_deref(),
                    backdate_reason: backdate_reason.as_deref(),
                    commitments: &commitments,
                    accept_pending_materials,
                    json,
                },
            ))
        }
        Command::Replay {
            receipt,
            home,
            pack,
        } => {
            let dir = resolve_pack(pack.pack);
            let pack = load_pack(&dir)?;
            runtime()?.block_on(decide::replay(&dir, &pack, &home.dir(), &receipt))
        }
        Command::Serve {
            addr,
            log_json,
            demo,
            behind_tls_proxy,
            applications_per_minute,
            home,
            pack,
        } => {
            serve::init_logging(log_json);
            let pack_dir = resolve_pack(pack.pack);
            let pack = load_pack(&pack_dir)?;
            let how = serve::How {
                addr,
                demo,
                behind_tls_proxy,
                applications_per_minute,
            };
            runtime()?.block_on(serve::serve(&pack, &pack_dir, &home.dir(), &how))
        }
        Command::Admin {
            command,
            home,
            pack,
        } => {
            let pack = load_pack(&resolve_pack(pack.pack))?;
            runtime()?.block_on(admin::run(&pack, &home.dir(), command))
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    json,
                    checkpoints,
                    keys,
                    home,
                },
        } => {
            let home = home.dir();
            let keys = keys.unwrap_or_else(|| miaopi_apply::keys_dir(&home));
            runtime()?.block_on(serve::audit_verify(
                &home,
                json,
                checkpoints.as_deref(),
                &keys,
            ))
        }
        Command::Audit {
            command: AuditCommand::ExportCheckpoints { out, home },
        } => runtime()?.block_on(serve::export_checkpoints(&home.dir(), &out)),
        Command::Cert {
            command: CertCommand::Verify { file, keys, home },
        } => {
            let keys = keys.unwrap_or_else(|| miaopi_apply::keys_dir(&home.dir()));
            runtime()?.block_on(decide::cert_verify(&file, &keys, &home.dir()))
        }
        Command::Demo {
            out,
            people,
            no_serve,
            addr,
            pack,
            home,
        } => {
            let pack_dir = resolve_pack(pack.pack);
            println!(
                "== 1/7 检查资源目录 catalogue check: {}",
                pack_dir.display()
            );
            let pack = load_pack(&pack_dir)?;
            println!("{}", pack.summary());
            println!(
                "== 2/7 生成模拟福田区数据 synthetic district: {people} residents → {}",
                out.display()
            );
            // The district as of today: the demo's applications are dated today.
            let cfg = SynthConfig {
                people,
                as_of: miaopi_decide::dates::now_shanghai().date_naive(),
                ..SynthConfig::default()
            };
            let output = synthesize(&pack, &out, &cfg)?;
            print_summary(&output, &out);
            let home_dir = home.dir();
            println!(
                "\n== 3/7 汇聚入湖 intake into the lake: {}",
                home_dir.display()
            );
            let rt = runtime()?;
            let code = rt.block_on(ingest::ingest(
                &pack,
                &home_dir,
                &[out.join("sources")],
                1 << 20,
                0,
                // The demo links in its own step below.
                false,
            ))?;
            println!("\n== 4/7 数据质量 quality, and a query");
            rt.block_on(ingest::quality(&pack, &home_dir, false))?;
            rt.block_on(ingest::sql(
                &pack,
                &home_dir,
                "SELECT reason_codes AS 隔离原因, count(*) AS 行数 FROM quarantine.hukou_residents GROUP BY reason_codes ORDER BY 2 DESC",
                SqlFormat::Table,
                None,
            ))?;
            println!("\n== 5/7 关联融合 linking: base databases, knowledge graph, entity index");
            rt.block_on(entity::link(&pack, &home_dir, false, false, false))?;
            println!("\n== 6/7 秒批 instant approval: 高龄老人津贴 senior allowance");
            rt.block_on(decide::demo_senior_allowance(&pack_dir, &pack, &home_dir))?;
            println!(
                "\n试试 try: miaopi person --home {} <身份证号>   (ids: miaopi sql --home {} \"SELECT resident_id FROM base.population LIMIT 3\")",
                home_dir.display(),
                home_dir.display()
            );
            println!(
                "      miaopi matter list; miaopi decide --home {} --matter senior_allowance --applicant <身份证号>; miaopi replay --home {} <回执编号>",
                home_dir.display(),
                home_dir.display()
            );
            if no_serve {
                return Ok(code);
            }
            println!("\n== 7/7 上线服务 serving the API and the console");
            serve::init_logging(false);
            let how = serve::How {
                addr,
                demo: true,
                behind_tls_proxy: false,
                applications_per_minute: miaopi_server::limits::Limits::default()
                    .application_per_identity,
            };
            rt.block_on(serve::serve(&pack, &pack_dir, &home_dir, &how))
        }
    }
}

/// `--pack`, else `$MIAOPI_PACK`, else `packs/futian` under the working directory, else the
/// pack in the source tree this binary was built from.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn resolve_pack(arg: Option<PathBuf>) -> PathBuf {
    if let Some(p) = arg {
        return p;
    }
    if let Some(p) = std::env::var_os("MIAOPI_PACK") {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("packs/futian");
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packs/futian")
}

fn load_pack(dir: &Path) -> Result<Pack> {
    Pack::load(dir).map_err(|errors| {
        anyhow::anyhow!(
            "the pack {} has {} error(s):\n{}",
            dir.display(),
            errors.0.len(),
            errors
        )
    })
}

fn catalog_check(dir: &Path) -> Result<ExitCode> {
    match Pack::load(dir) {
        Ok(pack) => {
            println!("{}", pack.summary());
            println!("OK: {} 校验通过 (pack is valid)", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors.0 {
                println!("{e}");
            }
            println!("FAILED: {} error(s) in {}", errors.0.len(), dir.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn synth_config(args: &SynthArgs) -> Result<SynthConfig> {
    let as_of = NaiveDate::parse_from_str(&args.as_of, "%Y-%m-%d")
        .with_context(|| format!("--as-of {:?} is not a date like 2026-10-31", args.as_of))?;
    if !(0.0..=1000.0).contains(&args.noise_scale) {
        bail!("--noise-scale must be between 0 and 1000");
    }
    let mut noise = NoiseConfig::default().scaled(args.noise_scale);
    for kv in &args.noise {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--noise {kv:?}: expected KEY=RATE"))?;
        let rate: f64 = v
            .trim()
            .parse()
            .with_context(|| format!("--noise {kv:?}: {v:?} is not a number"))?;
        noise.set(k.trim(), rate).map_err(anyhow::Error::msg)?;
    }
    Ok(SynthConfig {
        people: args.people,
        seed: args.seed,
        years: args.years,
        as_of,
        insurance_months: args.insurance_months,
        noise,
        threads: args.threads,
    })
}

/// Progress on stderr: a bar on a terminal, a line per phase otherwise (CI logs).
struct BarProgress {
    bar: ProgressBar,
    started: Instant,
}

impl Progress for BarProgress {
    fn phase(&self, name: &str, total_rows: Option<u64>) {
        let elapsed = self.started.elapsed().as_secs_f64();
        if self.bar.is_hidden() {
            eprintln!("[{elapsed:7.1}s] {name}");
        } else {
            self.bar.set_message(name.to_string());
        }
        if let Some(t) = total_rows {
            self.bar.set_length(t);
        }
    }

    fn rows(&self, n: u64) {
        self.bar.inc(n);
    }
}

fn synthesize(pack: &Pack, out: &Path, cfg: &SynthConfig) -> Result<SynthOutput> {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:28} [{bar:36}] {human_pos}/{human_len} rows ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let progress = BarProgress {
        bar,
        started: Instant::now(),
    };
    let output = miaopi_synth::generate(pack, out, cfg, &progress)
        .with_context(|| format!("generating the district into {}", out.display()))?;
    progress.bar.finish_and_clear();
    Ok(output)
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// Peak resident memory of this process (Linux `VmHWM`), if known.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn print_summary(out: &SynthOutput, dir: &Path) {
    let m = &out.manifest;
    println!(
        "\n模拟区 district: {} residents ({} people incl. deceased/moved out), {} households, {} enterprises",
        m.residents, m.people_total, m.households, m.enterprises
    );
    println!(
        "\n{:<20} {:<32} {:<12} {:>7} {:>12} {:>11}",
        "单位 unit", "资源 resource", "格式 format", "files", "records", "bytes"
    );
    for r in &m.resources {
        println!(
            "{:<20} {:<32} {:<12} {:>7} {:>12} {:>11}",
            r.unit,
            format!("{} {}", r.resource, r.name),
            r.format,
            r.files,
            r.records,
            human_bytes(r.bytes)
        );
    }
    let secs = out.timings.total_ms.max(1) as f64 / 1000.0;
    println!(
        "\ntotal: {} records, {} in {} files; {:.1} s ({:.0} rows/s; simulation {:.1} s, files {:.1} s)",
        m.records_total,
        human_bytes(m.bytes_total),
        m.files.len(),
        secs,
        m.records_total as f64 / secs,
        out.timings.world_ms as f64 / 1000.0,
        out.timings.files_ms as f64 / 1000.0,
    );
    if let Some(peak) = peak_rss_bytes() {
        println!("peak memory: {}", human_bytes(peak));
    }
    println!("\n秒批 scenarios (scenarios.json):");
    for (matter, buckets) in &m.scenarios {
        let parts: Vec<String> = buckets.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("  {matter:<22} {}", parts.join("  "));
    }
    println!(
        "\nsources: {}/sources   truth: {}/truth   manifest: {}/manifest.json",
        dir.display(),
        dir.display(),
        dir.display()
    );
}

//! `miaopi serve` and `miaopi audit verify`: the platform online over one state directory.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use miaopi_catalog::Pack;
use miaopi_server::{AppState, ServeOptions};

/// Our crates' log targets: at info by default; every dependency at warn (the Delta kernel
/// alone logs a thousand info lines opening a lake).
const OUR_TARGETS: [&str; 16] = [
    "miaopi",
    "miaopi_model",
    "miaopi_catalog",
    "miaopi_synth",
    "miaopi_ingest",
    "miaopi_lake",
    "miaopi_meta",
    "miaopi_batch",
    "miaopi_entity",
    "miaopi_index",
    "miaopi_link",
    "miaopi_decide",
    "miaopi_apply",
    "miaopi_govern",
    "miaopi_server",
    "miaopi_cli",
];

/// The filter when neither `MIAOPI_LOG` nor `RUST_LOG` says otherwise.
pub fn default_log_filter() -> String {
    let mut filter = String::from("warn");
    for target in OUR_TARGETS {
        filter.push_str(&format!(",{target}=info"));
    }
    filter
}

/// Log lines: human-readable text on a terminal, or JSON objects (one per line) for a log
/// pipeline. `MIAOPI_LOG`, else `RUST_LOG`, else [`default_log_filter`].
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MIAOPI_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log_filter()));
    // Colours only on a terminal: a log file gets plain `key=value` text that grep can read.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second initialisation (tests) keeps the first subscriber.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Where the demo's credentials are written (readable only by the owner).
pub fn credentials_path(home: &Path) -> std::path::PathBuf {
    home.join("demo-credentials.json")
}

/// Creates the demo's accounts and consumers (once) and writes their credentials to the home.
pub async fn bootstrap(pack: &Pack, home: &Path) -> Result<serde_json::Value> {
    let meta = miaopi_meta::SqliteMeta::open(&home.join("meta.db"))
        .await
        .with_context(|| format!("opening the meta store in {}", home.display()))?;
    let gov = miaopi_govern::Governance::open(&meta).await?;
    let path = credentials_path(home);
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(existing) = serde_json::from_str::<serde_json::Value>(&text)
    {
        return Ok(existing);
    }
    let credentials = gov
        .bootstrap_demo(pack, chrono::Utc::now())
        .await
        .context("creating the demo accounts and consumers")?;
    let json = serde_json::to_value(&credentials)?;
    write_private(&path, &serde_json::to_string_pretty(&json)?)?;
    Ok(json)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// How `miaopi serve` runs.
pub struct How {
    pub addr: SocketAddr,
    /// `--demo`: the demo's identities, credentials printed, one-time codes on the terminal.
    pub demo: bool,
    pub behind_tls_proxy: bool,
    pub applications_per_minute: u32,
}

/// Serves the API and console until ctrl-c.
pub async fn serve(pack: &Pack, pack_dir: &Path, home: &Path, how: &How) -> Result<ExitCode> {
    let addr = how.addr;
    let credentials = if how.demo {
        Some(bootstrap(pack, home).await?)
    } else {
        None
    };
    let mut options = ServeOptions::new(home, pack_dir);
    options.demo = how.demo;
    options.behind_tls_proxy = how.behind_tls_proxy;
    options.limits.application_per_identity = how.applications_per_minute;
    options.limits.application_per_address = how.applications_per_minute.saturating_mul(5);
    let state = AppState::open(options).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    println!("控制台 console: http://{local}/console");
    println!("接口 API:       http://{local}/api/v1 （文档 http://{local}/api/openapi.json）");
    match &credentials {
        Some(_) => println!(
            "演示账号 demo accounts and API keys: {}",
            credentials_path(home).display()
        ),
        None => println!(
            "账号 accounts: miaopi admin account create --home {} --username NAME --role administrator（新密码只显示一次）",
            home.display()
        ),
    }
    if let Some(accounts) = credentials
        .as_ref()
        .and_then(|c| c.get("accounts"))
        .and_then(|v| v.as_array())
    {
        for a in accounts {
            if let (Some(user), Some(password)) = (
                a.get("username").and_then(|v| v.as_str()),
                a.get("password").and_then(|v| v.as_str()),
            ) && (user == "admin" || user == "auditor" || user == "reviewer-police")
            {
                println!("  {user} / {password}");
            }
        }
    }
    println!("按 Ctrl-C 停止 (press Ctrl-C to stop)");
    tracing::info!(%local, home = %home.display(), demo = how.demo, "serving");
    miaopi_server::serve(state, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("serving")?;
    Ok(ExitCode::SUCCESS)
}

/// What a checkpoint's signature covers: a domain tag, then seq, hash and time on lines.
fn checkpoint_message(c: &miaopi_govern::Checkpoint) -> Vec<u8> {
    format!(
        "miaopi-audit-checkpoint-v1\n{}\n{}\n{}",
        c.seq,
        c.entry_hash,
        c.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    )
    .into_bytes()
}

/// One line of an exported checkpoint file.
#[derive(serde::Serialize, serde::Deserialize)]
struct SignedCheckpoint {
    #[serde(flatten)]
    checkpoint: miaopi_govern::Checkpoint,
    /// SM2 over [`checkpoint_message`], hex.
    signature: String,
}

/// `miaopi audit export-checkpoints`: a checkpoint at the chain's end, then every checkpoint
/// signed, one JSON object a line.
pub async fn export_checkpoints(home: &Path, out: &Path) -> Result<ExitCode> {
    let meta = miaopi_meta::SqliteMeta::open(&home.join("meta.db"))
        .await
        .with_context(|| format!("opening the meta store in {}", home.display()))?;
    let gov = miaopi_govern::Governance::open(&meta).await?;
    let keys = miaopi_apply::issuer_keys(home)?;
    let last = gov.checkpoint(chrono::Utc::now()).await?;
    let mut text = String::new();
    let all = gov.checkpoints().await?;
    for c in &all {
        let line = SignedCheckpoint {
            signature: keys.sign_hex(&checkpoint_message(c)),
            checkpoint: c.clone(),
        };
        text.push_str(&serde_json::to_string(&line)?);
        text.push('\n');
    }
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "已导出 {} 个检查点（最新：第 {} 条，哈希 {}…），以平台 SM2 密钥签名：{}",
        all.len(),
        last.seq,
        &last.entry_hash[..16.min(last.entry_hash.len())],
        out.display()
    );
    println!("请将该文件保存在数据目录之外（另一台机器或只读介质）。");
    Ok(ExitCode::SUCCESS)
}

/// Reads an exported checkpoint file, refusing it unless every line's signature verifies.
fn read_anchors(path: &Path, keys: &Path) -> Result<Vec<miaopi_govern::Checkpoint>> {
    let key = miaopi_decide::load_public_key(keys)
        .with_context(|| format!("读取平台公钥 {}", keys.display()))?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let signed: SignedCheckpoint = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a checkpoint line", path.display(), i + 1))?;
        if !key.verify_hex(&checkpoint_message(&signed.checkpoint), &signed.signature) {
            anyhow::bail!(
                "{}:{}: 检查点签名无效（文件被改动，或不是本平台导出的）",
                path.display(),
                i + 1
            );
        }
        out.push(signed.checkpoint);
    }
    Ok(out)
}

/// `miaopi audit verify`: re-hashes the audit chain (against exported checkpoints too, when
/// given); exit 1 when any entry was edited, reordered or deleted, or the chain was rewritten.
pub async fn audit_verify(
    home: &Path,
    json: bool,
    checkpoints: Option<&Path>,
    keys: &Path,
) -> Result<ExitCode> {
    let anchors = match checkpoints {
        Some(path) => read_anchors(path, keys)?,
        None => Vec::new(),
    };
    let meta = miaopi_meta::SqliteMeta::open(&home.join("meta.db"))
        .await
        .with_context(|| format!("opening the meta store in {}", home.display()))?;
    let gov = miaopi_govern::Governance::open(&meta).await?;
    let report = gov.verify_audit_chain_against(&anchors).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.intact {
        println!(
            "审计链完好 audit chain intact: {} entries re-hashed (last seq {}, hash {}…), {} checkpoint(s) agree",
            report.entries_checked,
            report.last_seq,
            &report.last_hash[..16.min(report.last_hash.len())],
            report.checkpoints_checked
        );
        if checkpoints.is_some() {
            println!("  与导出的 {} 个检查点一致（签名有效）", anchors.len());
        }
    } else {
        match &report.problem {
            Some(p) => println!(
                "审计链被篡改 audit chain BROKEN at seq {} ({:?}): {}",
                p.seq, p.kind, p.message
            ),
            None => println!("审计链被篡改 audit chain BROKEN"),
        }
        println!(
            "{} entries verified before the problem (last good seq {})",
            report.entries_checked, report.last_seq
        );
    }
    Ok(if report.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

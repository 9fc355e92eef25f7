//! `miaopi serve` and `miaopi audit verify`: the platform online over one state directory.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use miaopi_catalog::Pack;
use miaopi_server::{AppState, ServeOptions};

/// Log lines: human-readable text on a terminal, or JSON objects (one per line) for a log
/// pipeline.
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MIAOPI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
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

/// Serves the API and console until ctrl-c.
pub async fn serve(
    pack: &Pack,
    pack_dir: &Path,
    home: &Path,
    addr: SocketAddr,
) -> Result<ExitCode> {
    let credentials = bootstrap(pack, home).await?;
    let state = AppState::open(ServeOptions::new(home, pack_dir)).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    println!("控制台 console: http://{local}/console");
    println!("接口 API:       http://{local}/api/v1 （文档 http://{local}/api/openapi.json）");
    println!(
        "演示账号 demo accounts and API keys: {}",
        credentials_path(home).display()
    );
    if let Some(accounts) = credentials.get("accounts").and_then(|v| v.as_array()) {
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
    tracing::info!(%local, home = %home.display(), "serving");
    miaopi_server::serve(state, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("serving")?;
    Ok(ExitCode::SUCCESS)
}

/// `miaopi audit verify`: re-hashes the audit chain; exit 1 when any entry was edited,
/// reordered or deleted.
pub async fn audit_verify(home: &Path, json: bool) -> Result<ExitCode> {
    let meta = miaopi_meta::SqliteMeta::open(&home.join("meta.db"))
        .await
        .with_context(|| format!("opening the meta store in {}", home.display()))?;
    let gov = miaopi_govern::Governance::open(&meta).await?;
    let report = gov.verify_audit_chain().await?;
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

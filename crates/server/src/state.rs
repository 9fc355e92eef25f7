//! The server's shared state: the catalogue, the 秒批 platform (packages, entity index, meta
//! store), governance, the lake, and small caches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use miaopi_apply::Platform;
use miaopi_catalog::Pack;
use miaopi_decide::{DsntkEngine, Packages};
use miaopi_govern::{CitizenIdentityProvider, Consumer, Governance};
use miaopi_lake::Lake;

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The state directory (`--home`).
    pub home: PathBuf,
    /// The pack directory (catalogue and matters).
    pub pack_dir: PathBuf,
    /// How long a console or citizen session lasts.
    pub session_ttl_s: u64,
    /// How long an OAuth2 access token lasts.
    pub token_ttl_s: u64,
    /// `miaopi serve --demo`: the demo's one-time codes are also printed on the terminal.
    pub demo: bool,
    /// `--behind-tls-proxy`: cookies are `Secure`, and the client address is the one the proxy
    /// appended to `X-Forwarded-For`.
    pub behind_tls_proxy: bool,
    /// Abuse limits per address and identity.
    pub limits: crate::limits::Limits,
    /// How long one query of the SQL endpoint may run.
    pub sql_timeout_ms: u64,
}

impl ServeOptions {
    pub fn new(home: &Path, pack_dir: &Path) -> ServeOptions {
        ServeOptions {
            home: home.to_path_buf(),
            pack_dir: pack_dir.to_path_buf(),
            session_ttl_s: 8 * 3600,
            token_ttl_s: 3600,
            demo: false,
            behind_tls_proxy: false,
            limits: crate::limits::Limits::default(),
            sql_timeout_ms: 30_000,
        }
    }
}

/// Shared by every handler (cheap to clone).
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Inner {
    pub options: ServeOptions,
    pub pack: Pack,
    pub platform: Arc<Platform>,
    pub gov: Governance,
    /// Proves citizens are who they say (the demo's one-time codes; a real identity provider
    /// plugs in here).
    pub citizens: Box<dyn CitizenIdentityProvider>,
    pub lake: Lake,
    /// Appends audit entries in group commits.
    pub audit: crate::group_commit::AuditWriter,
    /// Stores decisions and their certificates in group commits.
    pub decisions: crate::group_commit::DecisionWriter,
    /// Verified API keys by SM3 of the presented key, so argon2 runs once per key per
    /// [`KEY_CACHE_TTL`] rather than on every request.
    pub key_cache: tokio::sync::RwLock<HashMap<[u8; 32], (Consumer, Instant)>>,
    /// Access tokens and session tokens by SM3, with the caller each stands for, so a request
    /// does not query the store two or three times before it starts; trusted for
    /// [`TOKEN_CACHE_TTL`] (a logout forgets its token at once).
    pub token_cache: tokio::sync::RwLock<HashMap<[u8; 32], (crate::governed::Caller, Instant)>>,
    pub started: Instant,
}

/// How long a verified API key is trusted without re-checking its hash (a revoked key stops
/// working within this time).
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(60);

/// How long a checked access token or session is trusted without asking the store again: an
/// expiry, a revoked consumer or a changed role takes effect within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(5);

impl AppState {
    /// Opens everything the server needs from a linked state directory, with the demo's
    /// one-time-code identity provider for citizens.
    pub async fn open(options: ServeOptions) -> Result<AppState> {
        AppState::open_with(options, None).await
    }

    /// Like [`AppState::open`], with another citizen identity provider.
    pub async fn open_with(
        options: ServeOptions,
        citizens: Option<Box<dyn CitizenIdentityProvider>>,
    ) -> Result<AppState> {
        let pack = Pack::load(&options.pack_dir).map_err(|errors| {
            anyhow::anyhow!(
                "the pack {} has {} error(s):\n{errors}",
                options.pack_dir.display(),
                errors.0.len()
            )
        })?;
        let packages = Packages::load(&options.pack_dir.join("matters"), &pack, &DsntkEngine)
            .map_err(|errors| {
                anyhow::anyhow!(
                    "the matter packages have {} error(s):\n{errors}",
                    errors.0.len()
                )
            })?;
        let platform = Arc::new(
            Platform::open(&options.home, &pack, packages, &[])
                .await
                .with_context(|| format!("opening the platform in {}", options.home.display()))?,
        );
        let gov = Governance::open(&platform.meta)
            .await
            .context("opening governance (grants, accounts, audit chain)")?;
        let lake = Lake::open(&options.home.join("lake")).context("opening the lake")?;
        Ok(AppState(Arc::new(Inner {
            options,
            pack,
            decisions: crate::group_commit::decision_writer(platform.clone()),
            platform,
            citizens: citizens.unwrap_or_else(|| Box::new(gov.one_time_codes())),
            audit: crate::group_commit::audit_writer(gov.clone()),
            gov,
            lake,
            key_cache: tokio::sync::RwLock::new(HashMap::new()),
            token_cache: tokio::sync::RwLock::new(HashMap::new()),
            started: Instant::now(),
        })))
    }
}

//! One state directory's 秒批 service: decide an application from the index's facts, keep the
//! receipt in the meta store, and issue the certificate of an approval.
//!
//! ```text
//! $HOME/index.redb                 facts (read)
//! $HOME/meta.db                    batches (read), decisions, certificate serials, certificates
//! $HOME/keys/sm2_*.hex             the issuer's SM2 key pair, generated on first use
//! $HOME/certificates/<id>.cert     signed certificates (canonical JSON line + signature line)
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use chrono::{DateTime, FixedOffset};
use miaopi_catalog::Pack;
use miaopi_decide::cert::{PRIVATE_KEY_FILE, certificate_digest};
use miaopi_decide::{
    Application, CertKeyPair, Package, Packages, Receipt, SignedCertificate, SubjectKey,
    decides_alike, generate_keypair, issue_certificate, load_keypair, period_of,
    verify_certificate,
};
use miaopi_meta::{
    CertificateRecord, CertificateRevocation, DecisionRecord, InForceChanges, MetaStore, PeriodKey,
    SqliteMeta,
};

use crate::ApplyError;
use crate::approvals::{
    ApprovalsInForce, WithApprovals, counts_stale_approvals, fed_roles, has_fed_facts,
};
use crate::facts::IndexFacts;
use crate::parties::resolve_supplied;

/// Where the issuer's keys live under a state directory.
pub fn keys_dir(home: &Path) -> PathBuf {
    home.join("keys")
}

/// Where certificates are written under a state directory.
pub fn certificates_dir(home: &Path) -> PathBuf {
    home.join("certificates")
}

/// The issuer's key pair, generated (once) when the directory has none.
pub fn issuer_keys(home: &Path) -> Result<CertKeyPair, ApplyError> {
    let dir = keys_dir(home);
    if dir.join(PRIVATE_KEY_FILE).exists() {
        Ok(load_keypair(&dir)?)
    } else {
        Ok(generate_keypair(&dir)?)
    }
}

/// The applicant as listings show it: a resident ID masked (`440304********0123`), a credit
/// code in full (public).
pub fn masked_key(key: &SubjectKey) -> String {
    match key {
        SubjectKey::Person(id) => miaopi_index::mask_value("resident_id", id.as_str(), 4),
        SubjectKey::Enterprise(c) => c.as_str().to_owned(),
        SubjectKey::Code(c) => miaopi_index::mask_value("code", c, 3),
    }
}

/// The meta store's row for a receipt.
pub fn decision_record(receipt: &Receipt) -> DecisionRecord {
    DecisionRecord {
        receipt_id: receipt.receipt_id.clone(),
        matter: receipt.matter.code.clone(),
        version: receipt.matter.version.clone(),
        package_hash: receipt.matter.package_hash.clone(),
        applicant_masked: masked_key(&receipt.application.applicant),
        application_date: receipt.application.application_date.to_string(),
        outcome: receipt.outcome.kind().as_str().to_owned(),
        decided_at: receipt.decided_at.to_rfc3339(),
        receipt_json: receipt.to_json(),
    }
}

/// Parses a stored receipt and checks that its id matches its content.
pub fn parse_receipt(json: &str, expected_id: Option<&str>) -> Result<Receipt, ApplyError> {
    let id = expected_id.unwrap_or("(file)").to_owned();
    let receipt: Receipt = serde_json::from_str(json).map_err(|e| ApplyError::BadReceipt {
        receipt_id: id.clone(),
        message: format!("does not parse: {e}"),
    })?;
    if !receipt.id_is_valid() {
        return Err(ApplyError::BadReceipt {
            receipt_id: receipt.receipt_id.clone(),
            message: "its id does not match its content (altered?)".into(),
        });
    }
    if expected_id.is_some_and(|e| e != receipt.receipt_id) {
        return Err(ApplyError::BadReceipt {
            receipt_id: id,
            message: format!("stored under another id ({})", receipt.receipt_id),
        });
    }
    Ok(receipt)
}

/// One decision to store with [`Platform::record_group`].
#[derive(Debug, Clone, Copy)]
pub struct ToRecord<'a> {
    pub receipt: &'a Receipt,
    /// When its certificate is issued, if it is an approval.
    pub issued_at: DateTime<FixedOffset>,
    /// How long deciding took, for the dashboard.
    pub decision_us: Option<u64>,
}

/// A certificate issued for an approval.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The signed certificate.
    pub certificate: SignedCertificate,
    /// Where its file was written.
    pub path: PathBuf,
}

/// What became of a decision given to the platform to store.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The decision in force: the one given, or — for a repeat application in the period that
    /// decides alike — the one already stored.
    pub receipt: Receipt,
    /// Its certificate, for an approval (none once revoked).
    pub certificate: Option<Issued>,
    /// A repeat application: nothing new was stored or issued.
    pub repeat: bool,
    /// The receipt of the decision this one replaced (whose certificate is now revoked).
    pub supersedes: Option<String>,
}

/// The 秒批 service of one state directory.
pub struct Platform {
    home: PathBuf,
    /// The matter packages.
    pub packages: Packages,
    /// Facts from the index.
    pub facts: IndexFacts,
    /// The meta store.
    pub meta: SqliteMeta,
    keys: CertKeyPair,
    /// Matter → party roles that facts fed by its approvals look up.
    fed: BTreeMap<String, BTreeSet<String>>,
    /// The approvals in force of those matters.
    approvals: RwLock<ApprovalsInForce>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("home", &self.home)
            .field("packages", &self.packages.len())
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// Opens the service over a linked state directory, reading the registers of the given
    /// matters' plain-key parties (all matters when `matters` is empty).
    pub async fn open(
        home: &Path,
        pack: &Pack,
        packages: Packages,
        matters: &[&str],
    ) -> Result<Platform, ApplyError> {
        let meta = SqliteMeta::open(&home.join("meta.db")).await?;
        let chosen: Vec<&Package> = packages
            .iter()
            .filter(|p| matters.is_empty() || matters.contains(&p.manifest.code.as_str()))
            .collect();
        let facts = IndexFacts::open(home, pack, &meta, chosen).await?;
        let keys = issuer_keys(home)?;
        let fed = fed_roles(&packages);
        let platform = Platform {
            home: home.to_path_buf(),
            packages,
            facts,
            meta,
            keys,
            fed,
            approvals: RwLock::new(ApprovalsInForce::default()),
        };
        platform.refresh_approvals().await?;
        Ok(platform)
    }

    /// Reloads the approvals in force from the meta store, unless no decision was stored
    /// since this copy was made (by this process: it keeps the copy current itself).
    async fn refresh_approvals(&self) -> Result<(), ApplyError> {
        if self.fed.is_empty() {
            return Ok(());
        }
        let high_water = self.meta.decisions_high_water().await?;
        if self.read_approvals()?.high_water == Some(high_water) {
            return Ok(());
        }
        let matters: Vec<String> = self.fed.keys().cloned().collect();
        let mut fresh = ApprovalsInForce::default();
        for (id, json) in self.meta.approvals_in_force(&matters).await? {
            let receipt = parse_receipt(&json, Some(&id))?;
            let package = self.package_of(&receipt)?;
            fresh.add(&receipt, package, &self.fed);
        }
        fresh.high_water = Some(high_water);
        *self
            .approvals
            .write()
            .map_err(|_| ApplyError::Invariant("approvals lock poisoned".into()))? = fresh;
        Ok(())
    }

    fn read_approvals(
        &self,
    ) -> Result<std::sync::RwLockReadGuard<'_, ApprovalsInForce>, ApplyError> {
        self.approvals
            .read()
            .map_err(|_| ApplyError::Invariant("approvals lock poisoned".into()))
    }

    /// How many of the platform's approvals in force facts currently count.
    pub fn approvals_in_force(&self) -> usize {
        self.read_approvals().map_or(0, |a| a.len())
    }

    /// The state directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The issuer's keys.
    pub fn keys(&self) -> &CertKeyPair {
        &self.keys
    }

    /// Decides an application (nothing stored): supplied parties from the graph, facts from
    /// the index, the version in force on the application date.
    ///
    /// Facts fed by a matter (`fed_by`) also count the platform's own approvals in force.
    pub fn decide(
        &self,
        application: Application,
        decided_at: DateTime<FixedOffset>,
    ) -> Result<Receipt, ApplyError> {
        self.decide_seeing(application, decided_at, &ApprovalsInForce::default())
    }

    /// [`Platform::decide`], also counting approvals not stored yet (`pending`).
    fn decide_seeing(
        &self,
        mut application: Application,
        decided_at: DateTime<FixedOffset>,
        pending: &ApprovalsInForce,
    ) -> Result<Receipt, ApplyError> {
        let package = self
            .packages
            .in_force(&application.matter, application.application_date)?;
        let session = self.facts.session()?;
        resolve_supplied(&session, package, &mut application)?;
        let approvals = self.read_approvals()?;
        let source = WithApprovals {
            inner: session,
            approvals: &approvals,
            pending,
        };
        Ok(miaopi_decide::decide_with(
            package,
            &application,
            &source,
            decided_at,
        )?)
    }

    /// Stores a receipt and, for an approval, issues, writes and records its certificate —
    /// unless the applicant already has a decision in force for the period that decides alike
    /// (then that one is returned).
    pub async fn record(
        &self,
        receipt: &Receipt,
        issued_at: DateTime<FixedOffset>,
    ) -> Result<Recorded, ApplyError> {
        let mut recorded = self
            .record_group(&[ToRecord {
                receipt,
                issued_at,
                decision_us: None,
            }])
            .await?;
        recorded
            .pop()
            .ok_or_else(|| ApplyError::Invariant("record_group answered nothing".into()))
    }

    /// Stores many decisions at once (a group commit: one transaction for all of them, after
    /// one reservation of certificate numbers per certificate type), issuing and writing the
    /// certificate of each new approval. Answers in the order given.
    ///
    /// 一次办理: each matter declares a period (once, per year, per event). An application
    /// whose applicant already has a decision in force for its period gets that decision back
    /// when the new one decides alike ([`decides_alike`]: same outcome on the same facts);
    /// otherwise the new decision replaces it, and the replaced decision's certificate is
    /// revoked. Recording a receipt again hands back its certificate rather than a second
    /// one. Either everything is stored or nothing is (certificate files written for a failed
    /// group are left unreferenced).
    ///
    /// An approval whose facts count the platform's approvals is decided again first when
    /// another approval came into force since (stored by another request, or earlier in this
    /// group): two parents applying at once for one child do not both get a 户口.
    pub async fn record_group(&self, items: &[ToRecord<'_>]) -> Result<Vec<Recorded>, ApplyError> {
        self.refresh_approvals().await?;
        let mut pending = ApprovalsInForce::default();
        let mut redecided: Vec<Option<Receipt>> = Vec::with_capacity(items.len());
        for item in items {
            let receipt = item.receipt;
            let package = self.package_of(receipt)?;
            let mut again = None;
            if receipt.outcome.is_approval() && has_fed_facts(package) && {
                let approvals = self.read_approvals()?;
                let source = WithApprovals {
                    inner: miaopi_decide::FixedFacts::default(),
                    approvals: &approvals,
                    pending: &pending,
                };
                counts_stale_approvals(receipt, package, &source)
            } {
                let fresh =
                    self.decide_seeing(receipt.application.clone(), receipt.decided_at, &pending)?;
                if !decides_alike(&fresh, receipt) {
                    again = Some(fresh);
                }
            }
            let decided = again.as_ref().unwrap_or(receipt);
            pending.add(decided, self.package_of(decided)?, &self.fed);
            redecided.push(again);
        }
        let items: Vec<ToRecord<'_>> = items
            .iter()
            .zip(&redecided)
            .map(|(item, again)| ToRecord {
                receipt: again.as_ref().unwrap_or(item.receipt),
                ..*item
            })
            .collect();
        let items = items.as_slice();
        // What each item is: new (maybe replacing a decision), or a repeat of a decision in
        // force — stored earlier, or earlier in this group.
        enum Plan {
            New { supersedes: Option<String> },
            RepeatOfItem(usize),
            RepeatOfStored(Box<Receipt>),
        }
        let mut plans: Vec<Plan> = Vec::with_capacity(items.len());
        let mut in_force_in_group: BTreeMap<PeriodKey, usize> = BTreeMap::new();
        let mut stored_cache: HashMap<String, Option<Receipt>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let receipt = item.receipt;
            let key = self.period_key(receipt)?;
            let Some(key) = key else {
                plans.push(Plan::New { supersedes: None });
                continue;
            };
            if let Some(&j) = in_force_in_group.get(&key) {
                if decides_alike(items[j].receipt, receipt) {
                    plans.push(Plan::RepeatOfItem(j));
                } else {
                    plans.push(Plan::New {
                        supersedes: Some(items[j].receipt.receipt_id.clone()),
                    });
                    in_force_in_group.insert(key, i);
                }
                continue;
            }
            let current = match self.meta.decision_in_force(&key).await? {
                Some(id) => match stored_cache.get(&id) {
                    Some(r) => r.clone(),
                    None => {
                        let r = self.receipt(&id).await?;
                        stored_cache.insert(id, r.clone());
                        r
                    }
                },
                None => None,
            };
            match current {
                Some(current) if decides_alike(&current, receipt) => {
                    plans.push(Plan::RepeatOfStored(Box::new(current)));
                }
                other => {
                    plans.push(Plan::New {
                        supersedes: other
                            .map(|c| c.receipt_id)
                            .filter(|id| id != &receipt.receipt_id),
                    });
                    in_force_in_group.insert(key, i);
                }
            }
        }

        let new_approvals: Vec<&str> = items
            .iter()
            .zip(&plans)
            .filter(|(i, p)| matches!(p, Plan::New { .. }) && i.receipt.outcome.is_approval())
            .map(|(i, _)| i.receipt.receipt_id.as_str())
            .collect();
        let existing = if new_approvals.is_empty() {
            Vec::new()
        } else {
            self.meta.certificates_of_receipts(&new_approvals).await?
        };
        let existing: HashMap<&str, &CertificateRecord> = existing
            .iter()
            .map(|c| (c.receipt_id.as_str(), c))
            .collect();

        // Which new items get a new certificate, and how many numbers each type needs.
        let mut first_of_receipt: HashMap<&str, usize> = HashMap::new();
        let mut wanted: BTreeMap<&str, u64> = BTreeMap::new();
        let mut fresh: Vec<Option<&Package>> = Vec::with_capacity(items.len());
        for (i, (item, plan)) in items.iter().zip(&plans).enumerate() {
            let id = item.receipt.receipt_id.as_str();
            let is_first = *first_of_receipt.entry(id).or_insert(i) == i;
            if !matches!(plan, Plan::New { .. })
                || !item.receipt.outcome.is_approval()
                || existing.contains_key(id)
                || !is_first
            {
                fresh.push(None);
                continue;
            }
            let package = self.package_of(item.receipt)?;
            *wanted
                .entry(package.manifest.certificate.type_code.as_str())
                .or_default() += 1;
            fresh.push(Some(package));
        }
        let mut next_serial: HashMap<&str, u64> = HashMap::new();
        for (type_code, count) in wanted {
            let first = self
                .meta
                .reserve_certificate_serials(type_code, count)
                .await?;
            next_serial.insert(type_code, first);
        }

        let dir = certificates_dir(&self.home);
        let mut issued: Vec<Option<Issued>> = Vec::with_capacity(items.len());
        let mut certificates: Vec<CertificateRecord> = Vec::new();
        let mut decisions: Vec<(DecisionRecord, Option<u64>)> = Vec::with_capacity(items.len());
        for (i, ((item, package), plan)) in items.iter().zip(&fresh).zip(&plans).enumerate() {
            let receipt = item.receipt;
            let id = receipt.receipt_id.as_str();
            let first = first_of_receipt.get(id).copied().unwrap_or(i);
            match plan {
                Plan::RepeatOfItem(j) => {
                    let again = issued.get(*j).cloned().flatten();
                    issued.push(again);
                    continue;
                }
                Plan::RepeatOfStored(current) => {
                    issued.push(self.certificate_in_force(&current.receipt_id).await?);
                    continue;
                }
                Plan::New { .. } => {}
            }
            if first != i {
                let again = issued.get(first).cloned().flatten();
                issued.push(again);
                continue;
            }
            decisions.push((decision_record(receipt), item.decision_us));
            if let Some(stored) = existing.get(id) {
                issued.push(Some(self.stored_certificate(stored)?));
                continue;
            }
            let Some(package) = package else {
                issued.push(None);
                continue;
            };
            let type_code = &package.manifest.certificate.type_code;
            let serial = next_serial.get_mut(type_code.as_str()).ok_or_else(|| {
                ApplyError::Invariant(format!("no serial reserved for {type_code}"))
            })?;
            let certificate =
                issue_certificate(receipt, package, *serial, &self.keys, item.issued_at)?;
            let path = dir.join(format!("{}.cert", certificate.certificate.id));
            write_atomically(&dir, &path, &certificate.bytes)?;
            certificates.push(CertificateRecord {
                certificate_id: certificate.certificate.id.clone(),
                type_code: type_code.clone(),
                serial: *serial,
                receipt_id: receipt.receipt_id.clone(),
                holder_masked: masked_key(&receipt.application.applicant),
                issued_at: item.issued_at.to_rfc3339(),
                file_path: path.to_string_lossy().into_owned(),
                file_sm3: certificate_digest(&certificate.bytes),
            });
            *serial += 1;
            issued.push(Some(Issued { certificate, path }));
        }

        // The periods' decisions in force, what they replace, and the certificates revoked.
        let mut changes = InForceChanges::default();
        for (key, &i) in &in_force_in_group {
            changes
                .in_force
                .push((key.clone(), items[i].receipt.receipt_id.clone()));
        }
        for (i, plan) in plans.iter().enumerate() {
            let Plan::New {
                supersedes: Some(old),
            } = plan
            else {
                continue;
            };
            let new = &items[i].receipt.receipt_id;
            changes.superseded.push((old.clone(), new.clone()));
            let reason = format!(
                "事实变化，决定已由新的决定（回执 {}…）取代",
                &new[..16.min(new.len())]
            );
            let revoked_at = items[i].issued_at.to_rfc3339();
            let mut revoke = |certificate_id: String| {
                changes.revocations.push(CertificateRevocation {
                    certificate_id,
                    revoked_at: revoked_at.clone(),
                    reason: reason.clone(),
                    superseded_by: Some(new.clone()),
                });
            };
            for c in self.meta.certificates_of(old).await? {
                revoke(c.certificate_id);
            }
            // A decision replaced within this very group: its certificate is new too.
            if let Some(j) = items.iter().position(|it| &it.receipt.receipt_id == old)
                && let Some(Some(c)) = issued.get(j)
            {
                revoke(c.certificate.certificate.id.clone());
            }
        }
        let high_water = self.read_approvals()?.high_water;
        let stored = self
            .meta
            .store_decided_in_force(&decisions, &certificates, &changes)
            .await?;
        if !self.fed.is_empty() {
            let now = self.meta.decisions_high_water().await?;
            let mut approvals = self
                .approvals
                .write()
                .map_err(|_| ApplyError::Invariant("approvals lock poisoned".into()))?;
            for (old, _) in &changes.superseded {
                approvals.remove(old);
            }
            for (item, plan) in items.iter().zip(&plans) {
                if matches!(plan, Plan::New { .. }) {
                    approvals.add(item.receipt, self.package_of(item.receipt)?, &self.fed);
                }
            }
            // Another process stored decisions meanwhile: reload before the next decision.
            approvals.high_water = high_water
                .and_then(|h| h.checked_add(i64::try_from(stored).ok()?))
                .filter(|expected| *expected == now);
        }

        let mut out = Vec::with_capacity(items.len());
        for ((item, plan), certificate) in items.iter().zip(plans).zip(issued) {
            out.push(match plan {
                Plan::New { supersedes } => Recorded {
                    receipt: item.receipt.clone(),
                    certificate,
                    repeat: false,
                    supersedes,
                },
                Plan::RepeatOfItem(j) => Recorded {
                    receipt: items[j].receipt.clone(),
                    certificate,
                    repeat: true,
                    supersedes: None,
                },
                Plan::RepeatOfStored(current) => Recorded {
                    receipt: *current,
                    certificate,
                    repeat: true,
                    supersedes: None,
                },
            });
        }
        debug_assert_eq!(out.len(), items.len());
        Ok(out)
    }

    /// The package a receipt was decided under.
    fn package_of(&self, receipt: &Receipt) -> Result<&Package, ApplyError> {
        let m = &receipt.matter;
        Ok(self.packages.get(&m.code, &m.version).ok_or_else(|| {
            miaopi_decide::DecideError::PackageNotFound {
                code: m.code.clone(),
                version: m.version.clone(),
            }
        })?)
    }

    /// The period a receipt's application falls in, as the meta store keys it (applicant and
    /// event as SM3 digests); `None` when the application names no period.
    fn period_key(&self, receipt: &Receipt) -> Result<Option<PeriodKey>, ApplyError> {
        let package = self.package_of(receipt)?;
        let Some(period) = period_of(package, &receipt.application) else {
            return Ok(None);
        };
        let period = match period.strip_prefix("event:") {
            Some(event) => format!("event:{}", sm3_hex(event.as_bytes())),
            None => period,
        };
        Ok(Some(PeriodKey {
            matter: receipt.matter.code.clone(),
            applicant_sm3: sm3_hex(receipt.application.applicant.as_str().as_bytes()),
            period,
        }))
    }

    /// The certificate of a stored decision, unless it was revoked.
    async fn certificate_in_force(&self, receipt_id: &str) -> Result<Option<Issued>, ApplyError> {
        for c in self.meta.certificates_of(receipt_id).await? {
            if self
                .meta
                .certificate_revocation(&c.certificate_id)
                .await?
                .is_none()
            {
                return Ok(Some(self.stored_certificate(&c)?));
            }
        }
        Ok(None)
    }

    /// A certificate issued earlier, read back from its file and verified.
    fn stored_certificate(&self, stored: &CertificateRecord) -> Result<Issued, ApplyError> {
        let path = PathBuf::from(&stored.file_path);
        let bytes = std::fs::read(&path).map_err(|source| ApplyError::Io {
            path: path.clone(),
            source,
        })?;
        let certificate = verify_certificate(&bytes, &self.keys.public_key())?;
        Ok(Issued {
            certificate: SignedCertificate { certificate, bytes },
            path,
        })
    }

    /// Decides, stores the receipt and certifies an approval — or, for a repeat application
    /// in the period that decides alike, answers with the decision in force.
    pub async fn apply(
        &self,
        application: Application,
        decided_at: DateTime<FixedOffset>,
    ) -> Result<Recorded, ApplyError> {
        let receipt = self.decide(application, decided_at)?;
        self.record(&receipt, decided_at).await
    }

    /// A stored receipt by id, checked against its id.
    pub async fn receipt(&self, receipt_id: &str) -> Result<Option<Receipt>, ApplyError> {
        match self.meta.decision(receipt_id).await? {
            None => Ok(None),
            Some(row) => parse_receipt(&row.receipt_json, Some(receipt_id)).map(Some),
        }
    }
}

/// SM3 of bytes, hex: how the meta store keys an applicant or an event without the full key.
fn sm3_hex(bytes: &[u8]) -> String {
    use sm3::Digest;
    hex::encode(sm3::Sm3::digest(bytes))
}

/// Writes a file whole or not at all (temporary file, then rename).
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), ApplyError> {
    let io = |source| ApplyError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("cert.tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

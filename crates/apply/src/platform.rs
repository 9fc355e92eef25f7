//! One state directory's 秒批 service: decide an application from the index's facts, keep the
//! receipt in the meta store, and issue the certificate of an approval.
//!
//! ```text
//! $HOME/index.redb                 facts (read)
//! $HOME/meta.db                    batches (read), decisions, certificate serials, certificates
//! $HOME/keys/sm2_*.hex             the issuer's SM2 key pair, generated on first use
//! $HOME/certificates/<id>.cert     signed certificates (canonical JSON line + signature line)
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use miaopi_catalog::Pack;
use miaopi_decide::cert::{PRIVATE_KEY_FILE, certificate_digest};
use miaopi_decide::{
    Application, CertKeyPair, Package, Packages, Receipt, SignedCertificate, SubjectKey,
    generate_keypair, issue_certificate, load_keypair, verify_certificate,
};
use miaopi_meta::{CertificateRecord, DecisionRecord, MetaStore, SqliteMeta};

use crate::ApplyError;
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

/// A decision made, stored and, on approval, certified.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The receipt (also in the meta store).
    pub receipt: Receipt,
    /// The certificate, for approvals.
    pub certificate: Option<Issued>,
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
        Ok(Platform {
            home: home.to_path_buf(),
            packages,
            facts,
            meta,
            keys,
        })
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
    pub fn decide(
        &self,
        mut application: Application,
        decided_at: DateTime<FixedOffset>,
    ) -> Result<Receipt, ApplyError> {
        let package = self
            .packages
            .in_force(&application.matter, application.application_date)?;
        let session = self.facts.session()?;
        resolve_supplied(&session, package, &mut application)?;
        Ok(miaopi_decide::decide_with(
            package,
            &application,
            &session,
            decided_at,
        )?)
    }

    /// Stores a receipt and, for an approval, issues, writes and records its certificate.
    pub async fn record(
        &self,
        receipt: &Receipt,
        issued_at: DateTime<FixedOffset>,
    ) -> Result<Option<Issued>, ApplyError> {
        let mut issued = self
            .record_group(&[ToRecord {
                receipt,
                issued_at,
                decision_us: None,
            }])
            .await?;
        Ok(issued.pop().flatten())
    }

    /// Stores many decisions at once (a group commit: one transaction for all of them, after
    /// one reservation of certificate numbers per certificate type), issuing and writing the
    /// certificate of each approval. Answers in the order given. Recording a decision again
    /// hands back its certificate rather than a second one; so does a receipt that appears
    /// twice in one group. Either everything is stored or nothing is (certificate files
    /// written for a failed group are left unreferenced).
    pub async fn record_group(
        &self,
        items: &[ToRecord<'_>],
    ) -> Result<Vec<Option<Issued>>, ApplyError> {
        let approvals: Vec<&str> = items
            .iter()
            .filter(|i| i.receipt.outcome.is_approval())
            .map(|i| i.receipt.receipt_id.as_str())
            .collect();
        let existing = if approvals.is_empty() {
            Vec::new()
        } else {
            self.meta.certificates_of_receipts(&approvals).await?
        };
        let existing: HashMap<&str, &CertificateRecord> = existing
            .iter()
            .map(|c| (c.receipt_id.as_str(), c))
            .collect();

        // Which items get a new certificate, and how many numbers each type needs.
        let mut first_of_receipt: HashMap<&str, usize> = HashMap::new();
        let mut wanted: BTreeMap<&str, u64> = BTreeMap::new();
        let mut fresh: Vec<Option<&Package>> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let id = item.receipt.receipt_id.as_str();
            let is_first = *first_of_receipt.entry(id).or_insert(i) == i;
            if !item.receipt.outcome.is_approval() || existing.contains_key(id) || !is_first {
                fresh.push(None);
                continue;
            }
            let m = &item.receipt.matter;
            let package = self.packages.get(&m.code, &m.version).ok_or_else(|| {
                miaopi_decide::DecideError::PackageNotFound {
                    code: m.code.clone(),
                    version: m.version.clone(),
                }
            })?;
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
        let mut out: Vec<Option<Issued>> = Vec::with_capacity(items.len());
        let mut certificates: Vec<CertificateRecord> = Vec::new();
        let mut decisions: Vec<(DecisionRecord, Option<u64>)> = Vec::with_capacity(items.len());
        for (i, (item, package)) in items.iter().zip(&fresh).enumerate() {
            let receipt = item.receipt;
            let id = receipt.receipt_id.as_str();
            let first = first_of_receipt.get(id).copied().unwrap_or(i);
            if first != i {
                let again = out.get(first).cloned().flatten();
                out.push(again);
                continue;
            }
            decisions.push((decision_record(receipt), item.decision_us));
            if let Some(stored) = existing.get(id) {
                out.push(Some(self.stored_certificate(stored)?));
                continue;
            }
            let Some(package) = package else {
                out.push(None);
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
            out.push(Some(Issued { certificate, path }));
        }
        self.meta.store_decided(&decisions, &certificates).await?;
        debug_assert_eq!(out.len(), items.len());
        Ok(out)
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

    /// Decides, stores the receipt and certifies an approval.
    pub async fn apply(
        &self,
        application: Application,
        decided_at: DateTime<FixedOffset>,
    ) -> Result<Decided, ApplyError> {
        let receipt = self.decide(application, decided_at)?;
        let certificate = self.record(&receipt, decided_at).await?;
        Ok(Decided {
            receipt,
            certificate,
        })
    }

    /// A stored receipt by id, checked against its id.
    pub async fn receipt(&self, receipt_id: &str) -> Result<Option<Receipt>, ApplyError> {
        match self.meta.decision(receipt_id).await? {
            None => Ok(None),
            Some(row) => parse_receipt(&row.receipt_json, Some(receipt_id)).map(Some),
        }
    }
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

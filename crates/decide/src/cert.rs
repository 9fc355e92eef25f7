//! 电子证照: certificates issued on approval, identified GB/T 36901-style, signed with SM2
//! over an SM3 digest (国密 seal), verifiable offline with the issuer's public key.
//!
//! **File format** (byte-exact, so any single changed byte fails verification):
//!
//! ```text
//! <canonical JSON of the certificate, one line>\n
//! <SM2 signature r‖s, 128 lower-case hex digits>\n
//! ```
//!
//! The signature covers exactly the bytes of the first line. Verification also requires the
//! first line to be the canonical serialisation of what it parses to (so the signed text and
//! the certificate read from it are one and the same), a lower-case signature, and an
//! identifier whose ISO 7064 MOD 37,36 check character is right.
//!
//! SM2 signing computes `e = SM3(Z_A ‖ M)` with the user identity hash `Z_A`
//! (GM/T 0003.2; distinguishing identifier [`SM2_DIST_ID`], the GM/T 0009 default).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate};
use miaopi_model::{CertificateId, Uscc};
use serde::{Deserialize, Serialize};
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::elliptic_curve::Generate;
use sm3::{Digest, Sm3};

use crate::decide::Receipt;
use crate::facts::SubjectKey;
use crate::manifest::PartyKind;
use crate::package::{Package, hex};

/// SM2 distinguishing identifier (GM/T 0009 default user ID).
pub const SM2_DIST_ID: &str = "1234567812345678";
/// Private key file under a key directory (32-byte scalar, hex).
pub const PRIVATE_KEY_FILE: &str = "sm2_private.hex";
/// Public key file under a key directory (SEC1 uncompressed point, hex).
pub const PUBLIC_KEY_FILE: &str = "sm2_public.hex";
/// Algorithm name recorded in certificates.
pub const SIGNATURE_ALGORITHM: &str = "SM2-with-SM3";

/// Why a certificate could not be issued, read or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// Only approvals get certificates.
    #[error("receipt {0} is not an approval")]
    NotApproved(String),
    /// The receipt was decided under another package.
    #[error("receipt is for {receipt}, package is {package}")]
    WrongPackage {
        /// Receipt's package.
        receipt: String,
        /// Package given.
        package: String,
    },
    /// An identifier could not be built.
    #[error("certificate identifier: {0}")]
    Identifier(String),
    /// Key file problems.
    #[error("key {path}: {message}")]
    Key {
        /// File.
        path: PathBuf,
        /// Problem.
        message: String,
    },
    /// The file is not a certificate file.
    #[error("malformed certificate file: {0}")]
    Malformed(String),
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// 持证者.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Person or enterprise.
    pub kind: PartyKind,
    /// 公民身份号码 / 统一社会信用代码.
    pub id: String,
}

/// 颁发机构.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertIssuer {
    /// 单位全称.
    pub name: String,
    /// 统一社会信用代码.
    pub org_code: String,
}

/// 电子证照 content (what is signed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// 电子证照标识 (GB/T 36901 style, with the MOD 37,36 check character).
    pub id: String,
    /// 证照类型代码.
    pub type_code: String,
    /// 证照名称.
    pub name: String,
    /// 事项 code.
    pub matter_code: String,
    /// 事项名称.
    pub matter_name: String,
    /// 持证者.
    pub holder: Holder,
    /// 颁发机构.
    pub issuer: CertIssuer,
    /// 有效期起.
    pub valid_from: NaiveDate,
    /// 有效期止 (none = 长期).
    pub valid_to: Option<NaiveDate>,
    /// 签发时间.
    pub issued_at: DateTime<FixedOffset>,
    /// 核定事项 (amounts, subsidies), as displayed.
    pub details: BTreeMap<String, String>,
    /// 新统一社会信用代码 (business licences).
    pub new_uscc: Option<String>,
    /// The decision receipt behind it.
    pub receipt_id: String,
    /// 签名算法.
    pub algorithm: String,
}

impl Certificate {
    /// The canonical serialisation (the signed bytes): compact JSON, fields in declaration
    /// order, maps sorted.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serialising plain fields cannot fail; empty bytes would never verify anyway.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// An SM2 key pair for signing certificates.
pub struct CertKeyPair {
    signing: SigningKey,
}

impl std::fmt::Debug for CertKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertKeyPair")
            .field("public", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

impl CertKeyPair {
    /// A fresh key pair from the system's random source.
    pub fn generate() -> Result<CertKeyPair, CertError> {
        let secret = sm2::SecretKey::try_generate().map_err(|e| CertError::Key {
            path: PathBuf::new(),
            message: format!("random source: {e}"),
        })?;
        let signing = SigningKey::new(SM2_DIST_ID, &secret).map_err(|e| CertError::Key {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        Ok(CertKeyPair { signing })
    }

    /// From the 32-byte private scalar in hex.
    pub fn from_private_hex(s: &str) -> Result<CertKeyPair, CertError> {
        let bytes = unhex(s.trim()).ok_or_else(|| CertError::Key {
            path: PathBuf::new(),
            message: "not lower-case hex".into(),
        })?;
        let signing = SigningKey::from_slice(SM2_DIST_ID, &bytes).map_err(|e| CertError::Key {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        Ok(CertKeyPair { signing })
    }

    /// The private scalar in hex (keep secret).
    pub fn private_key_hex(&self) -> String {
        hex(&self.signing.to_bytes())
    }

    /// The public key: SEC1 uncompressed point in hex.
    pub fn public_key_hex(&self) -> String {
        hex(&self.signing.verifying_key().to_sec1_bytes())
    }

    /// The public key for verification.
    pub fn public_key(&self) -> CertPublicKey {
        CertPublicKey(self.signing.verifying_key().clone())
    }

    fn sign(&self, msg: &[u8]) -> Signature {
        self.signing.sign(msg)
    }

    /// An SM2 signature over `msg`, as 128 hex digits: for the platform's other signed
    /// records (audit-chain checkpoints).
    pub fn sign_hex(&self, msg: &[u8]) -> String {
        hex(&self.sign(msg).to_bytes())
    }
}

/// An SM2 public key for verifying certificates.
#[derive(Debug, Clone)]
pub struct CertPublicKey(VerifyingKey);

impl CertPublicKey {
    /// From the SEC1 point in hex.
    pub fn from_hex(s: &str) -> Result<CertPublicKey, CertError> {
        let bytes = unhex(s.trim()).ok_or_else(|| CertError::Key {
            path: PathBuf::new(),
            message: "not lower-case hex".into(),
        })?;
        VerifyingKey::from_sec1_bytes(SM2_DIST_ID, &bytes)
            .map(CertPublicKey)
            .map_err(|e| CertError::Key {
                path: PathBuf::new(),
                message: e.to_string(),
            })
    }

    /// The SEC1 point in hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0.to_sec1_bytes())
    }

    /// Whether `signature_hex` (from [`CertKeyPair::sign_hex`]) signs `msg` under this key.
    pub fn verify_hex(&self, msg: &[u8], signature_hex: &str) -> bool {
        unhex(signature_hex.trim())
            .filter(|b| b.len() == 64)
            .and_then(|b| Signature::from_slice(&b).ok())
            .is_some_and(|sig| self.0.verify(msg, &sig).is_ok())
    }
}

fn key_err(path: &Path, message: impl Into<String>) -> CertError {
    CertError::Key {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Generates a key pair and saves it under `dir` ([`PRIVATE_KEY_FILE`] readable by the owner
/// only, [`PUBLIC_KEY_FILE`]). Refuses to overwrite an existing private key.
pub fn generate_keypair(dir: &Path) -> Result<CertKeyPair, CertError> {
    let pair = CertKeyPair::generate()?;
    save_keypair(&pair, dir)?;
    Ok(pair)
}

/// Saves a key pair under `dir` (refusing to overwrite a private key).
pub fn save_keypair(pair: &CertKeyPair, dir: &Path) -> Result<(), CertError> {
    fs::create_dir_all(dir).map_err(|e| key_err(dir, e.to_string()))?;
    let private = dir.join(PRIVATE_KEY_FILE);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&private)
        .map_err(|e| key_err(&private, e.to_string()))?;
    use std::io::Write;
    writeln!(file, "{}", pair.private_key_hex()).map_err(|e| key_err(&private, e.to_string()))?;
    let public = dir.join(PUBLIC_KEY_FILE);
    fs::write(&public, format!("{}\n", pair.public_key_hex()))
        .map_err(|e| key_err(&public, e.to_string()))
}

/// Loads the key pair saved under `dir`, checking that the public key file matches.
pub fn load_keypair(dir: &Path) -> Result<CertKeyPair, CertError> {
    let private = dir.join(PRIVATE_KEY_FILE);
    let text = fs::read_to_string(&private).map_err(|e| key_err(&private, e.to_string()))?;
    let pair =
        CertKeyPair::from_private_hex(&text).map_err(|e| key_err(&private, e.to_string()))?;
    let public = load_public_key(dir)?;
    if public.to_hex() != pair.public_key_hex() {
        return Err(key_err(
            &dir.join(PUBLIC_KEY_FILE),
            "does not belong to the private key",
        ));
    }
    Ok(pair)
}

/// Loads the public key saved under `dir`.
pub fn load_public_key(dir: &Path) -> Result<CertPublicKey, CertError> {
    let public = dir.join(PUBLIC_KEY_FILE);
    let text = fs::read_to_string(&public).map_err(|e| key_err(&public, e.to_string()))?;
    CertPublicKey::from_hex(&text).map_err(|e| key_err(&public, e.to_string()))
}

/// Strict lower-case hex (upper case would be a second spelling of the same bytes).
/// Lower-case hex only: the files and signatures are written that way, and one spelling keeps
/// a signed line's bytes canonical.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    hex::decode(s).ok()
}

/// A signed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCertificate {
    /// The content.
    pub certificate: Certificate,
    /// The file bytes (content line + signature line).
    pub bytes: Vec<u8>,
}

/// A new 统一社会信用代码 for a registration: prefix (登记管理部门 + 机构类别), the district's
/// 6-digit region code, a 9-character organisation code — eight digits from the serial and
/// their GB 11714 check character — and the GB 32100 check character.
pub fn new_uscc(prefix: &str, region: &str, serial: u64) -> Result<Uscc, CertError> {
    let body = format!("{:08}", serial % 100_000_000);
    let check = miaopi_model::organisation_code_check(&body)
        .ok_or_else(|| CertError::Identifier(format!("organisation code body {body:?}")))?;
    let first17 = format!("{prefix}{region}{body}{check}");
    Uscc::from_first17(&first17).map_err(|e| CertError::Identifier(e.to_string()))
}

/// 签发: issues and signs the matter's certificate for an approved receipt. `serial` is the
/// issuer's running number for this certificate type (流水号), unique per issuer and type.
pub fn issue_certificate(
    receipt: &Receipt,
    package: &Package,
    serial: u64,
    keys: &CertKeyPair,
    issued_at: DateTime<FixedOffset>,
) -> Result<SignedCertificate, CertError> {
    let m = &package.manifest;
    if receipt.matter.code != m.code || receipt.matter.package_hash != package.hash {
        return Err(CertError::WrongPackage {
            receipt: format!("{} {}", receipt.matter.code, receipt.matter.version),
            package: format!("{} {}", m.code, m.version),
        });
    }
    let Some(details) = receipt.outcome.details() else {
        return Err(CertError::NotApproved(receipt.receipt_id.clone()));
    };
    let id = CertificateId::new(
        &m.certificate.type_code,
        &package.issuer.org_code,
        &format!("{serial:08}"),
        1,
    )
    .map_err(|e| CertError::Identifier(e.to_string()))?;
    let (kind, holder_id) = match &receipt.application.applicant {
        SubjectKey::Person(p) => (PartyKind::Person, p.as_str().to_owned()),
        SubjectKey::Enterprise(u) => (PartyKind::Enterprise, u.as_str().to_owned()),
        SubjectKey::Code(c) => (PartyKind::Code, c.clone()),
    };
    let valid_from = receipt.application.application_date;
    let valid_to = m
        .certificate
        .validity_days
        .and_then(|d| crate::dates::add_days(valid_from, d));
    let new_uscc = match &m.certificate.issue_uscc {
        Some(prefix) => {
            let region = package
                .issuer
                .org_code
                .get(2..8)
                .unwrap_or("440304")
                .to_owned();
            Some(new_uscc(prefix, &region, serial)?.to_string())
        }
        None => None,
    };
    let certificate = Certificate {
        id: id.to_string_with_check(),
        type_code: id.type_code.clone(),
        name: m.certificate.name.clone(),
        matter_code: m.code.clone(),
        matter_name: m.name.clone(),
        holder: Holder {
            kind,
            id: holder_id,
        },
        issuer: CertIssuer {
            name: package.issuer.name.clone(),
            org_code: package.issuer.org_code.clone(),
        },
        valid_from,
        valid_to,
        issued_at,
        details: details
            .iter()
            .map(|(k, v)| (k.clone(), v.display_zh()))
            .chain(m.certificate.items.iter().filter_map(|item| {
                let value = receipt.application.form.get(&item.form)?;
                Some((item.label.clone(), value.display_zh()))
            }))
            .collect(),
        new_uscc,
        receipt_id: receipt.receipt_id.clone(),
        algorithm: SIGNATURE_ALGORITHM.into(),
    };
    let mut bytes = certificate.canonical_bytes();
    let signature = keys.sign(&bytes);
    bytes.push(b'\n');
    bytes.extend_from_slice(hex(&signature.to_bytes()).as_bytes());
    bytes.push(b'\n');
    Ok(SignedCertificate { certificate, bytes })
}

/// 验证: checks a certificate file offline against the issuer's public key and returns its
/// content.
pub fn verify_certificate(bytes: &[u8], key: &CertPublicKey) -> Result<Certificate, CertError> {
    let body_end = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| CertError::Malformed("no signature line".into()))?;
    let (body, rest) = bytes.split_at(body_end);
    let sig_line = rest
        .strip_prefix(b"\n")
        .and_then(|r| r.strip_suffix(b"\n"))
        .ok_or_else(|| {
            CertError::Malformed("expected two lines, each ending in a newline".into())
        })?;
    let sig_text = std::str::from_utf8(sig_line)
        .map_err(|_| CertError::Malformed("signature is not text".into()))?;
    let sig_bytes = unhex(sig_text)
        .filter(|b| b.len() == 64)
        .ok_or_else(|| CertError::Malformed("signature is not 128 lower-case hex digits".into()))?;
    let signature = Signature::from_slice(&sig_bytes).map_err(|_| CertError::BadSignature)?;
    key.0
        .verify(body, &signature)
        .map_err(|_| CertError::BadSignature)?;
    let certificate: Certificate =
        serde_json::from_slice(body).map_err(|e| CertError::Malformed(format!("content: {e}")))?;
    if certificate.canonical_bytes() != body {
        return Err(CertError::Malformed(
            "content is not in canonical form".into(),
        ));
    }
    CertificateId::parse(&certificate.id).map_err(|e| CertError::Identifier(e.to_string()))?;
    Ok(certificate)
}

/// SM3 of a certificate file (hex), for registers of issued certificates.
pub fn certificate_digest(bytes: &[u8]) -> String {
    hex(&Sm3::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_strict() {
        assert_eq!(unhex("00ff"), Some(vec![0, 255]));
        assert_eq!(unhex("00FF"), None);
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn keys_round_trip_through_files() {
        let t = tempfile::tempdir().unwrap();
        let pair = generate_keypair(t.path()).unwrap();
        let loaded = load_keypair(t.path()).unwrap();
        assert_eq!(pair.public_key_hex(), loaded.public_key_hex());
        assert_eq!(pair.public_key_hex().len(), 130, "04 ‖ x ‖ y");
        assert!(
            generate_keypair(t.path()).is_err(),
            "never overwrites a private key"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(t.path().join(PRIVATE_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "private key readable by the owner only");
        }
        let other = CertKeyPair::generate().unwrap();
        fs::write(t.path().join(PUBLIC_KEY_FILE), other.public_key_hex()).unwrap();
        assert!(
            load_keypair(t.path()).is_err(),
            "mismatched public key refused"
        );
    }

    #[test]
    fn sm2_sign_verify() {
        let pair = CertKeyPair::generate().unwrap();
        let sig = pair.sign(b"abc");
        assert!(pair.public_key().0.verify(b"abc", &sig).is_ok());
        assert!(pair.public_key().0.verify(b"abd", &sig).is_err());
    }

    #[test]
    fn new_credit_codes_are_valid() {
        let a = new_uscc("92", "440304", 1).unwrap();
        // Body 00000001, GB 11714 check 11 − (1·2 mod 11) = 9.
        assert!(a.as_str().starts_with("92440304000000019"), "{a}");
        assert!(a.organisation_code_is_valid());
        assert_eq!(Uscc::parse(a.as_str()), Ok(a));
        assert_ne!(new_uscc("92", "440304", 2).unwrap(), a);
    }
}

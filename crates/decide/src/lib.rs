//! 秒批 decision engine: decides 政务服务事项 (matters) from facts the government already holds,
//! independent of where those facts come from.
//!
//! * A **matter package** (`packs/<pack>/matters/<code>/<version>/`: `matter.toml`,
//!   `rules.dmn`, `tests.toml`) declares the matter's metadata, its parties, which catalogue
//!   resource and field proves each fact, its parameters, and its rules as DMN 1.3 with one
//!   decision per condition. [`Package::load`] hashes (SM3), validates against the catalogue
//!   and the model, runs the package's tests and refuses it if a rule row is left uncovered.
//! * Facts come through the [`FactSource`] trait (party role + key + binding → [`FactValue`]
//!   with provenance, conflict and staleness); [`InMemoryFacts`] and [`FixedFacts`] serve tests.
//! * Rules are evaluated behind the [`DecisionEngine`] trait ([`DsntkEngine`] today).
//! * [`decide`] gives a [`Receipt`]: the outcome (批准 / 不予批准 / 转人工 / 容缺 / 告知承诺),
//!   Chinese reasons with the facts behind each condition, and everything needed to [`replay`]
//!   it. Missing, conflicting or stale facts never reject. [`recheck`] revokes a 告知承诺
//!   approval that later facts contradict.
//! * Approvals get an SM2-signed [electronic certificate](cert); [`render_guide`] writes the
//!   办事指南 from the same package.
//!
//! Format, outcomes, the age and month-end rules: `docs/matters.md`.

pub mod cert;
pub mod dates;
pub mod datum;
pub mod decide;
pub mod engine;
pub mod error;
pub mod facts;
pub mod guide;
pub mod manifest;
pub mod package;
pub mod testing;

pub use cert::{
    CertError, CertKeyPair, CertPublicKey, Certificate, SignedCertificate, generate_keypair,
    issue_certificate, load_keypair, load_public_key, verify_certificate,
};
pub use datum::{Datum, DatumType, YearMonth};
pub use decide::{
    Application, Backdating, ConditionResult, Outcome, OutcomeKind, Receipt, Revocation, Tri,
    check_application_date, decide, decide_with, decides_alike, period_of, recheck, replay,
    replay_receipt,
};
pub use engine::{CompiledModel, DecisionEngine, DsntkEngine, EngineInfo, EvalValue};
pub use error::{DecideError, PackageError, PackageErrors};
pub use facts::{
    ApprovalInForce, Conflict, EffectOf, FactBinding, FactSource, FactSourceError, FactValue,
    FedBinding, FixedFacts, InMemoryFacts, PLATFORM_DECISIONS, Provenance, Record, RecordSet,
    Subject, SubjectKey, aggregate,
};
pub use guide::render_guide;
pub use manifest::{Aggregate, Manifest, PartyKind};
pub use package::{Package, Packages};
pub use testing::{TestReport, run_package_tests};

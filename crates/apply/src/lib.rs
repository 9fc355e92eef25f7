//! miaopi-apply: 秒批 over the platform — the decision engine (`miaopi-decide`, which knows
//! nothing of storage) fed with facts from the entity index, its receipts kept in the meta
//! store, and approvals certified with the issuer's SM2 key.
//!
//! * [`IndexFacts`] / [`FactSession`]: the engine's `FactSource` over the entity index (parties'
//!   records regrouped from their profile's facts, deliveries from the meta store's batches,
//!   registers read by plain keys from the lake).
//! * [`resolve_supplied`]: `supplied` parties (spouse, parents, child) from the graph's edges.
//! * [`Platform`]: decide → store the receipt → issue, write and record the certificate.
//!
//! See `docs/matters.md` ("Deciding on the platform").

pub mod approvals;
pub mod contradiction;
pub mod error;
pub mod facts;
pub mod form;
pub mod parties;
pub mod platform;

pub use error::ApplyError;
pub use facts::{
    FactSession, IndexFacts, RegisterSpec, Registers, deliveries, load_registers,
    register_bindings, typed,
};
pub use form::{FormError, form_from_json};
pub use parties::resolve_supplied;
pub use platform::{
    Issued, Platform, Recorded, ToRecord, certificates_dir, decision_record, issuer_keys, keys_dir,
    masked_key, parse_receipt,
};

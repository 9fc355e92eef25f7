//! miaopi-ingest: department files in, typed and standardised records out — or quarantined
//! records with a reason. Nothing is lost: every data record a reader meets is yielded either
//! as a [`RawRecord`] or as a [`BadRecord`], and every raw record the standardiser sees ends
//! accepted or rejected with reasons.

pub mod address;
pub mod read;
pub mod record;
pub mod standardize;

pub use read::{ProgressUnit, ReadError, ReadOptions, ReadProgress, Reader, open};
pub use record::{BadRecord, RawRecord, RawValue, ReadItem, RecordProblem};

pub use address::{AddressNormaliser, AddressParts, normalise as normalise_address};
pub use standardize::{
    FieldName, Fix, FixKind, KeyStatus, Outcome, Reject, StandardizeError, Standardizer, Value,
};

//! Errors of the platform side of 秒批.

use std::path::PathBuf;

/// Why a decision could not be made, stored or certified. A missing fact is never an error:
/// it is a value the rules see (and routes to a person).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The entity index could not be opened or read.
    #[error("entity index: {0}")]
    Index(#[from] miaopi_index::IndexError),
    /// The meta store failed.
    #[error(transparent)]
    Meta(#[from] miaopi_meta::MetaError),
    /// The lake could not be read (registers looked up by a plain record key).
    #[error("lake: {0}")]
    Lake(#[from] miaopi_lake::LakeError),
    /// The decision engine refused the application or failed.
    #[error("decision: {0}")]
    Decide(#[from] miaopi_decide::DecideError),
    /// A certificate could not be issued or its keys read.
    #[error("certificate: {0}")]
    Cert(#[from] miaopi_decide::CertError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A stored receipt does not parse.
    #[error("receipt {receipt_id}: {message}")]
    BadReceipt {
        /// Its id.
        receipt_id: String,
        /// What is wrong.
        message: String,
    },
    /// The state directory has no entity index yet.
    #[error("no entity index at {0}: run `miaopi link` after `miaopi ingest`")]
    NoIndex(PathBuf),
    /// A bug: something this crate guarantees did not hold.
    #[error("internal error: {0}")]
    Invariant(String),
}

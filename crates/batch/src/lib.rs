//! miaopi-batch: runs intake batches — a unit's file, matched to its catalogue resource, read
//! and standardised by `miaopi-ingest`, written to the lake's `ods`, `dwd` and `quarantine`
//! tables with lineage, and recorded in the meta store. See `run` for the crash-safety
//! argument.

pub mod discover;
pub mod history;
pub mod run;

use std::path::PathBuf;

pub use discover::{SourceFile, Unrecognised, discover, resource_for};
pub use history::{history_view, history_views};
pub use run::{BatchOutcome, BatchReport, FileProgress, Home, batch_id, ingest_file};

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Read(#[from] miaopi_ingest::ReadError),
    #[error(transparent)]
    Standardize(#[from] miaopi_ingest::StandardizeError),
    #[error(transparent)]
    Lake(#[from] miaopi_lake::LakeError),
    #[error(transparent)]
    Meta(#[from] miaopi_meta::MetaError),
    #[error("building Arrow data: {0}")]
    Arrow(String),
}

impl BatchError {
    /// The reason in Chinese for a person reading the intake report.
    pub fn message_zh(&self) -> String {
        match self {
            BatchError::Read(e) => e.message_zh(),
            BatchError::Io { path, source } => format!("无法读取文件 {}：{source}", path.display()),
            other => format!("入湖失败：{other}"),
        }
    }
}

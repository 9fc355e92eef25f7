//! Typed errors of the linkage engine.

use std::path::PathBuf;

/// Why a spec could not be used, a dataset could not be linked, or a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The spec file could not be read.
    #[error("cannot read link spec {path}: {source}")]
    SpecIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The spec is not valid TOML for a [`crate::LinkSpec`].
    #[error("link spec is not valid: {message}")]
    SpecParse { message: String },

    /// The spec parsed but says something impossible (an empty level list, a probability outside
    /// 0..1, a comparison without columns …).
    #[error("link spec is invalid: {message}")]
    SpecInvalid { message: String },

    /// A comparison, blocking rule or id column names a column the dataset does not have.
    #[error("dataset {dataset} has no column {column:?} (needed by {needed_by})")]
    MissingColumn {
        dataset: &'static str,
        column: String,
        needed_by: String,
    },

    /// A row pushed into a [`crate::Dataset`] has the wrong number of values.
    #[error("record {reference} has {found} values, but the dataset has {expected} columns")]
    RowWidth {
        reference: u64,
        expected: usize,
        found: usize,
    },

    /// A CSV input or output failed.
    #[error("CSV {path}: {message}")]
    Csv { path: PathBuf, message: String },

    /// A file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LinkError {
    /// Stable machine code (snake_case), for logs and the command line's exit reports.
    pub fn code(&self) -> &'static str {
        match self {
            LinkError::SpecIo { .. } => "link_spec_io",
            LinkError::SpecParse { .. } => "link_spec_parse",
            LinkError::SpecInvalid { .. } => "link_spec_invalid",
            LinkError::MissingColumn { .. } => "link_missing_column",
            LinkError::RowWidth { .. } => "link_row_width",
            LinkError::Csv { .. } => "link_csv",
            LinkError::Io { .. } => "link_io",
        }
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> LinkError {
    LinkError::SpecInvalid {
        message: message.into(),
    }
}

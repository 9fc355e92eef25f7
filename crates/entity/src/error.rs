use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lake(#[from] miaopi_lake::LakeError),
    #[error(transparent)]
    Index(#[from] miaopi_index::IndexError),
    #[error(transparent)]
    Link(#[from] miaopi_link::LinkError),
    #[error("reading the lake: {0}")]
    Sql(String),
    #[error("building Arrow data: {0}")]
    Arrow(String),
    #[error("nothing to link: ingest the registers ({0}) first")]
    NoRegister(String),
}

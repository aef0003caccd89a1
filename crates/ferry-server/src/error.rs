//! The one error type of this crate.

use std::net::SocketAddr;

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    /// The server task panicked or was cancelled.
    #[error("server task ended abnormally: {0}")]
    Task(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ferry_store::StoreError),
    /// A file in the data directory could not be read or written.
    #[error("{path}: {source}")]
    DataDir {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

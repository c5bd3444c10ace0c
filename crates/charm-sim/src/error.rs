//! Errors of the simulator library.
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario is unreadable or inconsistent (CLI exit status 2).
    #[error("{0}")]
    Scenario(String),
    /// The charm directory or `.charm` cannot be used.
    #[error("charm {path}: {msg}")]
    Charm { path: String, msg: String },
    #[error("kubernetes API server: {0}")]
    Kube(String),
    #[error("pebble: {0}")]
    Pebble(String),
    #[error("running {what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl SimError {
    pub fn charm(path: &Path, msg: &str) -> Self {
        SimError::Charm {
            path: path.display().to_string(),
            msg: msg.to_string(),
        }
    }

    /// Whether the CLI should exit 2 (bad input) rather than 1 (simulator failure).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, SimError::Scenario(_) | SimError::Charm { .. })
    }
}

//! How a hook ends. One type decides the exit code and the status for every failure, so
//! that only failures a retry can fix make Juju retry the hook.

use charm_runtime::{ModelError, ToolError};

use crate::live::KubeFailure;
use crate::snapshot::SnapshotError;

/// Why a hook could not finish its work.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// Retrying can help (a hook tool failed, the API server is unreachable or busy):
    /// exit non-zero so that Juju runs the hook again later.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Nothing changes until an operator acts (names too long, a bad config value): the
    /// unit goes Blocked with this message, and the hook succeeds.
    #[error("{0}")]
    Blocked(String),
    /// A defect of this charm (a built-in value that does not hold): retrying cannot fix
    /// it either, so the unit goes Blocked naming it, and the hook succeeds.
    #[error("internal error: {0}")]
    Bug(String),
}

impl HookError {
    /// The process exit code Juju sees: non-zero only for [`HookError::Retry`].
    pub fn exit_code(&self) -> u8 {
        match self {
            HookError::Retry(_) => 1,
            HookError::Blocked(_) | HookError::Bug(_) => 0,
        }
    }

    /// The Blocked status message, for the failures that end in one.
    pub fn blocked_message(&self) -> Option<String> {
        match self {
            HookError::Retry(_) => None,
            HookError::Blocked(msg) => Some(msg.clone()),
            HookError::Bug(_) => Some(format!("{self} (see juju debug-log)")),
        }
    }
}

/// Hook tools fail when the unit agent is busy or the relation went away under us: the
/// next run of the hook sees a consistent model again.
impl From<ToolError> for HookError {
    fn from(e: ToolError) -> Self {
        HookError::Retry(e.into())
    }
}

impl From<ModelError> for HookError {
    fn from(e: ModelError) -> Self {
        HookError::Retry(e.into())
    }
}

impl From<SnapshotError> for HookError {
    fn from(e: SnapshotError) -> Self {
        match e {
            // The operator set a value of the wrong type: `juju config` fixes it.
            e @ SnapshotError::Config { .. } => HookError::Blocked(e.to_string()),
            SnapshotError::Model(e) => e.into(),
            SnapshotError::Tool(e) => e.into(),
        }
    }
}

impl From<KubeFailure> for HookError {
    fn from(e: KubeFailure) -> Self {
        match e {
            KubeFailure::Blocked(msg) => HookError::Blocked(msg),
            retry @ KubeFailure::Retryable { .. } => HookError::Retry(retry.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_retry_exits_non_zero() {
        let retry = HookError::from(KubeFailure::Retryable {
            what: "list".into(),
            detail: "HTTP 503".into(),
        });
        assert_eq!(retry.exit_code(), 1);
        assert_eq!(retry.blocked_message(), None);
        let blocked = HookError::from(KubeFailure::Blocked("forbidden".into()));
        assert_eq!(blocked.exit_code(), 0);
        assert_eq!(blocked.blocked_message().as_deref(), Some("forbidden"));
        let bug = HookError::Bug("bad layer".into());
        assert_eq!(bug.exit_code(), 0);
        assert_eq!(
            bug.blocked_message().as_deref(),
            Some("internal error: bad layer (see juju debug-log)")
        );
    }
}

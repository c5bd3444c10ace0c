//! [`ToolError`]: a failed tool, classified from its stderr the way ops does.

/// A hook-tool failure.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The relation id is unknown or gone (`relation not found`).
    #[error("{tool}: relation not found: {stderr}")]
    RelationNotFound {
        /// The tool that failed.
        tool: &'static str,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// Juju refused access (`permission denied`), e.g. a non-leader reading its own app bag
    /// of a non-peer relation.
    #[error("{tool}: permission denied: {stderr}")]
    PermissionDenied {
        /// The tool that failed.
        tool: &'static str,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// A non-leader wrote an application databag (`cannot write relation settings`).
    #[error("{tool}: cannot write relation settings: {stderr}")]
    CannotWriteRelationSettings {
        /// The tool that failed.
        tool: &'static str,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// A leader-only operation by a non-leader (`this unit is not the leader`).
    #[error("{tool}: this unit is not the leader: {stderr}")]
    NotLeader {
        /// The tool that failed.
        tool: &'static str,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// An action tool outside an action (`not running an action`).
    #[error("{tool}: not running an action: {stderr}")]
    NotRunningAction {
        /// The tool that failed.
        tool: &'static str,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// Any other non-zero exit.
    #[error("{tool} exited with status {code}: {stderr}")]
    Failed {
        /// The tool that failed.
        tool: &'static str,
        /// Its exit status (-1 for a signal).
        code: i32,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// The tool could not be started (not on `PATH`, …).
    #[error("cannot run {tool}: {source}")]
    Spawn {
        /// The tool.
        tool: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The tool succeeded but printed something that is not the expected JSON.
    #[error("cannot decode the output of {tool} ({output:?}): {source}")]
    Decode {
        /// The tool.
        tool: &'static str,
        /// Its raw stdout.
        output: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The arguments cannot be expressed to the tool (checked before running it).
    #[error("{tool}: invalid input: {reason}")]
    InvalidInput {
        /// The tool.
        tool: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl ToolError {
    /// The tool this error came from.
    pub fn tool(&self) -> &'static str {
        match self {
            ToolError::RelationNotFound { tool, .. }
            | ToolError::PermissionDenied { tool, .. }
            | ToolError::CannotWriteRelationSettings { tool, .. }
            | ToolError::NotLeader { tool, .. }
            | ToolError::NotRunningAction { tool, .. }
            | ToolError::Failed { tool, .. }
            | ToolError::Spawn { tool, .. }
            | ToolError::Decode { tool, .. }
            | ToolError::InvalidInput { tool, .. } => tool,
        }
    }
}

/// Tools whose "relation not found" means the relation is gone (as ops' `_relation_is_gone`).
const RELATION_TOOLS: &[&str] = &[
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "relation-model-get",
    "network-get",
];

/// `relation (\d+ )?not found`, as Juju words it ("relation 42 not found" from network-get).
fn says_relation_not_found(lower: &str) -> bool {
    lower.match_indices("relation ").any(|(i, m)| {
        let rest = &lower[i + m.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let rest = if digits > 0 {
            match rest[digits..].strip_prefix(' ') {
                Some(r) => r,
                None => return false,
            }
        } else {
            rest
        };
        rest.starts_with("not found")
    }) || lower.contains("unknown relation id")
}

pub(super) fn classify(tool: &'static str, code: i32, stderr: &str) -> ToolError {
    let stderr = stderr.trim().to_string();
    let lower = stderr.to_lowercase();
    if RELATION_TOOLS.contains(&tool) && says_relation_not_found(&lower) {
        ToolError::RelationNotFound { tool, stderr }
    } else if lower.contains("cannot write relation settings") {
        ToolError::CannotWriteRelationSettings { tool, stderr }
    } else if lower.contains("not the leader") {
        ToolError::NotLeader { tool, stderr }
    } else if lower.contains("permission denied") || lower.contains("access denied") {
        ToolError::PermissionDenied { tool, stderr }
    } else if lower.contains("not running an action") {
        ToolError::NotRunningAction { tool, stderr }
    } else {
        ToolError::Failed { tool, code, stderr }
    }
}

//! Status: `status-set`, `status-get`, `application-version-set`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{HookTools, ToolError, s};

/// A status a charm may set (`error` and `unknown` are Juju's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusName {
    /// `active`
    Active,
    /// `blocked`
    Blocked,
    /// `waiting`
    Waiting,
    /// `maintenance`
    Maintenance,
}

impl StatusName {
    /// The word `status-set` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusName::Active => "active",
            StatusName::Blocked => "blocked",
            StatusName::Waiting => "waiting",
            StatusName::Maintenance => "maintenance",
        }
    }
}

/// One unit's (or the application's) status from `status-get`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StatusInfo {
    /// `active`, `blocked`, `waiting`, `maintenance`, `error` or `unknown`.
    pub status: String,
    /// The message (may be empty).
    #[serde(default)]
    pub message: String,
    /// `status-data`
    #[serde(default, rename = "status-data")]
    pub data: Map<String, Value>,
}

/// `status-get --application=true`: the application status and its units'.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AppStatusInfo {
    /// The application's own status.
    #[serde(flatten)]
    pub status: StatusInfo,
    /// Per-unit statuses.
    #[serde(default)]
    pub units: BTreeMap<String, StatusInfo>,
}

#[derive(Deserialize)]
struct AppStatusEnvelope {
    #[serde(rename = "application-status")]
    application_status: AppStatusInfo,
}

impl HookTools {
    /// `status-set --application=<True|False> <status> -- <message>`
    pub fn status_set(
        &self,
        status: StatusName,
        message: &str,
        app: bool,
    ) -> Result<(), ToolError> {
        let application = if app { "True" } else { "False" };
        let args = vec![
            format!("--application={application}"),
            s(status.as_str()),
            s("--"),
            s(message),
        ];
        self.run("status-set", args, None).map(drop)
    }

    /// `status-get --include-data --format=json --application=false` → this unit's status.
    pub fn status_get(&self) -> Result<StatusInfo, ToolError> {
        self.run_json(
            "status-get",
            vec![
                s("--include-data"),
                s("--format=json"),
                s("--application=false"),
            ],
        )
    }

    /// `status-get --include-data --format=json --application=true` → the application's
    /// status and its units' (leader only).
    pub fn status_get_app(&self) -> Result<AppStatusInfo, ToolError> {
        let e: AppStatusEnvelope = self.run_json(
            "status-get",
            vec![
                s("--include-data"),
                s("--format=json"),
                s("--application=true"),
            ],
        )?;
        Ok(e.application_status)
    }

    /// `application-version-set -- <version>`
    pub fn application_version_set(&self, version: &str) -> Result<(), ToolError> {
        self.run("application-version-set", vec![s("--"), s(version)], None)
            .map(drop)
    }
}

//! The JSON document `charm-sim run` prints (`scenario-format.md`, "Output").
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scenario::Bag;
pub use crate::world::{LogEntry, Status};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub steps: Vec<StepOutput>,
    pub relations: Vec<RelationOutput>,
    pub kubernetes: Vec<Value>,
    pub pebble: BTreeMap<String, PebbleOutput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutput {
    /// The hook name, or the action name for action steps.
    pub step: String,
    pub exit_code: i32,
    /// `null` until the charm sets it.
    pub unit_status: Option<Status>,
    pub app_status: Option<Status>,
    pub logs: Vec<LogEntry>,
    pub api_requests: Vec<ApiRequest>,
    pub action: Option<ActionOutput>,
    pub wall_ms: f64,
    /// Extra keys (not in the spec): CPU time and peak RSS of the charm process itself,
    /// without the hook tools it ran (`measure.rs`); `null` where unmeasurable.
    pub charm_cpu_ms: Option<f64>,
    pub charm_max_rss_kib: Option<u64>,
    /// Extra keys (not in the spec): what the hook process printed, and the local bags of
    /// every relation after the step (for step-by-step assertions).
    pub stdout: String,
    pub stderr: String,
    pub relations: Vec<RelationOutput>,
    /// Extra key: the `application-version-set` value, `null` until set.
    pub workload_version: Option<String>,
    /// Extra key: how many times the hook ran each hook tool, by tool name.
    #[serde(default)]
    pub hook_tools: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutput {
    pub results: serde_json::Map<String, Value>,
    /// `null`, or why the action failed (`action-fail` message or `exit status N`).
    pub failed: Option<String>,
    /// Extra key: the `action-log` messages.
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationOutput {
    pub id: u64,
    pub endpoint: String,
    pub local_app_data: Bag,
    pub local_unit_data: Bag,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PebbleOutput {
    pub plan: Value,
}

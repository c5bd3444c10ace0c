//! What the unit is told about its model: `config-get`, `is-leader`, `goal-state`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{HookTools, ToolError, s};

/// One entry of `goal-state`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Goal {
    /// e.g. `active`, `waiting`, `dying`.
    pub status: String,
    /// When the status last changed (UTC timestamp text as Juju prints it).
    #[serde(default)]
    pub since: String,
}

/// `goal-state`: the units and relations the model should have.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct GoalState {
    /// This application's units.
    #[serde(default)]
    pub units: BTreeMap<String, Goal>,
    /// Per endpoint: remote app and unit names to their goals.
    #[serde(default)]
    pub relations: BTreeMap<String, BTreeMap<String, Goal>>,
}

impl HookTools {
    /// `config-get --format=json` → typed config (options that are set or have a default).
    pub fn config_get(&self) -> Result<Map<String, Value>, ToolError> {
        let c: Option<Map<String, Value>> =
            self.run_json("config-get", vec![s("--format=json")])?;
        Ok(c.unwrap_or_default())
    }

    /// `config-get --format=json <key>` → the value, `Value::Null` if unset or unknown.
    pub fn config_get_key(&self, key: &str) -> Result<Value, ToolError> {
        self.run_json("config-get", vec![s("--format=json"), s(key)])
    }

    /// `is-leader --format=json`
    pub fn is_leader(&self) -> Result<bool, ToolError> {
        self.run_json("is-leader", vec![s("--format=json")])
    }

    /// `goal-state --format=json`
    pub fn goal_state(&self) -> Result<GoalState, ToolError> {
        self.run_json("goal-state", vec![s("--format=json")])
    }
}

//! The unit's server-side state: `state-get`, `state-set`, `state-delete`.

use std::collections::BTreeMap;

use super::{HookTools, ToolError, s};

impl HookTools {
    /// `state-get --format=json` → the unit's committed server-side state (`null` reads as
    /// empty, as Juju 4 prints it).
    pub fn state_get(&self) -> Result<BTreeMap<String, String>, ToolError> {
        let m: Option<BTreeMap<String, String>> =
            self.run_json("state-get", vec![s("--format=json")])?;
        Ok(m.unwrap_or_default())
    }

    /// `state-get --format=json <key>` → the value; `None` for a missing key (Juju prints `""`
    /// without `--strict`, or `null`).
    pub fn state_get_key(&self, key: &str) -> Result<Option<String>, ToolError> {
        let v: Option<String> = self.run_json("state-get", vec![s("--format=json"), s(key)])?;
        Ok(v.filter(|v| !v.is_empty()))
    }

    /// `state-set --file -` with `data` as a JSON object on stdin. Nothing is run for an
    /// empty map.
    pub fn state_set(&self, data: &BTreeMap<String, String>) -> Result<(), ToolError> {
        if data.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_string(data).map_err(|e| ToolError::InvalidInput {
            tool: "state-set",
            reason: e.to_string(),
        })?;
        self.run("state-set", vec![s("--file"), s("-")], Some(&body))
            .map(drop)
    }

    /// `state-delete <key>`
    pub fn state_delete(&self, key: &str) -> Result<(), ToolError> {
        self.run("state-delete", vec![s(key)], None).map(drop)
    }
}

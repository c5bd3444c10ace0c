//! The action tools: `action-get`, `action-set`, `action-log`, `action-fail`.

use serde_json::{Map, Value};

use super::{HookTools, ToolError, s};

/// Flatten nested objects into dotted keys, as ops' `format_result_dict`.
fn flatten_results(
    prefix: Option<&str>,
    input: &Map<String, Value>,
    out: &mut Vec<(String, String)>,
) -> Result<(), ToolError> {
    for (key, value) in input {
        let key = match prefix {
            Some(p) => format!("{p}.{key}"),
            None => key.clone(),
        };
        match value {
            Value::Object(inner) => flatten_results(Some(&key), inner, out)?,
            _ if out.iter().any(|(k, _)| *k == key) => {
                return Err(ToolError::InvalidInput {
                    tool: "action-set",
                    reason: format!("duplicate key {key:?} after flattening"),
                });
            }
            // ops sends `str(value)`.
            other => out.push((key, python_repr::str_json(other))),
        }
    }
    Ok(())
}

impl HookTools {
    /// `action-get --format=json` → all action parameters.
    pub fn action_get(&self) -> Result<Map<String, Value>, ToolError> {
        let p: Option<Map<String, Value>> =
            self.run_json("action-get", vec![s("--format=json")])?;
        Ok(p.unwrap_or_default())
    }

    /// `action-get --format=json <key>` (dotted keys recurse) → the value or `Value::Null`.
    pub fn action_get_key(&self, key: &str) -> Result<Value, ToolError> {
        self.run_json("action-get", vec![s("--format=json"), s(key)])
    }

    /// `action-set k=v …`: nested objects are flattened to dotted keys and values turned to
    /// text as Python's `str()` does (`True`, `None`, `3`, `[1, 'a']`), as ops sends them.
    pub fn action_set(&self, results: &Map<String, Value>) -> Result<(), ToolError> {
        let mut flat = Vec::new();
        flatten_results(None, results, &mut flat)?;
        let args = flat.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.run("action-set", args, None).map(drop)
    }

    /// `action-log -- <message>`
    pub fn action_log(&self, message: &str) -> Result<(), ToolError> {
        self.run("action-log", vec![s("--"), s(message)], None)
            .map(drop)
    }

    /// `action-fail [-- <message>]`
    pub fn action_fail(&self, message: Option<&str>) -> Result<(), ToolError> {
        let args = match message {
            Some(m) => vec![s("--"), s(m)],
            None => Vec::new(),
        };
        self.run("action-fail", args, None).map(drop)
    }
}

//! Printing a tool's answer: `--format` smart, yaml or json, and `-o/--output`.
use serde_json::{Map, Value};

use super::{R, Tool, runtime, usage};
use crate::flags::Parsed;

/// Sorts the keys of a map of maps (two levels), leaving the innermost struct-like entries in
/// field order.
pub(super) fn sort_maps(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut items: Vec<(String, Value)> = m.into_iter().collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                items
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::Object(inner) if inner.values().all(Value::is_object) => {
                                sort_maps(Value::Object(inner))
                            }
                            other => other,
                        };
                        (k, v)
                    })
                    .collect(),
            )
        }
        other => other,
    }
}

/// Sorts object keys recursively (Go marshals maps with sorted keys, YAML too).
pub(super) fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(x) = m.get(k) {
                    out.insert(k.clone(), sorted(x));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// juju/cmd FormatYaml: nothing at all for a nil value.
pub(super) fn yaml(v: &Value) -> R<String> {
    if v.is_null() {
        return Ok(String::new());
    }
    serde_yaml_ng::to_string(&sorted(v)).map_err(|e| runtime(format!("cannot format YAML: {e}")))
}

/// Juju's "smart" format: strings bare, bools `True`/`False`, lists one per line, maps as YAML.
pub(super) fn smart(v: &Value) -> R<String> {
    Ok(match v {
        Value::Null => String::new(),
        Value::Bool(true) => "True\n".into(),
        Value::Bool(false) => "False\n".into(),
        Value::String(s) => format!("{s}\n"),
        Value::Number(n) => format!("{n}\n"),
        Value::Array(a) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| format!("{s}\n"))
            .collect(),
        other => yaml(other)?,
    })
}

impl Tool<'_> {
    /// Formats a result per `--format` (default `default`) and honours `-o/--output`.
    pub(super) fn emit(&self, p: &Parsed, default: &str, v: Value) -> R<String> {
        self.emit_as(p, default, v, true)
    }

    /// For Go structs: keys stay in (field) insertion order; the caller sorts map parts.
    pub(super) fn emit_struct(&self, p: &Parsed, default: &str, v: Value) -> R<String> {
        self.emit_as(p, default, v, false)
    }

    pub(super) fn emit_as(&self, p: &Parsed, default: &str, v: Value, sort: bool) -> R<String> {
        let fmt = p.get("format").unwrap_or(default);
        let text = match fmt {
            "json" if sort => format!("{}\n", crate::gojson::to_string(&v)),
            "json" => format!("{}\n", crate::gojson::to_string_ordered(&v)),
            "yaml" if sort => yaml(&v)?,
            "yaml" => serde_yaml_ng::to_string(&v)
                .map_err(|e| runtime(format!("cannot format YAML: {e}")))?,
            "smart" if default != "yaml" => smart(&v)?,
            other => {
                return Err(usage(format!(
                    "invalid value {other:?} for option {}: unknown format {other:?}",
                    p.spelling("format")
                )));
            }
        };
        match p.get("output") {
            Some(path) => {
                std::fs::write(self.cwd.join(path), text)
                    .map_err(|e| runtime(format!("cannot write {path}: {e}")))?;
                Ok(String::new())
            }
            None => Ok(text),
        }
    }
}

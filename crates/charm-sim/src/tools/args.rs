//! Argv as jujuc reads it: flags, positional arguments, `key=value` pairs, `--file` settings.
use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{R, runtime, usage};
use crate::flags::{self, FlagDef, Parsed};

pub(super) fn parse(defs: &[FlagDef], args: &[String]) -> R<Parsed> {
    flags::parse(defs, args).map_err(usage)
}

/// Go's `%q` of a string slice, as in `unrecognized args: ["a" "b"]`.
pub(super) fn go_quote_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", inner.join(" "))
}

pub(super) fn check_empty(args: &[String]) -> R<()> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(usage(format!("unrecognized args: {}", go_quote_list(args))))
    }
}

/// `k=v` arguments (juju/utils keyvalues.Parse with empty values allowed; `k=` deletes).
pub(super) fn kv_args(args: &[String]) -> R<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| usage(format!("expected \"key=value\", got {a:?}")))?;
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(usage(format!("key {k:?} specified more than once")));
        }
    }
    Ok(out)
}

/// A `--file` argument: a YAML (or JSON) map of string-like scalars, from stdin for `-`.
pub(super) fn read_settings(file: &str, stdin: &[u8], cwd: &Path) -> R<BTreeMap<String, String>> {
    let text = if file == "-" {
        String::from_utf8_lossy(stdin).into_owned()
    } else {
        std::fs::read_to_string(cwd.join(file))
            .map_err(|e| runtime(format!("cannot read {file}: {e}")))?
    };
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let v: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| runtime(format!("cannot parse settings: {e}")))?;
    let map = match v {
        Value::Null => return Ok(BTreeMap::new()),
        Value::Object(m) => m,
        _ => return Err(runtime("cannot parse settings: expected a map")),
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let s = match v {
            Value::String(s) => s,
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(runtime(format!(
                    "cannot parse settings: value of {k:?} is not a string"
                )));
            }
        };
        out.insert(k, s);
    }
    Ok(out)
}

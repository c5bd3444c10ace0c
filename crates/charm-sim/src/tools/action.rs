//! action-get, action-set, action-fail and action-log.
use serde_json::{Map, Value, json};

use super::args::{go_quote_list, parse};
use super::{FORMAT, OUTPUT, R, Tool, runtime, usage};

impl Tool<'_> {
    pub(super) fn action_ctx(&mut self) -> R<&mut crate::world::ActionCtx> {
        self.ctx_mut()?
            .action
            .as_mut()
            .ok_or_else(|| runtime("not running an action"))
    }

    pub(super) fn action_get(&mut self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT], args)?;
        let params = Value::Object(self.action_ctx()?.params.clone());
        let v = match p.args.as_slice() {
            [] => params,
            [key] => key
                .split('.')
                .try_fold(&params, |v, seg| v.get(seg))
                .cloned()
                .unwrap_or(Value::Null),
            [_, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        self.emit(&p, "smart", v)
    }

    pub(super) fn action_set(&mut self, args: &[String]) -> R<String> {
        let p = parse(&[], args)?;
        // Arguments are validated (exit 2) before the action context is consulted (exit 1).
        let mut sets = Vec::new();
        for a in &p.args {
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| usage(format!("argument {a:?} must be of the form key...=value")))?;
            let segs: Vec<&str> = k.split('.').collect();
            for seg in &segs {
                if !valid_action_key(seg) {
                    return Err(usage(format!(
                        "key {seg:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods"
                    )));
                }
                if ["stdout", "stderr", "stdout-encoding", "stderr-encoding"].contains(seg) {
                    return Err(usage(format!("cannot set reserved action key {seg:?}")));
                }
            }
            sets.push((
                segs.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                v.to_string(),
            ));
        }
        let act = self.action_ctx()?;
        for (segs, v) in sets {
            insert_nested(&mut act.results, &segs, v);
        }
        Ok(String::new())
    }

    pub(super) fn action_fail(&mut self, args: &[String]) -> R<String> {
        let p = parse(&[], args)?;
        let msg = match p.args.as_slice() {
            [] => "action failed without reason given, check action for errors".to_string(),
            [m] => m.clone(),
            [_, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        self.action_ctx()?.failed = Some(msg);
        Ok(String::new())
    }

    pub(super) fn action_log(&mut self, args: &[String]) -> R<String> {
        let p = parse(&[], args)?;
        if p.args.is_empty() {
            return Err(usage("no message specified"));
        }
        let msg = p.args.join(" ");
        self.action_ctx()?.logs.push(msg);
        Ok(String::new())
    }
}

fn valid_action_key(seg: &str) -> bool {
    let b = seg.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match b {
        [] => false,
        [one] => edge(*one),
        [first, mid @ .., last] => {
            edge(*first) && edge(*last) && mid.iter().all(|&c| edge(c) || c == b'-' || c == b'.')
        }
    }
}

fn insert_nested(m: &mut Map<String, Value>, segs: &[String], v: String) {
    match segs {
        [] => {}
        [last] => {
            m.insert(last.clone(), Value::String(v));
        }
        [first, rest @ ..] => {
            let entry = m.entry(first.clone()).or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            if let Value::Object(inner) = entry {
                insert_nested(inner, rest, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_keys() {
        assert!(valid_action_key("a"));
        assert!(valid_action_key("foo-bar1"));
        assert!(!valid_action_key("Foo"));
        assert!(!valid_action_key("-a"));
        assert!(!valid_action_key(""));
    }
}

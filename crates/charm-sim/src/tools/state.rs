//! state-get, state-set and state-delete: the unit's own key-value store.
use std::collections::BTreeMap;

use serde_json::json;

use super::args::{go_quote_list, kv_args, parse, read_settings};
use super::{FORMAT, OUTPUT, R, Tool, runtime, usage};
use crate::flags::flag;

impl Tool<'_> {
    pub(super) fn state_get(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT, flag("strict", &["strict"], true)], args)?;
        match p.args.as_slice() {
            [] => self.emit(&p, "smart", json!(self.w.unit_state)),
            [key] if key == "-" => self.emit(&p, "smart", json!(self.w.unit_state)),
            // jujuc prints the zero value (an empty string) for a missing key unless --strict.
            [key] => match self.w.unit_state.get(key) {
                Some(v) => self.emit(&p, "smart", json!(v)),
                None if p.bool("strict") => Err(runtime(format!("{key:?} not found"))),
                None => self.emit(&p, "smart", json!("")),
            },
            [_, rest @ ..] => Err(usage(format!("unrecognized args: {}", go_quote_list(rest)))),
        }
    }

    pub(super) fn state_set(&mut self, args: &[String], stdin: &[u8]) -> R<String> {
        let p = parse(&[flag("file", &["file"], false)], args)?;
        let mut settings = match p.get("file") {
            Some(f) => read_settings(f, stdin, self.cwd)?,
            None => BTreeMap::new(),
        };
        settings.extend(kv_args(&p.args)?);
        let pending = &mut self.ctx_mut()?.pending.state;
        for (k, v) in settings {
            pending.insert(k, (!v.is_empty()).then_some(v));
        }
        Ok(String::new())
    }

    pub(super) fn state_delete(&mut self, args: &[String]) -> R<String> {
        let p = parse(&[], args)?;
        let key = match p.args.as_slice() {
            [k] => k.clone(),
            [] => return Err(usage("no key specified")),
            [_, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        self.ctx_mut()?.pending.state.insert(key, None);
        Ok(String::new())
    }
}

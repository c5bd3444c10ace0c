//! config-get, is-leader, leader-get, leader-set and goal-state: what the unit knows of its
//! application.
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::args::{check_empty, go_quote_list, kv_args, parse, read_settings};
use super::format::sort_maps;
use super::{FORMAT, OUTPUT, R, Tool, runtime, usage};
use crate::flags::flag;

impl Tool<'_> {
    pub(super) fn config_get(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT, flag("all", &["a", "all"], true)], args)?;
        let cfg = self.w.effective_config();
        match p.args.as_slice() {
            [] => {
                let mut m = Map::new();
                if p.bool("all") {
                    for k in self.w.meta.config.keys() {
                        m.insert(k.clone(), Value::Null);
                    }
                }
                for (k, v) in cfg {
                    m.insert(k, v);
                }
                self.emit(&p, "smart", Value::Object(m))
            }
            [key] if p.bool("all") => Err(usage(format!(
                "cannot use argument --all together with key {key:?}"
            ))),
            [key] => self.emit(&p, "smart", cfg.get(key).cloned().unwrap_or(Value::Null)),
            [_, rest @ ..] => Err(usage(format!("unrecognized args: {}", go_quote_list(rest)))),
        }
    }

    pub(super) fn is_leader(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT], args)?;
        check_empty(&p.args)?;
        self.emit(&p, "smart", json!(self.w.leader))
    }

    pub(super) fn goal_state(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT], args)?;
        check_empty(&p.args)?;
        // A fixed instant keeps outputs reproducible.
        let since = "2026-01-01T00:00:00Z";
        let mut units = Map::new();
        for n in 0..self.w.planned_units {
            units.insert(
                format!("{}/{n}", self.w.app),
                json!({"status": "active", "since": since}),
            );
        }
        let mut relations = Map::new();
        for r in self.w.relations.values() {
            let entry = relations
                .entry(r.endpoint.clone())
                .or_insert_with(|| json!({}));
            if let Value::Object(m) = entry {
                if !r.peer {
                    m.insert(
                        r.remote_app.clone(),
                        json!({"status": "joined", "since": since}),
                    );
                }
                for u in &r.remote_units {
                    m.insert(u.clone(), json!({"status": "active", "since": since}));
                }
            }
        }
        if p.get("format") == Some("smart") {
            return Err(usage(
                "invalid value \"smart\" for option --format: unknown format \"smart\"",
            ));
        }
        // GoalState is a struct (units, relations) of Go maps (sorted keys); each entry is a
        // struct (status, since).
        let goal = json!({"units": sort_maps(Value::Object(units)), "relations": sort_maps(Value::Object(relations))});
        self.emit_struct(&p, "yaml", goal)
    }

    pub(super) fn leader_get(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT], args)?;
        match p.args.as_slice() {
            [] => self.emit(&p, "smart", json!(self.w.leader_settings)),
            [key] if key == "-" => self.emit(&p, "smart", json!(self.w.leader_settings)),
            [key] => self.emit(
                &p,
                "smart",
                self.w
                    .leader_settings
                    .get(key)
                    .map_or(Value::Null, |v| json!(v)),
            ),
            [_, rest @ ..] => Err(usage(format!("unrecognized args: {}", go_quote_list(rest)))),
        }
    }

    pub(super) fn leader_set(&mut self, args: &[String], stdin: &[u8]) -> R<String> {
        let p = parse(&[flag("file", &["file"], false)], args)?;
        let mut settings = match p.get("file") {
            Some(f) => read_settings(f, stdin, self.cwd)?,
            None => BTreeMap::new(),
        };
        settings.extend(kv_args(&p.args)?);
        if !self.w.leader {
            return Err(runtime(
                "cannot write leadership settings: cannot write settings: not the leader",
            ));
        }
        let changes = settings
            .into_iter()
            .map(|(k, v)| (k, (!v.is_empty()).then_some(v)))
            .collect();
        crate::world::apply(&mut self.w.leader_settings, changes);
        Ok(String::new())
    }
}

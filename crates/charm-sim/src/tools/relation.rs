//! relation-ids, relation-list, relation-get, relation-set, relation-model-get, and the
//! databag permission matrix.
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::args::{check_empty, go_quote_list, kv_args, parse, read_settings};
use super::{APP, FORMAT, OUTPUT, R, RELATION, Tool, runtime, usage};
use crate::flags::{Parsed, flag};
use crate::scenario::Bag;

impl Tool<'_> {
    /// The relation named by `-r` (only the integer after the last `:` counts), else the
    /// hook's own relation.
    pub(super) fn relation_id(&self, p: &Parsed) -> R<u64> {
        match p.get("relation") {
            Some(raw) => {
                let spelled = p.spelling("relation");
                let num = raw.rsplit(':').next().unwrap_or(raw);
                let id: u64 = num.parse().map_err(|_| {
                    usage(format!(
                        "invalid value {raw:?} for option {spelled}: invalid relation id"
                    ))
                })?;
                if self.w.relations.contains_key(&id) {
                    Ok(id)
                } else {
                    Err(usage(format!(
                        "invalid value {raw:?} for option {spelled}: relation not found"
                    )))
                }
            }
            None => self
                .ctx()?
                .relation_id
                .ok_or_else(|| usage("no relation id specified")),
        }
    }

    pub(super) fn relation_ids(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT], args)?;
        let ctx = self.ctx()?;
        let endpoint = match p.args.as_slice() {
            [ep] => ep.clone(),
            [] => ctx
                .relation_id
                .and_then(|id| self.w.relations.get(&id))
                .map(|r| r.endpoint.clone())
                .ok_or_else(|| usage("no endpoint name specified"))?,
            [_, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        let mut ids: Vec<String> = self
            .w
            .relations
            .values()
            .filter(|r| r.endpoint == endpoint && ctx.broken != Some(r.id))
            .map(|r| format!("{}:{}", r.endpoint, r.id))
            .collect();
        ids.sort();
        self.emit(&p, "smart", json!(ids))
    }

    pub(super) fn relation_list(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT, RELATION, APP], args)?;
        check_empty(&p.args)?;
        let id = self.relation_id(&p)?;
        let rel = &self.w.relations[&id];
        if p.bool("app") {
            return self.emit(&p, "smart", json!(rel.remote_app));
        }
        let units = if self.ctx()?.broken == Some(id) {
            Vec::new()
        } else {
            rel.remote_units.clone()
        };
        self.emit(&p, "smart", json!(units))
    }

    /// The bag of `name` in relation `id` as this hook sees it, after permission checks.
    pub(super) fn read_bag(&self, id: u64, name: &str, app: bool) -> R<Bag> {
        let w = &self.w;
        let rel = &w.relations[&id];
        let ctx = self.ctx()?;
        let overlay = |mut bag: Bag, is_app: bool| {
            if let Some(ch) = ctx.pending.relations.get(&(id, is_app)) {
                crate::world::apply(&mut bag, ch.clone());
            }
            bag
        };
        if app {
            if name == w.app {
                if !rel.peer && !w.leader {
                    return Err(runtime("permission denied"));
                }
                return Ok(overlay(rel.local_app_data.clone(), true));
            }
            if name == rel.remote_app {
                return Ok(rel.remote_app_data.clone());
            }
            return Err(runtime(format!(
                "cannot read settings for application {name:?} in relation \"{}:{id}\": application not found",
                rel.endpoint
            )));
        }
        if name == w.unit {
            return Ok(overlay(rel.local_unit_data.clone(), false));
        }
        rel.remote_units_data.get(name).cloned().ok_or_else(|| {
            runtime(format!(
                "cannot read settings for unit {name:?} in relation \"{}:{id}\": unit {name:?}: settings not found",
                rel.endpoint
            ))
        })
    }

    pub(super) fn relation_get(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT, RELATION, APP], args)?;
        let id = self.relation_id(&p)?;
        let mut app = p.bool("app");
        let ctx = self.ctx()?;
        let (key, given) = match p.args.as_slice() {
            [] => (String::new(), None),
            [k] => (k.clone(), None),
            [k, n] => (k.clone(), Some(n.clone())),
            [_, _, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        // Juju's determineUnitOrAppName: defaults come from the hook context (its remote
        // unit, else its remote app), whichever relation -r names.
        let ctx_app = ctx
            .relation_id
            .and_then(|rid| self.w.relations.get(&rid))
            .map(|r| r.remote_app.clone());
        let name = match given {
            Some(g) if app => match g.split_once('/') {
                // With --app a unit name stands for its application.
                Some((a, _)) if is_unit_name(&g) => a.to_string(),
                _ if is_app_name(&g) => g,
                _ => return Err(usage(format!("invalid application name {g:?}"))),
            },
            Some(g) if is_unit_name(&g) => g,
            Some(g) if is_app_name(&g) => {
                return Err(usage(format!(
                    "expected unit name, got application name {g:?}"
                )));
            }
            Some(g) => return Err(usage(format!("invalid unit name {g:?}"))),
            None if app => ctx_app.ok_or_else(|| usage("no unit or application specified"))?,
            None => match (ctx.remote_unit.clone(), ctx_app) {
                (Some(u), _) => u,
                (None, Some(a)) => {
                    app = true;
                    a
                }
                (None, None) => return Err(usage("no unit or application specified")),
            },
        };
        let bag = self.read_bag(id, &name, app)?;
        let v = if key.is_empty() || key == "-" {
            json!(bag)
        } else {
            bag.get(&key).map_or(Value::Null, |s| json!(s))
        };
        self.emit(&p, "smart", v)
    }

    pub(super) fn relation_set(&mut self, args: &[String], stdin: &[u8]) -> R<String> {
        let p = parse(
            &[FORMAT, RELATION, APP, flag("file", &["file"], false)],
            args,
        )?;
        let id = self.relation_id(&p)?;
        let app = p.bool("app");
        let mut settings = match p.get("file") {
            Some(f) => read_settings(f, stdin, self.cwd)?,
            None => BTreeMap::new(),
        };
        settings.extend(kv_args(&p.args)?);
        if app {
            if self.ctx()?.broken == Some(id) {
                return Err(runtime(
                    "cannot read relation application settings: permission denied (unauthorized access)",
                ));
            }
            if !self.w.leader {
                return Err(runtime("cannot write relation settings"));
            }
        }
        let pending = self
            .ctx_mut()?
            .pending
            .relations
            .entry((id, app))
            .or_default();
        for (k, v) in settings {
            pending.insert(k, (!v.is_empty()).then_some(v));
        }
        // Juju still honours the deprecated --format but warns about it.
        if p.get("format").is_some() {
            self.warnings
                .push_str("--format flag deprecated for command \"relation-set\"\n");
        }
        Ok(String::new())
    }

    pub(super) fn relation_model_get(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT, RELATION], args)?;
        check_empty(&p.args)?;
        let id = self.relation_id(&p)?;
        let uuid = self.w.relations[&id]
            .remote_model_uuid
            .clone()
            .unwrap_or_else(|| self.w.model_uuid.clone());
        self.emit(&p, "smart", json!({"uuid": uuid}))
    }
}

/// Juju application names: lowercase words of letters and digits joined by single hyphens,
/// starting with a letter, no word made only of digits.
fn is_app_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && w.chars().any(|c| c.is_ascii_lowercase())
        })
}

fn is_unit_name(s: &str) -> bool {
    s.split_once('/').is_some_and(|(a, n)| {
        is_app_name(a) && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_app_name("mydb"));
        assert!(is_app_name("istio-beacon-k8s"));
        assert!(is_app_name("remote-0123456789abcdef0123456789abcdef"));
        assert!(!is_app_name("My"));
        assert!(!is_app_name("a--b"));
        assert!(!is_app_name("app-1"));
        assert!(is_unit_name("mydb/12"));
        assert!(!is_unit_name("mydb/"));
        assert!(!is_unit_name("///"));
    }
}

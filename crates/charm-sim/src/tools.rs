//! The hook tools, served from the simulator's state the way Juju's `jujuc` server answers them
//! (`juju-contract.md` §2): argv parsing, output formats, error text and exit codes, the
//! databag permission matrix (leadership checked at call time) and per-hook buffering.
use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::flags::{self, FlagDef, Parsed, flag};
use crate::scenario::Bag;
use crate::world::{ADDRESS, HookCtx, LogEntry, Port, Status, World};

/// Every tool name the simulator links into the tools directory.
pub const TOOL_NAMES: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "leader-get",
    "leader-set",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
];

/// A finished tool invocation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ToolOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A tool failure: exit code and the message after `ERROR `.
#[derive(Debug)]
pub struct ToolErr {
    code: i32,
    msg: String,
}

fn usage(msg: impl Into<String>) -> ToolErr {
    ToolErr {
        code: 2,
        msg: msg.into(),
    }
}

fn runtime(msg: impl Into<String>) -> ToolErr {
    ToolErr {
        code: 1,
        msg: msg.into(),
    }
}

type R<T> = Result<T, ToolErr>;

const FORMAT: FlagDef = flag("format", &["format"], false);
const OUTPUT: FlagDef = flag("output", &["o", "output"], false);
const RELATION: FlagDef = flag("relation", &["r", "relation"], false);
const APP: FlagDef = flag("app", &["app"], true);

/// Runs one tool for the hook identified by `context_id`.
pub fn run_tool(
    world: &mut World,
    context_id: &str,
    tool: &str,
    args: &[String],
    stdin: &[u8],
    cwd: &Path,
) -> ToolOutput {
    let ok_ctx = world
        .hook
        .as_ref()
        .is_some_and(|h| h.context_id == context_id);
    let result = if !ok_ctx {
        Err(runtime(format!(
            "bad request: unknown context {context_id:?}"
        )))
    } else {
        dispatch(world, tool, args, stdin, cwd)
    };
    match result {
        Ok((stdout, stderr)) => ToolOutput {
            code: 0,
            stdout,
            stderr,
        },
        Err(e) => ToolOutput {
            code: e.code,
            stdout: String::new(),
            stderr: format!("ERROR {}\n", e.msg),
        },
    }
}

fn dispatch(
    w: &mut World,
    tool: &str,
    args: &[String],
    stdin: &[u8],
    cwd: &Path,
) -> R<(String, String)> {
    let mut t = Tool {
        w,
        cwd,
        warnings: String::new(),
    };
    let stdout = match tool {
        "relation-ids" => t.relation_ids(args),
        "relation-list" => t.relation_list(args),
        "relation-get" => t.relation_get(args),
        "relation-set" => t.relation_set(args, stdin),
        "relation-model-get" => t.relation_model_get(args),
        "config-get" => t.config_get(args),
        "is-leader" => t.is_leader(args),
        "status-set" => t.status_set(args),
        "status-get" => t.status_get(args),
        "application-version-set" => t.application_version_set(args),
        "juju-log" => t.juju_log(args),
        "action-get" => t.action_get(args),
        "action-set" => t.action_set(args),
        "action-fail" => t.action_fail(args),
        "action-log" => t.action_log(args),
        "goal-state" => t.goal_state(args),
        "network-get" => t.network_get(args),
        "state-get" => t.state_get(args),
        "state-set" => t.state_set(args, stdin),
        "state-delete" => t.state_delete(args),
        "opened-ports" => t.opened_ports(args),
        "open-port" => t.port(args, true),
        "close-port" => t.port(args, false),
        "leader-get" => t.leader_get(args),
        "leader-set" => t.leader_set(args, stdin),
        other => Err(runtime(format!("unknown command {other:?}"))),
    }?;
    Ok((stdout, t.warnings))
}

fn parse(defs: &[FlagDef], args: &[String]) -> R<Parsed> {
    flags::parse(defs, args).map_err(usage)
}

/// Go's `%q` of a string slice, as in `unrecognized args: ["a" "b"]`.
fn go_quote_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", inner.join(" "))
}

fn check_empty(args: &[String]) -> R<()> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(usage(format!("unrecognized args: {}", go_quote_list(args))))
    }
}

/// Sorts the keys of a map of maps (two levels), leaving the innermost struct-like entries in
/// field order.
fn sort_maps(v: Value) -> Value {
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
fn sorted(v: &Value) -> Value {
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
fn yaml(v: &Value) -> R<String> {
    if v.is_null() {
        return Ok(String::new());
    }
    serde_yaml_ng::to_string(&sorted(v)).map_err(|e| runtime(format!("cannot format YAML: {e}")))
}

/// Juju's "smart" format: strings bare, bools `True`/`False`, lists one per line, maps as YAML.
fn smart(v: &Value) -> R<String> {
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
    fn emit(&self, p: &Parsed, default: &str, v: Value) -> R<String> {
        self.emit_as(p, default, v, true)
    }

    /// For Go structs: keys stay in (field) insertion order; the caller sorts map parts.
    fn emit_struct(&self, p: &Parsed, default: &str, v: Value) -> R<String> {
        self.emit_as(p, default, v, false)
    }

    fn emit_as(&self, p: &Parsed, default: &str, v: Value, sort: bool) -> R<String> {
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

struct Tool<'a> {
    w: &'a mut World,
    cwd: &'a Path,
    /// stderr text of a successful call (deprecation notices).
    warnings: String,
}

impl Tool<'_> {
    fn ctx(&self) -> R<&HookCtx> {
        self.w
            .hook
            .as_ref()
            .ok_or_else(|| runtime("no hook is running"))
    }

    fn ctx_mut(&mut self) -> R<&mut HookCtx> {
        self.w
            .hook
            .as_mut()
            .ok_or_else(|| runtime("no hook is running"))
    }

    /// The relation named by `-r` (only the integer after the last `:` counts), else the
    /// hook's own relation.
    fn relation_id(&self, p: &Parsed) -> R<u64> {
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

    fn relation_ids(&self, args: &[String]) -> R<String> {
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

    fn relation_list(&self, args: &[String]) -> R<String> {
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
    fn read_bag(&self, id: u64, name: &str, app: bool) -> R<Bag> {
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

    fn relation_get(&self, args: &[String]) -> R<String> {
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

    fn relation_set(&mut self, args: &[String], stdin: &[u8]) -> R<String> {
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

    fn relation_model_get(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT, RELATION], args)?;
        check_empty(&p.args)?;
        let id = self.relation_id(&p)?;
        let uuid = self.w.relations[&id]
            .remote_model_uuid
            .clone()
            .unwrap_or_else(|| self.w.model_uuid.clone());
        self.emit(&p, "smart", json!({"uuid": uuid}))
    }

    fn config_get(&self, args: &[String]) -> R<String> {
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

    fn is_leader(&self, args: &[String]) -> R<String> {
        let p = parse(&[FORMAT, OUTPUT], args)?;
        check_empty(&p.args)?;
        self.emit(&p, "smart", json!(self.w.leader))
    }

    fn status_set(&mut self, args: &[String]) -> R<String> {
        let p = parse(&[flag("application", &["application"], true)], args)?;
        let (status, message) = match p.args.as_slice() {
            [] => return Err(usage("invalid args, require <status> [message]")),
            [s] => (s.clone(), String::new()),
            [s, m] => (s.clone(), m.clone()),
            [_, _, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        if !["maintenance", "blocked", "waiting", "active"].contains(&status.as_str()) {
            return Err(usage(format!(
                "invalid status {status:?}, expected one of [maintenance blocked waiting active]"
            )));
        }
        let st = Some(Status { status, message });
        if p.bool("application") {
            if !self.w.leader {
                return Err(runtime("this unit is not the leader"));
            }
            self.w.app_status = st;
        } else {
            self.w.unit_status = st;
        }
        Ok(String::new())
    }

    fn status_get(&self, args: &[String]) -> R<String> {
        let p = parse(
            &[
                FORMAT,
                OUTPUT,
                flag("application", &["application"], true),
                flag("include-data", &["include-data"], true),
            ],
            args,
        )?;
        check_empty(&p.args)?;
        let data = p.bool("include-data");
        let details = |s: &Option<Status>| -> Value {
            let (status, message) = s
                .as_ref()
                .map_or(("unknown", ""), |s| (s.status.as_str(), s.message.as_str()));
            if data {
                json!({"message": message, "status": status, "status-data": {}})
            } else {
                json!({"status": status})
            }
        };
        // Juju (jujuc status-get.go): without --include-data the smart format prints only
        // the status word; json/yaml print the map.
        let bare = !data && p.get("format").unwrap_or("smart") == "smart";
        if p.bool("application") {
            if !self.w.leader {
                return Err(runtime(
                    "finding application status: this unit is not the leader",
                ));
            }
            let mut app = details(&self.w.app_status);
            if bare {
                return self.emit(&p, "smart", app["status"].clone());
            }
            if let Value::Object(m) = &mut app {
                m.insert(
                    "units".into(),
                    json!({ self.w.unit.clone(): details(&self.w.unit_status) }),
                );
            }
            return self.emit(&p, "smart", json!({"application-status": app}));
        }
        let v = details(&self.w.unit_status);
        if bare {
            self.emit(&p, "smart", v["status"].clone())
        } else {
            self.emit(&p, "smart", v)
        }
    }

    fn application_version_set(&mut self, args: &[String]) -> R<String> {
        let p = parse(&[], args)?;
        match p.args.as_slice() {
            [v] => {
                self.w.workload_version = Some(v.clone());
                Ok(String::new())
            }
            [] => Err(usage("no version specified")),
            [_, rest @ ..] => Err(usage(format!("unrecognized args: {}", go_quote_list(rest)))),
        }
    }

    fn juju_log(&mut self, args: &[String]) -> R<String> {
        let p = parse(
            &[
                flag("debug", &["debug"], true),
                flag("log-level", &["l", "log-level"], false),
                FORMAT,
            ],
            args,
        )?;
        if p.args.is_empty() {
            return Err(usage("no message specified"));
        }
        if p.get("format").is_some() {
            self.warnings
                .push_str("--format flag deprecated for command \"juju-log\"\n");
        }
        let mut message = p.args.join(" ");
        // Juju's level parsing (loggo.ParseLevel) is case-insensitive and knows WARN.
        let raw = p.get("log-level").unwrap_or("INFO").to_string();
        let parsed = match raw.to_uppercase().as_str() {
            _ if p.bool("debug") => Some("DEBUG"),
            "TRACE" => Some("TRACE"),
            "DEBUG" => Some("DEBUG"),
            "INFO" => Some("INFO"),
            "WARN" | "WARNING" => Some("WARNING"),
            "ERROR" => Some("ERROR"),
            "CRITICAL" => Some("CRITICAL"),
            _ => None,
        };
        // Juju prefixes messages logged in relation hooks with the relation's `ep:id`.
        let prefix = {
            let ctx = self.ctx()?;
            ctx.relation_id
                .and_then(|id| self.w.relations.get(&id))
                .map(|r| format!("{}:{}: ", r.endpoint, r.id))
        };
        if let Some(prefix) = prefix {
            message = format!("{prefix}{message}");
        }
        let ctx = self.ctx_mut()?;
        let level = match parsed {
            Some(l) => l.to_string(),
            None => {
                ctx.logs.push(LogEntry {
                    level: "WARNING".into(),
                    message: format!("Specified log level of {raw:?} is not valid"),
                });
                "INFO".into()
            }
        };
        ctx.logs.push(LogEntry { level, message });
        Ok(String::new())
    }

    fn action_ctx(&mut self) -> R<&mut crate::world::ActionCtx> {
        self.ctx_mut()?
            .action
            .as_mut()
            .ok_or_else(|| runtime("not running an action"))
    }

    fn action_get(&mut self, args: &[String]) -> R<String> {
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

    fn action_set(&mut self, args: &[String]) -> R<String> {
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

    fn action_fail(&mut self, args: &[String]) -> R<String> {
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

    fn action_log(&mut self, args: &[String]) -> R<String> {
        let p = parse(&[], args)?;
        if p.args.is_empty() {
            return Err(usage("no message specified"));
        }
        let msg = p.args.join(" ");
        self.action_ctx()?.logs.push(msg);
        Ok(String::new())
    }

    fn goal_state(&self, args: &[String]) -> R<String> {
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

    fn network_get(&self, args: &[String]) -> R<String> {
        let p = parse(
            &[
                FORMAT,
                OUTPUT,
                RELATION,
                flag("bind-address", &["bind-address"], true),
                flag("ingress-address", &["ingress-address"], true),
                flag("egress-subnets", &["egress-subnets"], true),
                flag("primary-address", &["primary-address"], true),
            ],
            args,
        )?;
        if p.get("relation").is_some() {
            self.relation_id(&p)?;
        }
        let binding = match p.args.as_slice() {
            [] => return Err(usage("no arguments specified")),
            [b] => b.clone(),
            [_, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        let known = self.w.meta.endpoints.contains_key(&binding)
            || self.w.meta.extra_bindings.contains(&binding);
        if !known {
            return Err(runtime(format!(
                "no network config found for binding {binding:?}"
            )));
        }
        let cidr = "192.0.2.0/24";
        let selected: Vec<(&str, Value)> = [
            ("bind-address", json!(ADDRESS)),
            ("ingress-address", json!(ADDRESS)),
            ("egress-subnets", json!([cidr])),
            ("primary-address", json!(ADDRESS)),
        ]
        .into_iter()
        .filter(|(k, _)| p.bool(k))
        .collect();
        let v = match selected.as_slice() {
            [] => json!({
                "bind-addresses": [{
                    "mac-address": "",
                    "interface-name": "eth0",
                    "addresses": [{"hostname": "", "value": ADDRESS, "cidr": cidr}],
                }],
                "egress-subnets": [cidr],
                "ingress-addresses": [ADDRESS],
            }),
            [(_, one)] => one.clone(),
            // Several single-value flags: a Go map keyed by flag name.
            many => sorted(&Value::Object(
                many.iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            )),
        };
        // The full answer is Juju's NetworkInfoResult struct: keys in field order.
        self.emit_struct(&p, "smart", v)
    }

    fn state_get(&self, args: &[String]) -> R<String> {
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

    fn state_set(&mut self, args: &[String], stdin: &[u8]) -> R<String> {
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

    fn state_delete(&mut self, args: &[String]) -> R<String> {
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

    fn opened_ports(&self, args: &[String]) -> R<String> {
        let p = parse(
            &[FORMAT, OUTPUT, flag("endpoints", &["endpoints"], true)],
            args,
        )?;
        check_empty(&p.args)?;
        let suffix = if p.bool("endpoints") { " (*)" } else { "" };
        let ports: Vec<String> = self
            .w
            .ports
            .iter()
            .map(|port| format!("{port}{suffix}"))
            .collect();
        self.emit(&p, "smart", json!(ports))
    }

    fn port(&mut self, args: &[String], open: bool) -> R<String> {
        let p = parse(&[flag("endpoints", &["endpoints"], false), FORMAT], args)?;
        let spec = match p.args.as_slice() {
            [s] => s.clone(),
            [] => return Err(usage("no port or range specified")),
            [_, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        let port = parse_port(&spec).map_err(usage)?;
        self.ctx_mut()?.pending.ports.push((open, port));
        Ok(String::new())
    }

    fn leader_get(&self, args: &[String]) -> R<String> {
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

    fn leader_set(&mut self, args: &[String], stdin: &[u8]) -> R<String> {
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

/// `k=v` arguments (juju/utils keyvalues.Parse with empty values allowed; `k=` deletes).
fn kv_args(args: &[String]) -> R<BTreeMap<String, String>> {
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
fn read_settings(file: &str, stdin: &[u8], cwd: &Path) -> R<BTreeMap<String, String>> {
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

fn parse_port(spec: &str) -> Result<Port, String> {
    if spec == "icmp" {
        return Ok(Port::Icmp);
    }
    let (range, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
    if !["tcp", "udp"].contains(&protocol) {
        return Err(format!(
            "invalid protocol {protocol:?}, expected \"tcp\", \"udp\", or \"icmp\""
        ));
    }
    let num = |s: &str| -> Result<u16, String> {
        s.parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("invalid port {spec:?}"))
    };
    let (from, to) = match range.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(range)?;
            (n, n)
        }
    };
    if from > to {
        return Err(format!("invalid port range {spec:?}"));
    }
    Ok(Port::Range {
        protocol: protocol.to_string(),
        from,
        to,
    })
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

    #[test]
    fn ports() {
        assert_eq!(parse_port("8080/tcp").unwrap().to_string(), "8080/tcp");
        assert_eq!(parse_port("8080").unwrap().to_string(), "8080/tcp");
        assert_eq!(
            parse_port("1000-2000/udp").unwrap().to_string(),
            "1000-2000/udp"
        );
        assert_eq!(parse_port("icmp").unwrap(), Port::Icmp);
        assert!(parse_port("80/sctp").is_err());
        assert!(parse_port("0").is_err());
    }
}

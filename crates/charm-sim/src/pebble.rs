//! A fake Pebble: the HTTP API a charm uses on `<root>/<container>/pebble.socket`, with Pebble's
//! JSON envelopes (`type`/`status-code`/`status`/`result`, async changes) and its layer
//! combination rules. Services do not run; their state follows start/stop/replan.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

/// Plan sections that hold named entries combined by `override`.
const SECTIONS: &[&str] = &["services", "checks", "log-targets"];
const TIMESTAMP: &str = "2026-01-01T00:00:00Z";

#[derive(Debug)]
struct Layer {
    label: String,
    body: Map<String, Value>,
}

/// One container's Pebble state; survives the socket going away (`can_connect: false`).
#[derive(Debug, Default)]
pub struct PebbleState {
    layers: Vec<Layer>,
    active: BTreeMap<String, bool>,
    changes: BTreeMap<u64, Value>,
    boot_id: String,
}

impl PebbleState {
    pub fn new() -> Self {
        PebbleState {
            boot_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        }
    }

    /// The combined plan as JSON (`{}` when empty), as `pebble plan` would show it.
    pub fn plan(&self) -> Value {
        let mut plan = Map::new();
        for layer in &self.layers {
            for section in SECTIONS {
                let Some(Value::Object(entries)) = layer.body.get(*section) else {
                    continue;
                };
                let target = plan
                    .entry(section.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(t) = target {
                    combine_section(t, entries);
                }
            }
        }
        sort_keys(Value::Object(plan))
    }

    fn add_layer(
        &mut self,
        label: &str,
        combine: bool,
        body: Map<String, Value>,
    ) -> Result<(), String> {
        for section in SECTIONS {
            if let Some(Value::Object(entries)) = body.get(*section) {
                for (name, e) in entries {
                    match e.get("override").and_then(Value::as_str) {
                        Some("merge" | "replace") => {}
                        Some(other) => {
                            return Err(format!(
                                "layer {label:?} has invalid \"override\" value {other:?} for {} {name:?}",
                                section.trim_end_matches('s')
                            ));
                        }
                        None => {
                            return Err(format!(
                                "layer {label:?} must define \"override\" for {} {name:?}",
                                section.trim_end_matches('s')
                            ));
                        }
                    }
                }
            }
        }
        match self.layers.iter_mut().find(|l| l.label == label) {
            Some(_) if !combine => Err(format!("layer {label:?} already exists")),
            Some(existing) => {
                for (k, v) in body {
                    match (SECTIONS.contains(&k.as_str()), existing.body.get_mut(&k), v) {
                        (true, Some(Value::Object(t)), Value::Object(entries)) => {
                            combine_section(t, &entries)
                        }
                        (_, _, v) => {
                            existing.body.insert(k, v);
                        }
                    }
                }
                Ok(())
            }
            None => {
                self.layers.push(Layer {
                    label: label.to_string(),
                    body,
                });
                Ok(())
            }
        }
    }

    fn services(&self) -> Map<String, Value> {
        match self.plan().get("services") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        }
    }

    fn new_change(&mut self, kind: &str, summary: String) -> u64 {
        let id = self.changes.keys().next_back().map_or(1, |k| k + 1);
        self.changes.insert(
            id,
            json!({
                "id": id.to_string(), "kind": kind, "summary": summary, "status": "Done",
                "ready": true, "spawn-time": TIMESTAMP, "ready-time": TIMESTAMP, "tasks": []
            }),
        );
        id
    }
}

/// Combines named entries: `replace` swaps the whole entry, `merge` merges field by field
/// (maps merged, lists appended, scalars replaced).
fn combine_section(target: &mut Map<String, Value>, entries: &Map<String, Value>) {
    for (name, entry) in entries {
        let replace = entry.get("override").and_then(Value::as_str) == Some("replace");
        match target.get_mut(name) {
            Some(Value::Object(old)) if !replace => {
                if let Value::Object(new) = entry {
                    merge_fields(old, new);
                }
            }
            _ => {
                target.insert(name.clone(), entry.clone());
            }
        }
    }
}

fn merge_fields(old: &mut Map<String, Value>, new: &Map<String, Value>) {
    for (k, v) in new {
        match (old.get_mut(k), v) {
            (Some(Value::Object(o)), Value::Object(n)) => {
                for (kk, vv) in n {
                    o.insert(kk.clone(), vv.clone());
                }
            }
            (Some(Value::Array(o)), Value::Array(n)) => o.extend(n.iter().cloned()),
            _ => {
                old.insert(k.clone(), v.clone());
            }
        }
    }
}

fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut items: Vec<(String, Value)> = m.into_iter().collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(items.into_iter().map(|(k, v)| (k, sort_keys(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

type Shared = Arc<Mutex<PebbleState>>;

fn sync(result: Value) -> Response {
    Json(json!({"type": "sync", "status-code": 200, "status": "OK", "result": result}))
        .into_response()
}

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({
        "type": "error",
        "status-code": code.as_u16(),
        "status": code.canonical_reason().unwrap_or(""),
        "result": {"message": message.into()},
    });
    (code, Json(body)).into_response()
}

fn locked(state: &Shared) -> std::sync::MutexGuard<'_, PebbleState> {
    // Handlers never panic while holding the lock; recover the state if one did.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

async fn system_info(State(st): State<Shared>) -> Response {
    let s = locked(&st);
    sync(json!({"version": "1.26.0", "boot-id": s.boot_id, "http-address": ""}))
}

async fn get_plan(State(st): State<Shared>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    if q.get("format").map(String::as_str) != Some("yaml") {
        return error(StatusCode::BAD_REQUEST, "invalid format; must be \"yaml\"");
    }
    let s = locked(&st);
    let plan = s.plan();
    let text = if plan.as_object().is_some_and(Map::is_empty) {
        "{}\n".to_string()
    } else {
        serde_yaml_ng::to_string(&plan).unwrap_or_default()
    };
    sync(json!(text))
}

/// A JSON request body, or the message of Pebble's 400 answer.
fn decode_body(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("cannot decode request body: {e}"))
}

async fn post_layers(State(st): State<Shared>, body: axum::body::Bytes) -> Response {
    let req = match decode_body(&body) {
        Ok(v) => v,
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    if req.get("action").and_then(Value::as_str) != Some("add") {
        return error(StatusCode::BAD_REQUEST, "invalid action; must be \"add\"");
    }
    let label = req.get("label").and_then(Value::as_str).unwrap_or("");
    if label.is_empty() {
        return error(StatusCode::BAD_REQUEST, "label must be set");
    }
    let combine = req.get("combine").and_then(Value::as_bool).unwrap_or(false);
    let layer_text = req.get("layer").and_then(Value::as_str).unwrap_or("");
    let layer: Value = match serde_yaml_ng::from_str(layer_text) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("cannot parse layer YAML: {e}"),
            );
        }
    };
    let body = match layer {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "cannot parse layer YAML: not a map",
            );
        }
    };
    let mut s = locked(&st);
    match s.add_layer(label, combine, body) {
        Ok(()) => sync(json!(true)),
        Err(msg) => error(StatusCode::BAD_REQUEST, msg),
    }
}

async fn post_services(State(st): State<Shared>, body: axum::body::Bytes) -> Response {
    let req = match decode_body(&body) {
        Ok(v) => v,
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    let action = req
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let names: Vec<String> = req
        .get("services")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut s = locked(&st);
    let services = s.services();
    let enabled: Vec<String> = services
        .iter()
        .filter(|(_, v)| v.get("startup").and_then(Value::as_str) == Some("enabled"))
        .map(|(k, _)| k.clone())
        .collect();
    let (targets, active) = match action.as_str() {
        "replan" | "autostart" => (enabled, true),
        "start" | "restart" | "stop" => {
            if names.is_empty() {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("no services to {action} provided"),
                );
            }
            if let Some(missing) = names.iter().find(|n| !services.contains_key(*n)) {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("service {missing:?} does not exist"),
                );
            }
            (names, action != "stop")
        }
        other => {
            return error(StatusCode::BAD_REQUEST, format!("invalid action {other:?}"));
        }
    };
    for t in &targets {
        s.active.insert(t.clone(), active);
    }
    let quoted: Vec<String> = targets.iter().map(|t| format!("{t:?}")).collect();
    let id = s.new_change(&action, format!("{action} service {}", quoted.join(", ")));
    let body = json!({
        "type": "async", "status-code": 202, "status": "Accepted",
        "change": id.to_string(), "result": null
    });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

async fn get_services(
    State(st): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = locked(&st);
    let wanted: Vec<&str> = q
        .get("names")
        .map(|n| n.split(',').filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let list: Vec<Value> = s
        .services()
        .iter()
        .filter(|(name, _)| wanted.is_empty() || wanted.contains(&name.as_str()))
        .map(|(name, svc)| {
            let startup = svc.get("startup").and_then(Value::as_str).unwrap_or("disabled");
            let current = if s.active.get(name).copied().unwrap_or(false) {
                "active"
            } else {
                "inactive"
            };
            json!({"name": name, "startup": startup, "current": current, "current-since": TIMESTAMP})
        })
        .collect();
    sync(json!(list))
}

async fn get_change(State(st): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    let s = locked(&st);
    match id.parse::<u64>().ok().and_then(|n| s.changes.get(&n)) {
        Some(c) => sync(c.clone()),
        None => error(
            StatusCode::NOT_FOUND,
            format!("cannot find change with id {id:?}"),
        ),
    }
}

async fn get_checks() -> Response {
    sync(json!([]))
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/v1/system-info", get(system_info))
        .route("/v1/plan", get(get_plan))
        .route("/v1/layers", post(post_layers))
        .route("/v1/services", post(post_services).get(get_services))
        .route("/v1/changes/{id}", get(get_change))
        .route("/v1/changes/{id}/wait", get(get_change))
        .route("/v1/checks", get(get_checks))
        .fallback(not_found)
        .with_state(state)
}

/// A running Pebble socket; stops serving (and removes the socket) when dropped.
pub struct PebbleServer {
    socket: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl PebbleServer {
    pub fn start(
        rt: &tokio::runtime::Runtime,
        socket: &Path,
        state: Shared,
    ) -> std::io::Result<PebbleServer> {
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let _ = std::fs::remove_file(socket);
        let _guard = rt.enter();
        let listener = tokio::net::UnixListener::bind(socket)?;
        let app = router(state);
        let task = rt.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("pebble server: {e}");
            }
        });
        Ok(PebbleServer {
            socket: socket.to_path_buf(),
            task,
        })
    }
}

impl Drop for PebbleServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(y: &str) -> Map<String, Value> {
        match serde_yaml_ng::from_str(y).unwrap() {
            Value::Object(m) => m,
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn combine_merge_and_replace() {
        let mut s = PebbleState::new();
        s.add_layer(
            "a",
            false,
            layer("services: {svc: {override: replace, command: x, environment: {A: '1'}}}"),
        )
        .unwrap();
        s.add_layer(
            "b",
            false,
            layer("services: {svc: {override: merge, environment: {B: '2'}}}"),
        )
        .unwrap();
        assert_eq!(
            s.plan(),
            json!({"services": {"svc": {"command": "x", "environment": {"A": "1", "B": "2"}, "override": "merge"}}})
        );
        // Same label without combine is refused; with combine it replaces inside that layer.
        assert!(s.add_layer("a", false, layer("summary: x")).is_err());
        s.add_layer(
            "b",
            true,
            layer("services: {svc: {override: replace, command: y}}"),
        )
        .unwrap();
        assert_eq!(
            s.plan(),
            json!({"services": {"svc": {"command": "y", "override": "replace"}}})
        );
        assert!(
            s.add_layer("c", false, layer("services: {x: {command: z}}"))
                .is_err()
        );
    }
}

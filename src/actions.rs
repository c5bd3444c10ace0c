//! The read-only actions (`actions.yaml`), on any unit: `show-policies` and `check-access`.
//! They read Juju and the cluster, ask the pure core (`beacon_core::report`,
//! `beacon_core::access`, `service_mesh::authz`), and answer with `action-set`; a wrong
//! parameter or an unreadable cluster is a plain `action-fail` message.

use beacon_core::access::{self, Found, Params, Query};
use beacon_core::kinds::Kind;
use beacon_core::names::Names;
use beacon_core::report::{self, State};
use charm_runtime::Model;
use serde_json::{Map, Value, json};
use service_mesh::backends::Backend;

use crate::live::{self, KubeFailure};
use crate::outcome::HookError;
use crate::snapshot::{self, Purpose};
use crate::{memo_store, reconcile};

/// Run action `name`. `Err` only for what a retry of the whole action can fix is not
/// possible here: every failure is reported with `action-fail` and the hook succeeds.
pub async fn run(model: &Model, name: &str) -> Result<(), HookError> {
    let answer = match name {
        "show-policies" => show_policies(model).await,
        "check-access" => check_access(model).await,
        other => Err(format!("unknown action {other:?}")),
    };
    match answer {
        Ok(results) => set_results(model, results),
        Err(message) => {
            tracing::warn!("{name} failed: {message}");
            Ok(model.tools().action_fail(Some(&message))?)
        }
    }
}

/// Parameters as a typed value; a wrong one is the action's failure message.
fn params<T: serde::de::DeserializeOwned>(model: &Model) -> Result<T, String> {
    let raw = model
        .tools()
        .action_get()
        .map_err(|e| format!("cannot read the parameters: {e}"))?;
    serde_json::from_value(Value::Object(raw)).map_err(|e| format!("bad parameters: {e}"))
}

fn cluster(what: &str, e: KubeFailure) -> String {
    format!("cannot read the cluster ({what}): {e}")
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ShowParams {
    #[serde(default)]
    app: Option<String>,
    #[serde(default = "yaml")]
    format: String,
}

fn yaml() -> String {
    "yaml".to_owned()
}

async fn show_policies(model: &Model) -> Result<Map<String, Value>, String> {
    let p: ShowParams = params(model)?;
    let snap = snapshot::read(model, Purpose::Inspect).map_err(|e| e.to_string())?;
    let names = Names::new(&snap.model, &snap.app).map_err(|e| e.to_string())?;
    let client = reconcile::kube_client().await.map_err(|e| e.to_string())?;
    let owned = live::read_owned(&client, &names, &[])
        .await
        .map_err(|e| cluster("the owned AuthorizationPolicies", e))?
        .policies;
    let refusals = memo_store::load_refusals(model.context(), false);
    let report = report::show_policies(
        &snap,
        &names,
        owned.as_deref().unwrap_or_default(),
        &refusals,
        p.app.as_deref(),
    );
    let text = match p.format.as_str() {
        "yaml" => serde_yaml_ng::to_string(&report).map_err(|e| e.to_string())?,
        "json" => serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?,
        other => return Err(format!("format {other:?} is not yaml or json")),
    };
    let lines = report
        .consumers
        .iter()
        .flat_map(|c| &c.policies)
        .chain(&report.own);
    let mut counts: Map<String, Value> = Map::new();
    for line in lines {
        let key = match line.state {
            State::Applied => "applied",
            State::Missing => "missing",
            State::Drifted => "drifted",
            State::Refused => "refused",
            State::NotManaged => "not-managed",
            State::MeshBackend => "mesh-backend",
        };
        let n = counts.get(key).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(key.into(), json!(n + 1));
    }
    let skipped: usize = report.consumers.iter().map(|c| c.skipped.len()).sum();
    let mut out = Map::new();
    out.insert("consumers".into(), json!(report.consumers.len()));
    out.insert("skipped".into(), json!(skipped));
    out.insert("states".into(), Value::Object(counts));
    out.insert("report".into(), text_value(&text));
    Ok(out)
}

async fn check_access(model: &Model) -> Result<Map<String, Value>, String> {
    let p: Params = params(model)?;
    let ctx = model.context();
    let query: Query = access::query(&p, &ctx.model_name)?;
    let client = reconcile::kube_client().await.map_err(|e| e.to_string())?;
    let target = &query.target;
    let services = live::service_resource();
    let (service, (namespace_labels, namespace_annotations)) = tokio::try_join!(
        live::get(&client, &services, Some(&target.namespace), &target.name),
        live::read_namespace(&client, &target.namespace),
    )
    .map_err(|e| cluster(&format!("Service {}/{}", target.namespace, target.name), e))?;
    let selector = service
        .as_ref()
        .and_then(|s| s.pointer("/spec/selector"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        });
    let pod = match selector.filter(|s| !s.is_empty()) {
        Some(selector) => live::first_pod(&client, &target.namespace, &selector)
            .await
            .map_err(|e| cluster("the target's pods", e))?,
        None => None,
    };
    let found = Found {
        service_labels: service.as_ref().map(beacon_core::kinds::labels_of),
        pod,
        namespace_labels,
    };
    let backend = snapshot::read_config(model)
        .map_err(|e| e.to_string())?
        .mesh_backend;
    if backend != Backend::Istio {
        // That mesh's objects in the target's namespace, whoever wrote them.
        let mut objects = Vec::new();
        for kind in Kind::of_backend(&backend) {
            let listed = live::list_in_namespace(&client, kind, &target.namespace)
                .await
                .map_err(|e| cluster(&format!("{}s in {}", kind.name(), target.namespace), e))?;
            objects.extend(listed);
        }
        return access::backend_results(&backend, &query, &found, &namespace_annotations, &objects);
    }
    let evaluator_target = access::evaluator_target(&query, &found)?;
    // Every policy that may apply: the target's namespace, the root namespace, the waypoint's.
    let mut namespaces = vec![target.namespace.clone(), query.root_namespace.clone()];
    if let Some(w) = &evaluator_target.waypoint {
        namespaces.push(w.namespace.clone());
    }
    namespaces.sort();
    namespaces.dedup();
    let mut policies = Vec::new();
    for ns in &namespaces {
        let listed = live::list_in_namespace(&client, Kind::AuthorizationPolicy, ns)
            .await
            .map_err(|e| cluster(&format!("AuthorizationPolicies in {ns}"), e))?;
        policies.extend(listed);
    }
    // Istio orders policies by creation; the deciding rule reported is the first match.
    policies.sort_by(|a, b| {
        let created = |v: &Value| {
            v.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        created(a).cmp(&created(b))
    });
    let mesh = service_mesh::authz::Mesh {
        root_namespace: query.root_namespace.clone(),
        ..service_mesh::authz::Mesh::default()
    };
    let eval = service_mesh::authz::evaluate(&mesh, &policies, &evaluator_target, &query.request);
    Ok(access::results(&eval))
}

/// Juju passes every result value on the `action-set` command line, and Linux limits one
/// argument to 128 KiB: a longer text is cut into parts (`part-001`, …) at line ends.
const MAX_VALUE: usize = 96 * 1024;

fn text_value(text: &str) -> Value {
    if text.len() <= MAX_VALUE {
        return json!(text);
    }
    let mut parts = Map::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(MAX_VALUE);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut < rest.len()
            && let Some(nl) = rest[..cut].rfind('\n')
        {
            cut = nl + 1;
        }
        parts.insert(format!("part-{:03}", parts.len() + 1), json!(&rest[..cut]));
        rest = &rest[cut..];
    }
    Value::Object(parts)
}

/// `action-set` in calls of at most about 1 MiB of arguments (Linux's limit for all of them
/// is larger, but not by much on small stacks); Juju merges the results of every call.
fn set_results(model: &Model, results: Map<String, Value>) -> Result<(), HookError> {
    const MAX_CALL: usize = 1 << 20;
    let mut batch = Map::new();
    let mut size = 0;
    let flush = |batch: &mut Map<String, Value>| -> Result<(), HookError> {
        if !batch.is_empty() {
            model.tools().action_set(batch)?;
            batch.clear();
        }
        Ok(())
    };
    for (key, value) in flatten(results) {
        let len = key.len() + value.to_string().len();
        if size + len > MAX_CALL {
            flush(&mut batch)?;
            size = 0;
        }
        size += len;
        batch.insert(key, value);
    }
    flush(&mut batch)
}

/// Nested maps as dotted keys (as `action-set` takes them).
fn flatten(results: Map<String, Value>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (k, v) in results {
        match v {
            Value::Object(inner) => {
                out.extend(
                    flatten(inner)
                        .into_iter()
                        .map(|(ik, iv)| (format!("{k}.{ik}"), iv)),
                );
            }
            other => out.push((k, other)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_at_line_ends_into_parts_that_fit_an_argument() {
        let line = format!("{}\n", "é".repeat(100));
        let text = line.repeat(2000);
        let Value::Object(parts) = text_value(&text) else {
            panic!("parts expected");
        };
        assert!(parts.len() > 1);
        let joined: String = parts.values().map(|v| v.as_str().expect("text")).collect();
        assert_eq!(joined, text);
        for (k, v) in &parts {
            let v = v.as_str().expect("text");
            assert!(v.len() <= MAX_VALUE, "{k}");
            assert!(v.ends_with('\n'), "{k} cut mid-line");
        }
        assert_eq!(text_value("short"), json!("short"));
    }

    #[test]
    fn nested_results_flatten_to_dotted_keys() {
        let m = json!({"a": {"b": {"c": 1}, "d": "x"}, "e": true});
        let Value::Object(m) = m else { unreachable!() };
        assert_eq!(
            flatten(m),
            vec![
                ("a.b.c".to_owned(), json!(1)),
                ("a.d".to_owned(), json!("x")),
                ("e".to_owned(), json!(true)),
            ]
        );
    }
}

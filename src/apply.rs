//! Performing a plan's writes (the thin I/O edge): Kubernetes, Pebble, relation data.
//! [`execute`] runs a plan batch by batch and reports, typed, what happened.

use std::time::Duration;

use anyhow::Context as _;
use beacon_core::desired::Origin;
use beacon_core::kinds::{Kind, ObjectKey};
use beacon_core::plan::{Action, Batch, Plan, batches};
use charm_runtime::Model;
use charm_runtime::pebble;
use charm_runtime::tools::RelationRef;
use futures::stream::{self, StreamExt};
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::live::{
    KubeFailure, api_code, classify, configmap_resource, namespace_resource, resource, segment,
    service_resource, statefulset_resource,
};
use crate::outcome::HookError;

/// How many AuthorizationPolicy writes are in flight at once: a first reconcile may have
/// thousands, and the API server handles them independently.
const POLICY_WRITE_CONCURRENCY: usize = 16;

/// What running a plan did, for the memo and the status.
#[derive(Debug, Default)]
pub struct Report {
    /// Objects applied, with the resourceVersion the API server answered.
    pub applied: Vec<(ObjectKey, String)>,
    /// Policies the API server refused (logged): counted as skipped, and remembered.
    pub rejected: Vec<ObjectKey>,
    /// Why Kubernetes writes stopped, when an operator must act (the later ones were not
    /// sent; relation data still was).
    pub blocked: Option<String>,
}

/// Run `plan`'s actions in order, batch by batch ([`batches`]). A failure a retry can fix
/// stops the hook at once; one that needs an operator stops the Kubernetes writes only.
pub async fn execute(model: &Model, writer: &KubeWriter, plan: &Plan) -> Result<Report, HookError> {
    let mut report = Report::default();
    for batch in batches(&plan.actions) {
        let Some(action) = batch.first() else {
            continue;
        };
        let results: Vec<Result<Done, KubeFailure>> = match action {
            Action::AddPebbleLayer {
                container,
                label,
                layer,
            } => {
                add_pebble_layer(container, label, layer).await?;
                continue;
            }
            Action::SetRelationData { .. } => {
                set_relation_data_all(model, batch)?;
                continue;
            }
            _ if report.blocked.is_some() => continue,
            _ => {
                log_batch(batch);
                stream::iter(batch)
                    .map(|a| writer.run(a))
                    .buffer_unordered(POLICY_WRITE_CONCURRENCY)
                    .collect()
                    .await
            }
        };
        for result in results {
            match result? {
                Done::Written => {}
                Done::Applied {
                    key,
                    resource_version: Some(rv),
                } => report.applied.push((key, rv)),
                Done::Applied { .. } => {}
                Done::Rejected { key } => report.rejected.push(key),
                Done::Blocked(msg) => {
                    // Later writes would fail the same way; relation data still goes out.
                    report.blocked.get_or_insert(msg);
                }
            }
        }
    }
    Ok(report)
}

/// How many names a batch's summary line lists before "and N more".
const LOGGED_NAMES: usize = 10;

/// One `juju-log` line per batch, not per object: every log line is a hook-tool process,
/// and a first reconcile may write thousands of policies. Each object is still traced.
fn log_batch(batch: &[Action]) {
    if let [single] = batch {
        tracing::info!("{single}");
        return;
    }
    for action in batch {
        tracing::trace!("{action}");
    }
    let (verb, kind) = match batch.first().and_then(Batch::of) {
        Some(Batch::Delete(kind)) => ("Deleting", kind),
        Some(Batch::Apply(kind)) => ("Applying", kind),
        _ => ("Applying", Kind::AuthorizationPolicy),
    };
    let kinds = match kind {
        Kind::AuthorizationPolicy => "AuthorizationPolicies".to_owned(),
        Kind::LinkerdAuthorizationPolicy => "Linkerd AuthorizationPolicies".to_owned(),
        Kind::ServiceIntentions => "ServiceIntentions".to_owned(),
        other => format!("{}s", other.name()),
    };
    let names: Vec<&str> = batch
        .iter()
        .filter_map(|a| match a {
            Action::Delete(key) | Action::Apply { key, .. } | Action::ApplyPolicy { key, .. } => {
                Some(key.name.as_str())
            }
            _ => None,
        })
        .take(LOGGED_NAMES)
        .collect();
    let more = batch.len().saturating_sub(names.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    tracing::info!("{verb} {} {kinds}: {}{tail}", batch.len(), names.join(", "));
}

/// Writes to the API server with our field manager.
pub struct KubeWriter {
    pub client: Client,
    /// The app name: upstream's lightkube `field_manager`.
    pub field_manager: String,
    pub model: String,
}

/// What happened to one Kubernetes action that did not fail the hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Written,
    /// Applied; the object's resourceVersion after the write, if the server said.
    Applied {
        key: ObjectKey,
        resource_version: Option<String>,
    },
    /// The API server refused an AuthorizationPolicy built from consumer data (e.g. its
    /// target namespace does not exist): logged and counted, the rest goes on.
    Rejected {
        key: ObjectKey,
    },
    /// Not written, and no retry helps until an operator acts (e.g. missing RBAC).
    Blocked(String),
}

impl KubeWriter {
    /// The API of `ar` objects in namespace `ns` (cluster-scoped: `None`), its path built
    /// from escaped segments.
    fn api(&self, ns: Option<&str>, ar: &ApiResource) -> Api<DynamicObject> {
        match ns {
            Some(ns) => Api::namespaced_with(self.client.clone(), &segment(ns), ar),
            None => Api::all_with(self.client.clone(), ar),
        }
    }

    fn strategic(&self) -> PatchParams {
        PatchParams {
            field_manager: Some(self.field_manager.clone()),
            ..PatchParams::default()
        }
    }

    /// Perform one Kubernetes action (non-Kubernetes actions are [`execute`]'s). `Err` only
    /// for failures a retry can fix.
    pub async fn run(&self, action: &Action) -> Result<Done, KubeFailure> {
        match self.write(action).await {
            Err(KubeFailure::Blocked(msg)) => Ok(Done::Blocked(msg)),
            other => other,
        }
    }

    async fn write(&self, action: &Action) -> Result<Done, KubeFailure> {
        let ns = self.model.as_str();
        match action {
            Action::PatchStatefulSetLabels { name, labels } => {
                let api = self.api(Some(ns), &statefulset_resource());
                let body = json!({"spec": {"template": {"metadata": {"labels": labels}}}});
                api.patch(&segment(name), &self.strategic(), &Patch::Strategic(body))
                    .await
                    .map_err(|e| classify(&format!("patch StatefulSet {name}"), e))?;
            }
            Action::PatchServiceLabels { name, labels } => {
                let api = self.api(Some(ns), &service_resource());
                let body = json!({"metadata": {"labels": labels}});
                api.patch(&segment(name), &self.strategic(), &Patch::Strategic(body))
                    .await
                    .map_err(|e| classify(&format!("patch Service {name}"), e))?;
            }
            Action::CreateLabelRecord { name, labels } => {
                let ar = configmap_resource();
                let api = self.api(Some(ns), &ar);
                let body: DynamicObject = serde_json::from_value(json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": ns},
                    "data": {"labels": labels},
                }))
                .map_err(|e| classify("build label ConfigMap", kube::Error::SerdeError(e)))?;
                let pp = PostParams {
                    field_manager: Some(self.field_manager.clone()),
                    ..PostParams::default()
                };
                api.create(&pp, &body)
                    .await
                    .map_err(|e| classify(&format!("create ConfigMap {name}"), e))?;
            }
            Action::PatchLabelRecord { name, labels } => {
                let api = self.api(Some(ns), &configmap_resource());
                let body = json!({"data": {"labels": labels}});
                api.patch(&segment(name), &self.strategic(), &Patch::Strategic(body))
                    .await
                    .map_err(|e| classify(&format!("patch ConfigMap {name}"), e))?;
            }
            Action::PatchNamespace {
                name,
                labels,
                annotations,
            } => {
                let api = self.api(None, &namespace_resource());
                // Istio's keys are labels only: upstream's body, without an annotations key.
                let mut metadata = serde_json::Map::new();
                if !labels.is_empty() {
                    metadata.insert("labels".into(), Value::Object(labels.clone()));
                }
                if !annotations.is_empty() {
                    metadata.insert("annotations".into(), Value::Object(annotations.clone()));
                }
                let body = json!({ "metadata": metadata });
                api.patch(&segment(name), &self.strategic(), &Patch::Strategic(body))
                    .await
                    .map_err(|e| classify(&format!("patch Namespace {name}"), e))?;
            }
            Action::Delete(key) => return self.delete(key).await,
            Action::Apply { key, body } => return self.apply(key, body, None).await,
            Action::ApplyPolicy {
                key,
                intent,
                owner_instance,
            } => {
                let origin = intent.origin.as_ref();
                return match intent.body(owner_instance) {
                    Some(body) => self.apply(key, &body, origin).await,
                    None => Ok(refused(
                        key,
                        origin,
                        "its consumer data no longer parses".into(),
                    )),
                };
            }
            Action::AddPebbleLayer { .. } | Action::SetRelationData { .. } => {}
        }
        Ok(Done::Written)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<Done, KubeFailure> {
        let api = self.api(Some(&key.namespace), &resource(key.kind));
        match api
            .delete(&segment(&key.name), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(Done::Written),
            // Already gone: that is what we wanted.
            Err(e) if api_code(&e) == Some(404) => Ok(Done::Written),
            Err(e) => Err(classify(&format!("delete {key}"), e)),
        }
    }

    /// Server-side apply of `body`. A policy built from consumer data (`origin`) that cannot
    /// be sent, or that the API server refuses as it is, is skipped and named with its
    /// relation and app; retrying would not change the answer.
    async fn apply(
        &self,
        key: &ObjectKey,
        body: &Value,
        origin: Option<&Origin>,
    ) -> Result<Done, KubeFailure> {
        let params = PatchParams::apply(&self.field_manager).force();
        let request = match apply_request(key, &params, body) {
            Ok(request) => request,
            Err(e) if skipped_alone(key.kind) => {
                return Ok(refused(
                    key,
                    origin,
                    format!("cannot build the request: {e}"),
                ));
            }
            Err(e) => {
                return Err(KubeFailure::Blocked(format!(
                    "internal error: cannot build the request to apply {key}: {e}"
                )));
            }
        };
        // Only the new resourceVersion is kept from the answer: decoding whole objects
        // (managedFields and all) cost more than building and sending them.
        match self.client.request::<AppliedObject>(request).await {
            Ok(obj) => Ok(Done::Applied {
                key: key.clone(),
                resource_version: obj.metadata.resource_version,
            }),
            // Bad request, namespace missing, too large, invalid.
            Err(kube::Error::Api(status))
                if skipped_alone(key.kind) && matches!(status.code, 400 | 404 | 413 | 422) =>
            {
                let why = format!(
                    "the API server rejected it (HTTP {}): {}",
                    status.code, status.message
                );
                Ok(refused(key, origin, why))
            }
            Err(e) => Err(classify(&format!("apply {key}"), e)),
        }
    }
}

/// Whether an object of `kind` the API server refuses is skipped alone (logged, counted)
/// rather than failing the hook: it is built from consumer data (AuthorizationPolicies, and
/// the objects of a non-Istio `mesh-backend`).
fn skipped_alone(kind: Kind) -> bool {
    kind == Kind::AuthorizationPolicy || Kind::BACKEND.contains(&kind)
}

/// Log why a policy was not applied, naming the consumer that asked for it.
fn refused(key: &ObjectKey, origin: Option<&Origin>, why: String) -> Done {
    match origin {
        Some(origin) => tracing::error!("Skipping {key} from {origin}: {why}"),
        None => tracing::error!("Skipping {key}: {why}"),
    }
    Done::Rejected { key: key.clone() }
}

/// The server-side apply request of `body` as `key`: namespace and name are escaped path
/// segments, so no value can add a query parameter or change the path.
pub(crate) fn apply_request(
    key: &ObjectKey,
    params: &PatchParams,
    body: &Value,
) -> Result<http::Request<Vec<u8>>, kube::core::request::Error> {
    let path = <DynamicObject as kube::Resource>::url_path(
        &resource(key.kind),
        Some(segment(&key.namespace).as_ref()),
    );
    kube::core::Request::new(path).patch(&segment(&key.name), params, &Patch::Apply(body))
}

#[derive(serde::Deserialize)]
struct AppliedObject {
    metadata: AppliedMeta,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppliedMeta {
    resource_version: Option<String>,
}

/// How long a replan may take before we stop waiting (the hook still succeeds).
const REPLAN_TIMEOUT: Duration = Duration::from_secs(30);

/// Add the layer (combine) and replan. Pebble trouble is logged, never fatal: the next
/// pebble-ready or reconcile retries. A layer that is not a Pebble layer is built into this
/// charm: a bug, which no retry fixes.
async fn add_pebble_layer(container: &str, label: &str, layer: &Value) -> Result<(), HookError> {
    let layer: pebble::Layer = serde_json::from_value(layer.clone())
        .map_err(|e| HookError::Bug(format!("the {label} Pebble layer: {e}")))?;
    tracing::info!("Adding Pebble layer {label} to {container}");
    let client = pebble::Client::for_container(container);
    if let Err(e) = client.add_layer(label, &layer, true).await {
        // Like upstream, a workload problem does not fail the hook; the next event retries.
        tracing::warn!("Cannot add the {label} layer in {container}: {e}");
        return Ok(());
    }
    if let Err(e) = client.replan(REPLAN_TIMEOUT).await {
        tracing::error!("Replan of {container} failed: {e}");
    }
    Ok(())
}

/// The `relation-set`s of `actions`' [`Action::SetRelationData`], concurrently: each writes
/// other relations' bags, so their order does not matter (see [`charm_runtime::concurrent`]).
/// The first error in action order is returned, after all writes have run; a failed
/// `relation-set` is retried with the hook.
pub fn set_relation_data_all(model: &Model, actions: &[Action]) -> Result<(), HookError> {
    charm_runtime::concurrent::concurrently(actions, |action| set_relation_data(model, action))
        .into_iter()
        .collect::<anyhow::Result<()>>()
        .map_err(HookError::Retry)
}

/// `relation-set` of a [`Action::SetRelationData`] (app keys, then unit keys).
fn set_relation_data(model: &Model, action: &Action) -> anyhow::Result<()> {
    let Action::SetRelationData {
        endpoint,
        relation_id,
        app,
        unit,
    } = action
    else {
        return Ok(());
    };
    // Traced only: the caller logs one line for all relations (each log line is a process).
    tracing::trace!("{action}");
    let rel = RelationRef::new(endpoint.clone(), *relation_id);
    let tools = model.tools();
    tools
        .relation_set(&rel, app, true)
        .with_context(|| format!("relation-set --app -r {rel}"))?;
    tools
        .relation_set(&rel, unit, false)
        .with_context(|| format!("relation-set -r {rel}"))?;
    Ok(())
}

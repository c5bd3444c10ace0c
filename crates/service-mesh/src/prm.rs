//! `PolicyResourceManager`: keeps the Istio policies owned by one charm (and scope) in sync —
//! or, with [`PolicyResourceManager::with_backend`], the SMI, Consul or Linkerd objects
//! [`crate::backends`] renders for the same policies.
//!
//! Ownership is label-based only ([`INSTANCE_LABEL`](crate::labels::INSTANCE_LABEL) + a
//! [`SCOPE_LABEL`](crate::labels::SCOPE_LABEL)); owned objects
//! are found with a label query across all namespaces. What to delete and what to apply is
//! decided by the pure [`plan`] (over [`crate::owned::diff`]); [`PolicyResourceManager`] only
//! does the I/O around it. Unlike the Python manager it does not re-apply objects that already
//! carry the labels and spec it would send (fields the server or others added do not count),
//! skips (and reports) unit policies with L7 fields instead of crashing, and reports a missing
//! CRD as [`ReconcileOutcome::CrdMissing`] instead of failing.

use std::collections::BTreeMap;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::backends::{Backend, Outcome};
use crate::istio::{
    AUTHORIZATION_POLICY_API_VERSION, AUTHORIZATION_POLICY_KIND, BuildError,
    build_authorization_policy,
};
use crate::labels::{LabelError, MAX_LABEL_LEN, charm_default_labels};
use crate::model::MeshPolicy;
use crate::owned::{Diff, diff, with_labels};

/// The scope label value of the beacon's policy manager (defined in [`crate::labels`]).
pub use crate::labels::AUTHORIZATION_POLICY_SCOPE;

/// Identity of a Kubernetes object, as the Python manager keys it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} {}/{}",
            self.group, self.kind, self.namespace, self.name
        )
    }
}

/// What the plan needs to know about an owned object that exists in the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveObject {
    pub key: ResourceKey,
    pub labels: BTreeMap<String, String>,
    pub spec: Option<Value>,
}

/// A desired object that cannot be keyed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("desired object has no string {0}")]
    MissingField(&'static str),
}

/// What a reconcile must do: delete, apply (ownership labels merged in), or leave unchanged.
pub type Plan = Diff<ResourceKey>;

fn str_at<'a>(v: &'a Value, path: &[&str], what: &'static str) -> Result<&'a str, PlanError> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .ok_or(PlanError::MissingField(what))
}

/// The key of a desired body (`apiVersion`, `kind`, `metadata.namespace`, `metadata.name`).
pub fn key_of(body: &Value) -> Result<ResourceKey, PlanError> {
    let api_version = str_at(body, &["apiVersion"], "apiVersion")?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    Ok(ResourceKey {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: str_at(body, &["kind"], "kind")?.to_owned(),
        namespace: str_at(body, &["metadata", "namespace"], "metadata.namespace")?.to_owned(),
        name: str_at(body, &["metadata", "name"], "metadata.name")?.to_owned(),
    })
}

impl LiveObject {
    /// The parts of the object the diff compares, shaped as a body.
    fn as_body(&self) -> Value {
        let labels: Map<String, Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut body = Map::new();
        body.insert("metadata".into(), serde_json::json!({ "labels": labels }));
        if let Some(spec) = &self.spec {
            body.insert("spec".into(), spec.clone());
        }
        Value::Object(body)
    }
}

/// Decide deletes and applies (see [`crate::owned::diff`]): stale = live keys not desired;
/// apply = desired objects that are missing or whose labels and spec are not a subset of the
/// live ones. A desired key given twice is applied once (the first body wins). Deletes are
/// sorted for determinism; applies keep the desired order.
pub fn plan(
    desired: &[Value],
    live: &[LiveObject],
    ownership_labels: &[(String, String)],
) -> Result<Plan, PlanError> {
    let desired = desired
        .iter()
        .map(|body| Ok((key_of(body)?, with_labels(body.clone(), ownership_labels))))
        .collect::<Result<Vec<_>, PlanError>>()?;
    let live: Vec<(ResourceKey, Value)> =
        live.iter().map(|l| (l.key.clone(), l.as_body())).collect();
    let mut result = diff(
        desired.iter().map(|(k, b)| (k.clone(), b)),
        live.iter().map(|(k, b)| (k.clone(), b)),
    );
    result.delete.sort();
    Ok(result)
}

/// Errors of the policy manager.
#[derive(Debug, Error)]
pub enum PrmError {
    /// Python: `TypeError("raw_policy of type 'X' is not a supported policy resource type…")`.
    /// `supported` lists the backend's kinds (Istio: `['AuthorizationPolicy']`).
    #[error(
        "raw_policy of type '{kind}' ({api_version}) is not a supported policy resource type. Supported types: {supported}"
    )]
    UnsupportedRawPolicy {
        api_version: String,
        kind: String,
        supported: String,
    },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("listing owned {kind} failed: {source}")]
    List {
        kind: String,
        source: Box<kube::Error>,
    },
    #[error("applying {key} failed: {source}")]
    Apply {
        key: Box<ResourceKey>,
        source: Box<kube::Error>,
    },
    /// Every failed delete, collected (the others and all applies were still attempted).
    #[error("Deleting K8s resources completed with errors: {}", .0.iter().map(|(k, e)| format!("{k}: {e}")).collect::<Vec<_>>().join("; "))]
    Delete(Vec<(ResourceKey, kube::Error)>),
}

/// What a reconcile did.
#[derive(Debug, Default)]
pub struct ReconcileReport {
    pub applied: Vec<ResourceKey>,
    pub deleted: Vec<ResourceKey>,
    pub unchanged: Vec<ResourceKey>,
    /// Policies the builder refused (unit policies with L7 fields); nothing was created for them.
    /// Istio backend only; other backends report through `outcomes`.
    pub skipped: Vec<BuildError>,
    /// One per policy, in order: rendered exactly, narrowed or refused (Istio: exact or
    /// refused, as `skipped`).
    pub outcomes: Vec<Outcome>,
}

/// Result of [`PolicyResourceManager::reconcile`].
#[derive(Debug)]
pub enum ReconcileOutcome {
    Reconciled(ReconcileReport),
    /// Policies are desired but a policy CRD of the backend is not installed (LIST answered 404).
    CrdMissing,
}

fn selector(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `ApiResource` of Istio's `AuthorizationPolicy`.
pub fn authorization_policy_resource() -> ApiResource {
    ApiResource {
        group: "security.istio.io".into(),
        version: "v1".into(),
        api_version: AUTHORIZATION_POLICY_API_VERSION.into(),
        kind: AUTHORIZATION_POLICY_KIND.into(),
        plural: "authorizationpolicies".into(),
    }
}

/// What a manager wants in the cluster, before ownership labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The objects: rendered for the policies, then the raw ones.
    pub bodies: Vec<Value>,
    /// Policies the Istio builder refused (Istio backend only).
    pub skipped: Vec<BuildError>,
    /// One per policy, in order.
    pub outcomes: Vec<Outcome>,
}

/// The `ApiResource`s of the kinds `backend` renders.
pub fn backend_resources(backend: &Backend) -> Vec<ApiResource> {
    backend
        .kinds()
        .iter()
        .map(|(api_version, kind, plural)| {
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
            ApiResource {
                group: group.into(),
                version: version.into(),
                api_version: (*api_version).into(),
                kind: (*kind).into(),
                plural: (*plural).into(),
            }
        })
        .collect()
}

/// Manages the policy objects (Istio `AuthorizationPolicy` by default, or another backend's
/// kinds) of one charm and scope.
pub struct PolicyResourceManager {
    client: kube::Client,
    app: String,
    model: String,
    labels: Vec<(String, String)>,
    /// Labels of objects written by an older owner scheme, also swept (see
    /// [`PolicyResourceManager::with_legacy_labels`]).
    legacy_labels: Option<Vec<(String, String)>>,
    backend: Backend,
    resources: Vec<ApiResource>,
}

impl PolicyResourceManager {
    /// A manager owning objects labelled `create_charm_default_labels(app, model, scope)`.
    /// The field manager is the app name; policy names use the app and model.
    pub fn new(
        client: kube::Client,
        app: &str,
        model: &str,
        scope: &str,
    ) -> Result<Self, LabelError> {
        Ok(Self::with_labels(
            client,
            app,
            model,
            charm_default_labels(app, model, scope)?,
        ))
    }

    /// A manager with explicit ownership labels (Python's `labels=` argument).
    pub fn with_labels(
        client: kube::Client,
        app: &str,
        model: &str,
        labels: Vec<(String, String)>,
    ) -> Self {
        PolicyResourceManager {
            client,
            app: app.to_owned(),
            model: model.to_owned(),
            labels,
            legacy_labels: None,
            backend: Backend::Istio,
            resources: vec![authorization_policy_resource()],
        }
    }

    /// Render for `backend` instead of Istio (the default): the policies become that mesh's
    /// objects ([`Backend::render`]: per-policy outcomes in [`ReconcileReport::outcomes`]), raw
    /// policies may be any of its kinds, and owned objects of each of its kinds are managed.
    /// Switching backends on an existing manager does not sweep the old backend's objects: a
    /// manager for the old backend (same labels) must `delete()` them.
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.resources = match backend {
            Backend::Istio => vec![authorization_policy_resource()],
            _ => backend_resources(&backend),
        };
        self.backend = backend;
        self
    }

    /// The backend rendered for.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    fn resource_of(&self, key: &ResourceKey) -> ApiResource {
        self.resources
            .iter()
            .find(|r| r.group == key.group && r.kind == key.kind)
            .cloned()
            .map(|mut r| {
                // The version the desired body (or the listed object) names.
                r.version.clone_from(&key.version);
                r.api_version = if r.group.is_empty() {
                    r.version.clone()
                } else {
                    format!("{}/{}", r.group, r.version)
                };
                r
            })
            .unwrap_or_else(|| self.resources[0].clone())
    }

    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// Also treat objects carrying `legacy` labels as owned, so that those no longer desired
    /// are deleted (desired ones are re-applied and so relabelled). Beacons before
    /// lightkube-extensions 1.0 labelled with `<app>-<model>` (see
    /// [`crate::labels::legacy_charm_default_labels`]); without the sweep such objects are
    /// orphaned after an upgrade. Ignored when equal to the current labels or when a value
    /// exceeds 63 characters (no such object can exist).
    pub fn with_legacy_labels(mut self, legacy: Vec<(String, String)>) -> Self {
        let valid = legacy
            .iter()
            .all(|(_, v)| v.chars().count() <= MAX_LABEL_LEN);
        self.legacy_labels = (valid && legacy != self.labels).then_some(legacy);
        self
    }

    /// The equality label selector for owned objects: `k1=v1,k2=v2`.
    pub fn label_selector(&self) -> String {
        selector(&self.labels)
    }

    /// The desired bodies (without ownership labels) and the policies the builder refused.
    pub fn desired(
        &self,
        policies: &[MeshPolicy],
        raw_policies: &[Value],
    ) -> Result<(Vec<Value>, Vec<BuildError>), PrmError> {
        self.desired_with_outcomes(policies, raw_policies)
            .map(|d| (d.bodies, d.skipped))
    }

    /// [`Self::desired`], with one [`Outcome`] per policy.
    pub fn desired_with_outcomes(
        &self,
        policies: &[MeshPolicy],
        raw_policies: &[Value],
    ) -> Result<Desired, PrmError> {
        for raw in raw_policies {
            let api_version = raw
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = raw.get("kind").and_then(Value::as_str).unwrap_or_default();
            let supported = match self.backend {
                Backend::Istio => {
                    api_version == AUTHORIZATION_POLICY_API_VERSION
                        && kind == AUTHORIZATION_POLICY_KIND
                }
                _ => self
                    .backend
                    .kinds()
                    .iter()
                    .any(|(a, k, _)| *a == api_version && *k == kind),
            };
            if !supported {
                let kinds: Vec<String> = self
                    .backend
                    .kinds()
                    .iter()
                    .map(|(_, k, _)| format!("'{k}'"))
                    .collect();
                return Err(PrmError::UnsupportedRawPolicy {
                    api_version: api_version.to_owned(),
                    kind: kind.to_owned(),
                    supported: format!("[{}]", kinds.join(", ")),
                });
            }
        }
        if self.backend != Backend::Istio {
            let rendered = self.backend.render(&self.app, &self.model, policies);
            for o in &rendered.outcomes {
                match o {
                    Outcome::Exact => {}
                    Outcome::Narrowed(why) => {
                        tracing::warn!("{} policy narrowed: {why}", self.backend.name());
                    }
                    Outcome::Refused(why) => {
                        tracing::error!("{} policy refused: {why}", self.backend.name());
                    }
                }
            }
            let mut bodies = rendered.objects;
            bodies.extend(raw_policies.iter().cloned());
            return Ok(Desired {
                bodies,
                skipped: vec![],
                outcomes: rendered.outcomes,
            });
        }
        let mut bodies = Vec::new();
        let mut skipped = Vec::new();
        let mut outcomes = Vec::new();
        for p in policies {
            match build_authorization_policy(&self.app, &self.model, p) {
                Ok(b) => {
                    bodies.push(b);
                    outcomes.push(Outcome::Exact);
                }
                Err(e) => {
                    // The Python library logs this at ERROR.
                    tracing::error!("skipping policy: {e}");
                    outcomes.push(Outcome::Refused(e.to_string()));
                    skipped.push(e);
                }
            }
        }
        bodies.extend(raw_policies.iter().cloned());
        Ok(Desired {
            bodies,
            skipped,
            outcomes,
        })
    }

    /// All owned objects (legacy-labelled ones included) across all namespaces, sorted and
    /// unique by key; `None` when a CRD of the backend is not installed.
    pub async fn list_owned(&self) -> Result<Option<Vec<LiveObject>>, PrmError> {
        let (live, missing) = self.list_owned_kinds().await?;
        Ok((missing == 0).then_some(live))
    }

    /// The owned objects of every installed kind, and how many kinds are not installed.
    async fn list_owned_kinds(&self) -> Result<(Vec<LiveObject>, usize), PrmError> {
        let mut live = vec![];
        let mut missing = 0;
        for resource in &self.resources {
            let Some(found) = self.list_labelled(resource, &self.labels).await? else {
                missing += 1;
                continue;
            };
            live.extend(found);
            if let Some(legacy) = &self.legacy_labels {
                live.extend(
                    self.list_labelled(resource, legacy)
                        .await?
                        .unwrap_or_default(),
                );
            }
        }
        live.sort_by(|a, b| a.key.cmp(&b.key));
        live.dedup_by(|a, b| a.key == b.key);
        Ok((live, missing))
    }

    async fn list_labelled(
        &self,
        resource: &ApiResource,
        labels: &[(String, String)],
    ) -> Result<Option<Vec<LiveObject>>, PrmError> {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), resource);
        let lp = ListParams::default().labels(&selector(labels));
        let list = match api.list(&lp).await {
            Ok(list) => list,
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
            Err(source) => {
                return Err(PrmError::List {
                    kind: resource.kind.clone(),
                    source: Box::new(source),
                });
            }
        };
        let live = list
            .items
            .into_iter()
            .filter_map(|obj| {
                let Some(name) = obj.metadata.name.clone() else {
                    tracing::warn!("ignoring a listed {} without a name", resource.kind);
                    return None;
                };
                Some(LiveObject {
                    key: ResourceKey {
                        group: resource.group.clone(),
                        version: resource.version.clone(),
                        kind: resource.kind.clone(),
                        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
                        name,
                    },
                    labels: obj.metadata.labels.clone().unwrap_or_default(),
                    spec: obj.data.get("spec").cloned(),
                })
            })
            .collect();
        Ok(Some(live))
    }

    async fn delete_keys(&self, keys: &[ResourceKey]) -> Vec<(ResourceKey, kube::Error)> {
        let mut errors = Vec::new();
        for key in keys {
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), &key.namespace, &self.resource_of(key));
            match api.delete(&key.name, &DeleteParams::default()).await {
                Ok(_) => tracing::info!("deleted {key}"),
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => errors.push((key.clone(), e)),
            }
        }
        errors
    }

    /// Make the owned policies exactly `policies` (built for this charm) plus `raw_policies`:
    /// delete stale owned objects, then server-side apply (force, field manager = app) only
    /// the desired objects that are missing or differ. Nothing desired → [`Self::delete`].
    pub async fn reconcile(
        &self,
        policies: &[MeshPolicy],
        raw_policies: &[Value],
    ) -> Result<ReconcileOutcome, PrmError> {
        let Desired {
            bodies: desired,
            skipped,
            outcomes,
        } = self.desired_with_outcomes(policies, raw_policies)?;
        if desired.is_empty() {
            let deleted = self.delete().await?;
            return Ok(ReconcileOutcome::Reconciled(ReconcileReport {
                deleted,
                skipped,
                outcomes,
                ..ReconcileReport::default()
            }));
        }
        let Some(live) = self.list_owned().await? else {
            let kinds: Vec<&str> = self.resources.iter().map(|r| r.kind.as_str()).collect();
            tracing::warn!("{} CRD not found: cannot create policies", kinds.join("/"));
            return Ok(ReconcileOutcome::CrdMissing);
        };
        let plan = plan(&desired, &live, &self.labels)?;
        let delete_errors = self.delete_keys(&plan.delete).await;
        let params = charm_runtime::k8s::apply_params(&self.app);
        let mut applied = Vec::new();
        for (key, body) in plan.apply {
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), &key.namespace, &self.resource_of(&key));
            if let Err(source) = api.patch(&key.name, &params, &Patch::Apply(&body)).await {
                return Err(PrmError::Apply {
                    key: Box::new(key),
                    source: Box::new(source),
                });
            }
            tracing::info!("applied {key}");
            applied.push(key);
        }
        if !delete_errors.is_empty() {
            return Err(PrmError::Delete(delete_errors));
        }
        Ok(ReconcileOutcome::Reconciled(ReconcileReport {
            applied,
            deleted: plan.delete,
            unchanged: plan.unchanged,
            skipped,
            outcomes,
        }))
    }

    /// Delete every owned object (404s ignored). A missing CRD means there is nothing of that
    /// kind to delete ("CRD not found, skipping deletion").
    pub async fn delete(&self) -> Result<Vec<ResourceKey>, PrmError> {
        let (live, missing) = self.list_owned_kinds().await?;
        if missing > 0 {
            tracing::info!("CRD not found, skipping deletion");
        }
        let mut keys: Vec<ResourceKey> = live.into_iter().map(|l| l.key).collect();
        keys.sort();
        let errors = self.delete_keys(&keys).await;
        if errors.is_empty() {
            Ok(keys)
        } else {
            Err(PrmError::Delete(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owned::tests::owner;
    use serde_json::json;

    fn body(ns: &str, name: &str, port: &str) -> Value {
        json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"rules": [{"to": [{"operation": {"ports": [port]}}]}]},
        })
    }

    fn live(ns: &str, name: &str, port: &str, labels: &[(String, String)]) -> LiveObject {
        LiveObject {
            key: key_of(&body(ns, name, port)).expect("key"),
            labels: labels.iter().cloned().collect(),
            spec: body(ns, name, port).get("spec").cloned(),
        }
    }

    #[test]
    fn plan_creates_missing_deletes_stale_and_skips_unchanged() {
        let labels = owner();
        let desired = [
            body("a", "p1", "80"),
            body("b", "p2", "81"),
            body("a", "p3", "82"),
        ];
        let existing = [
            live("a", "p1", "80", &labels),   // unchanged
            live("b", "p2", "9999", &labels), // spec differs
            live("c", "old", "1", &labels),   // stale
            live("a", "zold", "1", &labels),  // stale
        ];
        let p = plan(&desired, &existing, &labels).expect("plan");
        assert_eq!(p.unchanged, vec![key_of(&desired[0]).expect("key")]);
        assert_eq!(
            p.apply
                .iter()
                .map(|(k, _)| k.name.as_str())
                .collect::<Vec<_>>(),
            ["p2", "p3"]
        );
        assert_eq!(
            p.delete.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
            ["zold", "old"]
        );
        // Applied bodies carry the ownership labels.
        assert_eq!(
            p.apply[1].1["metadata"]["labels"],
            json!({"app.kubernetes.io/instance": "prod-beacon", "kubernetes-resource-handler-scope": "istio-authorization-policy"})
        );
    }

    #[test]
    fn plan_reapplies_when_labels_are_not_a_superset() {
        let labels = owner();
        let mut extra = labels.clone();
        extra.push(("foreign".into(), "kept".into()));
        let partial = vec![labels[1].clone()];
        let desired = [body("a", "p1", "80")];
        let superset = plan(&desired, &[live("a", "p1", "80", &extra)], &labels).expect("plan");
        assert_eq!((superset.apply.len(), superset.unchanged.len()), (0, 1));
        let missing = plan(&desired, &[live("a", "p1", "80", &partial)], &labels).expect("plan");
        assert_eq!((missing.apply.len(), missing.unchanged.len()), (1, 0));
    }

    #[test]
    fn plan_ignores_fields_the_server_or_others_added() {
        let labels = owner();
        let desired = [body("a", "p1", "80")];
        let mut served = live("a", "p1", "80", &labels);
        if let Some(spec) = served.spec.as_mut() {
            spec["action"] = json!("ALLOW");
            spec["rules"][0]["to"][0]["operation"]["defaulted"] = json!(true);
        }
        let p = plan(&desired, &[served], &labels).expect("plan");
        assert_eq!((p.apply.len(), p.unchanged.len()), (0, 1));
    }

    #[test]
    fn plan_empty_desired_deletes_everything_owned_and_dedupes_desired() {
        let labels = owner();
        let p = plan(&[], &[live("a", "p1", "80", &labels)], &labels).expect("plan");
        assert_eq!(p.delete.len(), 1);
        let twice = [body("a", "p1", "80"), body("a", "p1", "80")];
        let p = plan(&twice, &[], &labels).expect("plan");
        assert_eq!(p.apply.len(), 1);
    }

    #[test]
    fn plan_rejects_unkeyable_bodies() {
        let no_ns = json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "x"}});
        assert_eq!(
            plan(&[no_ns], &[], &owner()),
            Err(PlanError::MissingField("metadata.namespace"))
        );
    }
}

//! Desired state + live state → the ordered list of writes (pure).
//!
//! A reconcile where nothing changed yields an empty plan, so the hook only reads from the
//! API server. "Changed" is judged the way server-side apply would see it from our side:
//! every field we would send is already present with the same value (the shared
//! [`service_mesh::owned::diff`]); fields the server or other managers added (CRD defaults,
//! status, other labels) do not count.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use service_mesh::owned::{diff, is_subset, up_to_date, with_labels};

use crate::desired::{Desired, NamespaceIntent, PolicyIntent, RelationWrite};
use crate::kinds::{Kind, ObjectKey, Scope};

/// Namespace label keys the beacon manages with `model-on-mesh=true`.
pub const NS_USE_WAYPOINT: &str = "istio.io/use-waypoint";
pub const NS_DATAPLANE_MODE: &str = "istio.io/dataplane-mode";
pub const NS_MANAGED_BY: &str = "charms.canonical.com/istio.io.waypoint.managed-by";

/// Label map as read from an object; values are strings.
pub type Labels = BTreeMap<String, String>;

/// What the hook read from the world before deciding anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    /// Owned AuthorizationPolicies (both policy scopes, legacy owner label included);
    /// `None` when the CRD is not installed.
    pub policies: Option<Vec<LiveObject>>,
    /// What earlier hooks verified or applied, by `namespace/name` (see [`AppliedRecord`]).
    pub applied: HashMap<String, AppliedRecord>,
    /// Owned Gateways; `None` when the CRD is not installed.
    pub gateways: Option<Vec<Value>>,
    /// Owned HorizontalPodAutoscalers.
    pub hpas: Vec<Value>,
    /// Labels of the model's Namespace.
    pub namespace_labels: Labels,
    /// The label record ConfigMap's `labels`; `None` when the ConfigMap does not exist.
    pub label_record: Option<Labels>,
    /// Pod template labels of our StatefulSet; `None` when it does not exist.
    pub statefulset_labels: Option<Labels>,
    /// Labels of our Service; `None` when it does not exist.
    pub service_labels: Option<Labels>,
    /// The metrics-proxy Pebble plan; `None` when Pebble cannot be reached.
    pub pebble_plan: Option<Value>,
    /// Our current app and unit databags, by relation id (leader only).
    pub databags: BTreeMap<u64, LocalBags>,
}

/// An owned object as listed: identity, labels, resourceVersion and its spec as sent by the
/// server, parsed only when compared in full.
#[derive(Debug, Clone)]
pub struct LiveObject {
    pub key: ObjectKey,
    pub labels: Labels,
    pub resource_version: Option<String>,
    pub spec: Option<Box<RawValue>>,
}

impl PartialEq for LiveObject {
    fn eq(&self, other: &LiveObject) -> bool {
        self.key == other.key
            && self.labels == other.labels
            && self.resource_version == other.resource_version
            && self.spec.as_ref().map(|s| s.get()) == other.spec.as_ref().map(|s| s.get())
    }
}

impl LiveObject {
    /// From a whole object (non-string label values are dropped, as no label has one).
    #[cfg(test)]
    pub fn from_value(obj: &Value) -> Option<LiveObject> {
        let spec = match obj.get("spec") {
            Some(spec) => Some(serde_json::value::to_raw_value(spec).ok()?),
            None => None,
        };
        Some(LiveObject {
            key: ObjectKey::of(obj)?,
            labels: obj
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            resource_version: obj
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned),
            spec,
        })
    }

    pub fn scope(&self) -> Option<Scope> {
        let label = self.labels.get(crate::kinds::SCOPE_LABEL)?;
        Scope::ALL.into_iter().find(|s| s.label() == label)
    }

    /// The parts a full comparison looks at (labels and spec) as one JSON value; a spec
    /// that does not parse back counts as absent, so the object is rewritten.
    pub fn comparable(&self) -> Value {
        let mut obj = serde_json::json!({
            "apiVersion": self.key.kind.api_version(),
            "kind": self.key.kind.name(),
            "metadata": {"name": self.key.name, "namespace": self.key.namespace, "labels": self.labels},
        });
        if let Some(spec) = self
            .spec
            .as_ref()
            .and_then(|s| serde_json::from_str::<Value>(s.get()).ok())
        {
            obj["spec"] = spec;
        }
        obj
    }
}

/// What an owned policy held at one resourceVersion: the body of the policy with this
/// digest (we applied it, or compared it in full). Every write changes the resourceVersion,
/// so while it is unchanged and the desired digest is the same, the object needs nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppliedRecord {
    pub resource_version: String,
    pub digest: String,
}

/// The key of [`Live::applied`].
pub fn applied_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalBags {
    /// Our app bag as read; empty when it was not read (see `app_published`).
    pub app: BTreeMap<String, String>,
    /// When the app bag was not read: the [`fingerprint`] of the app data this unit recorded
    /// having published there (unit state, committed only with a successful hook).
    pub app_published: Option<String>,
    pub unit: BTreeMap<String, String>,
}

/// What this unit has published as the leader: every relation listed holds exactly the app
/// data of `fingerprint`. Kept in unit state, so that a hook where nothing changed need not
/// read its own app bag of every relation back (one hook-tool process each).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Published {
    pub fingerprint: String,
    pub relations: Vec<u64>,
}

/// A digest of databag content (sha256 of its JSON, keys sorted).
pub fn fingerprint(bag: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (k, v) in bag {
        // Length-prefixed, so that no two different bags hash the same input.
        for part in [k, v] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    format!("{:x}", hasher.finalize())
}

/// The record to keep after `writes` (the provider app data of every relation) went out:
/// `None` when they do not all carry the same app data (nothing worth remembering).
pub fn published(writes: &[RelationWrite]) -> Option<Published> {
    let first = writes.first()?;
    writes
        .iter()
        .all(|w| w.app == first.app)
        .then(|| Published {
            fingerprint: fingerprint(&first.app),
            relations: writes.iter().map(|w| w.relation_id).collect(),
        })
}

/// One write. The order of a [`Plan`] is the order of execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Strategic-merge patch of our StatefulSet's pod template labels (null = remove).
    PatchStatefulSetLabels {
        name: String,
        labels: Map<String, Value>,
    },
    /// Strategic-merge patch of our Service's labels (null = remove).
    PatchServiceLabels {
        name: String,
        labels: Map<String, Value>,
    },
    /// Create the label record ConfigMap holding `labels` (JSON text).
    CreateLabelRecord { name: String, labels: String },
    /// Strategic-merge patch of the label record ConfigMap's `data.labels`.
    PatchLabelRecord { name: String, labels: String },
    /// Delete an owned object.
    Delete(ObjectKey),
    /// Server-side apply (force, field manager = app) of an object body.
    Apply(Value),
    /// [`Action::Apply`] of a policy, whose body is built only when it is sent: a first
    /// reconcile may apply thousands, and their bodies need not all be in memory at once.
    ApplyPolicy {
        intent: Arc<PolicyIntent>,
        owner_instance: String,
    },
    /// Strategic-merge patch of the model Namespace's labels (null = remove).
    PatchNamespaceLabels {
        name: String,
        labels: Map<String, Value>,
    },
    /// Add the layer (combine) to the container, then replan.
    AddPebbleLayer {
        container: String,
        label: String,
        layer: Value,
    },
    /// `relation-set` of the given keys in our app and unit databags.
    SetRelationData {
        endpoint: String,
        relation_id: u64,
        app: BTreeMap<String, String>,
        unit: BTreeMap<String, String>,
    },
}

/// Which step of the reconcile (§4.1) an action belongs to; used for the Maintenance
/// status shown while the step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    CharmLabels,
    Waypoint,
    Policies,
    RelationData,
}

impl Action {
    pub fn phase(&self) -> Phase {
        match self {
            Action::PatchStatefulSetLabels { .. }
            | Action::PatchServiceLabels { .. }
            | Action::CreateLabelRecord { .. }
            | Action::PatchLabelRecord { .. } => Phase::CharmLabels,
            Action::PatchNamespaceLabels { .. } => Phase::Waypoint,
            Action::Delete(key) if key.kind != Kind::AuthorizationPolicy => Phase::Waypoint,
            Action::Apply(obj) if Kind::of(obj) != Some(Kind::AuthorizationPolicy) => {
                Phase::Waypoint
            }
            Action::Delete(_)
            | Action::Apply(_)
            | Action::ApplyPolicy { .. }
            | Action::AddPebbleLayer { .. } => Phase::Policies,
            Action::SetRelationData { .. } => Phase::RelationData,
        }
    }
}

/// One line per write, for juju debug-log.
impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::PatchStatefulSetLabels { name, .. } => {
                write!(f, "Patching mesh labels of StatefulSet {name}")
            }
            Action::PatchServiceLabels { name, .. } => {
                write!(f, "Patching mesh labels of Service {name}")
            }
            Action::CreateLabelRecord { name, .. } => write!(f, "Creating ConfigMap {name}"),
            Action::PatchLabelRecord { name, .. } => write!(f, "Updating ConfigMap {name}"),
            Action::Delete(key) => write!(f, "Deleting {key}"),
            Action::Apply(body) => match ObjectKey::of(body) {
                Some(key) => write!(f, "Applying {key}"),
                None => write!(f, "Applying an object"),
            },
            Action::ApplyPolicy { intent, .. } => write!(
                f,
                "Applying {} {}/{}",
                Kind::AuthorizationPolicy.name(),
                intent.namespace,
                intent.name
            ),
            Action::PatchNamespaceLabels { name, .. } => {
                write!(f, "Patching labels of Namespace {name}")
            }
            Action::AddPebbleLayer {
                container, label, ..
            } => {
                write!(f, "Adding Pebble layer {label} to {container}")
            }
            Action::SetRelationData {
                endpoint,
                relation_id,
                ..
            } => {
                write!(f, "Updating our data on {endpoint}:{relation_id}")
            }
        }
    }
}

/// The writes to perform, plus things worth a log line that are not errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub warnings: Vec<String>,
    /// Keys of [`Live::applied`] records that still hold (the policy is up to date).
    pub recorded: Vec<String>,
    /// Policies found up to date by a full comparison, with what they hold.
    pub verified: BTreeMap<String, AppliedRecord>,
    /// The digests of the policies the plan applies, by [`applied_key`].
    pub applying: HashMap<String, String>,
}

/// Compute the writes that take `live` to `desired`, in the upstream order (§4.1):
/// own labels, waypoint (delete stale, then apply), namespace labels, Pebble, policies
/// (delete stale, then apply), modeloperator policy, relation data.
pub fn plan(desired: &Desired, live: &Live) -> Plan {
    let mut out = Plan::default();
    plan_charm_labels(desired, live, &mut out);

    // Without the Gateway CRD there is no waypoint to scale; still prune our HPAs.
    let waypoint_wanted: &[Value] = if live.gateways.is_some() {
        &desired.waypoint
    } else {
        &[]
    };
    let waypoint_owned: Vec<&Value> = live.gateways.iter().flatten().chain(&live.hpas).collect();
    reconcile_scope(
        Scope::Waypoint,
        waypoint_wanted,
        &waypoint_owned,
        &mut out.actions,
    );
    plan_namespace(&desired.namespace, live, &mut out);
    plan_pebble(desired, live, &mut out);

    // Without the AuthorizationPolicy CRD there is nothing to list, delete or apply.
    if let Some(policies) = &live.policies {
        reconcile_policies(desired, policies, &live.applied, &mut out);
        let modeloperator: Vec<Value> = policies
            .iter()
            .filter(|p| p.scope() == Some(Scope::ModelOperator))
            .map(LiveObject::comparable)
            .collect();
        let owned: Vec<&Value> = modeloperator.iter().collect();
        reconcile_scope(
            Scope::ModelOperator,
            &desired.modeloperator,
            &owned,
            &mut out.actions,
        );
    }

    let writes = desired
        .provider_databags
        .iter()
        .chain(&desired.telemetry_databags);
    out.actions
        .extend(writes.filter_map(|w| relation_data(w, live)));
    out
}

/// The beacon's own StatefulSet pod template and Service labels, tracked in the label
/// record ConfigMap so that labels we set earlier (and no longer want) are removed while
/// labels set by others are left alone (§3.10).
fn plan_charm_labels(desired: &Desired, live: &Live, out: &mut Plan) {
    let record = live.label_record.clone().unwrap_or_default();
    let mut patch = Map::new();
    for (k, v) in &desired.charm_labels.labels {
        patch.insert(k.clone(), Value::String(v.clone()));
    }
    for k in record.keys() {
        if !desired.charm_labels.labels.iter().any(|(dk, _)| dk == k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    let name = &desired.charm_labels.workload_name;
    let (Some(sts), Some(svc)) = (&live.statefulset_labels, &live.service_labels) else {
        // Keep the record untouched so the next reconcile retries the whole set.
        out.warnings.push(format!(
            "StatefulSet or Service {name} not found: cannot put the beacon's own pods on the mesh"
        ));
        return;
    };
    if !labels_satisfy(sts, &patch) {
        out.actions.push(Action::PatchStatefulSetLabels {
            name: name.clone(),
            labels: patch.clone(),
        });
    }
    if !labels_satisfy(svc, &patch) {
        out.actions.push(Action::PatchServiceLabels {
            name: name.clone(),
            labels: patch.clone(),
        });
    }
    let wanted: Labels = desired.charm_labels.labels.iter().cloned().collect();
    let record_name = desired.charm_labels.record_name.clone();
    match &live.label_record {
        // Upstream creates it with "{}" and patches it at once; one create with the final
        // content reaches the same state with one write less.
        None => out.actions.push(Action::CreateLabelRecord {
            name: record_name,
            labels: desired.charm_labels.record_json.clone(),
        }),
        Some(stored) if *stored != wanted => out.actions.push(Action::PatchLabelRecord {
            name: record_name,
            labels: desired.charm_labels.record_json.clone(),
        }),
        Some(_) => {}
    }
}

/// True when applying `patch` (string = set, null = remove) would not change `labels`.
fn labels_satisfy(labels: &Labels, patch: &Map<String, Value>) -> bool {
    patch.iter().all(|(k, v)| match v {
        Value::String(s) => labels.get(k) == Some(s),
        _ => !labels.contains_key(k),
    })
}

/// Delete owned objects that are not desired (stale, or left over under the legacy owner
/// label), then apply desired objects that differ from what is there. Only objects carrying
/// our owner label are listed into `owned`, and only those in `scope` are passed to the diff,
/// so foreign objects are never touched.
fn reconcile_scope(scope: Scope, desired: &[Value], owned: &[&Value], actions: &mut Vec<Action>) {
    let live = owned
        .iter()
        .filter(|obj| Scope::of(obj) == Some(scope))
        .filter_map(|obj| Some((ObjectKey::of(obj)?, *obj)));
    let keyed = desired
        .iter()
        .filter_map(|body| Some((ObjectKey::of(body)?, body)));
    let writes = diff(keyed, live);
    actions.extend(writes.delete.into_iter().map(Action::Delete));
    actions.extend(
        writes
            .apply
            .into_iter()
            .map(|(_, body)| Action::Apply(body)),
    );
    // `desired.rs` builds no body without kind, namespace or name; if one slipped through,
    // applying it reports the internal error.
    let unkeyable = desired.iter().filter(|body| ObjectKey::of(body).is_none());
    actions.extend(unkeyable.cloned().map(Action::Apply));
}

/// The policy scope: delete owned policies that are not desired, then apply the desired
/// ones that are missing or differ. A policy whose resourceVersion and digest match the
/// record of an earlier hook is up to date without building its body; any other live
/// policy is compared in full (and recorded when it matches).
fn reconcile_policies(
    desired: &Desired,
    live: &[LiveObject],
    applied: &HashMap<String, AppliedRecord>,
    out: &mut Plan,
) {
    // Each listed policy, and whether a desired one claimed it.
    let mut by_key: HashMap<(&str, &str), (&LiveObject, bool)> = HashMap::new();
    for obj in live.iter().filter(|p| p.scope() == Some(Scope::Policy)) {
        by_key
            .entry((obj.key.namespace.as_str(), obj.key.name.as_str()))
            .or_insert((obj, false));
    }
    // Deletes go first: the applies are collected apart and appended.
    let mut applies = Plan::default();
    for intent in &desired.policies {
        let key = applied_key(&intent.namespace, &intent.name);
        let current = by_key.get_mut(&(intent.namespace.as_str(), intent.name.as_str()));
        let Some((obj, claimed)) = current else {
            apply_policy(desired, intent, key, &mut applies);
            continue;
        };
        *claimed = true;
        let holds = applied.get(&key).is_some_and(|r| {
            Some(&r.resource_version) == obj.resource_version.as_ref() && r.digest == intent.digest
        });
        if holds {
            out.recorded.push(key);
            continue;
        }
        let body = intent.body(&desired.owner_instance);
        if body.is_some_and(|body| up_to_date(&body, &obj.comparable())) {
            if let Some(rv) = &obj.resource_version {
                let record = AppliedRecord {
                    resource_version: rv.clone(),
                    digest: intent.digest.clone(),
                };
                out.verified.insert(key, record);
            }
        } else {
            apply_policy(desired, intent, key, &mut applies);
        }
    }
    for obj in live.iter().filter(|p| p.scope() == Some(Scope::Policy)) {
        let key = (obj.key.namespace.as_str(), obj.key.name.as_str());
        if let Some((_, claimed @ false)) = by_key.get_mut(&key) {
            // Claimed now, so a key listed twice is deleted once.
            *claimed = true;
            out.actions.push(Action::Delete(obj.key.clone()));
        }
    }
    out.actions.append(&mut applies.actions);
    out.applying.extend(applies.applying);
}

/// The records of `applied` whose keys are in `recorded`.
pub fn kept_records(
    applied: &HashMap<String, AppliedRecord>,
    recorded: &[String],
) -> Vec<(String, AppliedRecord)> {
    let recorded: HashSet<&str> = recorded.iter().map(String::as_str).collect();
    applied
        .iter()
        .filter(|(k, _)| recorded.contains(k.as_str()))
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect()
}

fn apply_policy(desired: &Desired, intent: &Arc<PolicyIntent>, key: String, out: &mut Plan) {
    out.applying.insert(key, intent.digest.clone());
    out.actions.push(Action::ApplyPolicy {
        intent: intent.clone(),
        owner_instance: desired.owner_instance.clone(),
    });
}

/// Namespace labels with the managed-by guard (§3.10): add only if the namespace has no
/// Istio labels or they are ours; remove only if ours. Patches only when something would
/// change (upstream patches on every reconcile).
fn plan_namespace(intent: &NamespaceIntent, live: &Live, out: &mut Plan) {
    let labels = &live.namespace_labels;
    let truthy = |k: &str| labels.get(k).is_some_and(|v| !v.is_empty());
    let ours = |identity: &str| labels.get(NS_MANAGED_BY).map(String::as_str) == Some(identity);
    match intent {
        NamespaceIntent::Add {
            name,
            identity,
            labels: wanted,
        } => {
            if (truthy(NS_USE_WAYPOINT) || truthy(NS_DATAPLANE_MODE)) && !ours(identity) {
                out.warnings.push(format!(
                    "Cannot add labels: Namespace '{name}' is already configured with Istio labels managed by another entity."
                ));
                return;
            }
            let patch: Map<String, Value> = wanted
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            if !labels_satisfy(labels, &patch) {
                out.actions.push(Action::PatchNamespaceLabels {
                    name: name.clone(),
                    labels: patch,
                });
            }
        }
        NamespaceIntent::Remove { name, identity } => {
            if ours(identity) {
                let patch: Map<String, Value> = [NS_USE_WAYPOINT, NS_DATAPLANE_MODE, NS_MANAGED_BY]
                    .into_iter()
                    .map(|k| (k.to_owned(), Value::Null))
                    .collect();
                out.actions.push(Action::PatchNamespaceLabels {
                    name: name.clone(),
                    labels: patch,
                });
            } else if truthy(NS_USE_WAYPOINT)
                || truthy(NS_DATAPLANE_MODE)
                || labels.contains_key(NS_MANAGED_BY)
            {
                out.warnings.push(format!(
                    "Cannot remove labels: Namespace '{name}' has Istio labels managed by another entity."
                ));
            }
        }
    }
}

/// Add the metrics-proxy layer unless the plan already runs that service as desired.
fn plan_pebble(desired: &Desired, live: &Live, out: &mut Plan) {
    let Some(plan) = &live.pebble_plan else {
        out.warnings.push(format!(
            "Cannot connect to Pebble in container {}; not configuring the metrics proxy yet",
            desired.pebble.container
        ));
        return;
    };
    let in_place = desired
        .pebble
        .layer
        .get("services")
        .and_then(Value::as_object)
        .is_some_and(|services| {
            services.iter().all(|(name, svc)| {
                plan.pointer(&format!("/services/{name}"))
                    .is_some_and(|live| is_subset(svc, live))
            })
        });
    if !in_place {
        out.actions.push(Action::AddPebbleLayer {
            container: desired.pebble.container.clone(),
            label: desired.pebble.label.clone(),
            layer: desired.pebble.layer.clone(),
        });
    }
}

/// Set only the keys whose value differs; keys are never deleted (upstream uses
/// `dict.update`).
pub fn relation_data(write: &RelationWrite, live: &Live) -> Option<Action> {
    let current = live
        .databags
        .get(&write.relation_id)
        .cloned()
        .unwrap_or_default();
    let diff = |want: &BTreeMap<String, String>,
                have: &BTreeMap<String, String>|
     -> BTreeMap<String, String> {
        want.iter()
            .filter(|(k, v)| have.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let app = if current.app_published.as_deref() == Some(fingerprint(&write.app).as_str()) {
        BTreeMap::new()
    } else {
        diff(&write.app, &current.app)
    };
    let unit = diff(&write.unit, &current.unit);
    (!app.is_empty() || !unit.is_empty()).then(|| Action::SetRelationData {
        endpoint: write.endpoint.clone(),
        relation_id: write.relation_id,
        app,
        unit,
    })
}

/// Everything a teardown deletes: all owned objects in every scope (§4.5 remove).
pub fn teardown(live: &Live, model: &str, identity: &str) -> Plan {
    let mut out = Plan::default();
    let owned = live.gateways.iter().flatten().chain(&live.hpas);
    out.actions
        .extend(owned.filter_map(ObjectKey::of).map(Action::Delete));
    let policies = live.policies.iter().flatten();
    out.actions
        .extend(policies.map(|p| Action::Delete(p.key.clone())));
    let removal = NamespaceIntent::Remove {
        name: model.to_owned(),
        identity: identity.to_owned(),
    };
    plan_namespace(&removal, live, &mut out);
    out
}

/// An AuthorizationPolicy, Gateway or HPA body with our ownership labels merged in.
pub fn with_owner_labels(body: Value, instance: &str, scope: Scope) -> Value {
    let labels = [
        (crate::kinds::INSTANCE_LABEL.to_owned(), instance.to_owned()),
        (
            crate::kinds::SCOPE_LABEL.to_owned(),
            scope.label().to_owned(),
        ),
    ];
    with_labels(body, &labels)
}

#[cfg(test)]
mod tests;

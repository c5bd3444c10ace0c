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
use service_mesh::owned::{diff, is_subset, up_to_date};

use crate::desired::{Desired, NamespaceIntent, PolicyIntent, RelationWrite};
use crate::kinds::{Kind, ObjectKey, Ownership, SCOPE_LABEL, Scope, labels_of, managers_of};
use crate::memo::{
    AppliedRecord, BackendRendering, Published, Records, Refusals, fingerprint, object_record_key,
    record_key,
};
use crate::snapshot::LocalBags;

pub use crate::kinds::Labels;

/// What the hook read from the world before deciding anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    /// Owned AuthorizationPolicies (both policy scopes, legacy owner label included);
    /// `None` when the CRD is not installed.
    pub policies: Option<Vec<LiveObject>>,
    /// What earlier hooks verified or applied (the memo's [`AppliedRecord`]s).
    pub applied: Records,
    /// Policies the API server refused in an earlier hook, by [`record_key`], with the
    /// digest refused (the memo's [`Refusals`]).
    pub refused: Refusals,
    /// What the `mesh-backend` rendered in an earlier hook (the memo's
    /// [`BackendRendering`]).
    pub rendering: Option<BackendRendering>,
    /// Owned Gateways; `None` when the CRD is not installed.
    pub gateways: Option<Vec<Value>>,
    /// Owned HorizontalPodAutoscalers.
    pub hpas: Vec<Value>,
    /// Owned DestinationRules and PeerAuthentications (scope traffic); `None` for a kind
    /// whose CRD is not installed.
    pub destination_rules: Option<Vec<Value>>,
    pub peer_authentications: Option<Vec<Value>>,
    /// Owned objects of the `mesh-backend` kinds listed this hook (scope
    /// [`Scope::Backend`]), by kind; `None` for a kind whose CRD is not installed. A kind
    /// not in the map was not listed: its objects are neither applied nor pruned.
    pub backend: BTreeMap<Kind, Option<Vec<LiveObject>>>,
    /// Services of the model bound to a waypoint (`istio.io/use-waypoint`), when read.
    pub waypoint_services: Option<std::collections::BTreeSet<String>>,
    /// Labels of the model's Namespace.
    pub namespace_labels: Labels,
    /// Annotations of the model's Namespace.
    pub namespace_annotations: Labels,
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
    /// The field managers of its `managedFields` (who wrote it; see [`Ownership`]).
    pub managers: Vec<String>,
    pub resource_version: Option<String>,
    pub spec: Option<Box<RawValue>>,
}

impl PartialEq for LiveObject {
    fn eq(&self, other: &LiveObject) -> bool {
        self.key == other.key
            && self.labels == other.labels
            && self.managers == other.managers
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
            labels: labels_of(obj),
            managers: managers_of(obj),
            resource_version: obj
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned),
            spec,
        })
    }

    pub fn scope(&self) -> Option<Scope> {
        let label = self.labels.get(SCOPE_LABEL)?;
        Scope::ALL.into_iter().find(|s| s.label() == label)
    }

    /// The parts a full comparison looks at (labels and spec), and who wrote it, as one
    /// JSON value; a spec that does not parse back counts as absent, so the object is
    /// rewritten.
    pub fn comparable(&self) -> Value {
        let managers: Vec<Value> = self
            .managers
            .iter()
            .map(|m| serde_json::json!({ "manager": m }))
            .collect();
        let mut obj = serde_json::json!({
            "apiVersion": self.key.kind.api_version(),
            "kind": self.key.kind.name(),
            "metadata": {
                "name": self.key.name,
                "namespace": self.key.namespace,
                "labels": self.labels,
                "managedFields": managers,
            },
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
    /// Server-side apply (force, field manager = app) of the object `key`.
    Apply { key: ObjectKey, body: Value },
    /// [`Action::Apply`] of a policy, whose body is built only when it is sent: a first
    /// reconcile may apply thousands, and their bodies need not all be in memory at once.
    ApplyPolicy {
        key: ObjectKey,
        intent: Arc<PolicyIntent>,
        owner_instance: String,
    },
    /// Strategic-merge patch of the model Namespace's labels and annotations (null =
    /// remove).
    PatchNamespace {
        name: String,
        labels: Map<String, Value>,
        annotations: Map<String, Value>,
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
            Action::PatchNamespace { .. } => Phase::Waypoint,
            Action::Delete(key) | Action::Apply { key, .. }
                if matches!(key.kind, Kind::Gateway | Kind::HorizontalPodAutoscaler) =>
            {
                Phase::Waypoint
            }
            Action::Delete(_)
            | Action::Apply { .. }
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
            Action::Apply { key, .. } | Action::ApplyPolicy { key, .. } => {
                write!(f, "Applying {key}")
            }
            Action::PatchNamespace {
                name, annotations, ..
            } => {
                if annotations.is_empty() {
                    write!(f, "Patching labels of Namespace {name}")
                } else {
                    write!(f, "Patching labels and annotations of Namespace {name}")
                }
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
    /// Keys of [`Live::applied`] records that still hold (the policy or `mesh-backend`
    /// object is up to date).
    pub recorded: Vec<String>,
    /// Policies and backend objects found up to date by a full comparison, with what they
    /// hold.
    pub verified: BTreeMap<String, AppliedRecord>,
    /// The digests of the policies and backend objects the plan applies, by
    /// [`object_record_key`].
    pub applying: HashMap<String, String>,
    /// Policies and backend objects not applied because the API server refused them as
    /// they are (keys of [`Live::refused`]); counted as skipped.
    pub refused: Vec<String>,
}

impl Plan {
    /// The [`AppliedRecord`]s to keep after this plan ran: those of `before` that still hold,
    /// those verified by a full comparison, and one per policy the API server answered an
    /// apply of with a resourceVersion (`applied`). `None` when the memo needs no write:
    /// every earlier record still holds and nothing new was learnt.
    pub fn records_after(
        &self,
        before: &Records,
        applied: impl IntoIterator<Item = (ObjectKey, String)>,
    ) -> Option<BTreeMap<String, AppliedRecord>> {
        let mut records = self.verified.clone();
        for (key, resource_version) in applied {
            let key = object_record_key(&key);
            if let Some(digest) = self.applying.get(&key) {
                let record = AppliedRecord {
                    resource_version,
                    digest: digest.clone(),
                };
                records.insert(key, record);
            }
        }
        let kept_all = self.recorded.len() == before.len();
        if kept_all && records.is_empty() {
            return None;
        }
        let recorded: HashSet<&str> = self.recorded.iter().map(String::as_str).collect();
        records.extend(
            before
                .iter()
                .filter(|(k, _)| recorded.contains(k.as_str()))
                .map(|(k, r)| (k.clone(), r.clone())),
        );
        Some(records)
    }
}

impl Plan {
    /// The [`Refusals`] to keep after this plan ran: those still refused, and the policies
    /// the API server refused now (`rejected`). `None` when that is what `before` holds.
    pub fn refusals_after(
        &self,
        before: &Refusals,
        rejected: impl IntoIterator<Item = ObjectKey>,
    ) -> Option<Refusals> {
        let mut after: Refusals = self
            .refused
            .iter()
            .filter_map(|k| Some((k.clone(), before.get(k)?.clone())))
            .collect();
        for key in rejected {
            let key = object_record_key(&key);
            if let Some(digest) = self.applying.get(&key) {
                after.insert(key, digest.clone());
            }
        }
        (after != *before).then_some(after)
    }
}

/// Writes that may run concurrently with their neighbours of the same batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// Deletes of objects of one kind.
    Delete(Kind),
    /// Applies of objects of one kind.
    Apply(Kind),
    RelationData,
}

impl Batch {
    pub fn of(action: &Action) -> Option<Batch> {
        // Policies and traffic objects are independent of one another; the waypoint's
        // Gateway and HPA keep upstream's one-at-a-time order.
        let independent = |kind: Kind| {
            matches!(
                kind,
                Kind::AuthorizationPolicy | Kind::DestinationRule | Kind::PeerAuthentication
            ) || Kind::BACKEND.contains(&kind)
        };
        match action {
            Action::Delete(key) if independent(key.kind) => Some(Batch::Delete(key.kind)),
            Action::Apply { key, .. } if independent(key.kind) => Some(Batch::Apply(key.kind)),
            Action::ApplyPolicy { .. } => Some(Batch::Apply(Kind::AuthorizationPolicy)),
            Action::SetRelationData { .. } => Some(Batch::RelationData),
            _ => None,
        }
    }
}

/// The plan's actions in execution order, grouped: consecutive deletes or applies of
/// AuthorizationPolicies (or of DestinationRules, PeerAuthentications, or one kind of a
/// non-Istio mesh-backend's objects), and
/// consecutive relation-data writes, each form one batch of independent writes (sent
/// concurrently, logged in one line); every other action is a batch of its own. Deletes still all
/// finish before the applies start, as upstream orders them.
pub fn batches(actions: &[Action]) -> impl Iterator<Item = &[Action]> {
    actions.chunk_by(|a, b| Batch::of(a).is_some() && Batch::of(a) == Batch::of(b))
}

/// Compute the writes that take `live` to `desired`, in the upstream order (§4.1):
/// own labels, waypoint (delete stale, then apply), namespace labels, Pebble, policies
/// (delete stale, then apply), modeloperator policy, relation data.
pub fn plan(desired: &Desired, live: &Live) -> Plan {
    plan_with(desired, None, live)
}

/// [`plan`], moving the `mesh-backend`'s objects out of `desired` into the actions that
/// apply them instead of copying them: a first reconcile may apply tens of thousands.
pub fn plan_moving(desired: &mut Desired, live: &Live) -> Plan {
    let objects = std::mem::take(&mut desired.backend_objects);
    plan_with(desired, Some(objects), live)
}

fn plan_with(desired: &Desired, backend_objects: Option<Vec<Value>>, live: &Live) -> Plan {
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
        &desired.ownership,
        &mut out,
    );
    plan_namespace(&desired.namespace, live, &mut out);
    plan_pebble(desired, live, &mut out);
    plan_traffic(desired, live, &mut out);
    backend::plan_backend(desired, backend_objects, live, &mut out);

    // Without the AuthorizationPolicy CRD there is nothing to list, delete or apply.
    if let Some(policies) = &live.policies {
        reconcile_policies(desired, live, &mut out);
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
            &desired.ownership,
            &mut out,
        );
    }

    let writes = desired
        .provider_databags
        .iter()
        .chain(&desired.telemetry_databags);
    out.actions
        .extend(writes.filter_map(|w| relation_data(w, &live.databags)));
    out
}

/// Consumers' traffic intents and `mtls-mode`: the owned DestinationRules and
/// PeerAuthentications, pruned and applied like the waypoint's objects (a kind whose CRD is
/// missing is neither listed nor written). A DestinationRule for a Service no waypoint
/// handles takes no effect in ambient mode: said, not refused (the consumer may bind it
/// later).
fn plan_traffic(desired: &Desired, live: &Live, out: &mut Plan) {
    let installed = |kind: Kind| match kind {
        Kind::DestinationRule => live.destination_rules.is_some(),
        Kind::PeerAuthentication => live.peer_authentications.is_some(),
        _ => false,
    };
    let mut wanted: Vec<Value> = desired
        .traffic
        .objects
        .iter()
        .filter(|o| Kind::of(o).is_some_and(installed))
        .cloned()
        .collect();
    // One kind after the other, so that their writes form batches.
    wanted.sort_by_key(Kind::of);
    let owned: Vec<&Value> = live
        .destination_rules
        .iter()
        .flatten()
        .chain(live.peer_authentications.iter().flatten())
        .collect();
    reconcile_scope(Scope::Traffic, &wanted, &owned, &desired.ownership, out);
    if let Some(bound) = &live.waypoint_services {
        // One line however many: every log line is a process, and this holds every hook.
        let unbound: Vec<String> = desired
            .traffic
            .services
            .iter()
            .filter(|(service, _)| !bound.contains(service))
            .map(|(service, origin)| format!("{service} ({origin})"))
            .collect();
        if !unbound.is_empty() {
            const LISTED: usize = 10;
            let more = unbound.len().saturating_sub(LISTED);
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            out.warnings.push(format!(
                "{} traffic intents shape Services no waypoint handles (no istio.io/use-waypoint), where in ambient mode a DestinationRule takes no effect: {}{tail}",
                unbound.len(),
                unbound[..unbound.len().min(LISTED)].join(", ")
            ));
        }
    }
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
fn reconcile_scope(
    scope: Scope,
    desired: &[Value],
    owned: &[&Value],
    ownership: &Ownership,
    out: &mut Plan,
) {
    let live: Vec<(ObjectKey, &Value)> = owned
        .iter()
        .filter(|obj| Scope::of(obj) == Some(scope))
        .filter_map(|obj| Some((ObjectKey::of(obj)?, *obj)))
        .collect();
    let keyed = desired
        .iter()
        .filter_map(|body| Some((ObjectKey::of(body)?, body)));
    let writes = diff(keyed, live.iter().map(|(k, v)| (k.clone(), *v)));
    for key in writes.delete {
        let Some((_, obj)) = live.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        delete_if_ours(key, &labels_of(obj), &managers_of(obj), ownership, out);
    }
    out.actions.extend(
        writes
            .apply
            .into_iter()
            .map(|(key, body)| Action::Apply { key, body }),
    );
    // `desired` builds no body without kind, namespace or name; if one slipped through, say so.
    if desired.iter().any(|body| ObjectKey::of(body).is_none()) {
        out.warnings.push(format!(
            "internal error: a desired {} object without kind, namespace or name",
            scope.label()
        ));
    }
}

/// The policy scope: delete owned policies that are not desired, then apply the desired
/// ones that are missing or differ. A policy whose resourceVersion and digest match the
/// record of an earlier hook is up to date without building its body; any other live
/// policy is compared in full (and recorded when it matches).
fn reconcile_policies(desired: &Desired, live: &Live, out: &mut Plan) {
    let applied = &live.applied;
    let listed = live.policies.as_deref().unwrap_or_default();
    // Each listed policy, and whether a desired one claimed it.
    let mut by_key: HashMap<(&str, &str), (&LiveObject, bool)> = HashMap::new();
    for obj in listed.iter().filter(|p| p.scope() == Some(Scope::Policy)) {
        by_key
            .entry((obj.key.namespace.as_str(), obj.key.name.as_str()))
            .or_insert((obj, false));
    }
    // Deletes go first: the applies are collected apart and appended.
    let mut applies = Plan::default();
    for intent in &desired.policies {
        let key = record_key(&intent.namespace, &intent.name);
        let current = by_key.get_mut(&(intent.namespace.as_str(), intent.name.as_str()));
        let Some((obj, claimed)) = current else {
            // Refused as it is: not sent again until it changes or a hook reads everything.
            if live.refused.get(&key) == Some(&intent.digest) {
                out.refused.push(key);
            } else {
                apply_policy(desired, intent, key, &mut applies);
            }
            continue;
        };
        *claimed = true;
        if record_holds(applied, &key, obj, &intent.digest) {
            out.recorded.push(key);
            continue;
        }
        let body = intent.body(&desired.owner_instance);
        if body.is_some_and(|body| up_to_date(&body, &obj.comparable())) {
            remember_verified(out, key, obj, intent.digest.clone());
        } else {
            apply_policy(desired, intent, key, &mut applies);
        }
    }
    let listed = listed.iter().filter(|p| p.scope() == Some(Scope::Policy));
    delete_unclaimed(
        listed,
        &mut by_key,
        |obj| (obj.key.namespace.as_str(), obj.key.name.as_str()),
        &desired.ownership,
        out,
    );
    out.actions.append(&mut applies.actions);
    out.applying.extend(applies.applying);
}

/// Whether the memo's record `key` says `obj` holds the body of `digest`: the server
/// changes the resourceVersion on every write, so a matching one proves nothing changed.
fn record_holds(applied: &Records, key: &str, obj: &LiveObject, digest: &str) -> bool {
    applied.get(key).is_some_and(|r| {
        Some(&r.resource_version) == obj.resource_version.as_ref() && r.digest == digest
    })
}

/// `obj` was found up to date by a full comparison: record what it holds at its
/// resourceVersion, so the next hook need not compare it.
fn remember_verified(out: &mut Plan, key: String, obj: &LiveObject, digest: String) {
    if let Some(rv) = &obj.resource_version {
        let record = AppliedRecord {
            resource_version: rv.clone(),
            digest,
        };
        out.verified.insert(key, record);
    }
}

/// Deletes (when provably ours) each `listed` object no wanted one claimed in `by_key`
/// (keyed by `key_of`), once even when listed twice.
fn delete_unclaimed<'a, K: std::hash::Hash + Eq>(
    listed: impl IntoIterator<Item = &'a LiveObject>,
    by_key: &mut HashMap<K, (&'a LiveObject, bool)>,
    key_of: impl Fn(&'a LiveObject) -> K,
    ownership: &Ownership,
    out: &mut Plan,
) {
    for obj in listed {
        if let Some((_, claimed @ false)) = by_key.get_mut(&key_of(obj)) {
            *claimed = true;
            delete_if_ours(obj.key.clone(), &obj.labels, &obj.managers, ownership, out);
        }
    }
}

fn apply_policy(desired: &Desired, intent: &Arc<PolicyIntent>, key: String, out: &mut Plan) {
    out.applying.insert(key, intent.digest.clone());
    out.actions.push(Action::ApplyPolicy {
        key: intent.key(),
        intent: intent.clone(),
        owner_instance: desired.owner_instance.clone(),
    });
}

/// Each mesh's namespace keys with its managed-by guard (§3.10 for Istio's): the wanted
/// mesh's are added only if none of them is set or they are ours; another mesh's are
/// removed only if ours. Patches only when something would change (upstream patches on
/// every reconcile), in one patch; Istio's alone give upstream's body exactly.
fn plan_namespace(intent: &NamespaceIntent, live: &Live, out: &mut Plan) {
    let (labels, annotations) = (&live.namespace_labels, &live.namespace_annotations);
    let name = &intent.name;
    let set = |map: &Labels, keys: &[(String, String)]| {
        keys.iter()
            .any(|(k, _)| map.get(k).is_some_and(|v| !v.is_empty()))
    };
    let strings = |pairs: &[(String, String)]| -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    };
    let nulls = |pairs: &[(String, String)]| -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, _)| (k.clone(), Value::Null))
            .collect()
    };
    let mut label_patch = Map::new();
    let mut annotation_patch = Map::new();
    for (mesh, wanted) in &intent.meshes {
        let ours = labels.get(mesh.managed_by) == Some(&intent.identity);
        let present = set(labels, &mesh.labels) || set(annotations, &mesh.annotations);
        let istio = mesh.is_istio();
        if *wanted {
            if present && !ours {
                out.warnings.push(if istio {
                    format!(
                        "Cannot add labels: Namespace '{name}' is already configured with Istio labels managed by another entity."
                    )
                } else {
                    format!(
                        "Cannot put Namespace '{name}' on {}: its keys are already set, managed by another entity.",
                        mesh.mesh
                    )
                });
                continue;
            }
            let mut want_labels = strings(&mesh.labels);
            want_labels.insert(
                mesh.managed_by.to_owned(),
                Value::String(intent.identity.clone()),
            );
            let want_annotations = strings(&mesh.annotations);
            if !labels_satisfy(labels, &want_labels)
                || !labels_satisfy(annotations, &want_annotations)
            {
                label_patch.extend(want_labels);
                annotation_patch.extend(want_annotations);
            }
        } else if ours {
            label_patch.extend(nulls(&mesh.labels));
            label_patch.insert(mesh.managed_by.to_owned(), Value::Null);
            annotation_patch.extend(nulls(&mesh.annotations));
        } else if istio && (present || labels.contains_key(mesh.managed_by)) {
            // Only Istio's: another mesh's keys set by someone else are none of our business
            // while the model is not to be on that mesh.
            out.warnings.push(format!(
                "Cannot remove labels: Namespace '{name}' has Istio labels managed by another entity."
            ));
        }
    }
    if !label_patch.is_empty() || !annotation_patch.is_empty() {
        out.actions.push(Action::PatchNamespace {
            name: name.clone(),
            labels: label_patch,
            annotations: annotation_patch,
        });
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

/// The relation-data writes that take our `databags` to `writes`, outside a full plan.
pub fn relation_writes(
    writes: &[RelationWrite],
    databags: &BTreeMap<u64, LocalBags>,
) -> Vec<Action> {
    writes
        .iter()
        .filter_map(|write| relation_data(write, databags))
        .collect()
}

/// Set only the keys whose value differs; keys are never deleted (upstream uses
/// `dict.update`).
fn relation_data(write: &RelationWrite, databags: &BTreeMap<u64, LocalBags>) -> Option<Action> {
    let no_bags = LocalBags::default();
    let current = databags.get(&write.relation_id).unwrap_or(&no_bags);
    let diff = |want: &BTreeMap<String, String>,
                have: &BTreeMap<String, String>|
     -> BTreeMap<String, String> {
        // An empty value deletes the key (relation-set): wanted empty is satisfied by absent.
        want.iter()
            .filter(|(k, v)| match have.get(*k) {
                Some(current) => current != *v,
                None => !v.is_empty(),
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let app = if current.app_published.as_deref() == Some(fingerprint(&write.app).as_str()) {
        BTreeMap::new()
    } else if current.app_published.is_some() {
        // Not read back this hook (what we published is remembered, and differs): all of it,
        // deletions too.
        write.app.clone()
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

/// A delete of an object listed as owned, when it is provably ours ([`Ownership`]); a
/// warning saying why it is left otherwise.
fn delete_if_ours(
    key: ObjectKey,
    labels: &Labels,
    managers: &[String],
    ownership: &Ownership,
    out: &mut Plan,
) {
    match ownership.check(&key, labels, managers) {
        Ok(()) => out.actions.push(Action::Delete(key)),
        Err(why) => out.warnings.push(why),
    }
}

/// Everything a teardown deletes: all owned objects in every scope that are provably ours
/// (§4.5 remove).
pub fn teardown(live: &Live, ownership: &Ownership, model: &str, identity: &str) -> Plan {
    let mut out = Plan::default();
    let traffic = live
        .destination_rules
        .iter()
        .flatten()
        .chain(live.peer_authentications.iter().flatten());
    for obj in live
        .gateways
        .iter()
        .flatten()
        .chain(&live.hpas)
        .chain(traffic)
    {
        if let Some(key) = ObjectKey::of(obj) {
            delete_if_ours(key, &labels_of(obj), &managers_of(obj), ownership, &mut out);
        }
    }
    let backend = live.backend.values().flatten().flatten();
    for p in live.policies.iter().flatten().chain(backend) {
        delete_if_ours(p.key.clone(), &p.labels, &p.managers, ownership, &mut out);
    }
    // Every mesh's keys go, when ours.
    let removal = NamespaceIntent {
        name: model.to_owned(),
        identity: identity.to_owned(),
        meshes: crate::onboarding::meshes(
            &service_mesh::backends::Backend::Istio,
            &Default::default(),
            "",
            false,
        ),
    };
    plan_namespace(&removal, live, &mut out);
    out
}

mod backend;
pub use backend::settle_backend;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod converge_tests;

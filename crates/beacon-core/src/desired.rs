//! Snapshot → the state the beacon wants (pure, no I/O).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};
use service_mesh::backends::{Backend, Outcome};
use service_mesh::{CmrData, Endpoint, MeshPolicy, MeshType, PolicyTargetType, ProviderAppData};

use crate::admission::{self, Consumer};
use crate::kinds::{Kind, ObjectKey, Ownership, Scope, with_owner_labels};
use crate::memo::{
    BackendRendering, ConsumerEntry, Consumers, Derived, DerivedIntent, DerivedSkip,
    RememberedFinding, body_digest, object_record_key, set_digest,
};
use crate::names::Names;
use crate::onboarding::{self, Onboarding};
pub use crate::snapshot::Origin;
use crate::snapshot::{
    CHARM_TRACING, METRICS_ENDPOINT, METRICS_PROXY, MeshRelation, PROVIDE_CMR_MESH, SERVICE_MESH,
    Snapshot,
};
use crate::traffic::{Traffic, traffic};

/// The port metrics-proxy serves the aggregated waypoint metrics on (the scrape job's port).
pub const METRICS_PORT: u16 = crate::telemetry::scrape::METRICS_PORT;
/// The charm's metadata name (the telemetry topology's `charm_name`).
pub const CHARM_NAME: &str = "istio-beacon-k8s";

/// Keys to set in our app and unit databags of one relation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationWrite {
    pub endpoint: String,
    pub relation_id: u64,
    pub app: BTreeMap<String, String>,
    pub unit: BTreeMap<String, String>,
}

/// The beacon's own StatefulSet/Service labels and their record (§3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharmLabels {
    /// StatefulSet and Service name (= app name).
    pub workload_name: String,
    /// `juju-service-mesh-<app>-labels`
    pub record_name: String,
    /// The mesh labels, in wire order.
    pub labels: Vec<(String, String)>,
    /// `json.dumps(labels)` as stored in the record's `data.labels`.
    pub record_json: String,
}

/// What to do with the model's Namespace labels and annotations (`model-on-mesh`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceIntent {
    pub name: String,
    /// The beacon's identity (`<model>.<app>`), the value of each mesh's managed-by label.
    pub identity: String,
    /// Every mesh's keys, and whether the namespace should carry them (at most one).
    pub meshes: Vec<(Onboarding, bool)>,
}

impl NamespaceIntent {
    /// The onboarding the namespace should carry, if any.
    pub fn wanted(&self) -> Option<&Onboarding> {
        self.meshes.iter().find(|(_, w)| *w).map(|(o, _)| o)
    }
}

/// The metrics-proxy Pebble layer (§1.6).
#[derive(Debug, Clone, PartialEq)]
pub struct PebbleLayer {
    pub container: String,
    pub label: String,
    pub layer: Value,
}

/// A consumer policy that was not turned into an AuthorizationPolicy, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub relation_id: u64,
    pub remote_app: String,
    /// Index in the consumer's `policies` list; `None` when the whole value was unusable.
    pub index: Option<usize>,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let which = match self.index {
            Some(i) => format!("policy #{i}"),
            None => "policies".to_owned(),
        };
        write!(
            f,
            "Skipping {which} from service-mesh:{} ({}): {}",
            self.relation_id, self.remote_app, self.reason
        )
    }
}

/// A policy the `mesh-backend` could not say exactly: narrowed (a subset of what was asked
/// is allowed) or refused (nothing of it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendFinding {
    /// The consumer that asked (`None`: the beacon's own policy).
    pub origin: Option<Origin>,
    /// The policy's name as an Istio AuthorizationPolicy (identifies it in the log).
    pub policy: String,
    /// The backend's name (`smi`, `consul`, `linkerd`).
    pub backend: &'static str,
    /// Refused (skipped whole) rather than narrowed.
    pub refused: bool,
    pub reason: String,
}

impl std::fmt::Display for BackendFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = self
            .origin
            .as_ref()
            .map_or("the beacon".to_owned(), |o| o.to_string());
        if self.refused {
            write!(
                f,
                "Skipping policy {} from {from}: mesh-backend {} cannot express it: {}",
                self.policy, self.backend, self.reason
            )
        } else {
            write!(
                f,
                "Narrowing policy {} from {from} for mesh-backend {}: {}",
                self.policy, self.backend, self.reason
            )
        }
    }
}

/// The most a consumer's `policies` value may hold: ten thousand ordinary policies fit many
/// times over, and a body near the API server's request limit would be refused anyway.
pub const MAX_POLICIES_LEN: usize = 1 << 20;

/// One AuthorizationPolicy the beacon wants, kept as the policy it is built from: a
/// reconcile where nothing changed compares digests and never builds the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyIntent {
    pub namespace: String,
    pub name: String,
    /// [`service_mesh::names::policy_digest`]: the whole content of the policy, so equal
    /// digests mean equal bodies (for one beacon app, model and charm revision).
    pub digest: String,
    pub source: PolicySource,
    /// The first consumer that asked for it (`None`: the beacon's own).
    pub origin: Option<Origin>,
}

/// Where an intent's policy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    Parsed(MeshPolicy),
    /// Element `index` of a consumer's `policies`, parsed only if the body is needed
    /// (the intent itself came from [`Derived`]).
    Consumer {
        raw: Arc<str>,
        index: usize,
    },
}

impl PolicyIntent {
    /// The AuthorizationPolicy this intent is.
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            kind: Kind::AuthorizationPolicy,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// The body as applied: the built policy with our ownership labels. `None` only if a
    /// consumer element no longer parses as it did when it was derived (a corrupt memo).
    pub fn body(&self, owner_instance: &str) -> Option<Value> {
        let policy = self.policy()?;
        Some(with_owner_labels(
            service_mesh::istio::build_checked(&self.name, &policy),
            owner_instance,
            Scope::Policy,
        ))
    }

    /// The policy this intent is built from. `None` as for [`PolicyIntent::body`].
    pub fn policy(&self) -> Option<MeshPolicy> {
        self.policy_parsing(&mut ParsedValues::default())
    }

    /// [`PolicyIntent::policy`], parsing each consumer's `policies` value once for all the
    /// intents that come from it.
    fn policy_parsing(&self, parsed: &mut ParsedValues) -> Option<MeshPolicy> {
        match &self.source {
            PolicySource::Parsed(policy) => Some(policy.clone()),
            PolicySource::Consumer { raw, index } => parsed
                .0
                .entry(raw.as_ptr())
                .or_insert_with(|| {
                    let all = service_mesh::parse_policies(raw).ok()?;
                    Some(all.into_iter().map(Result::ok).collect())
                })
                .as_ref()
                .and_then(|all| all.get(*index)?.clone()),
        }
    }
}

/// Consumers' `policies` values already parsed, by the address of the value the intents
/// share (`PolicySource::Consumer::raw`).
#[derive(Default)]
struct ParsedValues(HashMap<*const u8, Option<Vec<Option<MeshPolicy>>>>);

/// Everything the beacon wants to exist.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub provider_databags: Vec<RelationWrite>,
    pub telemetry_databags: Vec<RelationWrite>,
    pub charm_labels: CharmLabels,
    pub waypoint_name: String,
    /// Gateway + HPA; empty at 0 planned units.
    pub waypoint: Vec<Value>,
    pub namespace: NamespaceIntent,
    /// AuthorizationPolicies in scope `istio-authorization-policy` (none when `mesh-backend`
    /// is not Istio).
    pub policies: Vec<Arc<PolicyIntent>>,
    /// The objects a non-Istio `mesh-backend` renders the same policies into, with our
    /// ownership labels in scope [`Scope::Backend`]; empty with Istio.
    pub backend_objects: Vec<Value>,
    /// The policies the backend narrowed or refused (logged; counted in the status).
    pub backend_findings: Vec<BackendFinding>,
    /// The policies a non-Istio `mesh-backend` renders into `backend_objects` (`None` with
    /// Istio), and whether they are rendered yet.
    pub backend: Option<BackendIntents>,
    /// The owner label value of everything we create (`Names::instance`).
    pub owner_instance: String,
    /// What proves an owned-labelled object ours to delete.
    pub ownership: Ownership,
    /// The consumer memo to keep for the next hook; `None` when it has not changed.
    pub consumer_memo: Option<Consumers>,
    /// The modeloperator AuthorizationPolicy, in its own scope.
    pub modeloperator: Vec<Value>,
    pub pebble: PebbleLayer,
    pub skipped: Vec<Skipped>,
    /// Consumers' traffic intents and `mtls-mode` ([`crate::traffic`]).
    pub traffic: Traffic,
    /// Cross-model mesh data we could not read (logged; the relation is ignored).
    pub warnings: Vec<String>,
}

fn labels_json(labels: &[(String, String)]) -> String {
    let map: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    service_mesh::pyjson::dumps(&Value::Object(map))
}

/// The provider app databag for every service-mesh relation (§2.1): `labels` (empty with
/// model-on-mesh, the namespace already carries them) and `mesh_type`. With a non-Istio
/// `mesh-backend` neither: the consumer library only knows `mesh_type` `istio` (and reads an
/// empty bag as "no data"), and Istio's labels would put its pods on a mesh that is not the
/// one enforcing; the keys are wanted empty, which deletes them (`relation-set`).
pub fn provider_databags(snap: &Snapshot, names: &Names) -> Vec<RelationWrite> {
    let bag: Vec<(String, String)> = if snap.config.mesh_backend != Backend::Istio {
        ["labels", "mesh_type"]
            .into_iter()
            .map(|k| (k.to_owned(), String::new()))
            .collect()
    } else {
        let labels = if snap.config.model_on_mesh {
            Vec::new()
        } else {
            names.mesh_labels(&snap.model)
        };
        ProviderAppData {
            labels,
            mesh_type: MeshType::Istio,
        }
        .to_databag()
    };
    snap.service_mesh
        .iter()
        .map(|rel| RelationWrite {
            endpoint: SERVICE_MESH.to_owned(),
            relation_id: rel.id,
            app: bag.iter().cloned().collect(),
            unit: Default::default(),
        })
        .collect()
}

/// Compute the desired state from the snapshot.
pub fn desired(snap: &Snapshot, names: &Names) -> Desired {
    let mut desired = desired_unrendered(snap, names);
    desired.render_backend();
    desired
}

/// [`desired`], but a non-Istio `mesh-backend`'s objects not rendered yet
/// ([`Desired::render_backend`]): a hook where they are all in place, as remembered,
/// need not render them at all (`settle_backend` in the plan).
pub fn desired_unrendered(snap: &Snapshot, names: &Names) -> Desired {
    // The beacon's own pods join Istio's ambient mesh and its waypoint; under another mesh
    // those labels would name a waypoint that is not there (and the namespace, with
    // model-on-mesh, puts the pods on that mesh).
    let mesh_labels = if snap.config.mesh_backend == Backend::Istio {
        names.mesh_labels(&snap.model)
    } else {
        Vec::new()
    };
    let mut skipped = Vec::new();
    let mut warnings = Vec::new();

    let (mut policies, mut modeloperator, derived) =
        policies(snap, names, &mut skipped, &mut warnings);
    let backend = if snap.config.mesh_backend == Backend::Istio {
        None
    } else {
        // The same policies, for the chosen mesh; the Istio objects we own are pruned.
        modeloperator.clear();
        Some(BackendIntents::new(
            snap,
            names,
            std::mem::take(&mut policies),
        ))
    };
    // Report in databag order, whichever stage (parse, target check, build) caught it.
    skipped.sort_by_key(|s| (s.relation_id, s.index));
    // The waypoint is Istio's data plane: under another mesh nothing would program it.
    let waypoint = if snap.planned_units >= 1 && snap.config.mesh_backend == Backend::Istio {
        waypoint(snap, names)
    } else {
        Vec::new()
    };
    let namespace = NamespaceIntent {
        name: snap.model.clone(),
        identity: names.identity.clone(),
        meshes: onboarding::meshes(
            &snap.config.mesh_backend,
            &snap.config.smi_mesh,
            &names.waypoint,
            snap.config.model_on_mesh,
        ),
    };

    let telemetry_databags = telemetry_databags(snap, &mut warnings);
    Desired {
        provider_databags: provider_databags(snap, names),
        telemetry_databags,
        charm_labels: CharmLabels {
            workload_name: snap.app.clone(),
            record_name: format!("juju-service-mesh-{}-labels", snap.app),
            record_json: labels_json(&mesh_labels),
            labels: mesh_labels,
        },
        waypoint_name: names.waypoint.clone(),
        waypoint,
        namespace,
        policies,
        backend_objects: Vec::new(),
        backend_findings: Vec::new(),
        backend,
        owner_instance: names.instance.clone(),
        ownership: names.ownership(&snap.model, &snap.app),
        consumer_memo: consumer_memo(snap, &derived),
        modeloperator,
        pebble: pebble_layer(names),
        skipped,
        traffic: traffic(snap, names),
        warnings,
    }
}

/// The admitted policies (the consumers' and the beacon's own) a non-Istio `mesh-backend`
/// renders, with what the rendering depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendIntents {
    pub backend: Backend,
    pub app: String,
    pub model: String,
    /// Our owner label value.
    pub instance: String,
    pub intents: Vec<Arc<PolicyIntent>>,
    /// A digest of all of the above and of this revision: the same inputs render the same
    /// objects and findings ([`BackendRendering::inputs`]).
    pub inputs: String,
    pub state: BackendState,
}

/// How far the backend's objects are known.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendState {
    /// Not rendered: [`Desired::backend_objects`] and `backend_findings` are empty.
    Unrendered,
    /// Rendered into [`Desired::backend_objects`] and `backend_findings`; `wanted` is their
    /// [`BackendRendering::wanted`].
    Rendered { wanted: String },
    /// Not rendered, because this rendering ([`BackendRendering`], whose findings are in
    /// `backend_findings`) is in place: the records that hold (`recorded`) and the refusals
    /// that stand (`refused`) give its objects exactly.
    Remembered {
        recorded: Vec<String>,
        refused: Vec<String>,
    },
}

impl BackendIntents {
    fn new(snap: &Snapshot, names: &Names, intents: Vec<Arc<PolicyIntent>>) -> BackendIntents {
        use sha2::{Digest, Sha256};
        let backend = snap.config.mesh_backend.clone();
        let mut hasher = Sha256::new();
        let mut part = |text: &str| {
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        };
        part(env!("CARGO_PKG_VERSION"));
        part(&format!("{backend:?}"));
        for name in [&snap.app, &snap.model, &names.instance] {
            part(name);
        }
        for intent in &intents {
            let origin = intent
                .origin
                .as_ref()
                .map(|o| format!("{}:{}", o.relation_id, o.app));
            for text in [&intent.namespace, &intent.name, &intent.digest] {
                part(text);
            }
            part(origin.as_deref().unwrap_or("-"));
        }
        BackendIntents {
            backend,
            app: snap.app.clone(),
            model: snap.model.clone(),
            instance: names.instance.clone(),
            intents,
            inputs: format!("{:x}", hasher.finalize()),
            state: BackendState::Unrendered,
        }
    }
}

impl Desired {
    /// Render the `mesh-backend`'s objects and findings, unless they are already.
    pub fn render_backend(&mut self) {
        let Some(backend) = &mut self.backend else {
            return;
        };
        if matches!(backend.state, BackendState::Rendered { .. }) {
            return;
        }
        let (objects, findings) = backend_render(backend, &mut self.warnings);
        let keyed: Vec<(String, String)> = objects
            .iter()
            .filter_map(|o| Some((object_record_key(&ObjectKey::of(o)?), body_digest(o))))
            .collect();
        let wanted = set_digest(keyed.iter().map(|(k, d)| (k.as_str(), d.as_str())));
        backend.state = BackendState::Rendered { wanted };
        self.backend_objects = objects;
        self.backend_findings = findings;
    }

    /// Take `memo`'s findings instead of rendering: its objects are in place (what holds
    /// them: `recorded` and `refused`, see [`BackendState::Remembered`]).
    pub fn remember_backend(
        &mut self,
        memo: &BackendRendering,
        recorded: Vec<String>,
        refused: Vec<String>,
    ) {
        let Some(backend) = &mut self.backend else {
            return;
        };
        let name = backend.backend.name();
        self.backend_objects.clear();
        self.backend_findings = memo
            .findings
            .iter()
            .map(|f| BackendFinding {
                origin: f
                    .origin
                    .clone()
                    .map(|(relation_id, app)| Origin { relation_id, app }),
                policy: f.policy.clone(),
                backend: name,
                refused: f.refused,
                reason: f.reason.clone(),
            })
            .collect();
        backend.state = BackendState::Remembered { recorded, refused };
    }

    /// The rendering to remember after this hook: `None` unless it was rendered.
    pub fn backend_rendering(&self) -> Option<BackendRendering> {
        let backend = self.backend.as_ref()?;
        let BackendState::Rendered { wanted } = &backend.state else {
            return None;
        };
        Some(BackendRendering {
            inputs: backend.inputs.clone(),
            wanted: wanted.clone(),
            findings: self
                .backend_findings
                .iter()
                .map(|f| RememberedFinding {
                    origin: f.origin.as_ref().map(|o| (o.relation_id, o.app.clone())),
                    policy: f.policy.clone(),
                    refused: f.refused,
                    reason: f.reason.clone(),
                })
                .collect(),
        })
    }
}

/// The admitted policies (`intents`: the consumers' and the beacon's own) rendered by the
/// non-Istio `mesh-backend`: its objects with our ownership labels, and one finding per
/// policy it narrowed or refused, naming the consumer that asked.
fn backend_render(
    inputs: &BackendIntents,
    warnings: &mut Vec<String>,
) -> (Vec<Value>, Vec<BackendFinding>) {
    let backend = &inputs.backend;
    let intents = &inputs.intents;
    let mut policies = Vec::with_capacity(intents.len());
    let mut origins = Vec::with_capacity(intents.len());
    // Each consumer's `policies` value is parsed once, not once per policy it holds.
    let mut parsed = ParsedValues::default();
    for intent in intents {
        match intent.policy_parsing(&mut parsed) {
            Some(policy) => {
                policies.push(policy);
                origins.push(intent);
            }
            None => warnings.push(format!(
                "cannot read the policy {} again; left out",
                intent.name
            )),
        }
    }
    let rendered = backend.render(&inputs.app, &inputs.model, &policies);
    let findings = origins
        .iter()
        .zip(&rendered.outcomes)
        .filter_map(|(intent, outcome)| {
            let (refused, reason) = match outcome {
                Outcome::Exact => return None,
                Outcome::Narrowed(why) => (false, why),
                Outcome::Refused(why) => (true, why),
            };
            Some(BackendFinding {
                origin: intent.origin.clone(),
                policy: intent.name.clone(),
                backend: backend.name(),
                refused,
                reason: bounded(reason.clone()),
            })
        })
        .collect();
    let objects = rendered
        .objects
        .into_iter()
        .map(|object| with_owner_labels(object, &inputs.instance, Scope::Backend))
        .collect();
    (objects, findings)
}

/// The consumer memo to keep after this hook: the consumer data of this snapshot, with what
/// it gave (`derived`, by relation id; relations without an entry keep what they were
/// remembered with). `None` when nothing changed (or on a non-leader, which keeps none).
pub fn consumer_memo(snap: &Snapshot, derived: &BTreeMap<u64, Derived>) -> Option<Consumers> {
    let new_derived = snap.service_mesh.iter().any(|rel| {
        derived
            .get(&rel.id)
            .is_some_and(|d| rel.derived.as_ref() != Some(d))
    });
    if !snap.leader || !(snap.remembered_stale || new_derived) {
        return None;
    }
    let mesh = snap.service_mesh.iter().map(|rel| {
        let entry = ConsumerEntry {
            endpoint: SERVICE_MESH.to_owned(),
            app: rel.remote_app.clone(),
            value: rel.policies.clone(),
            traffic: rel.traffic.clone(),
            derived: derived.get(&rel.id).or(rel.derived.as_ref()).cloned(),
        };
        (rel.id, entry)
    });
    let cmr = snap.cmr.iter().map(|rel| {
        let entry = ConsumerEntry {
            endpoint: PROVIDE_CMR_MESH.to_owned(),
            app: rel.remote_app.clone(),
            value: rel.cmr_data.clone(),
            traffic: None,
            derived: None,
        };
        (rel.id, entry)
    });
    Some(Consumers {
        relations: mesh.chain(cmr).collect(),
    })
}

/// The AuthorizationPolicies in the policy scope and the modeloperator scope (§3.1, §3.8),
/// and what each consumer's data gave. Managed mode off gives two empty sets, which deletes
/// everything we created (§4.5).
fn policies(
    snap: &Snapshot,
    names: &Names,
    skipped: &mut Vec<Skipped>,
    warnings: &mut Vec<String>,
) -> (Vec<Arc<PolicyIntent>>, Vec<Value>, BTreeMap<u64, Derived>) {
    let mut all_derived = BTreeMap::new();
    if !snap.config.manage_authorization_policies {
        return (Vec::new(), Vec::new(), all_derived);
    }
    let cmr = cmr_map(snap, warnings);
    let mut intents: Vec<Arc<PolicyIntent>> = Vec::new();
    // Two consumers asking for the identical policy give one object: (namespace, name) and
    // digest identify the body. The name carries only 32 bits of the digest, and where its
    // target part does not name the target (`custom-selector`, or cut to 30 characters) a
    // consumer can try policies until one takes the name of another's: then the later one
    // (relation order) is named with 64 bits of its digest ([`disambiguated`]), so neither
    // is lost, and the earlier keeps its name whatever a later consumer sends.
    let mut seen: HashMap<(String, String), (String, Option<Origin>)> = HashMap::new();
    let mut collisions = Vec::new();
    let mut push = |mut intent: PolicyIntent| {
        let key = (intent.namespace.clone(), intent.name.clone());
        if let Some((digest, holder)) = seen.get(&key) {
            if *digest == intent.digest {
                return;
            }
            let Some(name) = disambiguated(&intent.name, &intent.digest) else {
                return;
            };
            let who = |o: &Option<Origin>| {
                o.as_ref()
                    .map_or("the beacon".to_owned(), |o| o.to_string())
            };
            collisions.push(format!(
                "A policy of {} is named {name}: its name {} is that of a different policy of {}",
                who(&intent.origin),
                intent.name,
                who(holder)
            ));
            intent.name = name;
        }
        let key = (intent.namespace.clone(), intent.name.clone());
        if let std::collections::hash_map::Entry::Vacant(slot) = seen.entry(key) {
            slot.insert((intent.digest.clone(), intent.origin.clone()));
            intents.push(Arc::new(intent));
        }
    };
    for rel in &snap.service_mesh {
        // What a cross-model consumer may ask for also depends on config and cmr_data, which
        // its memo does not cover: it is derived anew every time (such consumers are few).
        let remembered = rel
            .derived
            .as_ref()
            .filter(|_| !admission::is_cross_model(&rel.remote_app));
        let fresh;
        let (derived, mut parsed) = match remembered {
            Some(derived) => (derived, Vec::new()),
            None => {
                let (derived, parsed) = derive(snap, rel, &cmr);
                fresh = derived;
                (&fresh, parsed)
            }
        };
        skipped.extend(derived.skipped.iter().map(|s| Skipped {
            relation_id: rel.id,
            remote_app: rel.remote_app.clone(),
            index: s.index,
            reason: s.reason.clone(),
        }));
        let raw: Option<Arc<str>> = parsed
            .is_empty()
            .then(|| Arc::from(rel.policies.as_deref().unwrap_or("[]")));
        let mut parsed = parsed.drain(..);
        for d in &derived.intents {
            let source = match (parsed.next(), &raw) {
                (Some(policy), _) => PolicySource::Parsed(policy),
                (None, Some(raw)) => PolicySource::Consumer {
                    raw: raw.clone(),
                    index: d.index,
                },
                // `derive` gives one parsed policy per intent.
                (None, None) => continue,
            };
            push(PolicyIntent {
                namespace: d.namespace.clone(),
                name: d.name.clone(),
                digest: d.digest.clone(),
                source,
                origin: Some(Origin {
                    relation_id: rel.id,
                    app: rel.remote_app.clone(),
                }),
            });
        }
        if remembered.is_none() {
            all_derived.insert(rel.id, derived.clone());
        }
    }
    for own in own_policies(snap, &cmr) {
        match check_own(snap, &own) {
            Ok((namespace, name, digest)) => {
                push(PolicyIntent {
                    namespace,
                    name,
                    digest,
                    source: PolicySource::Parsed(own),
                    origin: None,
                });
            }
            Err(err) => warnings.push(format!("cannot build the beacon's own policy: {err}")),
        }
    }
    warnings.extend(collisions);
    let modeloperator = if snap.config.model_on_mesh {
        vec![modeloperator_policy(snap, names)]
    } else {
        Vec::new()
    };
    (intents, modeloperator, all_derived)
}

/// `name` (ending in the first 8 hex digits of `digest`) ending in the first 16 instead, cut
/// before them to stay within 253 characters. No name ends in 16 hex digits otherwise, so it
/// collides only with a policy whose digest has the same 64 first bits.
fn disambiguated(name: &str, digest: &str) -> Option<String> {
    let stem = name.strip_suffix(digest.get(..8)?)?.strip_suffix('-')?;
    let long = digest.get(..16)?;
    let stem = stem.get(..stem.len().min(253 - 1 - long.len()))?;
    let name = format!("{}-{long}", stem.trim_end_matches('-'));
    admission::dns1123_subdomain(&name).ok()?;
    Some(name)
}

/// Namespace, name and digest of one of the beacon's own policies, if it can be applied. Its
/// source is a scraper's app name as the relation gives it: Juju's names are Kubernetes names,
/// but nothing that becomes a principal or an object name is used unchecked.
fn check_own(snap: &Snapshot, own: &MeshPolicy) -> Result<(String, String, String), String> {
    admission::check_syntax(own)?;
    checked_identity(snap, own)
}

/// Namespace, name and digest of a policy that can be built, whose generated name is a
/// Kubernetes object name.
fn checked_identity(
    snap: &Snapshot,
    policy: &MeshPolicy,
) -> Result<(String, String, String), String> {
    service_mesh::istio::check_buildable(policy).map_err(|e| e.to_string())?;
    let (namespace, name, digest) = identify(snap, policy);
    admission::dns1123_subdomain(&name)
        .map_err(|why| format!("the policy's name {name:?} {why}"))?;
    Ok((namespace, name, digest))
}

/// Namespace, name and digest of a policy.
fn identify(snap: &Snapshot, policy: &MeshPolicy) -> (String, String, String) {
    let digest = service_mesh::names::policy_digest(policy);
    let name =
        service_mesh::names::policy_name_with_digest(&snap.app, &snap.model, policy, &digest);
    (policy.target_namespace.clone(), name, digest)
}

/// Parse, check and identify one consumer's policies: the [`Derived`] record, and the
/// parsed policy of each of its intents.
fn derive(
    snap: &Snapshot,
    rel: &MeshRelation,
    cmr: &[(String, CmrData)],
) -> (Derived, Vec<MeshPolicy>) {
    let mut derived = Derived::default();
    let mut parsed = Vec::new();
    let elements = match consumer_policies(snap, rel, cmr) {
        Ok(elements) => elements,
        Err(reason) => {
            derived.skipped.push(DerivedSkip {
                index: None,
                reason: bounded(reason),
            });
            return (derived, parsed);
        }
    };
    for (index, result) in elements {
        let checked = result.and_then(|policy| {
            let (namespace, name, digest) = checked_identity(snap, &policy)?;
            Ok((policy, namespace, name, digest))
        });
        match checked {
            Ok((policy, namespace, name, digest)) => {
                derived.intents.push(DerivedIntent {
                    index,
                    namespace,
                    name,
                    digest,
                });
                parsed.push(policy);
            }
            Err(reason) => derived.skipped.push(DerivedSkip {
                index: Some(index),
                reason: bounded(reason),
            }),
        }
    }
    (derived, parsed)
}

/// The most of a skip reason that is logged and remembered: reasons quote the consumer's
/// values, which may be up to [`MAX_POLICIES_LEN`] long.
pub const MAX_REASON_LEN: usize = 1000;

/// `reason`, cut to [`MAX_REASON_LEN`] bytes (at a character boundary) with a note of its size.
fn bounded(reason: String) -> String {
    if reason.len() <= MAX_REASON_LEN {
        return reason;
    }
    let mut cut = MAX_REASON_LEN;
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} bytes in all)", &reason[..cut], reason.len())
}

/// One element of a consumer's `policies`: the policy, or why it is skipped.
type Element = Result<MeshPolicy, String>;

/// Parse one consumer's `policies` element by element and admit each
/// ([`crate::admission`]). Deliberately better than upstream, which fails the whole hook (and
/// so every consumer's policies) on any bad element: a bad element is skipped and reported,
/// the rest is used. `Err`: the whole value is unusable.
fn consumer_policies(
    snap: &Snapshot,
    rel: &MeshRelation,
    cmr: &[(String, CmrData)],
) -> Result<Vec<(usize, Element)>, String> {
    let raw = rel.policies.as_deref().unwrap_or("[]");
    if raw.len() > MAX_POLICIES_LEN {
        return Err(format!(
            "policies is {} bytes, more than the {MAX_POLICIES_LEN} a consumer may send",
            raw.len()
        ));
    }
    let elements =
        service_mesh::parse_policies(raw).map_err(|err| format!("invalid JSON list: {err}"))?;
    let consumer = Consumer {
        app: &rel.remote_app,
        model: &snap.model,
        cmr: cmr
            .iter()
            .find(|(app, _)| *app == rel.remote_app)
            .map(|(_, data)| data),
        cross_model_namespaces: &snap.config.cross_model_namespaces,
    };
    Ok(elements
        .into_iter()
        .enumerate()
        .map(|(index, element)| {
            let checked = element.map_err(|e| e.to_string()).and_then(|policy| {
                admission::admit(&consumer, &policy)?;
                Ok(policy)
            });
            (index, checked)
        })
        .collect())
}

/// The `cmr_data` a remote app sent on `provide-cmr-mesh`, if valid.
pub fn cmr_identity(snap: &Snapshot, remote_app: &str) -> Option<CmrData> {
    cmr_map(snap, &mut Vec::new())
        .into_iter()
        .find(|(app, _)| app == remote_app)
        .map(|(_, data)| data)
}

/// `{remote app name on provide-cmr-mesh: CMRData}` (§2.3). Upstream crashes on non-JSON
/// `cmr_data`; we log it and ignore that relation, as we do when its names are not
/// Kubernetes names (they become a principal and part of a policy name).
fn cmr_map(snap: &Snapshot, warnings: &mut Vec<String>) -> Vec<(String, CmrData)> {
    let mut map = Vec::new();
    for rel in &snap.cmr {
        let Some(raw) = &rel.cmr_data else { continue };
        let checked = CmrData::parse(raw)
            .map_err(|e| e.to_string())
            .and_then(|data| {
                for (field, value) in [
                    ("app_name", &data.app_name),
                    ("juju_model_name", &data.juju_model_name),
                ] {
                    admission::dns1123_label(value)
                        .map_err(|why| format!("{field} {value:?} {why}"))?;
                }
                Ok(data)
            });
        match checked {
            Ok(data) => map.push((rel.remote_app.clone(), data)),
            Err(err) => warnings.push(format!(
                "Ignoring invalid cmr_data on provide-cmr-mesh:{} ({}): {err}",
                rel.id, rel.remote_app
            )),
        }
    }
    map
}

/// The beacon's own UnitPolicy on metrics-endpoint, port 15090 (§3.1.2): each related app
/// may scrape the beacon pods; cross-model scrapers are resolved through provide-cmr-mesh.
fn own_policies(snap: &Snapshot, cmr: &[(String, CmrData)]) -> Vec<MeshPolicy> {
    snap.metrics
        .iter()
        .map(|rel| {
            let (source_app, source_ns) = match cmr.iter().find(|(app, _)| *app == rel.remote_app) {
                Some((_, data)) => (data.app_name.clone(), data.juju_model_name.clone()),
                None => (rel.remote_app.clone(), snap.model.clone()),
            };
            MeshPolicy {
                source_namespace: source_ns,
                source_app_name: source_app,
                target_namespace: snap.model.clone(),
                target_app_name: Some(snap.app.clone()),
                target_selector_labels: None,
                target_service: None,
                target_type: PolicyTargetType::Unit,
                endpoints: vec![Endpoint {
                    hosts: None,
                    ports: Some(vec![METRICS_PORT.into()]),
                    methods: None,
                    paths: None,
                }],
            }
        })
        .collect()
}

/// Allow-all on the modeloperator (§3.8), so the controller can reach it once the model
/// is on the mesh.
fn modeloperator_policy(snap: &Snapshot, names: &Names) -> Value {
    let body = json!({
        "apiVersion": Kind::AuthorizationPolicy.api_version(),
        "kind": Kind::AuthorizationPolicy.name(),
        "metadata": {
            "name": format!("{}-{}-policy-all-sources-modeloperator", snap.app, snap.model),
            "namespace": snap.model,
        },
        "spec": {
            "selector": {"matchLabels": {"juju-modeloperator": "modeloperator"}},
            "rules": [{}],
        },
    });
    with_owner_labels(body, &names.instance, Scope::ModelOperator)
}

/// The waypoint Gateway and the HPA pinning its Deployment to one replica per beacon unit
/// (§3.9).
fn waypoint(snap: &Snapshot, names: &Names) -> Vec<Value> {
    let gateway = json!({
        "apiVersion": Kind::Gateway.api_version(),
        "kind": Kind::Gateway.name(),
        "metadata": {
            "name": names.waypoint,
            "namespace": snap.model,
            "labels": {
                "istio.io/waypoint-for": "service",
                names.telemetry_key.clone(): "aggregated",
            },
        },
        "spec": {
            "gatewayClassName": "istio-waypoint",
            "listeners": [{
                "name": "mesh",
                "port": 15008,
                "protocol": "HBONE",
                "allowedRoutes": {"namespaces": {"from": "All"}},
            }],
        },
    });
    let hpa = json!({
        "apiVersion": Kind::HorizontalPodAutoscaler.api_version(),
        "kind": Kind::HorizontalPodAutoscaler.name(),
        "metadata": {"name": names.waypoint, "namespace": snap.model},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": names.waypoint},
            "minReplicas": snap.planned_units,
            "maxReplicas": snap.planned_units,
        },
    });
    vec![
        with_owner_labels(gateway, &names.instance, Scope::Waypoint),
        with_owner_labels(hpa, &names.instance, Scope::Waypoint),
    ]
}

fn pebble_layer(names: &Names) -> PebbleLayer {
    PebbleLayer {
        container: METRICS_PROXY.to_owned(),
        label: METRICS_PROXY.to_owned(),
        layer: json!({
            "summary": "Metrics Broadcast Proxy Layer",
            "description": "Pebble layer for the metrics broadcast proxy",
            "services": {
                "metrics-proxy": {
                    "override": "replace",
                    "summary": "Metrics Broadcast Proxy",
                    "command": "metrics-proxy",
                    "startup": "enabled",
                    "environment": {"POD_LABEL_SELECTOR": format!("{}=aggregated", names.telemetry_key)},
                },
            },
        }),
    }
}

/// The metrics-endpoint scrape databags and the charm-tracing request ([`crate::telemetry`]).
/// Unit data is written by every unit; app data only by the leader. Problems with the
/// built-in alert rules go to `warnings`.
pub fn telemetry_databags(snap: &Snapshot, warnings: &mut Vec<String>) -> Vec<RelationWrite> {
    use crate::telemetry::{scrape, tracing_relation};
    let topology = scrape::Topology {
        model: &snap.model,
        model_uuid: &snap.model_uuid,
        application: &snap.app,
        unit: &snap.unit,
        charm_name: CHARM_NAME,
    };
    let fqdn = scrape::unit_fqdn(&snap.unit, &snap.model);
    let mut out: Vec<RelationWrite> = snap
        .metrics
        .iter()
        .map(|rel| RelationWrite {
            endpoint: METRICS_ENDPOINT.to_owned(),
            relation_id: rel.id,
            app: if snap.leader {
                scrape::app_databag(&topology, warnings)
            } else {
                Default::default()
            },
            unit: scrape::unit_databag(
                &snap.unit,
                &scrape::unit_address(rel.bind_address.as_deref(), &fqdn),
                &fqdn,
            ),
        })
        .collect();
    if let (Some(rel), true) = (&snap.tracing, snap.leader) {
        out.push(RelationWrite {
            endpoint: CHARM_TRACING.to_owned(),
            relation_id: rel.id,
            app: tracing_relation::requirer_app_databag(),
            unit: Default::default(),
        });
    }
    out
}

#[cfg(test)]
mod tests;

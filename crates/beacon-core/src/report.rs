//! What the `show-policies` action answers (pure): per consumer relation, the policies it asked
//! for, each with its AuthorizationPolicy and where it stands in the cluster; the skipped ones
//! with the reason; and the beacon's own policies.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use service_mesh::owned::up_to_date;

use service_mesh::backends::Backend;

use crate::desired::{Desired, PolicyIntent, desired};
use crate::memo::{Refusals, record_key};
use crate::names::Names;
use crate::plan::LiveObject;
use crate::snapshot::{MeshRelation, Snapshot};

/// The whole answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PoliciesReport {
    /// `manage-authorization-policies`: when false, nothing below is applied.
    pub managed: bool,
    /// `mesh-backend`: with another mesh than `istio`, each policy line says in `mesh` how
    /// that mesh renders it, and its AuthorizationPolicy is not written.
    pub mesh_backend: &'static str,
    pub consumers: Vec<ConsumerReport>,
    /// The beacon's own policies (metrics scrapers, the modeloperator).
    pub own: Vec<PolicyLine>,
}

/// One consumer relation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ConsumerReport {
    /// `service-mesh:<id>`
    pub relation: String,
    pub app: String,
    /// `model prod`, or for a cross-model consumer what is known of it.
    pub identity: String,
    pub policies: Vec<PolicyLine>,
    pub skipped: Vec<SkipLine>,
}

/// A policy not rendered, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SkipLine {
    /// Its index in the consumer's `policies`; absent when the whole value was unusable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub reason: String,
}

/// One AuthorizationPolicy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PolicyLine {
    /// `namespace/name`
    pub authorization_policy: String,
    pub source: Vec<String>,
    pub target: String,
    /// One entry per endpoint the consumer declared.
    pub to: Vec<Operation>,
    pub state: State,
    /// Under a non-Istio `mesh-backend`: `exact`, `narrowed: <why>` or `refused: <why>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh: Option<String>,
}

/// What one endpoint allows.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Operation {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// Where a policy stands in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// In the cluster as the beacon would write it.
    Applied,
    /// Not in the cluster (the next reconcile creates it).
    Missing,
    /// In the cluster, but not as the beacon would write it (the next reconcile repairs it).
    Drifted,
    /// The API server refused it as it is (see `juju debug-log`).
    Refused,
    /// `manage-authorization-policies=false`: the beacon does not write it.
    NotManaged,
    /// Rendered for the non-Istio `mesh-backend` instead (see the line's `mesh`).
    MeshBackend,
}

/// The report for `snap` against the owned policies `live`, optionally for one app only
/// (the consumer app as Juju names it, or a cross-model consumer's `cmr_data` app).
pub fn show_policies(
    snap: &Snapshot,
    names: &Names,
    live: &[LiveObject],
    refusals: &Refusals,
    app: Option<&str>,
) -> PoliciesReport {
    let managed = snap.config.manage_authorization_policies;
    let backend = &snap.config.mesh_backend;
    // What would be rendered, whatever the config says; as Istio AuthorizationPolicies
    // (what the consumers asked for), the other mesh's rendering said per line.
    let mut wanted = snap.clone();
    wanted.config.manage_authorization_policies = true;
    wanted.config.mesh_backend = Backend::Istio;
    // The other mesh's outcome of each policy, by its AuthorizationPolicy name.
    let mesh_outcome = |one: &Snapshot| -> Option<HashMap<String, String>> {
        if *backend == Backend::Istio {
            return None;
        }
        let mut other = one.clone();
        other.config.mesh_backend = backend.clone();
        let d = desired(&other, names);
        Some(
            d.backend_findings
                .into_iter()
                .map(|f| {
                    let word = if f.refused { "refused" } else { "narrowed" };
                    (f.policy, format!("{word}: {}", f.reason))
                })
                .collect(),
        )
    };
    let with_mesh = |mut lines: Vec<PolicyLine>, outcomes: Option<HashMap<String, String>>| {
        if let Some(outcomes) = outcomes {
            for line in &mut lines {
                let name = line
                    .authorization_policy
                    .rsplit('/')
                    .next()
                    .unwrap_or_default();
                line.mesh = Some(
                    outcomes
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| "exact".to_owned()),
                );
                if managed {
                    line.state = State::MeshBackend;
                }
            }
        }
        lines
    };
    let live: HashMap<String, &LiveObject> = live
        .iter()
        .map(|o| (record_key(&o.key.namespace, &o.key.name), o))
        .collect();
    let line = |d: &Desired, intent: &PolicyIntent| {
        policy_line(intent, &d.owner_instance, managed, &live, refusals)
    };

    let mut consumers = Vec::new();
    for rel in &snap.service_mesh {
        // One consumer at a time: two consumers asking for the same policy each see it.
        let one = Snapshot {
            service_mesh: vec![MeshRelation {
                derived: None,
                ..rel.clone()
            }],
            metrics: Vec::new(),
            databags: Default::default(),
            ..shallow(&wanted)
        };
        let d = desired(&one, names);
        let cmr = crate::desired::cmr_identity(&one, &rel.remote_app);
        if let Some(app) = app
            && rel.remote_app != app
            && cmr.as_ref().is_none_or(|c| c.app_name != app)
        {
            continue;
        }
        let identity = if crate::admission::is_cross_model(&rel.remote_app) {
            match &cmr {
                Some(c) => format!(
                    "cross-model: {}.{} (its cmr_data)",
                    c.juju_model_name, c.app_name
                ),
                None => "cross-model: unknown (no cmr_data on provide-cmr-mesh)".to_owned(),
            }
        } else {
            format!("model {}", snap.model)
        };
        consumers.push(ConsumerReport {
            relation: format!("service-mesh:{}", rel.id),
            app: rel.remote_app.clone(),
            identity,
            policies: with_mesh(
                d.policies.iter().map(|i| line(&d, i)).collect(),
                mesh_outcome(&one),
            ),
            skipped: d
                .skipped
                .iter()
                .map(|s| SkipLine {
                    index: s.index,
                    reason: s.reason.clone(),
                })
                .collect(),
        });
    }
    let own_snap = Snapshot {
        service_mesh: Vec::new(),
        databags: Default::default(),
        ..shallow(&wanted)
    };
    let d = desired(&own_snap, names);
    let mut own: Vec<PolicyLine> = with_mesh(
        d.policies.iter().map(|i| line(&d, i)).collect(),
        mesh_outcome(&own_snap),
    );
    // The modeloperator policy is Istio's `model-on-mesh` alone.
    if *backend == Backend::Istio {
        for body in &d.modeloperator {
            own.push(body_line(body, managed, &live, None));
        }
    }
    PoliciesReport {
        managed,
        mesh_backend: backend.name(),
        consumers,
        own,
    }
}

/// `snap` without its consumer relations and databags (the parts that grow with consumers),
/// to build one-consumer snapshots from.
fn shallow(snap: &Snapshot) -> Snapshot {
    Snapshot {
        model: snap.model.clone(),
        model_uuid: snap.model_uuid.clone(),
        app: snap.app.clone(),
        unit: snap.unit.clone(),
        leader: snap.leader,
        planned_units: snap.planned_units,
        config: snap.config.clone(),
        service_mesh: Vec::new(),
        cmr: snap.cmr.clone(),
        metrics: snap.metrics.clone(),
        tracing: snap.tracing.clone(),
        databags: Default::default(),
        published: None,
        remembered_stale: false,
    }
}

fn policy_line(
    intent: &PolicyIntent,
    owner_instance: &str,
    managed: bool,
    live: &HashMap<String, &LiveObject>,
    refusals: &Refusals,
) -> PolicyLine {
    let key = record_key(&intent.namespace, &intent.name);
    let refused = refusals.get(&key) == Some(&intent.digest);
    match intent.body(owner_instance) {
        Some(body) => {
            let mut line = body_line(&body, managed, live, Some(refused));
            line.authorization_policy = key;
            line
        }
        None => PolicyLine {
            authorization_policy: key,
            source: Vec::new(),
            target: String::new(),
            to: Vec::new(),
            state: State::Missing,
            mesh: None,
        },
    }
}

/// A policy line from the body the beacon would apply.
fn body_line(
    body: &Value,
    managed: bool,
    live: &HashMap<String, &LiveObject>,
    refused: Option<bool>,
) -> PolicyLine {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let namespace = text(body.pointer("/metadata/namespace"));
    let name = text(body.pointer("/metadata/name"));
    let key = record_key(&namespace, &name);
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let rule = body.pointer("/spec/rules/0");
    let source = strings(rule.and_then(|r| r.pointer("/from/0/source/principals")));
    let to = rule
        .and_then(|r| r.get("to"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| {
            let op = t.get("operation");
            Operation {
                ports: strings(op.and_then(|o| o.get("ports"))),
                methods: strings(op.and_then(|o| o.get("methods"))),
                paths: strings(op.and_then(|o| o.get("paths"))),
                hosts: strings(op.and_then(|o| o.get("hosts"))),
            }
        })
        .collect();
    let target = if let Some(service) = body.pointer("/spec/targetRefs/0/name") {
        format!("Service {namespace}/{}", text(Some(service)))
    } else if let Some(labels) = body
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
    {
        let selector: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        format!("pods in {namespace} with {}", selector.join(","))
    } else {
        format!("every workload in {namespace}")
    };
    let state = if !managed {
        State::NotManaged
    } else if refused == Some(true) {
        State::Refused
    } else {
        match live.get(&key) {
            None => State::Missing,
            Some(obj) if up_to_date(body, &obj.comparable()) => State::Applied,
            Some(_) => State::Drifted,
        }
    };
    PolicyLine {
        authorization_policy: key,
        source,
        target,
        to,
        state,
        mesh: None,
    }
}

#[cfg(test)]
mod tests;

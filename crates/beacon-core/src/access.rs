//! What the `check-access` action answers (pure): its parameters as the evaluator's inputs
//! (`service_mesh::authz`), and the evaluation as action results.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use service_mesh::authz::{
    Destination, EnforcementPoint, Evaluation, Http, Peer, Reason, Request, Target, Verdict,
    Waypoint, waypoint_ref_from_labels,
};

use service_mesh::backends::{
    APP_LABEL, Backend, HttpRequest, Identity, MeshRequest, consul, linkerd, smi,
};

use crate::admission::dns1123_label;
use crate::kinds::Labels;

/// The `check-access` parameters, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Params {
    pub source: String,
    pub target: String,
    pub port: i64,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default = "default_root")]
    pub root_namespace: String,
    /// Address the pods directly instead of the Service (skips the waypoint).
    #[serde(default)]
    pub to_pod: bool,
    /// istio-k8s `auto-allow-waypoint-policy` (on by default).
    #[serde(default = "default_true")]
    pub auto_allow_waypoint: bool,
}

fn default_root() -> String {
    service_mesh::authz::DEFAULT_ROOT_NAMESPACE.to_owned()
}

fn default_true() -> bool {
    true
}

/// What to read from the cluster for the target: Service `name` in `namespace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    pub namespace: String,
    pub name: String,
}

/// The parameters, checked: the source peer, the target to look up, the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub source: Peer,
    pub target: TargetRef,
    pub request: Request,
    pub root_namespace: String,
    pub auto_allow_waypoint: bool,
}

/// Check the parameters (`model`: this model, where a bare app name lives). `Err` is the
/// action's failure message.
pub fn query(params: &Params, model: &str) -> Result<Query, String> {
    let source = source(&params.source, model)?;
    let target = target(&params.target, model)?;
    let port = u16::try_from(params.port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("port {} is not a port number (1-65535)", params.port))?;
    dns1123_label(&params.root_namespace)
        .map_err(|why| format!("root-namespace {:?} {why}", params.root_namespace))?;
    let http = match (&params.method, &params.path, &params.host) {
        (None, None, None) => None,
        (method, path, host) => {
            let method = method.as_deref().unwrap_or("GET").to_ascii_uppercase();
            let path = path.as_deref().unwrap_or("/");
            if !path.starts_with('/') {
                return Err(format!("path {path:?} must start with '/'"));
            }
            let host = host.clone().unwrap_or_else(|| target.name.clone());
            Some(Http::new(&method, path, &host))
        }
    };
    let destination = if params.to_pod {
        Destination::Pod
    } else {
        Destination::Service
    };
    let request = Request {
        http,
        ..Request::new(source.clone(), destination, port)
    };
    Ok(Query {
        source,
        target,
        request,
        root_namespace: params.root_namespace.clone(),
        auto_allow_waypoint: params.auto_allow_waypoint,
    })
}

/// `off-mesh` (plaintext, no identity); a principal `[spiffe://]<trust domain>/ns/<ns>/sa/<sa>`;
/// `<model>.<app>`; or an app of this model.
fn source(s: &str, model: &str) -> Result<Peer, String> {
    if matches!(s, "off-mesh" | "plaintext") {
        return Ok(Peer::Plaintext);
    }
    let principal = s.strip_prefix("spiffe://").unwrap_or(s);
    if let [domain, "ns", ns, "sa", sa] = principal.split('/').collect::<Vec<_>>()[..] {
        for (what, v) in [("namespace", ns), ("service account", sa)] {
            dns1123_label(v).map_err(|why| format!("source {what} {v:?} {why}"))?;
        }
        return Ok(Peer::Workload {
            namespace: ns.to_owned(),
            service_account: sa.to_owned(),
            trust_domain: Some(domain.to_owned()),
        });
    }
    let (ns, app) = s.split_once('.').unwrap_or((model, s));
    for v in [ns, app] {
        dns1123_label(v).map_err(|why| {
            format!(
                "source {s:?}: {v:?} {why} (expected an app, <model>.<app>, a principal \
                 <trust-domain>/ns/<ns>/sa/<sa>, or off-mesh)"
            )
        })?;
    }
    // A Juju app's pods run as the ServiceAccount named after it.
    Ok(Peer::workload(ns, app))
}

/// An app (its Service) of this model, `<model>.<app>`, or `<namespace>/<service>`.
fn target(s: &str, model: &str) -> Result<TargetRef, String> {
    let (namespace, name) = s
        .split_once('/')
        .or_else(|| s.split_once('.'))
        .unwrap_or((model, s));
    for v in [namespace, name] {
        dns1123_label(v).map_err(|why| {
            format!(
                "target {s:?}: {v:?} {why} (expected an app, <model>.<app> or <namespace>/<service>)"
            )
        })?;
    }
    Ok(TargetRef {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

/// What the cluster says about the target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The Service's labels; `None` when there is no such Service.
    pub service_labels: Option<Labels>,
    /// Labels and ServiceAccount of one of its pods, if any runs.
    pub pod: Option<(Labels, String)>,
    pub namespace_labels: Labels,
}

/// The evaluator's target from what was found. `Err` when there is nothing to check
/// against.
pub fn evaluator_target(query: &Query, found: &Found) -> Result<Target, String> {
    let TargetRef { namespace, name } = &query.target;
    let (service_labels, pod_labels, service_account) = target_workload(query, found)?;
    let waypoint = waypoint_ref_from_labels(namespace, service_labels, &found.namespace_labels)
        // Istio names the waypoint's ServiceAccount after its Gateway.
        .map(|(ns, wp)| Waypoint::named(&ns, &wp));
    Ok(Target {
        namespace: namespace.clone(),
        service: Some(name.clone()),
        pod_labels,
        service_account,
        waypoint,
        auto_allow_waypoint: query.auto_allow_waypoint,
    })
}

/// The target Service's labels, and its pods' labels and ServiceAccount: those of the pod
/// found, else what Juju would run (pods labelled and named after the app). `Err` when
/// there is no such Service.
fn target_workload<'a>(
    query: &Query,
    found: &'a Found,
) -> Result<(&'a Labels, Labels, String), String> {
    let TargetRef { namespace, name } = &query.target;
    let Some(service_labels) = &found.service_labels else {
        return Err(format!("Service {namespace}/{name} not found"));
    };
    Ok(match &found.pod {
        Some((labels, sa)) => (service_labels, labels.clone(), sa.clone()),
        None => (
            service_labels,
            BTreeMap::from([(APP_LABEL.to_owned(), name.clone())]),
            name.clone(),
        ),
    })
}

/// The action results: `decision`, `enforced-by`, `policy`, `rule`, `reason`, and per
/// enforcement point the detail (Juju's rules: lower-case hyphenated keys, nested maps).
pub fn results(eval: &Evaluation) -> Map<String, Value> {
    let verdict = eval.verdict();
    let reached: Vec<_> = eval.decisions.iter().filter(|d| d.reached).collect();
    let deciding = match verdict {
        Verdict::Deny => reached.iter().find(|d| d.verdict == Verdict::Deny),
        Verdict::Undetermined => reached.iter().find(|d| d.verdict == Verdict::Undetermined),
        Verdict::Allow => reached
            .iter()
            .find(|d| matches!(d.reason, Reason::AllowedBy(_))),
    };
    let rule = deciding.and_then(|d| match &d.reason {
        Reason::AllowedBy(r) | Reason::DeniedBy(r) => Some(r.clone()),
        _ => d.closest.as_ref().map(|c| c.rule.clone()),
    });
    let enforced_by = match verdict {
        Verdict::Allow => reached
            .iter()
            .map(|d| d.point.to_string())
            .collect::<Vec<_>>()
            .join(" and "),
        _ => deciding.map(|d| d.point.to_string()).unwrap_or_default(),
    };
    let mut out = Map::new();
    out.insert("decision".into(), json!(verdict_word(verdict)));
    out.insert("enforced-by".into(), json!(enforced_by));
    out.insert(
        "policy".into(),
        json!(
            rule.as_ref()
                .map(|r| format!("{}/{}", r.namespace, r.name))
                .unwrap_or_default()
        ),
    );
    out.insert(
        "rule".into(),
        json!(rule.map(|r| r.rule.to_string()).unwrap_or_default()),
    );
    out.insert("reason".into(), json!(eval.to_string()));
    for d in &eval.decisions {
        let key = match d.point {
            EnforcementPoint::Waypoint { .. } => "waypoint",
            EnforcementPoint::Ztunnel { .. } => "ztunnel",
        };
        out.insert(
            key.into(),
            json!({
                "at": d.point.to_string(),
                "decision": if d.reached { verdict_word(d.verdict) } else { "not-reached" },
                "peer": d.peer,
                "reason": d.to_string(),
            }),
        );
    }
    if !eval.not_understood.is_empty() {
        let list: Map<String, Value> = eval
            .not_understood
            .iter()
            .enumerate()
            .map(|(i, n)| (i.to_string(), json!(n.to_string())))
            .collect();
        out.insert("not-understood".into(), Value::Object(list));
    }
    out
}

/// The Linkerd annotation choosing the inbound policy of ports no Server serves.
const LINKERD_DEFAULT_POLICY: &str = "config.linkerd.io/default-inbound-policy";

/// The action results under a non-Istio `mesh-backend`: that mesh's evaluator
/// (`service_mesh::backends`) over `objects`, every object of the backend's kinds in the
/// target's namespace (whoever wrote them). Same keys as [`results`]; what an evaluator
/// assumes of the mesh's cluster-wide settings is said in `reason`, and where the answer
/// depends on a setting it cannot see, the decision is `undetermined`.
pub fn backend_results(
    backend: &Backend,
    query: &Query,
    found: &Found,
    namespace_annotations: &Labels,
    objects: &[Value],
) -> Result<Map<String, Value>, String> {
    let TargetRef { namespace, name } = &query.target;
    let (_, pod_labels, _) = target_workload(query, found)?;
    let Peer::Workload {
        namespace: source_ns,
        service_account,
        ..
    } = &query.source
    else {
        return Ok(backend_answer(
            backend,
            namespace,
            None,
            format!(
                "the {} evaluator models mesh workloads only: a client off the mesh is not modelled",
                backend.name()
            ),
        ));
    };
    let request = MeshRequest {
        source: Identity {
            namespace: source_ns.clone(),
            service_account: service_account.clone(),
        },
        namespace: namespace.clone(),
        app: name.clone(),
        pod_labels,
        port: query.request.port,
        http: query.request.http.as_ref().map(|h| HttpRequest {
            method: h.method.clone(),
            path: h.path.clone(),
            host: h.host.clone(),
        }),
    };
    let considered = format!("{} objects of its kinds in {namespace}", objects.len());
    let (decision, reason) = match backend {
        Backend::Istio => return Err("Istio is answered by results()".into()),
        Backend::Smi => (
            Some(smi::evaluate(objects, &request)),
            format!(
                "SMI TrafficTargets and routes ({considered}), as osm-edge/FSM enforce them with permissive traffic policy mode off"
            ),
        ),
        Backend::Consul(options) => (
            Some(consul::evaluate(options, objects, &request)),
            format!(
                "Consul ServiceIntentions ({considered}), with a deny default (ACL default policy or a * deny intention)"
            ),
        ),
        Backend::Linkerd(options) => {
            let decide = |default| linkerd::evaluate(options, default, objects, &request);
            match namespace_annotations
                .get(LINKERD_DEFAULT_POLICY)
                .and_then(|v| linkerd::DefaultPolicy::parse(v))
            {
                Some(default) => (
                    Some(decide(default)),
                    format!(
                        "Linkerd Servers and policies ({considered}); ports without a Server: the namespace's {LINKERD_DEFAULT_POLICY}"
                    ),
                ),
                // The cluster's default (a Helm value) is not visible here: decided only
                // where the strictest and the most open default agree.
                None => {
                    let strict = decide(linkerd::DefaultPolicy::Deny);
                    let open = decide(linkerd::DefaultPolicy::AllUnauthenticated);
                    if strict == open {
                        (
                            Some(strict),
                            format!("Linkerd Servers and policies ({considered})"),
                        )
                    } else {
                        (
                            None,
                            format!(
                                "no Server serves port {} ({considered}): Linkerd's default inbound policy decides, and neither the namespace nor this action knows the cluster's (set {LINKERD_DEFAULT_POLICY} on the namespace)",
                                query.request.port
                            ),
                        )
                    }
                }
            }
        }
    };
    Ok(backend_answer(backend, namespace, decision, reason))
}

fn backend_answer(
    backend: &Backend,
    namespace: &str,
    decision: Option<bool>,
    reason: String,
) -> Map<String, Value> {
    let word = match decision {
        Some(true) => "allow",
        Some(false) => "deny",
        None => "undetermined",
    };
    let mut out = Map::new();
    out.insert("decision".into(), json!(word));
    out.insert(
        "enforced-by".into(),
        json!(format!("{} (mesh-backend) in {namespace}", backend.name())),
    );
    out.insert("policy".into(), json!(""));
    out.insert("rule".into(), json!(""));
    out.insert("reason".into(), json!(format!("{word}: {reason}")));
    out
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Allow => "allow",
        Verdict::Deny => "deny",
        Verdict::Undetermined => "undetermined",
    }
}

#[cfg(test)]
mod tests;

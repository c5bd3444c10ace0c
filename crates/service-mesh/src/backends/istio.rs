//! Istio: today's AuthorizationPolicies, byte for byte ([`crate::istio::build_checked`] named
//! by [`crate::names::policy_name`]), and the reachability decision the other backends are
//! compared with, from [`crate::authz::evaluate`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::{MeshRequest, Outcome, Rendered};
use crate::authz::{self, Destination, Http, Mesh, Peer, Request, Target, Verdict, Waypoint};
use crate::model::MeshPolicy;
use crate::names::policy_name;

/// One AuthorizationPolicy per buildable policy; the others are refused with the builder's
/// reason.
pub fn render(beacon_app: &str, beacon_model: &str, policies: &[MeshPolicy]) -> Rendered {
    let mut out = Rendered::default();
    for p in policies {
        match crate::istio::check_buildable(p) {
            Ok(()) => {
                out.objects.push(crate::istio::build_checked(
                    &policy_name(beacon_app, beacon_model, p),
                    p,
                ));
                out.outcomes.push(Outcome::Exact);
            }
            Err(e) => out.outcomes.push(Outcome::Refused(e.to_string())),
        }
    }
    out
}

/// Whether Istio (ambient, 1.29) lets the request reach the app, given the beacon's
/// AuthorizationPolicies `objects`: allowed addressed to the app's Service (through its
/// waypoint, where app policies are enforced), or addressed to the pod (its ztunnel, where
/// unit policies are), each policy on its own — the union of what the ALLOW policies open.
/// `None` when the evaluator cannot tell (a policy it does not understand, e.g. one istiod
/// would refuse).
pub fn evaluate(objects: &[Value], request: &MeshRequest) -> Option<bool> {
    let mesh = Mesh::default();
    let target = Target {
        namespace: request.namespace.clone(),
        service: Some(request.app.clone()),
        pod_labels: request.pod_labels.clone(),
        service_account: request.app.clone(),
        waypoint: Some(Waypoint::named(&request.namespace, "beacon-waypoint")),
        auto_allow_waypoint: true,
    };
    let http = request
        .http
        .as_ref()
        .map(|h| Http::new(&h.method, &h.path, &h.host));
    let source = Peer::workload(&request.source.namespace, &request.source.service_account);
    let mut undetermined = false;
    for obj in objects {
        let destination = match obj["spec"].get("targetRefs") {
            Some(refs) => {
                // An app policy for another Service (or namespace) does not apply to this
                // request; alone at the waypoint it would leave it open ("no ALLOW policy").
                let here = obj["metadata"]["namespace"].as_str() == Some(&request.namespace)
                    && refs.as_array().is_some_and(|a| {
                        a.iter().any(|r| {
                            r["kind"] == "Service" && r["name"].as_str() == Some(&request.app)
                        })
                    });
                if !here {
                    continue;
                }
                Destination::Service
            }
            None => Destination::Pod,
        };
        let req = Request {
            http: http.clone(),
            ..Request::new(source.clone(), destination, request.port)
        };
        match authz::evaluate(&mesh, std::slice::from_ref(obj), &target, &req).verdict() {
            Verdict::Allow => return Some(true),
            Verdict::Deny => {}
            Verdict::Undetermined => undetermined = true,
        }
    }
    (!undetermined).then_some(false)
}

/// Labels of a pod of `app` with extra `labels`.
pub fn pod_labels(app: &str, labels: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.insert(super::APP_LABEL.into(), app.into());
    m
}

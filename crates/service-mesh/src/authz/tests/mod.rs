//! Cases whose expected results come from Istio's own documentation and tests (each cites its
//! source), and property tests that follow from Istio's evaluation order.

mod istio_cases;
mod properties;
mod semantics;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

pub(super) const WP: &str = "waypoint";

pub(super) fn ap(ns: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    })
}

pub(super) fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A pod without waypoint, addressed directly.
pub(super) fn pod(ns: &str, sa: &str, kv: &[(&str, &str)]) -> Target {
    Target {
        namespace: ns.into(),
        service: None,
        pod_labels: labels(kv),
        service_account: sa.into(),
        waypoint: None,
        auto_allow_waypoint: false,
    }
}

/// A Service `svc` (pods `app=svc`, service account `svc`) bound to waypoint `ns/WP`.
pub(super) fn behind_waypoint(ns: &str, svc: &str, auto_allow: bool) -> Target {
    Target {
        namespace: ns.into(),
        service: Some(svc.into()),
        pod_labels: labels(&[("app", svc)]),
        service_account: svc.into(),
        waypoint: Some(Waypoint::named(ns, WP)),
        auto_allow_waypoint: auto_allow,
    }
}

pub(super) fn tcp(peer: Peer, dest: Destination, port: u16) -> Request {
    Request::new(peer, dest, port)
}

pub(super) fn http(peer: Peer, dest: Destination, port: u16, method: &str, path: &str) -> Request {
    Request {
        http: Some(Http::new(method, path, "svc")),
        ..Request::new(peer, dest, port)
    }
}

pub(super) fn with_header(mut r: Request, k: &str, v: &str) -> Request {
    if let Some(h) = r.http.as_mut() {
        h.headers.insert(k.into(), v.into());
    }
    r
}

pub(super) fn eval(policies: &[Value], t: &Target, r: &Request) -> Evaluation {
    evaluate(&Mesh::default(), policies, t, r)
}

pub(super) fn verdict(policies: &[Value], t: &Target, r: &Request) -> Verdict {
    eval(policies, t, r).verdict()
}

pub(super) fn rule(ns: &str, name: &str, i: usize) -> RuleRef {
    RuleRef {
        namespace: ns.into(),
        name: name.into(),
        rule: i,
    }
}

/// `targetRefs` to the waypoint Gateway named [`WP`].
pub(super) fn to_waypoint() -> Value {
    json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": WP}])
}

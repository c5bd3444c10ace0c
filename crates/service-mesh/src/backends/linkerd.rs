//! Linkerd 2.20: one `Server` (policy.linkerd.io/v1beta3) per app and port, shared by every
//! client, with one `MeshTLSAuthentication` (v1alpha1) listing the clients' identities and one
//! `AuthorizationPolicy` (v1alpha1) tying them, all three named
//! `<beacon-app>-<beacon-model>-<app>-<port>` ([`super::object_name`]).
//!
//! What is said exactly: sources (mTLS identity
//! `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`), the app's pods
//! (`podSelector` `app.kubernetes.io/name: <app>`), ports. What is not: "any port" (a Server
//! is one port), methods, paths and hosts (they need an `HTTPRoute` as the policy target, and
//! no HTTPRoute CRD is in the supported set: `shared/crds` has none), pods chosen by another
//! selector (a second Server on the same pod port is skipped by Linkerd: "Port already
//! matched by another server"), a Service other than the app's own. Endpoints saying them are
//! dropped (the policy is narrowed, or refused when none is left).
//!
//! The evaluator follows linkerd/linkerd2 `version-2.20`
//! (`eadc1acf79ad2e766afbdceadb77f1594296fd77`): `policy-controller/k8s/index/src/inbound/index.rs`
//! (a pod port is served by the oldest Server selecting the pod on that port — by creation
//! time, then name; a port without a Server gets the default policy; a Server authorizes what
//! an AuthorizationPolicy targeting it (or its Namespace) authorizes, else its `accessPolicy`,
//! default `deny`), `policy-controller/k8s/index/src/inbound/authorization_policy.rs` (every
//! `requiredAuthenticationRefs` entry must be satisfied; a missing referent voids the
//! authorization), `policy-controller/core/src/identity_match.rs` (`*`, `*.suffix`, exact)
//! and `k8s/index/src/defaults.rs` (default policies).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{Intent, MeshRequest, Outcome, Rendered, labels_match, narrow_rules, object_name};
use crate::model::MeshPolicy;

pub const SERVER_API: &str = "policy.linkerd.io/v1beta3";
pub const POLICY_API: &str = "policy.linkerd.io/v1alpha1";
const GROUP: &str = "policy.linkerd.io";

/// Where Linkerd's identities live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkerdOptions {
    /// The control plane's namespace (default `linkerd`).
    pub control_plane_namespace: String,
    /// The identity trust domain (default `cluster.local`).
    pub trust_domain: String,
}

impl Default for LinkerdOptions {
    fn default() -> Self {
        LinkerdOptions {
            control_plane_namespace: "linkerd".into(),
            trust_domain: "cluster.local".into(),
        }
    }
}

impl LinkerdOptions {
    /// `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`.
    pub fn identity(&self, namespace: &str, service_account: &str) -> String {
        format!(
            "{service_account}.{namespace}.serviceaccount.identity.{}.{}",
            self.control_plane_namespace, self.trust_domain
        )
    }
}

/// Admits one intent: the rules Linkerd can say, and the outcome.
pub fn admit(intent: &Intent) -> (Vec<super::Rule>, Outcome) {
    if intent.target.whole_app().is_none() {
        return (
            vec![],
            Outcome::Refused(
                "Linkerd authorizes per Server (the app's pods on a port): a Service other than the app's own, or pods chosen by another selector, cannot be said".into(),
            ),
        );
    }
    narrow_rules(intent, |r| {
        if r.is_l7() {
            return Err("methods, paths and hosts need a Linkerd HTTPRoute (not supported)".into());
        }
        if !intent.tcp {
            return Err(
                "next to HTTP endpoints Istio opens these ports to HTTP only; a Linkerd Server authorizes any traffic".into(),
            );
        }
        match &r.ports {
            None => Err("a Linkerd Server is one port: 'any port' cannot be said".into()),
            Some(_) => Ok((r.clone(), None)),
        }
    })
}

/// Renders the policies: per-policy admission, then one Server (+ authentication and
/// authorization) per app and port with every admitted client of that port.
pub fn render(
    options: &LinkerdOptions,
    beacon_app: &str,
    beacon_model: &str,
    policies: &[MeshPolicy],
) -> Rendered {
    let mut out = Rendered::default();
    let mut servers: BTreeMap<(String, String, u16), BTreeSet<String>> = BTreeMap::new();
    for p in policies {
        let intent = match Intent::from_policy(p) {
            Ok(i) => i,
            Err(e) => {
                out.outcomes.push(Outcome::Refused(e));
                continue;
            }
        };
        let (rules, outcome) = admit(&intent);
        if outcome.rendered() {
            let app = intent.target.whole_app().unwrap_or_default().to_string();
            let id = options.identity(&intent.source.namespace, &intent.source.service_account);
            for port in rules.iter().flat_map(|r| r.ports.iter().flatten()) {
                servers
                    .entry((intent.namespace.clone(), app.clone(), *port))
                    .or_default()
                    .insert(id.clone());
            }
        }
        out.outcomes.push(outcome);
    }
    for ((ns, app, port), ids) in servers {
        let name = object_name(&[beacon_app, beacon_model, &app, &port.to_string()], 253);
        let meta = json!({"name": name, "namespace": ns});
        out.objects.push(json!({
            "apiVersion": SERVER_API, "kind": "Server", "metadata": meta,
            "spec": {
                "podSelector": {"matchLabels": {super::APP_LABEL: app}},
                "port": port,
                "accessPolicy": "deny",
            },
        }));
        out.objects.push(json!({
            "apiVersion": POLICY_API, "kind": "MeshTLSAuthentication", "metadata": meta,
            "spec": {"identities": ids.into_iter().collect::<Vec<_>>()},
        }));
        out.objects.push(json!({
            "apiVersion": POLICY_API, "kind": "AuthorizationPolicy", "metadata": meta,
            "spec": {
                "targetRef": {"group": GROUP, "kind": "Server", "name": name},
                "requiredAuthenticationRefs": [
                    {"group": GROUP, "kind": "MeshTLSAuthentication", "name": name},
                ],
            },
        }));
    }
    out
}

/// The default inbound policy (`config.linkerd.io/default-inbound-policy`) for ports no
/// Server serves, and a Server's `accessPolicy` (`defaults.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultPolicy {
    Deny,
    /// `all-authenticated` / `cluster-authenticated` (a mesh client in the cluster).
    AllAuthenticated,
    /// `all-unauthenticated` / `cluster-unauthenticated`.
    AllUnauthenticated,
    /// `audit`: allows, and logs.
    Audit,
}

impl DefaultPolicy {
    fn parse(s: &str) -> Option<DefaultPolicy> {
        Some(match s {
            "deny" => DefaultPolicy::Deny,
            "all-authenticated" | "cluster-authenticated" => DefaultPolicy::AllAuthenticated,
            "all-unauthenticated" | "cluster-unauthenticated" => DefaultPolicy::AllUnauthenticated,
            "audit" => DefaultPolicy::Audit,
            _ => return None,
        })
    }

    fn allows_mesh_client(self) -> bool {
        self != DefaultPolicy::Deny
    }
}

/// `identity_match.rs`: `*` matches any identity, `*.<suffix>` any identity ending in
/// `.<suffix>`, anything else exactly.
fn identity_matches(pattern: &str, id: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some("") => true,
        Some(suffix) if suffix.starts_with('.') => id.ends_with(suffix),
        _ => pattern == id,
    }
}

fn of_kind<'a>(
    objects: &'a [Value],
    kind: &'a str,
    ns: &'a str,
) -> impl Iterator<Item = &'a Value> {
    objects.iter().filter(move |o| {
        o["apiVersion"]
            .as_str()
            .is_some_and(|a| a.starts_with("policy.linkerd.io/"))
            && o["kind"] == kind
            && o["metadata"]["namespace"].as_str() == Some(ns)
    })
}

/// Whether Linkerd lets a meshed client (identity from its ServiceAccount) reach the pod.
pub fn evaluate(
    options: &LinkerdOptions,
    default_policy: DefaultPolicy,
    objects: &[Value],
    request: &MeshRequest,
) -> bool {
    let ns = request.namespace.as_str();
    let port_matches = |p: &Value| match p {
        Value::Number(n) => n.as_u64() == Some(u64::from(request.port)),
        // A named port would need the pod spec; not modelled: it serves no port here.
        _ => false,
    };
    // The oldest Server wins; with no creation times, name order stands for it.
    let mut servers: Vec<&Value> = of_kind(objects, "Server", ns)
        .filter(|s| {
            let sel = &s["spec"]["podSelector"];
            sel.get("matchExpressions").is_none()
                && labels_match(
                    sel.get("matchLabels").unwrap_or(&json!({})),
                    &request.pod_labels,
                )
                && port_matches(&s["spec"]["port"])
        })
        .collect();
    servers.sort_by_key(|s| {
        s["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    let Some(server) = servers.first() else {
        return default_policy.allows_mesh_client();
    };
    let server_name = server["metadata"]["name"].as_str().unwrap_or_default();
    let client = options.identity(&request.source.namespace, &request.source.service_account);
    let authenticated = |r: &Value| -> bool {
        let ref_ns = r["namespace"].as_str().unwrap_or(ns);
        match (r["group"].as_str().unwrap_or(""), r["kind"].as_str()) {
            (GROUP, Some("MeshTLSAuthentication")) => {
                of_kind(objects, "MeshTLSAuthentication", ref_ns)
                    .find(|a| a["metadata"]["name"] == r["name"])
                    .is_some_and(|a| {
                        super::str_list(&a["spec"]["identities"])
                            .iter()
                            .any(|p| identity_matches(p, &client))
                            || a["spec"]["identityRefs"].as_array().is_some_and(|refs| {
                                refs.iter().any(|i| {
                                    i["kind"] == "ServiceAccount"
                                        && i["name"].as_str()
                                            == Some(&request.source.service_account)
                                        && i["namespace"].as_str().unwrap_or(ref_ns)
                                            == request.source.namespace
                                })
                            })
                    })
            }
            ("" | "core", Some("ServiceAccount")) => {
                r["name"].as_str() == Some(&request.source.service_account)
                    && ref_ns == request.source.namespace
            }
            // NetworkAuthentication: client networks are not modelled.
            _ => false,
        }
    };
    let authorized = of_kind(objects, "AuthorizationPolicy", ns).any(|p| {
        let t = &p["spec"]["targetRef"];
        let targets = match (t["group"].as_str().unwrap_or(""), t["kind"].as_str()) {
            (GROUP, Some("Server")) => t["name"].as_str() == Some(server_name),
            ("" | "core", Some("Namespace")) => t["name"].as_str() == Some(ns),
            _ => false,
        };
        let refs = p["spec"]["requiredAuthenticationRefs"].as_array();
        // No required authentication: every client.
        targets && refs.is_some_and(|refs| refs.iter().all(authenticated))
    });
    authorized
        || server["spec"]["accessPolicy"]
            .as_str()
            .map_or(Some(DefaultPolicy::Deny), DefaultPolicy::parse)
            .is_some_and(DefaultPolicy::allows_mesh_client)
}

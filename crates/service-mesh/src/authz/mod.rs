//! What Istio (ambient mode, 1.29) decides for one request, from the AuthorizationPolicies in the
//! cluster: a pure evaluator, with the reasons.
//!
//! A request crosses up to two enforcement points:
//!
//! 1. the **waypoint**, when it is addressed to a Service bound to one (`istio.io/use-waypoint`)
//!    and comes from a mesh workload. It enforces the policies attached by `targetRefs` (kind
//!    `Service` = that Service, kind `Gateway` = the waypoint, kind `GatewayClass`
//!    `istio-waypoint` from the root namespace), L4 and L7, and sees the client's identity;
//! 2. the **destination ztunnel**, always. It enforces the policies without `targetRefs` (no
//!    `selector`: the whole namespace, or the whole mesh from the root namespace; `selector`: the
//!    pods it selects), L4 only, and sees the *waypoint's* identity when the request went through
//!    one. With `PILOT_AUTO_ALLOW_WAYPOINT_POLICY` istiod adds a synthetic ALLOW policy for the
//!    waypoint's identity to every workload behind it.
//!
//! At each point Istio's order applies: a matching CUSTOM policy hands the decision to its
//! provider, a matching DENY policy denies, no ALLOW policy allows, a matching ALLOW policy
//! allows, anything else is denied. An ALLOW policy without rules allows nothing; `rules: [{}]`
//! allows everything. ztunnel cannot see HTTP: istiod drops an ALLOW rule holding any L7
//! attribute (it never matches there), and keeps a DENY rule's L4 parts only — where a `to`,
//! `from` or `when` entry had nothing L4, the empty match it becomes is skipped by ztunnel, so a
//! DENY rule made only of L7 attributes never matches at ztunnel (istio/istio#61126).
//!
//! Inputs are built from live objects: policies as the JSON of the AuthorizationPolicy objects
//! (any owner), labels as maps. Policies the crate cannot interpret exactly (unknown fields,
//! values istiod's webhook refuses, a `selector` without labels) are [`NotUnderstood`]: they are
//! reported, and where they may apply the decision is [`Verdict::Undetermined`] rather than a
//! guess — unless the outcome is a deny that no policy could turn around.
//!
//! Sources, read and re-expressed (no code copied): istio `pilot/pkg/security/authz/`
//! (model, builder, matcher), `pilot/pkg/model/policyattachment.go`,
//! `pilot/pkg/serviceregistry/kube/controller/ambient/{authorization,policies,workloads}.go`,
//! ztunnel `src/rbac.rs` and `src/state.rs` (`assert_rbac`), istio/api
//! `security/v1beta1/authorization_policy.proto`, and istio.io `docs/ambient/usage/`.
//!
//! ```
//! use service_mesh::authz::{evaluate, Destination, Http, Mesh, Peer, Request, Target, Verdict, Waypoint};
//! let policy = serde_json::json!({
//!     "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
//!     "metadata": {"name": "p", "namespace": "prod"},
//!     "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "mydb"}],
//!              "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/prod/sa/myapp"]}}],
//!                         "to": [{"operation": {"methods": ["GET"]}}]}]}});
//! let target = Target {
//!     namespace: "prod".into(),
//!     service: Some("mydb".into()),
//!     service_account: "mydb".into(),
//!     waypoint: Some(Waypoint::named("prod", "prod-istio-beacon-k8s-waypoint")),
//!     auto_allow_waypoint: true,
//!     ..Target::default()
//! };
//! let request = Request {
//!     http: Some(Http::new("DELETE", "/api", "mydb")),
//!     ..Request::new(Peer::workload("prod", "myapp"), Destination::Service, 8080)
//! };
//! let eval = evaluate(&Mesh::default(), &[policy], &target, &request);
//! assert_eq!(eval.verdict(), Verdict::Deny);
//! assert!(eval.to_string().contains("method DELETE not in [GET]"));
//! ```

mod engine;
mod explain;
mod matchers;
mod policy;
mod rules;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::IpAddr;

pub use engine::evaluate;
pub use explain::{Closest, Decision, EnforcementPoint, Evaluation, Reason, RuleRef, Verdict};
pub use matchers::IpBlock;
pub use policy::{
    Action, Attachment, CondKey, Condition, NotUnderstood, Operation, Policy, Rule, Source,
    TargetRef, parse_policy,
};

/// Istio's default root namespace (`meshConfig.rootNamespace`).
pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";
/// The trust domain of SPIFFE identities (`meshConfig.trustDomain`); the beacon hard-codes it.
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";
/// The waypoint GatewayClass a root-namespace policy can target for every waypoint.
pub const WAYPOINT_GATEWAY_CLASS: &str = "istio-waypoint";

/// Mesh-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mesh {
    /// Policies here apply mesh-wide (default `istio-system`).
    pub root_namespace: String,
    /// Trust domain of the waypoint's identity and of sources that give none.
    pub trust_domain: String,
}

impl Default for Mesh {
    fn default() -> Self {
        Mesh {
            root_namespace: DEFAULT_ROOT_NAMESPACE.into(),
            trust_domain: DEFAULT_TRUST_DOMAIN.into(),
        }
    }
}

/// A waypoint (Gateway of class `istio-waypoint`). Its pods run as `service_account`, which for
/// istiod-deployed waypoints is the Gateway's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waypoint {
    /// The Gateway's namespace.
    pub namespace: String,
    /// The Gateway's name.
    pub name: String,
    /// The ServiceAccount its pods run as.
    pub service_account: String,
}

impl Waypoint {
    /// A waypoint deployed by istiod: its ServiceAccount is named after the Gateway.
    pub fn named(namespace: &str, name: &str) -> Waypoint {
        Waypoint {
            namespace: namespace.into(),
            name: name.into(),
            service_account: name.into(),
        }
    }
}

/// The destination workload (and Service, when the request addresses one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The destination's namespace.
    pub namespace: String,
    /// The Service's name, for Service-addressed requests (what `targetRefs` kind Service names).
    pub service: Option<String>,
    /// Labels of the destination pod (what `selector.matchLabels` selects).
    pub pod_labels: BTreeMap<String, String>,
    /// The pod's ServiceAccount.
    pub service_account: String,
    /// The waypoint the Service (or workload) is bound to, if any and ready: Service-addressed
    /// traffic from mesh workloads then goes through it. [`waypoint_ref_from_labels`] finds
    /// which one the labels ask for; the Service's `istio.io/WaypointBound` condition tells
    /// whether istiod bound it.
    pub waypoint: Option<Waypoint>,
    /// `PILOT_AUTO_ALLOW_WAYPOINT_POLICY` (istio-k8s `auto-allow-waypoint-policy`, default on):
    /// ztunnel gets a synthetic ALLOW for the waypoint's identity on this workload. Like any
    /// ALLOW policy, it also makes the workload deny what no ALLOW policy allows.
    pub auto_allow_waypoint: bool,
}

/// The client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A mesh workload: mTLS identity `<trust domain>/ns/<namespace>/sa/<service account>`.
    Workload {
        /// The client's namespace.
        namespace: String,
        /// The client's ServiceAccount.
        service_account: String,
        /// `None`: the mesh's trust domain.
        trust_domain: Option<String>,
    },
    /// Off-mesh, plaintext: no identity. It does not go through waypoints.
    Plaintext,
}

impl Peer {
    /// A mesh workload in the mesh's trust domain.
    pub fn workload(namespace: &str, service_account: &str) -> Peer {
        Peer::Workload {
            namespace: namespace.into(),
            service_account: service_account.into(),
            trust_domain: None,
        }
    }
}

/// What the client addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The Service (its VIP or DNS name): goes through the Service's waypoint, if any.
    Service,
    /// A pod IP directly: skips `waypoint-for: service` waypoints.
    Pod,
}

/// HTTP attributes of the request (absent for TCP).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Http {
    /// `:method`, as sent (matching is case-sensitive).
    pub method: String,
    /// As sent, possibly with a query string (matching ignores it, as Envoy does). The caller
    /// normalizes it as the mesh would (Istio's path normalization is not modelled).
    pub path: String,
    /// The `:authority` / `Host` header as sent.
    pub host: String,
    /// Request headers; names are matched case-insensitively.
    pub headers: BTreeMap<String, String>,
}

impl Http {
    /// A request without headers.
    pub fn new(method: &str, path: &str, host: &str) -> Http {
        Http {
            method: method.into(),
            path: path.into(),
            host: host.into(),
            headers: BTreeMap::new(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request (or TCP connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The client.
    pub source: Peer,
    /// The client's IP, as the destination ztunnel sees it on a direct connection; `None` =
    /// unknown (rules on IPs then evaluate as undetermined). A waypoint sees an internal address
    /// instead (istio/istio#46982), so IP rules at the waypoint stay undetermined.
    pub source_ip: Option<IpAddr>,
    /// Service or pod.
    pub destination: Destination,
    /// The destination IP, for `destination.ip` conditions; `None` = unknown.
    pub destination_ip: Option<IpAddr>,
    /// The port the client addressed: the Service port (what the waypoint compares) or, for
    /// pod-addressed traffic, the pod port.
    pub port: u16,
    /// The pod port the Service port maps to (what ztunnel compares); `None` = same as `port`.
    pub target_port: Option<u16>,
    /// `None`: TCP (the waypoint then applies its TCP rules).
    pub http: Option<Http>,
}

impl Request {
    /// A TCP request with unknown IPs; set the other fields with struct update syntax.
    pub fn new(source: Peer, destination: Destination, port: u16) -> Request {
        Request {
            source,
            source_ip: None,
            destination,
            destination_ip: None,
            port,
            target_port: None,
            http: None,
        }
    }
}

/// The waypoint `(namespace, name)` an object's labels ask for (istiod `getUseWaypoint` and
/// `fetchWaypointForTarget`): `istio.io/use-waypoint` on the object (Service or pod), else on its
/// Namespace; the value `none` opts out; `istio.io/use-waypoint-namespace` (next to it) names
/// the waypoint's namespace, else the object's. Whether istiod actually bound it (Gateway ready,
/// `allowedRoutes` admitting the namespace, `istio.io/waypoint-for` covering the traffic) is for
/// the caller to check.
pub fn waypoint_ref_from_labels(
    object_namespace: &str,
    object_labels: &BTreeMap<String, String>,
    namespace_labels: &BTreeMap<String, String>,
) -> Option<(String, String)> {
    const USE: &str = "istio.io/use-waypoint";
    const USE_NS: &str = "istio.io/use-waypoint-namespace";
    for labels in [object_labels, namespace_labels] {
        if let Some(name) = labels.get(USE) {
            if name == "none" {
                return None;
            }
            let ns = labels
                .get(USE_NS)
                .cloned()
                .unwrap_or_else(|| object_namespace.to_string());
            return Some((ns, name.clone()));
        }
    }
    None
}

//! Linkerd 2.20: one `Server` (policy.linkerd.io/v1beta3) per app and port, shared by every
//! client. Its port-level clients get one `MeshTLSAuthentication` (v1alpha1) listing their
//! identities and one `AuthorizationPolicy` (v1alpha1) targeting the Server, all three named
//! `<beacon-app>-<beacon-model>-<app>-<port>` ([`super::object_name`]). HTTP rules get
//! `HTTPRoute`s (policy.linkerd.io/v1beta3) whose parent is that Server, each with an
//! `AuthorizationPolicy` targeting the route and a `MeshTLSAuthentication` per distinct set of
//! clients (`…-<port>-http-<hash of the set>`, one route per set, split in several when a set
//! has more than 16 rules × 8 matches, the CRD's `maxItems`).
//!
//! What is said exactly: sources (mTLS identity
//! `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`), the app's pods
//! (`podSelector` `app.kubernetes.io/name: <app>`), ports, and on a port:
//! - any connection (a port-only endpoint of a policy without HTTP endpoints): the Server's
//!   authorization;
//! - any HTTP request (a port-only endpoint next to HTTP endpoints, which Istio opens to HTTP
//!   only; or paths `*` without methods): an authorization on the catch-all route
//!   (`PathPrefix /`), which every Server with routes gets, so that requests no other route
//!   matches are still routed (a Server with routes answers a request matching none of them
//!   with 404, whoever the client);
//! - methods on any path (`method` + `PathPrefix /`).
//!
//! Paths are rendered (Istio `/a` → `Exact`, `/a*`, `*.png` → an anchored, escaped
//! `RegularExpression`), but reported as narrowed: Linkerd authorizes a request on the one
//! best-matching route only, and a full-path match of another client's route on the same port
//! ties with this client's (ties go to the oldest route), so only a subset of what was asked is
//! guaranteed. Each route is authorized for the clients whose every request it can match is
//! theirs (its atom — method or any × path pattern — lies inside one of theirs), so whichever
//! route wins, it never allows more than Istio; for each method-only atom and each path atom
//! without a method, the route `method × path` is added, which outranks both, so method-only
//! clients keep exactly their access next to any path clients. Not said at all: "any port" (a
//! Server is one port), hosts (route `hostnames` follow Gateway API rules — DNS names, `*.` a
//! whole first label, no port — not Istio's host matching, and a route with hostnames outranks
//! every route without), Istio path templates (`{*}`, `{**}`), a regex longer than the CRD's
//! 1024 characters, pods chosen by another selector (a second Server on the same pod port is
//! skipped by Linkerd: "Port already matched by another server"), a Service other than the
//! app's own. Endpoints saying them are dropped (the policy is narrowed, or refused when none is
//! left). Note: a Server with routes no longer has Linkerd's default probe routes, so kubelet
//! probes on that port are denied unless authorized otherwise.
//!
//! The evaluator follows linkerd/linkerd2 `version-2.20`
//! (`eadc1acf79ad2e766afbdceadb77f1594296fd77`): `policy-controller/k8s/index/src/inbound/index.rs`
//! (a pod port is served by the oldest Server selecting the pod on that port — by creation
//! time, then name; a port without a Server gets the default policy; a Server authorizes what
//! an AuthorizationPolicy targeting it (or its Namespace) authorizes, else its `accessPolicy`,
//! default `deny`; `http_routes`: the routes whose parent is the Server and accepted by it,
//! else the default route; `route_client_authzs`: the policies targeting each route),
//! `policy-controller/k8s/index/src/inbound/routes.rs` (a parentRef to a Server in another
//! namespace, or with a port or section, voids the route), `policy-controller/k8s/status/src/index.rs`
//! (`parent_condition_server`: accepted when the Server exists and no GRPCRoute shares it),
//! `policy-controller/k8s/index/src/routes/http.rs` (`Exact` and `PathPrefix` must be absolute),
//! `policy-controller/grpc/src/inbound/http.rs` (`to_route_list`: routes ordered by creation
//! time, then name), `policy-controller/k8s/index/src/inbound/authorization_policy.rs` (every
//! `requiredAuthenticationRefs` entry must be satisfied; a missing referent voids the
//! authorization), `policy-controller/core/src/identity_match.rs` (`*`, `*.suffix`, exact)
//! and `k8s/index/src/defaults.rs` (default policies); and linkerd/linkerd2-proxy `v2.359.0`
//! (`.proxy-version` at that tag; `faa9f7a56a26fd877f2361e6a41c112ae61ab007`):
//! `linkerd/proxy/server-policy/src/lib.rs` and `http.rs` (a route's authorizations are its own
//! followed by the Server's; a connection that is not HTTP gets the Server's only),
//! `linkerd/app/inbound/src/policy/http.rs` (no matching route: 404; the matched route's
//! authorizations decide), `linkerd/http/route/src/lib.rs` (`find`: the best rule of each route,
//! then the best route; on a tie the first wins) and `linkerd/http/route/src/http/match.rs`,
//! `match/path.rs` (a match ranks by matched path length — an exact or regex match is the whole
//! path, a prefix its length without trailing `/`; then headers, query parameters, method;
//! `PathPrefix` is segment-wise; a regex must match the whole path; methods compare
//! case-sensitively).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    Intent, MeshRequest, Outcome, PathMatch, Rendered, keep_paths, labels_match, narrow_rules,
    object_name,
};
use crate::model::MeshPolicy;

pub const SERVER_API: &str = "policy.linkerd.io/v1beta3";
pub const ROUTE_API: &str = "policy.linkerd.io/v1beta3";
pub const POLICY_API: &str = "policy.linkerd.io/v1alpha1";
const GROUP: &str = "policy.linkerd.io";
/// HTTPRoute v1beta3: `rules` maxItems 16, `rules[].matches` maxItems 8, path `value`
/// maxLength 1024.
const MAX_RULES: usize = 16;
const MAX_MATCHES: usize = 8;
const MAX_PATH_VALUE: usize = 1024;

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

/// An Istio path pattern Linkerd can match.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Pat {
    Any,
    Exact(String),
    Prefix(String),
    Suffix(String),
}

impl Pat {
    fn of(p: &PathMatch) -> Option<Pat> {
        Some(match p {
            PathMatch::Any => Pat::Any,
            PathMatch::Exact(s) => Pat::Exact(s.clone()),
            PathMatch::Prefix(s) => Pat::Prefix(s.clone()),
            PathMatch::Suffix(s) => Pat::Suffix(s.clone()),
            PathMatch::Other(_) => return None,
        })
    }

    /// The HTTPRoute path match: `PathPrefix /` for any path, `Exact` for an absolute exact
    /// path, else an anchored regex of the escaped consumer data (`(?s)`: `.` matches a newline too).
    fn to_match(&self) -> Value {
        let esc = |s: &str| regex::escape(s);
        match self {
            Pat::Any => json!({"type": "PathPrefix", "value": "/"}),
            Pat::Exact(e) if e.starts_with('/') => json!({"type": "Exact", "value": e}),
            Pat::Exact(e) => json!({"type": "RegularExpression", "value": format!("^{}$", esc(e))}),
            Pat::Prefix(p) => {
                json!({"type": "RegularExpression", "value": format!("(?s)^{}.*$", esc(p))})
            }
            Pat::Suffix(s) => {
                json!({"type": "RegularExpression", "value": format!("(?s)^.*{}$", esc(s))})
            }
        }
    }

    /// Whether every path `self` matches, `other` matches (sound, not complete).
    fn within(&self, other: &Pat) -> bool {
        match (self, other) {
            (_, Pat::Any) => true,
            (Pat::Any, _) => false,
            (Pat::Exact(e), Pat::Exact(f)) => e == f,
            (Pat::Exact(e), Pat::Prefix(f)) => e.starts_with(f.as_str()),
            (Pat::Exact(e), Pat::Suffix(f)) => e.ends_with(f.as_str()),
            (Pat::Prefix(p), Pat::Prefix(f)) => p.starts_with(f.as_str()),
            (Pat::Suffix(s), Pat::Suffix(f)) => s.ends_with(f.as_str()),
            _ => false,
        }
    }
}

/// One HTTP match: a method (`None`: any) and a path pattern.
type Atom = (Option<&'static str>, Pat);

fn atom_within((m, p): &Atom, (n, q): &Atom) -> bool {
    (n.is_none() || m == n) && p.within(q)
}

/// The path patterns of a rule Linkerd can say: `Ok(None)` for any path.
fn rule_paths(paths: &[PathMatch]) -> Result<(Option<Vec<PathMatch>>, Option<String>), String> {
    if paths.contains(&PathMatch::Any) {
        return Ok((None, None));
    }
    let (kept, note) = keep_paths(paths, |p| {
        Pat::of(p).is_some_and(|p| {
            p.to_match()["value"]
                .as_str()
                .is_some_and(|v| v.len() <= MAX_PATH_VALUE)
        })
    })?;
    Ok((Some(kept), note))
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
        if r.ports.is_none() {
            return Err("a Linkerd Server is one port: 'any port' cannot be said".into());
        }
        if r.hosts.is_some() {
            return Err(
                "hosts: Linkerd route hostnames follow Gateway API hostname rules, not Istio's host matching (not rendered)".into(),
            );
        }
        let Some(paths) = &r.paths else {
            return Ok((r.clone(), None));
        };
        let (paths, note) = rule_paths(paths)?;
        let specific = paths.is_some();
        let rule = super::Rule { paths, ..r.clone() };
        let tie = specific.then(|| {
            "paths: Linkerd authorizes a request on the one best-matching HTTPRoute, and another client's route matching the same whole path ties with this one (the older route wins): a subset is guaranteed".to_string()
        });
        let note = match (note, tie) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        Ok((rule, note))
    })
}

/// Who may do what on one Server (app and port).
#[derive(Default)]
struct Access {
    /// Any connection: the Server's authorization.
    tcp: BTreeSet<String>,
    /// Any HTTP request.
    http: BTreeSet<String>,
    /// Some HTTP requests.
    atoms: BTreeMap<String, BTreeSet<Atom>>,
}

impl Access {
    fn add(&mut self, id: &str, rule: &super::Rule, tcp: bool) {
        if !rule.is_l7() {
            if tcp {
                self.tcp.insert(id.into());
            } else {
                self.http.insert(id.into());
            }
            return;
        }
        let methods: Vec<Option<&'static str>> = match &rule.methods {
            None => vec![None],
            Some(ms) => ms.iter().map(|m| Some(m.value())).collect(),
        };
        let paths: Vec<Pat> = match &rule.paths {
            None => vec![Pat::Any],
            Some(ps) => ps.iter().filter_map(Pat::of).collect(),
        };
        for m in &methods {
            for p in &paths {
                if m.is_none() && *p == Pat::Any {
                    self.http.insert(id.into());
                } else {
                    self.atoms
                        .entry(id.into())
                        .or_default()
                        .insert((*m, p.clone()));
                }
            }
        }
    }

    fn has_routes(&self) -> bool {
        !self.http.is_empty() || !self.atoms.is_empty()
    }

    /// The routes: each atom (closed under method-only × method-less path), with the clients
    /// whose access contains it, grouped by that set of clients.
    fn route_groups(&self) -> BTreeMap<BTreeSet<String>, BTreeSet<Atom>> {
        let mut all: BTreeSet<Atom> = self.atoms.values().flatten().cloned().collect();
        all.insert((None, Pat::Any));
        let methods: Vec<&'static str> = all
            .iter()
            .filter_map(|(m, p)| (*p == Pat::Any).then_some(*m).flatten())
            .collect();
        let paths: Vec<Pat> = all
            .iter()
            .filter(|(m, p)| m.is_none() && *p != Pat::Any)
            .map(|(_, p)| p.clone())
            .collect();
        for m in &methods {
            for p in &paths {
                all.insert((Some(*m), p.clone()));
            }
        }
        let mut groups: BTreeMap<BTreeSet<String>, BTreeSet<Atom>> = BTreeMap::new();
        for a in all {
            let mut ids = self.http.clone();
            for (id, atoms) in &self.atoms {
                if atoms.iter().any(|b| atom_within(&a, b)) {
                    ids.insert(id.clone());
                }
            }
            groups.entry(ids).or_default().insert(a);
        }
        groups
    }
}

/// Renders the policies: per-policy admission, then one Server (+ authentication and
/// authorization) per app and port with every admitted client of that port, and its routes.
pub fn render(
    options: &LinkerdOptions,
    beacon_app: &str,
    beacon_model: &str,
    policies: &[MeshPolicy],
) -> Rendered {
    let mut servers: BTreeMap<(String, String, u16), Access> = BTreeMap::new();
    let mut out = Rendered::admit_each(policies, admit, |intent, rules, app| {
        let id = options.identity(&intent.source.namespace, &intent.source.service_account);
        for r in &rules {
            for port in r.ports.iter().flatten() {
                servers
                    .entry((intent.namespace.clone(), app.clone(), *port))
                    .or_default()
                    .add(&id, r, intent.tcp);
            }
        }
    });
    for ((ns, app, port), access) in servers {
        let port_s = port.to_string();
        let name = object_name(&[beacon_app, beacon_model, &app, &port_s], 253);
        let meta = |name: &str| json!({"name": name, "namespace": ns});
        out.objects.push(json!({
            "apiVersion": SERVER_API, "kind": "Server", "metadata": meta(&name),
            "spec": {
                "podSelector": {"matchLabels": {super::APP_LABEL: app}},
                "port": port,
                "accessPolicy": "deny",
            },
        }));
        let authorize = |out: &mut Rendered, authn: &str, target: &str, kind: &str| {
            out.objects.push(json!({
                "apiVersion": POLICY_API, "kind": "AuthorizationPolicy", "metadata": meta(target),
                "spec": {
                    "targetRef": {"group": GROUP, "kind": kind, "name": target},
                    "requiredAuthenticationRefs": [
                        {"group": GROUP, "kind": "MeshTLSAuthentication", "name": authn},
                    ],
                },
            }));
        };
        let authenticate = |out: &mut Rendered, name: &str, ids: &BTreeSet<String>| {
            out.objects.push(json!({
                "apiVersion": POLICY_API, "kind": "MeshTLSAuthentication", "metadata": meta(name),
                "spec": {"identities": ids.iter().collect::<Vec<_>>()},
            }));
        };
        if !access.tcp.is_empty() {
            authenticate(&mut out, &name, &access.tcp);
            authorize(&mut out, &name, &name, "Server");
        }
        if !access.has_routes() {
            continue;
        }
        for (ids, atoms) in access.route_groups() {
            let digest = hex::encode(Sha256::digest(
                ids.iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
                    .as_bytes(),
            ));
            let group = object_name(
                &[
                    beacon_app,
                    beacon_model,
                    &app,
                    &port_s,
                    "http",
                    &digest[..8],
                ],
                253,
            );
            let matches: Vec<Value> = atoms
                .iter()
                .map(|(m, p)| {
                    let mut v = json!({"path": p.to_match()});
                    if let Some(m) = m {
                        v["method"] = json!(m);
                    }
                    v
                })
                .collect();
            let rules: Vec<Value> = matches
                .chunks(MAX_MATCHES)
                .map(|c| json!({"matches": c}))
                .collect();
            let chunks: Vec<&[Value]> = rules.chunks(MAX_RULES).collect();
            if !ids.is_empty() {
                authenticate(&mut out, &group, &ids);
            }
            for (j, rules) in chunks.iter().enumerate() {
                let route = if chunks.len() == 1 {
                    group.clone()
                } else {
                    object_name(&[&group, &j.to_string()], 253)
                };
                out.objects.push(json!({
                    "apiVersion": ROUTE_API, "kind": "HTTPRoute", "metadata": meta(&route),
                    "spec": {
                        "parentRefs": [{"group": GROUP, "kind": "Server", "name": name}],
                        "rules": rules,
                    },
                }));
                if !ids.is_empty() {
                    authorize(&mut out, &group, &route, "HTTPRoute");
                }
            }
        }
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
    /// A `config.linkerd.io/default-inbound-policy` value.
    pub fn parse(s: &str) -> Option<DefaultPolicy> {
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
    // Policies targeting `target` (a Server, or a route by name) authorize the client.
    let authorized_by = |kind: &str, name: &str| {
        of_kind(objects, "AuthorizationPolicy", ns).any(|p| {
            let t = &p["spec"]["targetRef"];
            let targets = match (t["group"].as_str().unwrap_or(""), t["kind"].as_str()) {
                (GROUP, Some(k)) if k.eq_ignore_ascii_case(kind) => {
                    t["name"].as_str() == Some(name)
                }
                ("" | "core", Some("Namespace")) => {
                    kind == "Server" && t["name"].as_str() == Some(ns)
                }
                _ => false,
            };
            let refs = p["spec"]["requiredAuthenticationRefs"].as_array();
            targets && refs.is_some_and(|refs| refs.iter().all(authenticated))
        })
    };
    let server_authorized = authorized_by("Server", server_name)
        || server["spec"]["accessPolicy"]
            .as_str()
            .map_or(Some(DefaultPolicy::Deny), DefaultPolicy::parse)
            .is_some_and(DefaultPolicy::allows_mesh_client);
    // Not HTTP: the Server's authorizations (a detected-TCP connection).
    let Some(http) = &request.http else {
        return server_authorized;
    };
    // The routes attached to the Server; none: the default route (every request, the
    // Server's authorizations).
    let mut routes: Vec<&Value> = of_kind(objects, "HTTPRoute", ns)
        .filter(|r| route_parent_is(r, ns, server_name) && route_valid(r))
        .collect();
    if routes.is_empty() {
        return server_authorized;
    }
    // `to_route_list`: the oldest first (no timestamp last), then by name.
    routes.sort_by_key(|r| {
        let ts = r["metadata"]["creationTimestamp"].as_str();
        (
            ts.is_none(),
            ts.unwrap_or_default().to_string(),
            r["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    });
    // `find`: each route's best rule, then the best route; the first of equals wins.
    let mut best: Option<(RouteRank, &str)> = None;
    for r in routes {
        let Some(rank) = route_rank(r, http) else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| rank > *b) {
            best = Some((rank, r["metadata"]["name"].as_str().unwrap_or_default()));
        }
    }
    // No route matches: 404. Else the route's authorizations, then the Server's.
    best.is_some_and(|(_, route)| authorized_by("HTTPRoute", route) || server_authorized)
}

/// Whether a route's `parentRefs` name the Server, validly (`inbound/routes.rs`: a Server in
/// another namespace, or a port or section voids the whole route, which then attaches to
/// nothing).
fn route_parent_is(route: &Value, ns: &str, server: &str) -> bool {
    let parents: Vec<&Value> = route["spec"]["parentRefs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|p| {
                    p["kind"].as_str() == Some("Server")
                        && p["group"].as_str().unwrap_or(GROUP) == GROUP
                        && p["name"].as_str().is_some_and(|n| !n.is_empty())
                })
                .collect()
        })
        .unwrap_or_default();
    let valid = parents.iter().all(|p| {
        p["namespace"].as_str().is_none_or(|n| n == ns)
            && p.get("port").is_none_or(Value::is_null)
            && p.get("sectionName").is_none_or(Value::is_null)
    });
    valid && parents.iter().any(|p| p["name"].as_str() == Some(server))
}

/// `routes/http.rs` `path_match`: `Exact` and `PathPrefix` values must be absolute, a regex must
/// parse; otherwise the route is ignored whole ("Ignoring HTTPRoute").
fn route_valid(route: &Value) -> bool {
    route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["matches"].as_array().into_iter().flatten())
        .all(|m| {
            let value = m["path"]["value"].as_str().unwrap_or("/");
            match m["path"]["type"].as_str().unwrap_or("PathPrefix") {
                "RegularExpression" => regex_of(value).is_some(),
                _ => value.starts_with('/'),
            }
        })
}

thread_local! {
    static REGEXES: std::cell::RefCell<BTreeMap<String, Option<regex::Regex>>> =
        const { std::cell::RefCell::new(BTreeMap::new()) };
}

/// The compiled regex (Linkerd parses route regexes with the `regex` crate), cached.
fn regex_of(value: &str) -> Option<regex::Regex> {
    REGEXES.with(|c| {
        c.borrow_mut()
            .entry(value.to_string())
            .or_insert_with(|| regex::Regex::new(value).ok())
            .clone()
    })
}

/// A match's rank (`RequestMatch` order): path length matched, header and query parameter
/// matches, method. Hostnames, headers and query parameters are not rendered by the backend and
/// not modelled: a route or match with them matches nothing here.
type RouteRank = (usize, usize, usize, bool);

fn route_rank(route: &Value, http: &super::HttpRequest) -> Option<RouteRank> {
    if route["spec"]["hostnames"]
        .as_array()
        .is_some_and(|h| !h.is_empty())
    {
        return None;
    }
    let default = vec![json!({"path": {"type": "PathPrefix", "value": "/"}})];
    let mut best: Option<RouteRank> = None;
    for rule in route["spec"]["rules"].as_array().into_iter().flatten() {
        let matches = rule["matches"].as_array().unwrap_or(&default);
        let rank = if matches.is_empty() {
            // `find`: a rule without matches matches every request, as `PathPrefix /`.
            Some((1, 0, 0, false))
        } else {
            matches.iter().filter_map(|m| match_rank(m, http)).max()
        };
        if let Some(rank) = rank
            && best.is_none_or(|b| rank > b)
        {
            best = Some(rank);
        }
    }
    best
}

fn match_rank(m: &Value, http: &super::HttpRequest) -> Option<RouteRank> {
    let nonempty = |k: &str| m[k].as_array().is_some_and(|a| !a.is_empty());
    if nonempty("headers") || nonempty("queryParams") {
        return None;
    }
    let method = match m["method"].as_str() {
        Some(method) if method != http.method => return None,
        Some(_) => true,
        None => false,
    };
    let path = &http.path;
    let value = m["path"]["value"].as_str().unwrap_or("/");
    let len = match m["path"]["type"].as_str().unwrap_or("PathPrefix") {
        "Exact" => (value == path).then_some(value.len())?,
        "RegularExpression" => {
            let re = regex_of(value)?;
            let found = re.find(path)?;
            (found.start() == 0 && found.end() == path.len()).then_some(path.len())?
        }
        _ if value == "/" => 1,
        _ => {
            let prefix = value.trim_end_matches('/');
            let rest = path.trim_end_matches('/').strip_prefix(prefix)?;
            (rest.is_empty() || rest.starts_with('/')).then_some(prefix.len())?
        }
    };
    Some((len, 0, 0, method))
}

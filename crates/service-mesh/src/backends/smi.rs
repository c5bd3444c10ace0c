//! SMI (osm-edge / FSM): per destination app and source, one `TrafficTarget`
//! (access.smi-spec.io/v1alpha3) from the source's ServiceAccount to the app's, with a
//! `TCPRoute` (specs.smi-spec.io/v1alpha4) of the ports open to any traffic and an
//! `HTTPRouteGroup` (specs.smi-spec.io/v1alpha4) of the HTTP matches (`pathRegex` × `methods`),
//! all three named `<beacon-app>-<beacon-model>-<app>-<source-app>-<source-ns>`
//! ([`super::object_name`]), in the app's namespace (OSM's validator requires the TrafficTarget
//! there).
//!
//! Exact: sources (`{kind: ServiceAccount, name, namespace}`), the app (destination = its
//! ServiceAccount), ports without HTTP attributes (TCPRoute), methods, and Istio's exact,
//! prefix, suffix and `*` paths (as anchored regexes). Not expressible: hosts (SMI matches
//! headers, not the authority), HTTP attributes *and* ports together (a TrafficTarget's rules
//! are ORed: an HTTPRouteGroup applies on every port), path templates, targets other than the
//! whole app (SMI only knows ServiceAccounts). Endpoints or paths saying them are dropped.
//!
//! The evaluator follows the SMI traffic-access v1alpha3 and traffic-specs v1alpha4 specs
//! (servicemeshinterface/smi-spec `apis/traffic-access/v1alpha3/traffic-access.md`,
//! `apis/traffic-specs/v1alpha4/traffic-specs.md`) as OSM v1.2.4 (`82651008921837b2f21113e4604a807c3f68a97c`)
//! and FSM v1.5.1 enforce them: default deny with permissive mode off; a TrafficTarget in the
//! destination's namespace (`pkg/validator/validators.go`) allows its sources to the pods of its
//! destination ServiceAccount on any of its rules; a TCPRoute rule matches a connection on one
//! of its ports (no ports: any); an HTTPRouteGroup rule matches an HTTP request matching one of
//! the named matches (none named: all) — `pathRegex` as an RE2 regex over the whole path
//! and each method as an RE2 regex over `:method` (`*` = `.*`): OSM
//! `pkg/envoy/rds/route/route_config.go` `buildRoute` / `getHeadersForRoute` (Envoy
//! `safe_regex` route and header matches are full matches); header matches are not modelled
//! (a match with headers never matches here). OSM would turn a `host` header match into an
//! `:authority` regex, but Istio's host matching (case-insensitive, ports) is not reproduced,
//! so hosts stay refused.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{
    Identity, Intent, MeshRequest, Outcome, PathMatch, Rendered, keep_paths, narrow_rules,
    object_name, str_list,
};
use crate::model::MeshPolicy;

pub const TRAFFIC_TARGET_API: &str = "access.smi-spec.io/v1alpha3";
pub const SPECS_API: &str = "specs.smi-spec.io/v1alpha4";

/// Admits one intent: the rules SMI can say (paths narrowed to those with a regex), and the
/// outcome.
pub fn admit(intent: &Intent) -> (Vec<super::Rule>, Outcome) {
    if intent.target.whole_app().is_none() {
        return (
            vec![],
            Outcome::Refused(
                "SMI destinations are ServiceAccounts (every pod and Service of an app): a Service other than the app's own, or pods chosen by another selector, cannot be said".into(),
            ),
        );
    }
    narrow_rules(intent, |r| {
        if r.hosts.is_some() {
            return Err("SMI cannot match hosts".into());
        }
        if r.is_l7() && r.ports.is_some() {
            return Err("SMI HTTP routes cannot be limited to ports".into());
        }
        if !r.is_l7() && !intent.tcp {
            return Err(
                "next to HTTP endpoints Istio opens these ports to HTTP only; an SMI TCPRoute would open them to any traffic, an HTTP route to every port".into(),
            );
        }
        let mut r = r.clone();
        let mut note = None;
        if let Some(paths) = &r.paths {
            let (kept, n) = keep_paths(paths, |p| p.to_regex().is_some())?;
            r.paths = Some(kept);
            note = n;
        }
        Ok((r, note))
    })
}

#[derive(Default)]
struct PerSource {
    tcp_ports: BTreeSet<u16>,
    /// (pathRegex, methods)
    http: BTreeSet<(String, Vec<String>)>,
}

/// Renders the policies: per-policy admission, then per (app, source) one TrafficTarget with
/// its TCPRoute and HTTPRouteGroup.
pub fn render(beacon_app: &str, beacon_model: &str, policies: &[MeshPolicy]) -> Rendered {
    let mut groups: BTreeMap<(String, String, Identity), PerSource> = BTreeMap::new();
    let mut out = Rendered::admit_each(policies, admit, |intent, rules, app| {
        let g = groups
            .entry((intent.namespace.clone(), app, intent.source.clone()))
            .or_default();
        for r in rules {
            if !r.is_l7() {
                g.tcp_ports.extend(r.ports.iter().flatten());
                continue;
            }
            let methods: Vec<String> = match &r.methods {
                None => vec!["*".into()],
                Some(m) => m.iter().map(|m| m.value().to_string()).collect(),
            };
            for path in r.paths.unwrap_or_else(|| vec![PathMatch::Any]) {
                if let Some(re) = path.to_regex() {
                    g.http.insert((re, methods.clone()));
                }
            }
        }
    });
    for ((ns, app, src), g) in groups {
        let name = object_name(
            &[
                beacon_app,
                beacon_model,
                &app,
                &src.service_account,
                &src.namespace,
            ],
            253,
        );
        let meta = json!({"name": name, "namespace": ns});
        let mut rules = vec![];
        if !g.tcp_ports.is_empty() {
            out.objects.push(json!({
                "apiVersion": SPECS_API, "kind": "TCPRoute", "metadata": meta,
                "spec": {"matches": {"ports": g.tcp_ports.iter().collect::<Vec<_>>()}},
            }));
            rules.push(json!({"kind": "TCPRoute", "name": name}));
        }
        if !g.http.is_empty() {
            let matches: Vec<Value> = g
                .http
                .iter()
                .enumerate()
                .map(|(i, (re, methods))| {
                    json!({"name": format!("m{i}"), "pathRegex": re, "methods": methods})
                })
                .collect();
            let names: Vec<Value> = matches.iter().map(|m| m["name"].clone()).collect();
            out.objects.push(json!({
                "apiVersion": SPECS_API, "kind": "HTTPRouteGroup", "metadata": meta,
                "spec": {"matches": matches},
            }));
            rules.push(json!({"kind": "HTTPRouteGroup", "name": name, "matches": names}));
        }
        out.objects.push(json!({
            "apiVersion": TRAFFIC_TARGET_API, "kind": "TrafficTarget", "metadata": meta,
            "spec": {
                "destination": {"kind": "ServiceAccount", "name": app, "namespace": ns},
                "rules": rules,
                "sources": [{"kind": "ServiceAccount", "name": src.service_account, "namespace": src.namespace}],
            },
        }));
    }
    out
}

fn object<'a>(
    objects: &'a [Value],
    api: &str,
    kind: &str,
    ns: &str,
    name: &str,
) -> Option<&'a Value> {
    objects.iter().find(|o| {
        o["apiVersion"] == api
            && o["kind"] == kind
            && o["metadata"]["namespace"].as_str() == Some(ns)
            && o["metadata"]["name"].as_str() == Some(name)
    })
}

fn full_match(re: &str, s: &str) -> bool {
    regex::Regex::new(&format!("^(?:{re})$")).is_ok_and(|r| r.is_match(s))
}

/// Whether OSM/FSM (SMI mode, permissive off) let the request reach the app's pods.
pub fn evaluate(objects: &[Value], request: &MeshRequest) -> bool {
    let ns = request.namespace.as_str();
    objects
        .iter()
        .filter(|t| {
            let d = &t["spec"]["destination"];
            t["apiVersion"] == TRAFFIC_TARGET_API
                && t["kind"] == "TrafficTarget"
                && t["metadata"]["namespace"].as_str() == Some(ns)
                && d["kind"] == "ServiceAccount"
                && d["name"].as_str() == Some(&request.app)
                && d["namespace"].as_str().is_none_or(|n| n == ns)
        })
        .filter(|t| {
            t["spec"]["sources"].as_array().is_some_and(|s| {
                s.iter().any(|s| {
                    s["kind"] == "ServiceAccount"
                        && s["name"].as_str() == Some(&request.source.service_account)
                        && s["namespace"].as_str().unwrap_or(ns) == request.source.namespace
                })
            })
        })
        .flat_map(|t| t["spec"]["rules"].as_array().into_iter().flatten())
        .any(|rule| {
            let name = rule["name"].as_str().unwrap_or_default();
            match rule["kind"].as_str() {
                Some("TCPRoute") => object(objects, SPECS_API, "TCPRoute", ns, name).is_some_and(
                    |r| match r["spec"]["matches"]["ports"].as_array() {
                        None => true,
                        Some(p) if p.is_empty() => true,
                        Some(p) => p
                            .iter()
                            .any(|p| p.as_u64() == Some(u64::from(request.port))),
                    },
                ),
                Some("HTTPRouteGroup") => {
                    let (Some(http), Some(group)) = (
                        &request.http,
                        object(objects, SPECS_API, "HTTPRouteGroup", ns, name),
                    ) else {
                        return false;
                    };
                    let wanted = str_list(&rule["matches"]);
                    group["spec"]["matches"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|m| {
                            let named = wanted.is_empty()
                                || m["name"].as_str().is_some_and(|n| wanted.contains(&n));
                            let path = m["pathRegex"]
                                .as_str()
                                .is_none_or(|re| re.is_empty() || full_match(re, &http.path));
                            let methods = str_list(&m["methods"]);
                            let method = methods.is_empty()
                                || methods.iter().any(|x| *x == "*" || *x == http.method);
                            named && path && method && m.get("headers").is_none()
                        })
                }
                _ => false,
            }
        })
}

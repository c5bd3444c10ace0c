//! One relation, any mesh: the consumer policies of the `service_mesh` relation rendered for
//! Istio, SMI (osm-edge / FSM), Consul and Linkerd — **never wider than asked**.
//!
//! A [`MeshPolicy`] (already admitted by the beacon: its target is the consumer's own app) is
//! first read into a mesh-neutral [`Intent`]: who (namespace + ServiceAccount = app), what (the
//! app's Service, or pods by selector), and a list of [`Rule`]s (ports, methods, paths, hosts;
//! `None` = any, as Istio reads an absent or empty list). Each backend then
//!
//! 1. admits every policy **on its own** ([`Outcome::Exact`], [`Outcome::Narrowed`] when some
//!    of its rules or paths could not be said and were dropped — what remains allows a subset
//!    of what was asked — or [`Outcome::Refused`]), and only then
//! 2. aggregates the admitted parts by target (Consul's one `ServiceIntentions` per
//!    destination, Linkerd's one `Server` per app and port, SMI's route groups and
//!    `TrafficTarget`s per source), so a refused policy never drops another one.
//!
//! Objects are JSON values with `apiVersion`, `kind`, `metadata.{name, namespace}` and `spec`;
//! the caller adds its ownership labels. Names are deterministic DNS-1123 subdomains
//! ([`object_name`]).
//!
//! Each backend module also has an evaluator of its objects (`evaluate`), written from that
//! mesh's code and documentation, which the property tests compare with Istio's
//! ([`crate::authz`]) on the Istio rendering.
//!
//! The comparison ("reachability"), and the assumptions every non-Istio backend shares:
//! - A Juju app `A` in model `M` runs as ServiceAccount `A` in namespace `M`, its pods carry
//!   `app.kubernetes.io/name: A`, and its Service is named `A`. A policy for a Service of
//!   another name (`target_service` ≠ app) is refused by SMI, Consul and Linkerd: they
//!   authorize per workload (SA, Consul service, pod port), which would open every Service.
//! - Istio app policies are enforced at the waypoint on the Service port; Linkerd Servers on
//!   the pod port: the beacon must only use Linkerd where Service port = container port
//!   (the Juju default for charms that open their own ports).
//! - Default-deny where a policy is rendered: OSM/FSM with permissive mode off, Consul with a
//!   deny default (ACL default policy or a `*` deny intention), Linkerd with
//!   `config.linkerd.io/default-inbound-policy: deny` on the namespace for ports without a
//!   Server (a Server itself denies what it does not authorize).

pub mod consul;
pub mod istio;
pub mod linkerd;
pub mod smi;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{LabelMap, MeshPolicy, Method, PolicyTargetType};

/// The label the beacon selects an app's pods by (and Istio unit policies default to).
pub const APP_LABEL: &str = "app.kubernetes.io/name";

/// Which mesh to render for, with its settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Backend {
    /// Istio AuthorizationPolicies, byte for byte today's.
    #[default]
    Istio,
    /// SMI `access.smi-spec.io/v1alpha3` TrafficTarget + `specs.smi-spec.io/v1alpha4`
    /// HTTPRouteGroup / TCPRoute (osm-edge, FSM).
    Smi,
    /// Consul `consul.hashicorp.com/v1alpha1` ServiceIntentions.
    Consul(consul::ConsulOptions),
    /// Linkerd `policy.linkerd.io` Server and HTTPRoute (v1beta3), AuthorizationPolicy and
    /// MeshTLSAuthentication (v1alpha1).
    Linkerd(linkerd::LinkerdOptions),
}

impl Backend {
    /// The name used in config and status (`istio`, `smi`, `consul`, `linkerd`).
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Istio => "istio",
            Backend::Smi => "smi",
            Backend::Consul(_) => "consul",
            Backend::Linkerd(_) => "linkerd",
        }
    }

    /// The backend named `name`, with default settings.
    pub fn from_name(name: &str) -> Option<Backend> {
        match name {
            "istio" => Some(Backend::Istio),
            "smi" => Some(Backend::Smi),
            "consul" => Some(Backend::Consul(consul::ConsulOptions::default())),
            "linkerd" => Some(Backend::Linkerd(linkerd::LinkerdOptions::default())),
            _ => None,
        }
    }

    /// `(apiVersion, kind, plural)` of every object kind this backend renders.
    pub fn kinds(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        match self {
            Backend::Istio => &[(
                "security.istio.io/v1",
                "AuthorizationPolicy",
                "authorizationpolicies",
            )],
            Backend::Smi => &[
                (smi::TRAFFIC_TARGET_API, "TrafficTarget", "traffictargets"),
                (smi::SPECS_API, "HTTPRouteGroup", "httproutegroups"),
                (smi::SPECS_API, "TCPRoute", "tcproutes"),
            ],
            Backend::Consul(_) => &[(
                consul::API_VERSION,
                "ServiceIntentions",
                "serviceintentions",
            )],
            Backend::Linkerd(_) => &[
                (linkerd::SERVER_API, "Server", "servers"),
                (linkerd::ROUTE_API, "HTTPRoute", "httproutes"),
                (
                    linkerd::POLICY_API,
                    "AuthorizationPolicy",
                    "authorizationpolicies",
                ),
                (
                    linkerd::POLICY_API,
                    "MeshTLSAuthentication",
                    "meshtlsauthentications",
                ),
            ],
        }
    }

    /// Renders `policies` (in the beacon's namespace `beacon_model`, the beacon app
    /// `beacon_app`): the objects, and one outcome per policy, in order.
    pub fn render(
        &self,
        beacon_app: &str,
        beacon_model: &str,
        policies: &[MeshPolicy],
    ) -> Rendered {
        match self {
            Backend::Istio => istio::render(beacon_app, beacon_model, policies),
            Backend::Smi => smi::render(beacon_app, beacon_model, policies),
            Backend::Consul(o) => consul::render(o, beacon_app, beacon_model, policies),
            Backend::Linkerd(o) => linkerd::render(o, beacon_app, beacon_model, policies),
        }
    }
}

/// What became of one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Rendered as asked: the mesh allows exactly what Istio would.
    Exact,
    /// Rendered with parts dropped (why): allows a subset of what was asked.
    Narrowed(String),
    /// Not rendered at all (why).
    Refused(String),
}

impl Outcome {
    /// Whether anything of the policy was rendered.
    pub fn rendered(&self) -> bool {
        !matches!(self, Outcome::Refused(_))
    }
}

/// A backend's rendering of a set of policies.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendered {
    /// The objects, in a deterministic order (no ownership labels).
    pub objects: Vec<Value>,
    /// One per input policy, in input order.
    pub outcomes: Vec<Outcome>,
}

impl Rendered {
    /// Step 1 of every backend (see the module doc): each policy read into an [`Intent`] and
    /// admitted on its own by `admit`, its outcome recorded in input order; `aggregate` gets
    /// each rendered one (the intent, the rules the mesh can say, the target app) to build
    /// the objects from afterwards.
    pub(crate) fn admit_each(
        policies: &[MeshPolicy],
        admit: impl Fn(&Intent) -> (Vec<Rule>, Outcome),
        mut aggregate: impl FnMut(&Intent, Vec<Rule>, String),
    ) -> Rendered {
        let mut out = Rendered::default();
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
                aggregate(&intent, rules, app);
            }
            out.outcomes.push(outcome);
        }
        out
    }
}

// === The mesh-neutral intent ===

/// A workload identity: ServiceAccount `service_account` in `namespace` (a Juju app = its SA).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    pub namespace: String,
    pub service_account: String,
}

/// What a policy opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentTarget {
    /// The Service `service` (target type `app`, L4 + L7). `app` is the target app, if named.
    Service {
        app: Option<String>,
        service: String,
    },
    /// Pods (target type `unit`, L4 only) selected by `selector`; empty = every pod of the
    /// namespace. `app` is set when the selector is exactly the app's own
    /// `app.kubernetes.io/name: <app>`, i.e. every pod of the app.
    Pods {
        app: Option<String>,
        selector: LabelMap,
    },
}

impl IntentTarget {
    /// The app whose every workload (SA, Service, pods) the target is exactly, if any: what
    /// the workload-level meshes can express.
    pub fn whole_app(&self) -> Option<&str> {
        match self {
            IntentTarget::Service {
                app: Some(app),
                service,
            } if app == service => Some(app),
            IntentTarget::Pods { app: Some(app), .. } => Some(app),
            _ => None,
        }
    }
}

/// One Istio path pattern (`AuthorizationPolicy` `paths`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathMatch {
    /// `/a/b`
    Exact(String),
    /// `/a*`: starts with `/a`.
    Prefix(String),
    /// `*.png`: ends with `.png`.
    Suffix(String),
    /// `*`: any path.
    Any,
    /// A path template (`{*}`, `{**}`) or a `*` inside: no other mesh is given it.
    Other(String),
}

impl PathMatch {
    /// Reads an Istio `paths` entry.
    pub fn parse(p: &str) -> PathMatch {
        if p == "*" {
            PathMatch::Any
        } else if p.contains('{') || p.contains('}') {
            PathMatch::Other(p.into())
        } else if let Some(rest) = p.strip_prefix('*') {
            if rest.contains('*') {
                PathMatch::Other(p.into())
            } else {
                PathMatch::Suffix(rest.into())
            }
        } else if let Some(rest) = p.strip_suffix('*') {
            if rest.contains('*') {
                PathMatch::Other(p.into())
            } else {
                PathMatch::Prefix(rest.into())
            }
        } else if p.contains('*') {
            PathMatch::Other(p.into())
        } else {
            PathMatch::Exact(p.into())
        }
    }

    /// An anchored RE2 regex matching the same paths (Istio matches the path without the query).
    pub fn to_regex(&self) -> Option<String> {
        Some(match self {
            PathMatch::Exact(p) => format!("^{}$", regex::escape(p)),
            PathMatch::Prefix(p) => format!("^{}.*$", regex::escape(p)),
            PathMatch::Suffix(p) => format!("^.*{}$", regex::escape(p)),
            PathMatch::Any => "^.*$".into(),
            PathMatch::Other(_) => return None,
        })
    }
}

/// One allowed endpoint. `None` = any (Istio reads an absent and an empty list alike); lists
/// are never empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    pub ports: Option<Vec<u16>>,
    pub methods: Option<Vec<Method>>,
    pub paths: Option<Vec<PathMatch>>,
    pub hosts: Option<Vec<String>>,
}

impl Rule {
    /// Whether the rule says anything of HTTP.
    pub fn is_l7(&self) -> bool {
        self.methods.is_some() || self.paths.is_some() || self.hosts.is_some()
    }

    /// Whether the rule restricts nothing (Istio refuses such an operation at admission).
    pub fn is_unrestricted(&self) -> bool {
        self.ports.is_none() && !self.is_l7()
    }
}

/// What one `MeshPolicy` means, mesh-neutrally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Who may connect (cross-model sources are already resolved in the policy).
    pub source: Identity,
    /// The target's namespace (the consumer's model).
    pub namespace: String,
    pub target: IntentTarget,
    /// Any of these (OR).
    pub rules: Vec<Rule>,
    /// Whether the policy matches non-HTTP connections at all. Istio renders all endpoints
    /// as the `to` list of one rule, and on a TCP chain an ALLOW rule holding any HTTP-only
    /// attribute is skipped whole (`pilot/pkg/security/authz/builder`; [`crate::authz`]): an
    /// app policy with any L7 endpoint opens its port-only endpoints to HTTP requests only.
    pub tcp: bool,
}

impl Intent {
    /// Reads a policy the way the Istio builder renders it; refuses what Istio would refuse
    /// (unit policies with L7 fields, ports that are no port numbers, endpoints that restrict
    /// nothing, which istiod's webhook refuses as `to.operation must not be empty`).
    pub fn from_policy(policy: &MeshPolicy) -> Result<Intent, String> {
        crate::istio::check_buildable(policy).map_err(|e| e.to_string())?;
        let truthy = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let target = match policy.target_type {
            PolicyTargetType::App => {
                let app = truthy(&policy.target_app_name);
                let service = truthy(&policy.target_service)
                    .or_else(|| app.clone())
                    .ok_or("an app policy names no Service")?;
                IntentTarget::Service { app, service }
            }
            PolicyTargetType::Unit => {
                let app = truthy(&policy.target_app_name);
                let selector = match (&policy.target_selector_labels, &app) {
                    (Some(labels), _) if !labels.is_empty() => labels.clone(),
                    (_, Some(app)) => vec![(APP_LABEL.to_string(), app.clone())],
                    _ => vec![],
                };
                // Exactly the app label selects every pod of that app.
                let app = match selector.as_slice() {
                    [(k, v)] if k == APP_LABEL && !v.is_empty() => Some(v.clone()),
                    _ => None,
                };
                IntentTarget::Pods { app, selector }
            }
        };
        let mut rules = vec![];
        for (i, e) in policy.endpoints.iter().enumerate() {
            let ports = match e.ports.as_deref() {
                None | Some([]) => None,
                Some(ports) => Some(
                    ports
                        .iter()
                        .map(|p| {
                            p.as_i64()
                                .and_then(|n| u16::try_from(n).ok())
                                .filter(|n| *n > 0)
                                .ok_or_else(|| format!("endpoint {i}: port {p} is no port number"))
                        })
                        .collect::<Result<Vec<u16>, String>>()?,
                ),
            };
            let nonempty = |v: &Option<Vec<String>>| v.clone().filter(|l| !l.is_empty());
            let rule = Rule {
                ports,
                methods: e.methods.clone().filter(|l| !l.is_empty()),
                paths: nonempty(&e.paths).map(|l| l.iter().map(|p| PathMatch::parse(p)).collect()),
                hosts: nonempty(&e.hosts),
            };
            if rule.is_unrestricted() && policy.target_type == PolicyTargetType::App
                || rule.ports.is_none() && policy.target_type == PolicyTargetType::Unit
            {
                return Err(format!(
                    "endpoint {i} restricts nothing (istiod refuses an empty to.operation)"
                ));
            }
            rules.push(rule);
        }
        let tcp = policy.target_type == PolicyTargetType::Unit || !rules.iter().any(Rule::is_l7);
        Ok(Intent {
            tcp,
            source: Identity {
                namespace: policy.source_namespace.clone(),
                service_account: policy.source_app_name.clone(),
            },
            namespace: policy.target_namespace.clone(),
            target,
            rules,
        })
    }
}

/// Narrows an intent rule by rule: `keep` returns the rule as the mesh can say it (possibly
/// with paths dropped, and why) or why it cannot. The outcome is `Exact` when nothing was
/// dropped, `Narrowed` when something was and a rule remains, `Refused` otherwise.
pub(crate) fn narrow_rules(
    intent: &Intent,
    mut keep: impl FnMut(&Rule) -> Result<(Rule, Option<String>), String>,
) -> (Vec<Rule>, Outcome) {
    let mut kept = vec![];
    let mut dropped = vec![];
    for (i, r) in intent.rules.iter().enumerate() {
        match keep(r) {
            Ok((r, note)) => {
                if let Some(n) = note {
                    dropped.push(format!("endpoint {i}: {n}"));
                }
                kept.push(r);
            }
            Err(why) => dropped.push(format!("endpoint {i} dropped: {why}")),
        }
    }
    let outcome = if kept.is_empty() {
        Outcome::Refused(dropped.join("; "))
    } else if dropped.is_empty() {
        Outcome::Exact
    } else {
        Outcome::Narrowed(dropped.join("; "))
    };
    (kept, outcome)
}

/// Drops the paths a mesh cannot say from a rule (fewer alternatives = a subset). `Err` when
/// none is left.
pub(crate) fn keep_paths(
    paths: &[PathMatch],
    ok: impl Fn(&PathMatch) -> bool,
) -> Result<(Vec<PathMatch>, Option<String>), String> {
    let (kept, dropped): (Vec<_>, Vec<_>) = paths.iter().cloned().partition(|p| ok(p));
    let note = (!dropped.is_empty()).then(|| {
        format!(
            "paths dropped (no equivalent): {}",
            dropped
                .iter()
                .map(|p| format!("{p:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    if kept.is_empty() {
        Err(note.unwrap_or_default())
    } else {
        Ok((kept, note))
    }
}

// === Names ===

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// `parts` joined with `-` when that is a DNS-1123 subdomain of at most `max` characters;
/// otherwise its lowercase letters, digits and `-` cut to `max - 9` characters, then `-` and
/// the first 8 hex digits of the sha256 of the joined parts (so distinct inputs keep distinct
/// names). `max` is at most 253 (63 where the name must be a label).
pub fn object_name(parts: &[&str], max: usize) -> String {
    let joined = parts.join("-");
    if joined.len() <= max && is_dns_subdomain(&joined) && !joined.contains('.') {
        return joined;
    }
    let digest = hex::encode(Sha256::digest(joined.as_bytes()));
    let mut base: String = joined
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .take(max.saturating_sub(9))
        .collect();
    while base.ends_with('-') {
        base.pop();
    }
    let base = base.trim_start_matches('-');
    if base.is_empty() {
        format!("x-{}", &digest[..8])
    } else {
        format!("{base}-{}", &digest[..8])
    }
}

// === Requests, for the evaluators ===

/// HTTP attributes of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// Without a query string (meshes match the path part).
    pub path: String,
    pub host: String,
}

/// A request from a mesh workload to an app's workload, as every backend sees it: who, which
/// app (its SA, Service and pods, see the module note), which pod labels, which port, and the
/// HTTP attributes if it is HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshRequest {
    pub source: Identity,
    /// The destination's namespace.
    pub namespace: String,
    /// The destination app (its ServiceAccount, Service and `app.kubernetes.io/name`).
    pub app: String,
    /// The destination pod's labels (with `app.kubernetes.io/name: <app>`).
    pub pod_labels: BTreeMap<String, String>,
    /// Service port = container port (see the module note).
    pub port: u16,
    pub http: Option<HttpRequest>,
}

pub(crate) fn str_list(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

pub(crate) fn labels_match(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    selector.as_object().is_some_and(|m| {
        m.iter()
            .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
    })
}

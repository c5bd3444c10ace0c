//! Consul (consul-k8s 2.0): one `ServiceIntentions` (consul.hashicorp.com/v1alpha1) per
//! destination app, named `<beacon-app>-<beacon-model>-<app>` ([`super::object_name`]), in the
//! app's namespace, with one source per client app and HTTP permissions.
//!
//! Decisions (documented here, for the beacon's config):
//! - Consul service name = Juju app name, for sources and the destination (consul-k8s registers
//!   a pod under its Kubernetes Service's name; with ACLs it must equal the ServiceAccount's).
//! - Namespaces: Consul Enterprise with namespace mirroring (`ConsulOptions::namespace_prefix`,
//!   consul-k8s `connectInject.consulNamespaces.mirroringK8S` + `mirroringK8SPrefix`): sources and
//!   destination carry `namespace: <prefix><k8s namespace>`. Consul CE (one namespace for every
//!   Kubernetes namespace) is not offered: a source name alone would also match same-named apps
//!   of every other model — wider than asked.
//!
//! Exact: the source, the app, methods, Istio exact/prefix paths (`pathExact`/`pathPrefix`),
//! suffix paths and `*` (`pathRegex`, one permission per path). Not expressible: ports (an
//! intention is per service), hosts, targets other than the app's Service (unit targets, other
//! Services), path templates. Endpoints saying them are dropped — in practice every endpoint
//! with ports, so Consul renders only port-less L7 endpoints.
//!
//! The evaluator follows Consul's documentation, "Service intentions configuration entry
//! reference" (developer.hashicorp.com/consul/docs/v1.15.x/connect/config-entries/service-intentions:
//! for a source, `action` (L4) and `permissions` (L7) are exclusive; permissions are tried in
//! order and the first match decides; no match falls to the default; L7 permissions need an
//! HTTP service) and "Service intentions overview" / precedence
//! (developer.hashicorp.com/consul/docs/connect/intentions: exact source names and
//! namespaces take precedence over `*`; only one intention controls a pair), with the default
//! deny (ACL `default_policy = deny`), and consul-k8s v2.0.3 `control-plane/api/v1alpha1/
//! serviceintentions_types.go` for the CRD fields.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    Identity, Intent, IntentTarget, MeshRequest, Outcome, PathMatch, Rendered, keep_paths,
    narrow_rules, object_name,
};
use crate::model::MeshPolicy;

pub const API_VERSION: &str = "consul.hashicorp.com/v1alpha1";

/// Consul settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsulOptions {
    /// consul-k8s `mirroringK8SPrefix`: Consul namespace = prefix + Kubernetes namespace.
    pub namespace_prefix: String,
}

impl ConsulOptions {
    fn namespace(&self, k8s: &str) -> String {
        format!("{}{k8s}", self.namespace_prefix)
    }
}

/// Admits one intent: the rules Consul can say, and the outcome.
pub fn admit(intent: &Intent) -> (Vec<super::Rule>, Outcome) {
    match &intent.target {
        IntentTarget::Service { .. } if intent.target.whole_app().is_some() => {}
        _ => {
            return (
                vec![],
                Outcome::Refused(
                    "Consul intentions are per service: only the app's own Service can be said"
                        .into(),
                ),
            );
        }
    }
    narrow_rules(intent, |r| {
        if r.ports.is_some() {
            return Err("Consul intentions have no ports".into());
        }
        if r.hosts.is_some() {
            return Err("Consul intentions cannot match hosts".into());
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

fn permission(path: &PathMatch, methods: &Option<Vec<crate::model::Method>>) -> Option<Value> {
    let mut http = serde_json::Map::new();
    match path {
        PathMatch::Exact(p) => {
            http.insert("pathExact".into(), json!(p));
        }
        PathMatch::Prefix(p) => {
            http.insert("pathPrefix".into(), json!(p));
        }
        PathMatch::Suffix(_) => {
            http.insert("pathRegex".into(), json!(path.to_regex()?));
        }
        PathMatch::Any => {}
        PathMatch::Other(_) => return None,
    }
    if let Some(m) = methods {
        http.insert(
            "methods".into(),
            json!(m.iter().map(|m| m.value()).collect::<Vec<_>>()),
        );
    }
    Some(json!({"action": "allow", "http": http}))
}

/// Renders the policies: per-policy admission, then one ServiceIntentions per app.
pub fn render(
    options: &ConsulOptions,
    beacon_app: &str,
    beacon_model: &str,
    policies: &[MeshPolicy],
) -> Rendered {
    let mut dests: BTreeMap<(String, String), BTreeMap<Identity, Vec<Value>>> = BTreeMap::new();
    let mut out = Rendered::admit_each(policies, admit, |intent, rules, app| {
        let perms = dests
            .entry((intent.namespace.clone(), app))
            .or_default()
            .entry(intent.source.clone())
            .or_default();
        for r in rules {
            for path in r.paths.clone().unwrap_or_else(|| vec![PathMatch::Any]) {
                if let Some(perm) = permission(&path, &r.methods)
                    && !perms.contains(&perm)
                {
                    perms.push(perm);
                }
            }
        }
    });
    for ((ns, app), sources) in dests {
        let name = object_name(&[beacon_app, beacon_model, &app], 253);
        let sources: Vec<Value> = sources
            .into_iter()
            .map(|(src, perms)| {
                json!({
                    "name": src.service_account,
                    "namespace": options.namespace(&src.namespace),
                    "permissions": perms,
                })
            })
            .collect();
        out.objects.push(json!({
            "apiVersion": API_VERSION, "kind": "ServiceIntentions",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "destination": {"name": app, "namespace": options.namespace(&ns)},
                "sources": sources,
            },
        }));
    }
    out
}

fn full_match(re: &str, s: &str) -> bool {
    regex::Regex::new(&format!("^(?:{re})$")).is_ok_and(|r| r.is_match(s))
}

fn permission_matches(perm: &Value, http: &super::HttpRequest) -> bool {
    let h = &perm["http"];
    if h.get("header").is_some() {
        // Header matches are not modelled.
        return false;
    }
    let path = if let Some(p) = h["pathExact"].as_str() {
        http.path == p
    } else if let Some(p) = h["pathPrefix"].as_str() {
        http.path.starts_with(p)
    } else if let Some(re) = h["pathRegex"].as_str() {
        full_match(re, &http.path)
    } else {
        true
    };
    let methods = super::str_list(&h["methods"]);
    path && (methods.is_empty() || methods.contains(&http.method.as_str()))
}

/// Whether Consul (default deny) lets the request reach the app.
pub fn evaluate(options: &ConsulOptions, objects: &[Value], request: &MeshRequest) -> bool {
    let dest_ns = options.namespace(&request.namespace);
    let src_ns = options.namespace(&request.source.namespace);
    // (precedence, source entry): exact name and namespace > `*` name > `*` namespace.
    let mut best: Option<(u8, &Value)> = None;
    for o in objects
        .iter()
        .filter(|o| o["apiVersion"] == API_VERSION && o["kind"] == "ServiceIntentions")
    {
        let d = &o["spec"]["destination"];
        let d_ns = d["namespace"].as_str().map(str::to_string).or_else(|| {
            o["metadata"]["namespace"]
                .as_str()
                .map(|n| options.namespace(n))
        });
        let name_ok = d["name"]
            .as_str()
            .is_some_and(|n| n == request.app || n == "*");
        let ns_ok = d_ns.is_some_and(|n| n == dest_ns || n == "*");
        if !(name_ok && ns_ok) {
            continue;
        }
        for s in o["spec"]["sources"].as_array().into_iter().flatten() {
            let n = s["name"].as_str().unwrap_or_default();
            let sn = s["namespace"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    o["metadata"]["namespace"]
                        .as_str()
                        .map(|n| options.namespace(n))
                })
                .unwrap_or_default();
            let prec = match (
                n == request.source.service_account,
                sn == src_ns,
                n == "*",
                sn == "*",
            ) {
                (true, true, _, _) => 3,
                (_, true, true, _) => 2,
                (_, _, true, true) => 1,
                _ => continue,
            };
            if best.is_none_or(|(p, _)| prec > p) {
                best = Some((prec, s));
            }
        }
    }
    let Some((_, source)) = best else {
        return false;
    };
    if let Some(action) = source["action"].as_str() {
        return action == "allow";
    }
    let Some(http) = &request.http else {
        // L7 permissions only apply to HTTP services: a TCP connection matches none.
        return false;
    };
    source["permissions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| permission_matches(p, http))
        .is_some_and(|p| p["action"] == "allow")
}

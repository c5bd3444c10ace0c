//! Istio objects for a traffic intent. Field names and enum values are those of Istio 1.29's
//! API reference: <https://istio.io/v1.29/docs/reference/config/networking/destination-rule/>
//! and <https://istio.io/v1.29/docs/reference/config/security/peer_authentication/>.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::parse::is_dns_subdomain;
use super::tree::{Keys, policy_into};
use super::{MtlsMode, TrafficIntent};
use crate::model::LabelMap;

pub const DESTINATION_RULE_API_VERSION: &str = "networking.istio.io/v1";
pub const DESTINATION_RULE_KIND: &str = "DestinationRule";
pub const PEER_AUTHENTICATION_API_VERSION: &str = "security.istio.io/v1";
pub const PEER_AUTHENTICATION_KIND: &str = "PeerAuthentication";

/// Kubernetes' limit for object names.
const MAX_NAME_LEN: usize = 253;

/// The name of a consumer's DestinationRule and PeerAuthentication:
/// `<beacon_app>-<beacon_model>-traffic-<consumer_app>` when that is a DNS-1123 subdomain
/// (as Juju names always make it). Otherwise the same text made one: lowercased, every
/// character other than `[a-z0-9-]` replaced by `-`, cut to 244 characters, `-` trimmed
/// from both ends, then `-` and the first 8 hex digits of
/// `sha256(beacon_app + "\0" + beacon_model + "\0" + consumer_app)` appended (so two
/// inputs that clean up alike still get different names). Always at most 253 characters.
///
/// ```
/// use service_mesh::traffic::traffic_name;
/// assert_eq!(
///     traffic_name("istio-beacon-k8s", "prod", "mydb"),
///     "istio-beacon-k8s-prod-traffic-mydb"
/// );
/// let odd = traffic_name("Beacon", "prod", "my_db");
/// assert!(odd.starts_with("beacon-prod-traffic-my-db-") && odd.len() == 34);
/// ```
pub fn traffic_name(beacon_app: &str, beacon_model: &str, consumer_app: &str) -> String {
    let name = format!("{beacon_app}-{beacon_model}-traffic-{consumer_app}");
    if is_dns_subdomain(&name) {
        return name;
    }
    let digest = Sha256::digest(format!("{beacon_app}\0{beacon_model}\0{consumer_app}").as_bytes());
    let hash8 = &hex::encode(digest)[..8];
    let mut clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(MAX_NAME_LEN - 9)
        .collect();
    clean = clean.trim_matches('-').to_owned();
    if clean.is_empty() {
        hash8.to_owned()
    } else {
        format!("{clean}-{hash8}")
    }
}

/// The Service's host name: `<service>.<namespace>.svc.cluster.local`.
pub fn service_host(service: &str, namespace: &str) -> String {
    format!("{service}.{namespace}.svc.cluster.local")
}

/// The pods of a Juju application: `{"app.kubernetes.io/name": app}` (the selector the
/// unit policies use too).
pub fn workload_selector(app: &str) -> LabelMap {
    vec![("app.kubernetes.io/name".to_owned(), app.to_owned())]
}

fn label_object(labels: &LabelMap) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn metadata(name: &str, namespace: &str, labels: &LabelMap) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), name.into());
    m.insert("namespace".into(), namespace.into());
    if !labels.is_empty() {
        m.insert("labels".into(), label_object(labels));
    }
    Value::Object(m)
}

impl TrafficIntent {
    /// Whether the intent asks for a DestinationRule (any default or per-port setting).
    /// istiod refuses a `trafficPolicy` with no field, so the beacon creates none without.
    pub fn has_traffic_policy(&self) -> bool {
        !self.policy.is_empty() || !self.ports.is_empty()
    }
}

/// The `DestinationRule` of `intent` for Service `service` in `namespace`:
/// `{apiVersion: networking.istio.io/v1, kind, metadata: {name, namespace, labels}, spec:
/// {host, trafficPolicy}}`, with `labels` left out when empty. The default policy's settings
/// are `trafficPolicy`'s; the per-port ones go to `trafficPolicy.portLevelSettings`
/// (`[{port: {number}, ...}]`). Without any setting
/// ([`TrafficIntent::has_traffic_policy`] false) there is no `trafficPolicy`.
///
/// `intent` is one [`TrafficIntent::from_json`] accepted (or [`TrafficIntent::validate`]d):
/// every such intent renders an object that Istio 1.29's CRD schema and istiod's validation
/// accept.
pub fn render_destination_rule(
    intent: &TrafficIntent,
    service: &str,
    namespace: &str,
    name: &str,
    labels: &LabelMap,
) -> Value {
    let mut spec = Map::new();
    spec.insert("host".into(), service_host(service, namespace).into());
    if intent.has_traffic_policy() {
        let mut tp = Map::new();
        policy_into(&mut tp, &intent.policy, Keys::Istio);
        if !intent.ports.is_empty() {
            let settings = intent
                .ports
                .iter()
                .map(|p| {
                    let mut pm = Map::new();
                    pm.insert("port".into(), json!({ "number": p.port }));
                    policy_into(&mut pm, &p.policy, Keys::Istio);
                    Value::Object(pm)
                })
                .collect();
            tp.insert("portLevelSettings".into(), Value::Array(settings));
        }
        spec.insert("trafficPolicy".into(), tp.into());
    }
    json!({
        "apiVersion": DESTINATION_RULE_API_VERSION,
        "kind": DESTINATION_RULE_KIND,
        "metadata": metadata(name, namespace, labels),
        "spec": spec,
    })
}

/// The `PeerAuthentication` setting `mode` for the pods `selector` matches in `namespace`
/// (namespace-wide when `selector` is `None` or empty): `{apiVersion: security.istio.io/v1,
/// kind, metadata, spec: {selector: {matchLabels}, mtls: {mode}}}`. Selector labels must
/// be valid label values without `*` (the CRD's rules); [`workload_selector`] gives one.
pub fn render_peer_authentication(
    mode: MtlsMode,
    namespace: &str,
    name: &str,
    selector: Option<&LabelMap>,
    labels: &LabelMap,
) -> Value {
    let mut spec = Map::new();
    if let Some(sel) = selector.filter(|s| !s.is_empty()) {
        spec.insert(
            "selector".into(),
            json!({ "matchLabels": label_object(sel) }),
        );
    }
    spec.insert("mtls".into(), json!({ "mode": mode.value() }));
    json!({
        "apiVersion": PEER_AUTHENTICATION_API_VERSION,
        "kind": PEER_AUTHENTICATION_KIND,
        "metadata": metadata(name, namespace, labels),
        "spec": spec,
    })
}

//! What a consumer charm declares ([`AppPolicy`], [`UnitPolicy`]) and how that becomes the
//! [`MeshPolicy`] list it publishes ([`build_mesh_policies`]), including the cross-model
//! source resolution from `provide-cmr-mesh` ([`cmr_map`]).
//!
//! Everything here is pure: the relation state comes in as plain values, so the same
//! function serves the charm (through [`super::ServiceMeshConsumer`]) and the differential
//! tests against the Python library.

use std::collections::HashMap;

use crate::model::{CmrData, CmrDataError, Endpoint, MeshPolicy, PolicyTargetType, Port};

/// Allow the applications related on `relation` to reach this application's Service (L7,
/// enforced by the waypoint): Python `AppPolicy(relation, endpoints, service)`.
///
/// ```
/// use service_mesh::consumer::AppPolicy;
/// use service_mesh::{Endpoint, Method};
///
/// let policy = AppPolicy::new(
///     "database",
///     [Endpoint {
///         ports: Some(vec![5432u16.into(), 8080u16.into()]),
///         methods: Some(vec![Method::Get, Method::Post]),
///         paths: Some(vec!["/api".into(), "/health".into()]),
///         hosts: None,
///     }],
/// )
/// .with_service("mydb-api");
/// assert_eq!(policy.relation, "database");
/// assert_eq!(policy.service.as_deref(), Some("mydb-api"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPolicy {
    /// The endpoint whose related applications are the sources.
    pub relation: String,
    /// What they may reach; an empty list allows everything on the Service.
    pub endpoints: Vec<Endpoint>,
    /// The Service to protect when it is not the one named after the application.
    pub service: Option<String>,
}

impl AppPolicy {
    /// A policy on `relation` with `endpoints` and the default Service.
    pub fn new(relation: impl Into<String>, endpoints: impl IntoIterator<Item = Endpoint>) -> Self {
        AppPolicy {
            relation: relation.into(),
            endpoints: endpoints.into_iter().collect(),
            service: None,
        }
    }

    /// Target the Service `service` instead of the application's own Service.
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }
}

/// Allow the applications related on `relation` to reach this application's pods directly
/// (L4, enforced by ztunnel; ports only, by design): Python `UnitPolicy(relation, ports)`.
///
/// ```
/// use service_mesh::consumer::UnitPolicy;
///
/// let metrics = UnitPolicy::new("metrics-endpoint", [9090]);
/// assert_eq!(metrics.ports.as_ref().map(Vec::len), Some(1));
/// // No ports: every port of the pods.
/// let any = UnitPolicy::any_port("peers");
/// assert!(any.ports.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitPolicy {
    /// The endpoint whose related applications are the sources (a peer endpoint: this
    /// application's own units).
    pub relation: String,
    /// The allowed ports; `None` (or empty) allows every port.
    pub ports: Option<Vec<Port>>,
}

impl UnitPolicy {
    /// A policy on `relation` allowing `ports`.
    pub fn new(relation: impl Into<String>, ports: impl IntoIterator<Item = u16>) -> Self {
        UnitPolicy {
            relation: relation.into(),
            ports: Some(ports.into_iter().map(Port::from).collect()),
        }
    }

    /// A policy on `relation` allowing every port (`ports=None`).
    pub fn any_port(relation: impl Into<String>) -> Self {
        UnitPolicy {
            relation: relation.into(),
            ports: None,
        }
    }
}

/// One declared policy, in declaration order.
///
/// ```
/// use service_mesh::consumer::{AppPolicy, ConsumerPolicy, UnitPolicy};
///
/// let declared: Vec<ConsumerPolicy> = vec![
///     AppPolicy::new("inbound", []).into(),
///     UnitPolicy::new("peers", [8080]).into(),
/// ];
/// let endpoints: Vec<&str> = declared.iter().map(ConsumerPolicy::relation).collect();
/// assert_eq!(endpoints, ["inbound", "peers"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerPolicy {
    /// L7 access to the Service ([`AppPolicy`]; also the deprecated Python `Policy`).
    App(AppPolicy),
    /// L4 access to the pods ([`UnitPolicy`]).
    Unit(UnitPolicy),
}

impl ConsumerPolicy {
    /// The endpoint this policy is about.
    pub fn relation(&self) -> &str {
        match self {
            ConsumerPolicy::App(p) => &p.relation,
            ConsumerPolicy::Unit(p) => &p.relation,
        }
    }
}

impl From<AppPolicy> for ConsumerPolicy {
    fn from(p: AppPolicy) -> Self {
        ConsumerPolicy::App(p)
    }
}

impl From<UnitPolicy> for ConsumerPolicy {
    fn from(p: UnitPolicy) -> Self {
        ConsumerPolicy::Unit(p)
    }
}

/// One live relation as [`build_mesh_policies`] sees it (example there): the local endpoint and the remote
/// application's name as seen locally (own app for a peer relation, the SAAS alias or
/// `remote-<hex>` for a cross-model one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedApp {
    pub endpoint: String,
    pub app: String,
}

impl RelatedApp {
    pub fn new(endpoint: impl Into<String>, app: impl Into<String>) -> Self {
        RelatedApp {
            endpoint: endpoint.into(),
            app: app.into(),
        }
    }
}

/// Remote application name on `provide-cmr-mesh` → who it really is (see [`cmr_map`]).
pub type CmrMap = HashMap<String, CmrData>;

/// `get_data_from_cmr_relation`, leniently: `(remote app, its cmr_data value if any)` for
/// each `provide-cmr-mesh` relation, in relation order. A value that is not valid JSON or
/// not a valid `CMRData` is logged and skipped (Python skips only the latter and crashes the
/// hook on the former — a bad remote value would block this charm until the remote fixes it).
/// A later relation with the same remote name wins, as in the Python dict.
pub fn cmr_map<'a>(relations: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> CmrMap {
    let mut map = CmrMap::new();
    for (app, raw) in relations {
        let Some(raw) = raw else { continue };
        match CmrData::parse(raw) {
            Ok(data) => {
                map.insert(app.to_owned(), data);
            }
            Err(CmrDataError::InvalidJson(e)) => {
                tracing::error!("Invalid CMR data for {app}: not JSON ({e}); skipping it");
            }
            Err(e) => tracing::error!("Invalid CMR data for {app}: {e}; skipping it"),
        }
    }
    map
}

/// `build_mesh_policies`: for each declared policy in declaration order, for each relation on
/// its endpoint in relation order, one [`MeshPolicy`] whose source is the related application
/// (resolved through `cmr` for cross-model relations, otherwise in `target_namespace`) and
/// whose target is this application in its own model.
///
/// ```
/// use service_mesh::consumer::{RelatedApp, UnitPolicy, build_mesh_policies, cmr_map};
/// use service_mesh::dump_policies;
///
/// let relations = [RelatedApp::new("metrics-endpoint", "remote-0123456789abcdef0123456789abcdef")];
/// let cmr = cmr_map([(
///     "remote-0123456789abcdef0123456789abcdef",
///     Some(r#"{"app_name": "prometheus", "juju_model_name": "cos"}"#),
/// )]);
/// let policies = build_mesh_policies(
///     &relations,
///     "mydb",
///     "prod",
///     &[UnitPolicy::new("metrics-endpoint", [9090]).into()],
///     &cmr,
/// );
/// assert_eq!(
///     dump_policies(&policies),
///     r#"[{"source_namespace": "cos", "source_app_name": "prometheus", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9090], "methods": null, "paths": null}]}]"#
/// );
/// ```
pub fn build_mesh_policies(
    relations: &[RelatedApp],
    target_app_name: &str,
    target_namespace: &str,
    policies: &[ConsumerPolicy],
    cmr: &CmrMap,
) -> Vec<MeshPolicy> {
    let mut out = Vec::new();
    for policy in policies {
        tracing::debug!(
            "Processing policy for relation endpoint '{}'.",
            policy.relation()
        );
        for rel in relations.iter().filter(|r| r.endpoint == policy.relation()) {
            tracing::debug!("Processing policy for related application '{}'.", rel.app);
            let (source_app_name, source_namespace) = match cmr.get(&rel.app) {
                Some(data) => {
                    tracing::debug!(
                        "Found cross model relation: {}. Creating policy.",
                        rel.endpoint
                    );
                    (data.app_name.clone(), data.juju_model_name.clone())
                }
                None => {
                    tracing::debug!(
                        "Found in-model relation: {}. Creating policy.",
                        rel.endpoint
                    );
                    (rel.app.clone(), target_namespace.to_owned())
                }
            };
            let (target_service, target_type, endpoints) = match policy {
                ConsumerPolicy::Unit(p) => {
                    let endpoints = match &p.ports {
                        Some(ports) if !ports.is_empty() => vec![Endpoint {
                            ports: Some(ports.clone()),
                            ..Endpoint::default()
                        }],
                        _ => Vec::new(),
                    };
                    (None, PolicyTargetType::Unit, endpoints)
                }
                ConsumerPolicy::App(p) => (
                    p.service.clone(),
                    PolicyTargetType::App,
                    p.endpoints.clone(),
                ),
            };
            out.push(MeshPolicy {
                source_namespace,
                source_app_name,
                target_namespace: target_namespace.to_owned(),
                target_app_name: Some(target_app_name.to_owned()),
                target_selector_labels: None,
                target_service,
                target_type,
                endpoints,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Method, dump_policies};

    fn worked_example() -> (Vec<RelatedApp>, CmrMap, Vec<ConsumerPolicy>) {
        let remote = "remote-0123456789abcdef0123456789abcdef";
        let relations = vec![
            RelatedApp::new("database", "myapp"),
            RelatedApp::new("metrics-endpoint", remote),
            RelatedApp::new("provide-cmr-mesh", remote),
        ];
        let cmr = cmr_map([(
            remote,
            Some(r#"{"app_name": "prometheus", "juju_model_name": "cos"}"#),
        )]);
        let policies = vec![
            AppPolicy::new(
                "database",
                [Endpoint {
                    ports: Some(vec![5432u16.into(), 8080u16.into()]),
                    methods: Some(vec![Method::Get, Method::Post]),
                    paths: Some(vec!["/api".into(), "/health".into()]),
                    hosts: None,
                }],
            )
            .into(),
            UnitPolicy::new("metrics-endpoint", [9090]).into(),
        ];
        (relations, cmr, policies)
    }

    /// The contract's §2.2 worked example, byte for byte.
    #[test]
    fn worked_example_is_byte_identical() {
        let (relations, cmr, policies) = worked_example();
        let out = build_mesh_policies(&relations, "mydb", "prod", &policies, &cmr);
        assert_eq!(
            dump_policies(&out),
            r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [5432, 8080], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}]}, {"source_namespace": "cos", "source_app_name": "prometheus", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9090], "methods": null, "paths": null}]}]"#
        );
    }

    #[test]
    fn unit_policy_without_ports_has_no_endpoints() {
        let rel = [RelatedApp::new("peers", "tester")];
        for p in [UnitPolicy::any_port("peers"), UnitPolicy::new("peers", [])] {
            let out = build_mesh_policies(&rel, "tester", "prod", &[p.into()], &CmrMap::new());
            assert_eq!(out.len(), 1);
            assert!(out[0].endpoints.is_empty());
            // Peer relation: the source is the application itself.
            assert_eq!(out[0].source_app_name, "tester");
        }
    }

    #[test]
    fn declaration_order_then_relation_order() {
        let rels = [
            RelatedApp::new("b", "x"),
            RelatedApp::new("a", "y"),
            RelatedApp::new("b", "z"),
        ];
        let policies = [
            UnitPolicy::new("b", [1]).into(),
            AppPolicy::new("a", []).with_service("svc").into(),
        ];
        let out = build_mesh_policies(&rels, "t", "m", &policies, &CmrMap::new());
        let got: Vec<_> = out
            .iter()
            .map(|p| (p.source_app_name.as_str(), p.target_type))
            .collect();
        assert_eq!(
            got,
            [
                ("x", PolicyTargetType::Unit),
                ("z", PolicyTargetType::Unit),
                ("y", PolicyTargetType::App)
            ]
        );
        assert_eq!(out[2].target_service.as_deref(), Some("svc"));
    }

    #[test]
    fn bad_cmr_data_is_skipped_not_fatal() {
        let map = cmr_map([
            ("a", Some("not json")),
            ("b", Some(r#"{"app_name": "x"}"#)),
            ("c", None),
            (
                "d",
                Some(r#"{"app_name": "real", "juju_model_name": "cos", "extra": 1}"#),
            ),
        ]);
        assert_eq!(map.len(), 1);
        assert_eq!(map["d"].app_name, "real");
    }

    #[test]
    fn later_cmr_relation_with_same_name_wins() {
        let map = cmr_map([
            ("a", Some(r#"{"app_name": "one", "juju_model_name": "m"}"#)),
            ("a", Some(r#"{"app_name": "two", "juju_model_name": "m"}"#)),
        ]);
        assert_eq!(map["a"].app_name, "two");
    }
}

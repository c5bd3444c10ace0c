//! Istio `AuthorizationPolicy` bodies for mesh policies
//! (`canonical_service_mesh.utils.istio.build_policy_resources_istio`).

use serde_json::{Map, Value, json};
use thiserror::Error;

use crate::model::{Endpoint, MeshPolicy, PolicyTargetType, RuleViolation};
use crate::names::policy_name;

pub const AUTHORIZATION_POLICY_API_VERSION: &str = "security.istio.io/v1";
pub const AUTHORIZATION_POLICY_KIND: &str = "AuthorizationPolicy";

/// A policy the builder refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BuildError {
    /// Istio L4 (ztunnel) policies cannot match hosts, methods or paths. `Display` is the
    /// upstream log text (the target prints as Python's `str(None)` when unset).
    #[error(
        "UnitPolicy requested between {source_app_name} and {} is not created as it contains some disallowed policy attributes. UnitPolicy for Istio service mesh cannot contain paths, methods or hosts",
        target_app_name.as_deref().unwrap_or("None")
    )]
    UnitPolicyWithL7 {
        source_app_name: String,
        target_app_name: Option<String>,
    },
    /// The policy breaks a `MeshPolicy` rule (only possible for a policy built in code, since
    /// parsing already validates); upstream pydantic would refuse to build it as well.
    #[error(transparent)]
    Invalid(#[from] RuleViolation),
}

/// Istio source principal of a Juju app: `cluster.local/ns/<namespace>/sa/<app>`.
pub fn peer_identity(app: &str, namespace: &str) -> String {
    format!("cluster.local/ns/{namespace}/sa/{app}")
}

fn string_list(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.clone())).collect())
}

fn ports(endpoint: &Endpoint) -> Value {
    // Ports are always sent, as decimal strings; null and empty both become [].
    Value::Array(
        endpoint
            .ports
            .iter()
            .flatten()
            .map(|p| Value::String(p.as_str().to_owned()))
            .collect(),
    )
}

/// L7 operation: keys in pydantic field order (hosts, ports, methods, paths); null fields are
/// dropped, empty lists kept.
fn app_operation(endpoint: &Endpoint) -> Value {
    let mut op = Map::new();
    if let Some(hosts) = &endpoint.hosts {
        op.insert("hosts".into(), string_list(hosts));
    }
    op.insert("ports".into(), ports(endpoint));
    if let Some(methods) = &endpoint.methods {
        op.insert(
            "methods".into(),
            Value::Array(
                methods
                    .iter()
                    .map(|m| Value::String(m.value().into()))
                    .collect(),
            ),
        );
    }
    if let Some(paths) = &endpoint.paths {
        op.insert("paths".into(), string_list(paths));
    }
    json!({ "operation": op })
}

fn unit_operation(endpoint: &Endpoint) -> Value {
    json!({ "operation": { "ports": ports(endpoint) } })
}

fn has_l7(endpoint: &Endpoint) -> bool {
    let non_empty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|l| !l.is_empty());
    non_empty(&endpoint.hosts)
        || non_empty(&endpoint.paths)
        || endpoint.methods.as_ref().is_some_and(|l| !l.is_empty())
}

fn truthy(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Whether [`build_authorization_policy`] builds `policy`, without building it.
pub fn check_buildable(policy: &MeshPolicy) -> Result<(), BuildError> {
    policy.validate()?;
    if policy.target_type == PolicyTargetType::Unit && policy.endpoints.iter().any(has_l7) {
        let err = BuildError::UnitPolicyWithL7 {
            source_app_name: policy.source_app_name.clone(),
            target_app_name: policy.target_app_name.clone(),
        };
        // Not logged here: this is pure, and callers log with their context (the beacon
        // names the relation and app).
        return Err(err);
    }
    Ok(())
}

/// The `AuthorizationPolicy` for one mesh policy, as the PRM sends it before adding the
/// ownership labels: `{apiVersion, kind, metadata: {name, namespace}, spec}`.
///
/// App policies attach to the target Service (`targetRefs`), unit policies select pods
/// (`selector`, or none at all: namespace-wide). There is no `action` (Istio's default ALLOW).
pub fn build_authorization_policy(
    beacon_app: &str,
    beacon_model: &str,
    policy: &MeshPolicy,
) -> Result<Value, BuildError> {
    check_buildable(policy)?;
    Ok(build_checked(
        &policy_name(beacon_app, beacon_model, policy),
        policy,
    ))
}

/// [`build_authorization_policy`] for a policy [`check_buildable`] accepted, named `name`
/// (the caller computed it, e.g. with `names::policy_name_with_digest`).
pub fn build_checked(name: &str, policy: &MeshPolicy) -> Value {
    let from = json!([{
        "source": { "principals": [peer_identity(&policy.source_app_name, &policy.source_namespace)] }
    }]);
    let mut spec = Map::new();
    let to: Vec<Value> = match policy.target_type {
        PolicyTargetType::App => {
            // Validation guarantees one of the two is non-empty.
            let service = truthy(&policy.target_service)
                .or(truthy(&policy.target_app_name))
                .unwrap_or_default();
            spec.insert(
                "targetRefs".into(),
                json!([{ "group": "", "kind": "Service", "name": service }]),
            );
            policy.endpoints.iter().map(app_operation).collect()
        }
        PolicyTargetType::Unit => {
            let selector = match (
                &policy.target_selector_labels,
                truthy(&policy.target_app_name),
            ) {
                (Some(labels), _) if !labels.is_empty() => Some(Value::Object(
                    labels
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect(),
                )),
                (_, Some(app)) => Some(json!({ "app.kubernetes.io/name": app })),
                _ => None,
            };
            if let Some(match_labels) = selector {
                spec.insert("selector".into(), json!({ "matchLabels": match_labels }));
            }
            policy.endpoints.iter().map(unit_operation).collect()
        }
    };
    spec.insert("rules".into(), json!([{ "from": from, "to": to }]));
    json!({
        "apiVersion": AUTHORIZATION_POLICY_API_VERSION,
        "kind": AUTHORIZATION_POLICY_KIND,
        "metadata": {
            "name": name,
            "namespace": policy.target_namespace,
        },
        "spec": spec,
    })
}

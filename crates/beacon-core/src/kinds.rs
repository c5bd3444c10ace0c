//! The Kubernetes kinds the beacon owns, the labels that mark them as ours, and the
//! namespace labels it manages.

use serde_json::Value;
use service_mesh::labels;
use service_mesh::owned::with_labels;

/// Label holding the owner's identity (`charm_kubernetes_label(model, app, "-")`), and the
/// label telling which of the beacon's managers owns an object: defined once, in
/// `service_mesh::labels`.
pub use service_mesh::labels::{INSTANCE_LABEL, SCOPE_LABEL};

/// Namespace label keys the beacon manages with `model-on-mesh=true`.
pub use service_mesh::labels::{
    DATAPLANE_MODE_LABEL as NS_DATAPLANE_MODE, USE_WAYPOINT_LABEL as NS_USE_WAYPOINT,
    WAYPOINT_MANAGED_BY_LABEL as NS_MANAGED_BY,
};

/// A kind the beacon creates, lists and deletes by label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    AuthorizationPolicy,
    Gateway,
    HorizontalPodAutoscaler,
}

impl Kind {
    pub fn group(self) -> &'static str {
        match self {
            Kind::AuthorizationPolicy => "security.istio.io",
            Kind::Gateway => "gateway.networking.k8s.io",
            Kind::HorizontalPodAutoscaler => "autoscaling",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Kind::AuthorizationPolicy | Kind::Gateway => "v1",
            Kind::HorizontalPodAutoscaler => "v2",
        }
    }

    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.version())
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::AuthorizationPolicy => "AuthorizationPolicy",
            Kind::Gateway => "Gateway",
            Kind::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::AuthorizationPolicy => "authorizationpolicies",
            Kind::Gateway => "gateways",
            Kind::HorizontalPodAutoscaler => "horizontalpodautoscalers",
        }
    }

    /// The kind of an object body, from its `kind` field.
    pub fn of(object: &Value) -> Option<Kind> {
        match object.get("kind")?.as_str()? {
            "AuthorizationPolicy" => Some(Kind::AuthorizationPolicy),
            "Gateway" => Some(Kind::Gateway),
            "HorizontalPodAutoscaler" => Some(Kind::HorizontalPodAutoscaler),
            _ => None,
        }
    }
}

/// Which manager owns an object (the value of [`SCOPE_LABEL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Waypoint,
    Policy,
    ModelOperator,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Waypoint, Scope::Policy, Scope::ModelOperator];

    pub fn label(self) -> &'static str {
        match self {
            Scope::Waypoint => labels::WAYPOINT_SCOPE,
            Scope::Policy => labels::AUTHORIZATION_POLICY_SCOPE,
            Scope::ModelOperator => labels::MODELOPERATOR_AUTHORIZATION_POLICY_SCOPE,
        }
    }

    pub fn of(object: &Value) -> Option<Scope> {
        let label = object
            .pointer("/metadata/labels")?
            .get(SCOPE_LABEL)?
            .as_str()?;
        Scope::ALL.into_iter().find(|s| s.label() == label)
    }
}

/// Identity of a namespaced object of one of our kinds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn of(object: &Value) -> Option<ObjectKey> {
        Some(ObjectKey {
            kind: Kind::of(object)?,
            namespace: object.pointer("/metadata/namespace")?.as_str()?.to_owned(),
            name: object.pointer("/metadata/name")?.as_str()?.to_owned(),
        })
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind.name(), self.namespace, self.name)
    }
}

/// An AuthorizationPolicy, Gateway or HPA body with our ownership labels merged in.
pub fn with_owner_labels(body: Value, instance: &str, scope: Scope) -> Value {
    let labels = [
        (INSTANCE_LABEL.to_owned(), instance.to_owned()),
        (SCOPE_LABEL.to_owned(), scope.label().to_owned()),
    ];
    with_labels(body, &labels)
}

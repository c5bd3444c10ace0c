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
    DestinationRule,
    PeerAuthentication,
    /// The kinds of the non-Istio `mesh-backend`s ([`Kind::BACKEND`]).
    /// SMI `access.smi-spec.io` TrafficTarget.
    TrafficTarget,
    /// SMI `specs.smi-spec.io` HTTPRouteGroup.
    HttpRouteGroup,
    /// SMI `specs.smi-spec.io` TCPRoute.
    TcpRoute,
    /// Consul `consul.hashicorp.com` ServiceIntentions.
    ServiceIntentions,
    /// Linkerd `policy.linkerd.io` Server.
    LinkerdServer,
    /// Linkerd `policy.linkerd.io` AuthorizationPolicy (not Istio's).
    LinkerdAuthorizationPolicy,
    /// Linkerd `policy.linkerd.io` MeshTLSAuthentication.
    MeshTlsAuthentication,
    /// Linkerd `policy.linkerd.io` HTTPRoute (not the Gateway API's).
    LinkerdHttpRoute,
}

impl Kind {
    /// Every kind a non-Istio backend renders.
    pub const BACKEND: [Kind; 8] = [
        Kind::TrafficTarget,
        Kind::HttpRouteGroup,
        Kind::TcpRoute,
        Kind::ServiceIntentions,
        Kind::LinkerdServer,
        Kind::LinkerdAuthorizationPolicy,
        Kind::MeshTlsAuthentication,
        Kind::LinkerdHttpRoute,
    ];

    /// The kinds `backend` renders into (none for Istio: its policies are
    /// [`Kind::AuthorizationPolicy`], reconciled in their own scopes).
    pub fn of_backend(backend: &service_mesh::backends::Backend) -> Vec<Kind> {
        if *backend == service_mesh::backends::Backend::Istio {
            return Vec::new();
        }
        backend
            .kinds()
            .iter()
            .filter_map(|(api_version, kind, _)| Kind::from_api(api_version, kind))
            .collect()
    }

    /// The kind of `apiVersion` and `kind`, if it is one of ours.
    pub fn from_api(api_version: &str, kind: &str) -> Option<Kind> {
        let group = api_version.split('/').next().unwrap_or_default();
        let found = match (group, kind) {
            ("policy.linkerd.io", "AuthorizationPolicy") => Kind::LinkerdAuthorizationPolicy,
            (_, "AuthorizationPolicy") => Kind::AuthorizationPolicy,
            (_, "Gateway") => Kind::Gateway,
            (_, "HorizontalPodAutoscaler") => Kind::HorizontalPodAutoscaler,
            (_, "DestinationRule") => Kind::DestinationRule,
            (_, "PeerAuthentication") => Kind::PeerAuthentication,
            (_, "TrafficTarget") => Kind::TrafficTarget,
            (_, "HTTPRouteGroup") => Kind::HttpRouteGroup,
            (_, "TCPRoute") => Kind::TcpRoute,
            (_, "ServiceIntentions") => Kind::ServiceIntentions,
            ("policy.linkerd.io", "Server") => Kind::LinkerdServer,
            ("policy.linkerd.io", "HTTPRoute") => Kind::LinkerdHttpRoute,
            (_, "MeshTLSAuthentication") => Kind::MeshTlsAuthentication,
            _ => return None,
        };
        (found.group() == group).then_some(found)
    }

    pub fn group(self) -> &'static str {
        match self {
            Kind::AuthorizationPolicy | Kind::PeerAuthentication => "security.istio.io",
            Kind::Gateway => "gateway.networking.k8s.io",
            Kind::HorizontalPodAutoscaler => "autoscaling",
            Kind::DestinationRule => "networking.istio.io",
            Kind::TrafficTarget => "access.smi-spec.io",
            Kind::HttpRouteGroup | Kind::TcpRoute => "specs.smi-spec.io",
            Kind::ServiceIntentions => "consul.hashicorp.com",
            Kind::LinkerdServer
            | Kind::LinkerdAuthorizationPolicy
            | Kind::MeshTlsAuthentication
            | Kind::LinkerdHttpRoute => "policy.linkerd.io",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Kind::AuthorizationPolicy
            | Kind::Gateway
            | Kind::DestinationRule
            | Kind::PeerAuthentication => "v1",
            Kind::HorizontalPodAutoscaler => "v2",
            Kind::TrafficTarget => "v1alpha3",
            Kind::HttpRouteGroup | Kind::TcpRoute => "v1alpha4",
            Kind::ServiceIntentions
            | Kind::LinkerdAuthorizationPolicy
            | Kind::MeshTlsAuthentication => "v1alpha1",
            Kind::LinkerdServer | Kind::LinkerdHttpRoute => "v1beta3",
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
            Kind::DestinationRule => "DestinationRule",
            Kind::PeerAuthentication => "PeerAuthentication",
            Kind::TrafficTarget => "TrafficTarget",
            Kind::HttpRouteGroup => "HTTPRouteGroup",
            Kind::TcpRoute => "TCPRoute",
            Kind::ServiceIntentions => "ServiceIntentions",
            Kind::LinkerdServer => "Server",
            Kind::LinkerdAuthorizationPolicy => "AuthorizationPolicy",
            Kind::MeshTlsAuthentication => "MeshTLSAuthentication",
            Kind::LinkerdHttpRoute => "HTTPRoute",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::AuthorizationPolicy => "authorizationpolicies",
            Kind::Gateway => "gateways",
            Kind::HorizontalPodAutoscaler => "horizontalpodautoscalers",
            Kind::DestinationRule => "destinationrules",
            Kind::PeerAuthentication => "peerauthentications",
            Kind::TrafficTarget => "traffictargets",
            Kind::HttpRouteGroup => "httproutegroups",
            Kind::TcpRoute => "tcproutes",
            Kind::ServiceIntentions => "serviceintentions",
            Kind::LinkerdServer => "servers",
            Kind::LinkerdAuthorizationPolicy => "authorizationpolicies",
            Kind::MeshTlsAuthentication => "meshtlsauthentications",
            Kind::LinkerdHttpRoute => "httproutes",
        }
    }

    /// The kind of an object body, from its `kind` field.
    /// An object without `apiVersion` is read by its `kind` alone, as Istio's (or the
    /// Gateway API's, autoscaling's) kind of that name.
    pub fn of(object: &Value) -> Option<Kind> {
        let kind = object.get("kind")?.as_str()?;
        match object.get("apiVersion").and_then(Value::as_str) {
            Some(api_version) => Kind::from_api(api_version, kind),
            None => match kind {
                "AuthorizationPolicy" => Some(Kind::AuthorizationPolicy),
                "Gateway" => Some(Kind::Gateway),
                "HorizontalPodAutoscaler" => Some(Kind::HorizontalPodAutoscaler),
                "DestinationRule" => Some(Kind::DestinationRule),
                "PeerAuthentication" => Some(Kind::PeerAuthentication),
                _ => None,
            },
        }
    }
}

/// Which manager owns an object (the value of [`SCOPE_LABEL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Waypoint,
    Policy,
    ModelOperator,
    /// DestinationRules and PeerAuthentications: consumers' traffic intents and `mtls-mode`.
    Traffic,
    /// The objects a non-Istio `mesh-backend` renders the consumer policies into.
    Backend,
}

/// The scope value of the beacon's traffic objects (not in the Python beacon).
pub const TRAFFIC_SCOPE: &str = "istio-traffic-intent";
/// The scope value of the objects a non-Istio `mesh-backend` renders (not in the Python
/// beacon).
pub const BACKEND_SCOPE: &str = "mesh-backend-policy";

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Waypoint,
        Scope::Policy,
        Scope::ModelOperator,
        Scope::Traffic,
        Scope::Backend,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Scope::Waypoint => labels::WAYPOINT_SCOPE,
            Scope::Policy => labels::AUTHORIZATION_POLICY_SCOPE,
            Scope::ModelOperator => labels::MODELOPERATOR_AUTHORIZATION_POLICY_SCOPE,
            Scope::Traffic => TRAFFIC_SCOPE,
            Scope::Backend => BACKEND_SCOPE,
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

/// What proves that an object listed under our owner label is ours to delete. A label
/// alone does not: the legacy value `<app>-<model>` of this beacon is the current value
/// `<model>-<app>` of a beacon named after our model in a model named after our app
/// (app `prod` in model `istio-beacon-k8s` and our `istio-beacon-k8s` in `prod` both read
/// `istio-beacon-k8s-prod`), and anyone can put a label on anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// The field manager every write of ours carries (the app name, as the Python beacon's).
    pub field_manager: String,
    /// The legacy owner label value, if it can exist (`Names::legacy_instance`).
    pub legacy_instance: Option<String>,
    /// `<app>-<model>-`: how the names of policies (ours and the Python beacon's) start.
    pub name_prefix: String,
    /// Our waypoint's name (the Gateway and HPA).
    pub waypoint: String,
}

impl Ownership {
    /// `Ok` when an owned-labelled object with these `labels` and field `managers` is
    /// provably ours: our field manager wrote it, and under the legacy label its name is one
    /// we give. `Err` says why it is left alone.
    pub fn check(
        &self,
        key: &ObjectKey,
        labels: &Labels,
        managers: &[String],
    ) -> Result<(), String> {
        if !managers.contains(&self.field_manager) {
            return Err(format!(
                "Leaving {key}: it carries our owner label but was not written by field manager {:?} (managers: {managers:?})",
                self.field_manager
            ));
        }
        let legacy = self.legacy_instance.is_some()
            && labels.get(INSTANCE_LABEL) == self.legacy_instance.as_ref();
        if legacy && !key.name.starts_with(&self.name_prefix) && key.name != self.waypoint {
            return Err(format!(
                "Leaving {key}: it carries our legacy owner label but not a name we give (\"{}...\")",
                self.name_prefix
            ));
        }
        Ok(())
    }
}

/// Label map as read from an object; values are strings.
pub type Labels = std::collections::BTreeMap<String, String>;

/// The labels (string values) of an object body.
pub fn labels_of(object: &Value) -> Labels {
    labels_at(object, "/metadata/labels")
}

/// The string-valued entries of the map at `pointer` in `object` (e.g. a pod template's
/// labels); empty when there is none.
pub fn labels_at(object: &Value, pointer: &str) -> Labels {
    object
        .pointer(pointer)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The field managers in an object body's `metadata.managedFields`.
pub fn managers_of(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| Some(e.get("manager")?.as_str()?.to_owned()))
        .collect()
}

/// An AuthorizationPolicy, Gateway or HPA body with our ownership labels merged in.
pub fn with_owner_labels(body: Value, instance: &str, scope: Scope) -> Value {
    let labels = [
        (INSTANCE_LABEL.to_owned(), instance.to_owned()),
        (SCOPE_LABEL.to_owned(), scope.label().to_owned()),
    ];
    with_labels(body, &labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_mesh::backends::Backend;

    #[test]
    fn every_backend_kind_is_one_of_ours_and_linkerd_policies_are_not_istio_ones() {
        for name in ["smi", "consul", "linkerd"] {
            let backend = Backend::from_name(name).expect("backend");
            let kinds = Kind::of_backend(&backend);
            assert_eq!(kinds.len(), backend.kinds().len(), "{name}");
            for (kind, (api_version, name, plural)) in kinds.iter().zip(backend.kinds()) {
                assert_eq!(kind.api_version(), *api_version);
                assert_eq!(kind.name(), *name);
                assert_eq!(kind.plural(), *plural);
                assert!(Kind::BACKEND.contains(kind));
            }
        }
        assert!(Kind::of_backend(&Backend::Istio).is_empty());
        let linkerd = serde_json::json!({"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "AuthorizationPolicy"});
        assert_eq!(Kind::of(&linkerd), Some(Kind::LinkerdAuthorizationPolicy));
        let istio = serde_json::json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy"});
        assert_eq!(Kind::of(&istio), Some(Kind::AuthorizationPolicy));
        let bare = serde_json::json!({"kind": "AuthorizationPolicy"});
        assert_eq!(Kind::of(&bare), Some(Kind::AuthorizationPolicy));
        let foreign = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Server"});
        assert_eq!(Kind::of(&foreign), None);
    }
}

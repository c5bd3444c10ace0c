//! The `service_mesh` data types (`canonical_service_mesh` models and enums), as Rust values.

use std::fmt;

/// Ordered `str → str` map: the JSON key order of `target_selector_labels` feeds the hash.
pub type LabelMap = Vec<(String, String)>;

/// HTTP method (`canonical_service_mesh.enums.Method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Connect,
    Delete,
    Get,
    Head,
    Options,
    Patch,
    Post,
    Put,
    Trace,
}

impl Method {
    pub const ALL: [Method; 9] = [
        Method::Connect,
        Method::Delete,
        Method::Get,
        Method::Head,
        Method::Options,
        Method::Patch,
        Method::Post,
        Method::Put,
        Method::Trace,
    ];

    /// The enum value, as sent on the wire (`"GET"`).
    pub fn value(self) -> &'static str {
        match self {
            Method::Connect => "CONNECT",
            Method::Delete => "DELETE",
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Trace => "TRACE",
        }
    }

    /// Exact, case-sensitive value lookup, as pydantic validates a `str` enum.
    pub fn from_value(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.value() == s)
    }

    /// Python `repr()`: `<Method.get: 'GET'>` (member name lowercase, value uppercase).
    pub fn py_repr(self) -> String {
        format!(
            "<Method.{}: '{}'>",
            self.value().to_ascii_lowercase(),
            self.value()
        )
    }
}

/// Where a policy is enforced (`PolicyTargetType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PolicyTargetType {
    /// L7, enforced by the waypoint on the target Service.
    #[default]
    App,
    /// L4, enforced by ztunnel on the target pods.
    Unit,
}

impl PolicyTargetType {
    pub fn value(self) -> &'static str {
        match self {
            PolicyTargetType::App => "app",
            PolicyTargetType::Unit => "unit",
        }
    }

    pub fn from_value(s: &str) -> Option<Self> {
        match s {
            "app" => Some(PolicyTargetType::App),
            "unit" => Some(PolicyTargetType::Unit),
            _ => None,
        }
    }

    /// Python `repr()`: `<PolicyTargetType.app: 'app'>`.
    pub fn py_repr(self) -> String {
        format!("<PolicyTargetType.{0}: '{0}'>", self.value())
    }
}

/// Python 3.11 `format()` of the enum member, as used in the validator messages.
impl fmt::Display for PolicyTargetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyTargetType.{}", self.value())
    }
}

/// Mesh implementation (`MeshType`); only Istio exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MeshType {
    #[default]
    Istio,
}

impl MeshType {
    pub fn value(self) -> &'static str {
        match self {
            MeshType::Istio => "istio",
        }
    }

    pub fn from_value(s: &str) -> Option<Self> {
        (s == "istio").then_some(MeshType::Istio)
    }
}

/// A port number as pydantic's `int` holds it: any size, canonical decimal text.
///
/// Consumers may send `"80"`, `80.0`, `true` or even a 30-digit number; pydantic keeps the
/// exact integer and it shows up in the hash and in the policy body, so it is kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Port(pub(super) String);

impl Port {
    /// The value as an `i64`, if it fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// Canonical decimal text (Python `str(int)`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<i64> for Port {
    fn from(v: i64) -> Self {
        Port(v.to_string())
    }
}

impl From<u16> for Port {
    fn from(v: u16) -> Self {
        Port(v.to_string())
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One allowed endpoint of a policy. `None` means "any"; an empty list is kept as such.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoint {
    pub hosts: Option<Vec<String>>,
    pub ports: Option<Vec<Port>>,
    pub methods: Option<Vec<Method>>,
    pub paths: Option<Vec<String>>,
}

/// A policy as exchanged on the `service_mesh` relation (current schema, field order matters
/// for the hash and for the databag encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshPolicy {
    pub source_namespace: String,
    pub source_app_name: String,
    pub target_namespace: String,
    pub target_app_name: Option<String>,
    pub target_selector_labels: Option<LabelMap>,
    pub target_service: Option<String>,
    pub target_type: PolicyTargetType,
    pub endpoints: Vec<Endpoint>,
}

/// `CMRData`: who the client of a cross-model relation really is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmrData {
    pub app_name: String,
    pub juju_model_name: String,
}

/// What the provider (beacon) publishes: `ServiceMeshProviderAppData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAppData {
    pub labels: LabelMap,
    pub mesh_type: MeshType,
}

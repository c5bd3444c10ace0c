//! Rust implementation of Charmed Service Mesh's `service_mesh` interface, wire-compatible with
//! the Python `charmlibs.interfaces.service_mesh` and `canonical_service_mesh` packages.
//!
//! The core (types, Python-compatible JSON, names, labels, the Istio builder, the owned-object
//! diff, the ambient authorization evaluator [`authz`], traffic intents and their Istio
//! DestinationRule/PeerAuthentication [`traffic`]) is pure; Kubernetes I/O lives behind the
//! `kube` feature. Python's `repr()` of strings, which the policy hash feeds on, comes from the
//! `python-repr` crate.

pub mod authz;
pub mod backends;
pub mod istio;
pub mod labels;
pub mod model;
pub mod names;
pub mod owned;
pub mod pyjson;
pub mod traffic;

pub use istio::{BuildError, build_authorization_policy};
pub use model::{
    CmrData, CmrDataError, DatabagError, Endpoint, FieldError, FieldErrorKind, LabelMap, Loc,
    LocPart, MeshPolicy, MeshType, Method, PolicyError, PolicyParseError, PolicyTargetType, Port,
    ProviderAppData, ProviderDataError, RuleViolation, dump_policies, parse_policies,
};
pub use traffic::{TrafficError, TrafficIntent};

#[cfg(feature = "kube")]
pub mod consumer;
#[cfg(feature = "kube")]
pub mod prm;

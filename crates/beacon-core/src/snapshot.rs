//! The typed, read-only view of the Juju model for one hook. The binary reads it
//! (`src/snapshot.rs`); everything downstream is computed from it.

use std::collections::BTreeMap;

use crate::memo::{Derived, Published};

pub const SERVICE_MESH: &str = "service-mesh";
pub const PROVIDE_CMR_MESH: &str = "provide-cmr-mesh";
pub const METRICS_ENDPOINT: &str = "metrics-endpoint";
pub const CHARM_TRACING: &str = "charm-tracing";
pub const PEERS: &str = "peers";
pub const METRICS_PROXY: &str = "metrics-proxy";

/// The charm's config, typed, with the defaults of config.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub manage_authorization_policies: bool,
    pub model_on_mesh: bool,
    /// Namespaces cross-model consumers may open (see the admission module); none by
    /// default.
    pub cross_model_namespaces: Vec<String>,
    /// `mtls-mode`: a PeerAuthentication for the model's namespace; `None`: write none.
    pub mtls_mode: Option<service_mesh::traffic::MtlsMode>,
    /// `mesh-backend`: which mesh consumer policies are rendered for (Istio by default).
    pub mesh_backend: service_mesh::backends::Backend,
    /// `smi-controller` and `smi-mesh-name`: the SMI mesh `model-on-mesh` enrolls the
    /// namespace in.
    pub smi_mesh: crate::onboarding::SmiMesh,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            manage_authorization_policies: true,
            model_on_mesh: false,
            cross_model_namespaces: Vec::new(),
            mtls_mode: None,
            mesh_backend: service_mesh::backends::Backend::Istio,
            smi_mesh: Default::default(),
        }
    }
}

/// The consumer relation an intent comes from, for log lines about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub relation_id: u64,
    pub app: String,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "service-mesh:{} ({})", self.relation_id, self.app)
    }
}

/// A consumer on `service-mesh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshRelation {
    pub id: u64,
    pub remote_app: String,
    /// The raw `policies` value of the consumer's app databag, if present.
    pub policies: Option<String>,
    /// The raw `traffic` value (its traffic intent), if present.
    pub traffic: Option<String>,
    /// What `policies` gave in an earlier hook, when it is remembered unchanged.
    pub derived: Option<Derived>,
}

/// A relation on our `provide-cmr-mesh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmrRelation {
    pub id: u64,
    pub remote_app: String,
    /// The raw `cmr_data` value of the remote app databag, if present.
    pub cmr_data: Option<String>,
}

/// A relation on `metrics-endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsRelation {
    pub id: u64,
    pub remote_app: String,
    /// This unit's bind address on the relation (`network-get`), if any.
    pub bind_address: Option<String>,
}

/// The `charm-tracing` relation (limit 1): we publish our request on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracingRelation {
    pub id: u64,
}

/// Our own databags on one relation, as far as this hook knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalBags {
    /// Our app bag as read; empty when it was not read (see `app_published`).
    pub app: BTreeMap<String, String>,
    /// When the app bag was not read: the [`crate::memo::fingerprint`] of the app data this
    /// unit recorded having published there ([`Published`]).
    pub app_published: Option<String>,
    pub unit: BTreeMap<String, String>,
}

/// Everything the charm knows about Juju during this hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub model: String,
    pub model_uuid: String,
    pub app: String,
    pub unit: String,
    pub leader: bool,
    pub planned_units: u32,
    pub config: Config,
    pub service_mesh: Vec<MeshRelation>,
    pub cmr: Vec<CmrRelation>,
    pub metrics: Vec<MetricsRelation>,
    pub tracing: Option<TracingRelation>,
    /// Our own databags per relation, read only on the leader (a non-leader may not read
    /// its app bags).
    pub databags: BTreeMap<u64, LocalBags>,
    /// What this unit recorded having published (leader only; `None` when never recorded).
    pub published: Option<Published>,
    /// Whether the remembered consumer data differs from what this snapshot read.
    pub remembered_stale: bool,
}

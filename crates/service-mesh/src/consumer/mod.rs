//! Joining Charmed Service Mesh from a Rust charm: the consumer side of the `service_mesh`
//! interface and both sides of `cross_model_mesh`, byte-identical on the wire to Python's
//! `charmlibs.interfaces.service_mesh` (so Rust and Python charms are interchangeable on
//! either side of a relation).
//!
//! - [`AppPolicy`] / [`UnitPolicy`]: what the charm allows, per relation endpoint.
//! - [`build_mesh_policies`] and [`cmr_map`]: the pure policy derivation.
//! - [`ServiceMeshConsumer`]: per-hook handling (policies, `cmr_data`, labels), and
//!   [`ServiceMeshConsumer::enabled`], [`ServiceMeshConsumer::labels`],
//!   [`ServiceMeshConsumer::mesh_type`].
//! - [`reconcile_charm_labels`]: put the charm's own pods and Service on the mesh.
//! - [`ServiceMeshConsumer::with_traffic`]: how the charm's Service wants to be reached
//!   ([`crate::traffic`]), sent along with the policies.
//!
//! Custom policies beyond what relations express go through
//! [`crate::prm::PolicyResourceManager`].

mod labels;
mod mesh;
mod policy;

pub use labels::{
    LabelsError, delete_label_configmap, label_configmap_name, label_patch, reconcile_charm_labels,
};
pub use mesh::{
    CmrTarget, ConsumerError, DEFAULT_CMR_PROVIDES, DEFAULT_CMR_REQUIRES, DEFAULT_MESH_RELATION,
    EventPlan, MeshInfo, ServiceMeshConsumer, read_provider_data,
};
pub use policy::{
    AppPolicy, CmrMap, ConsumerPolicy, RelatedApp, UnitPolicy, build_mesh_policies, cmr_map,
};

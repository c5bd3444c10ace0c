//! Snapshots of the contract's worked example (§3.12), shared by the core's tests.

use crate::desired::{Desired, desired};
use crate::names::Names;
use crate::snapshot::{Config, MeshRelation, MetricsRelation, Snapshot};

pub const MYDB_POLICIES: &str = r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [5432, 8080], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}]}, {"source_namespace": "cos", "source_app_name": "prometheus", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9090], "methods": null, "paths": null}]}]"#;

pub fn mesh(id: u64, app: &str, policies: Option<&str>) -> MeshRelation {
    MeshRelation {
        id,
        remote_app: app.into(),
        policies: policies.map(Into::into),
        traffic: None,
        derived: None,
    }
}

pub fn metrics(id: u64, app: &str) -> MetricsRelation {
    MetricsRelation {
        id,
        remote_app: app.into(),
        bind_address: Some("10.1.2.3".into()),
    }
}

/// §3.12: beacon in `prod`, 2 units, mydb on service-mesh, otel-collector on metrics-endpoint.
pub fn example() -> Snapshot {
    Snapshot {
        model: "prod".into(),
        model_uuid: "7b0e1c9e-0000-4000-8000-000000000001".into(),
        app: "istio-beacon-k8s".into(),
        unit: "istio-beacon-k8s/0".into(),
        leader: true,
        planned_units: 2,
        config: Config::default(),
        service_mesh: vec![mesh(3, "mydb", Some(MYDB_POLICIES))],
        cmr: vec![],
        metrics: vec![metrics(5, "otel-collector")],
        tracing: None,
        databags: Default::default(),
        published: None,
        remembered_stale: false,
    }
}

/// The desired state of `snap`.
pub fn run(snap: &Snapshot) -> Desired {
    desired(snap, &Names::new(&snap.model, &snap.app).expect("names"))
}

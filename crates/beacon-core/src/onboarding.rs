//! `model-on-mesh`: what each mesh expects on the model's Namespace to put its workloads on
//! the mesh, and the label saying which beacon set it.
//!
//! | mesh | on the Namespace | read by |
//! |---|---|---|
//! | Istio (ambient) | labels `istio.io/dataplane-mode: ambient`, `istio.io/use-waypoint: <waypoint>` | istio-cni / ztunnel, istiod |
//! | osm-edge, OSM (`smi-controller=osm`) | label `openservicemesh.io/monitored-by: <mesh name>`, annotation `openservicemesh.io/sidecar-injection: enabled` (what `osm namespace add` sets) | the OSM controller and its injector webhook |
//! | FSM (`smi-controller=fsm`) | label `flomesh.io/monitored-by: <mesh name>`, annotation `flomesh.io/sidecar-injection: enabled` (`fsm namespace add`) | the FSM controller and injector |
//! | Consul | label `connect-inject: enabled` | consul-k8s's injector, when installed with `connectInject.default: true` and a `connectInject.namespaceSelector` matching it (consul-k8s has no fixed namespace marker; this is the example of its Helm values) |
//! | Linkerd | annotation `linkerd.io/inject: enabled` | Linkerd's proxy injector |
//!
//! Sidecar meshes inject pods when they are created: workloads already running join the
//! mesh when they restart. Each mesh's keys are guarded like the Istio labels of the
//! Python beacon: set only where none of them is set yet or the mesh's managed-by label
//! names this beacon, removed only when it does. A switch of `mesh-backend` removes the
//! previous mesh's keys (when ours) and sets the new mesh's.

use service_mesh::backends::Backend;

use crate::kinds::{NS_DATAPLANE_MODE, NS_MANAGED_BY, NS_USE_WAYPOINT};

/// Which SMI controller reads the namespace (they differ in their key prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmiController {
    /// osm-edge and OSM: `openservicemesh.io/…`.
    #[default]
    Osm,
    /// Flomesh Service Mesh: `flomesh.io/…`.
    Fsm,
}

impl SmiController {
    /// The controller's default mesh name (`osm install` / `fsm install`).
    pub fn default_mesh_name(self) -> &'static str {
        match self {
            SmiController::Osm => "osm",
            SmiController::Fsm => "fsm",
        }
    }
}

/// The SMI mesh the namespace is enrolled in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmiMesh {
    pub controller: SmiController,
    /// `--mesh-name` of the control plane; `None`: the controller's default.
    pub name: Option<String>,
}

/// One mesh's keys on the Namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onboarding {
    /// The mesh, for log lines.
    pub mesh: &'static str,
    /// The label whose value is the beacon's identity (`<model>.<app>`) when this beacon
    /// set the keys.
    pub managed_by: &'static str,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
}

impl Onboarding {
    /// Istio's (the upstream beacon's labels, with upstream's warnings and patch bodies).
    pub fn is_istio(&self) -> bool {
        self.managed_by == NS_MANAGED_BY
    }
}

fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Every mesh's onboarding, Istio's first, paired with whether the model should be on it:
/// the `mesh-backend`'s when `model_on_mesh`, none otherwise.
pub fn meshes(
    backend: &Backend,
    smi: &SmiMesh,
    waypoint: &str,
    model_on_mesh: bool,
) -> Vec<(Onboarding, bool)> {
    let smi_name = smi
        .name
        .as_deref()
        .unwrap_or(smi.controller.default_mesh_name());
    // The configured controller's keys carry the configured name; the other's are listed
    // only to be removed when ours (after a change of `smi-controller`).
    let smi_name_for = |c: SmiController| {
        if c == smi.controller {
            smi_name
        } else {
            c.default_mesh_name()
        }
    };
    let all = [
        (
            Onboarding {
                mesh: "Istio",
                managed_by: NS_MANAGED_BY,
                labels: pairs(&[(NS_USE_WAYPOINT, waypoint), (NS_DATAPLANE_MODE, "ambient")]),
                annotations: Vec::new(),
            },
            *backend == Backend::Istio,
        ),
        (
            Onboarding {
                mesh: "osm-edge",
                managed_by: "charms.canonical.com/openservicemesh.io.managed-by",
                labels: pairs(&[(
                    "openservicemesh.io/monitored-by",
                    smi_name_for(SmiController::Osm),
                )]),
                annotations: pairs(&[("openservicemesh.io/sidecar-injection", "enabled")]),
            },
            *backend == Backend::Smi && smi.controller == SmiController::Osm,
        ),
        (
            Onboarding {
                mesh: "FSM",
                managed_by: "charms.canonical.com/flomesh.io.managed-by",
                labels: pairs(&[("flomesh.io/monitored-by", smi_name_for(SmiController::Fsm))]),
                annotations: pairs(&[("flomesh.io/sidecar-injection", "enabled")]),
            },
            *backend == Backend::Smi && smi.controller == SmiController::Fsm,
        ),
        (
            Onboarding {
                mesh: "Consul",
                managed_by: "charms.canonical.com/consul.hashicorp.com.managed-by",
                labels: pairs(&[("connect-inject", "enabled")]),
                annotations: Vec::new(),
            },
            matches!(backend, Backend::Consul(_)),
        ),
        (
            Onboarding {
                mesh: "Linkerd",
                managed_by: "charms.canonical.com/linkerd.io.managed-by",
                labels: Vec::new(),
                annotations: pairs(&[("linkerd.io/inject", "enabled")]),
            },
            matches!(backend, Backend::Linkerd(_)),
        ),
    ];
    all.into_iter()
        .map(|(onboarding, on)| (onboarding, on && model_on_mesh))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(backend: &Backend, smi: &SmiMesh, on: bool) -> Vec<&'static str> {
        meshes(backend, smi, "w", on)
            .into_iter()
            .filter(|(_, w)| *w)
            .map(|(o, _)| o.mesh)
            .collect()
    }

    #[test]
    fn one_mesh_wanted_and_only_with_model_on_mesh() {
        let smi = SmiMesh::default();
        for name in ["istio", "smi", "consul", "linkerd"] {
            let backend = Backend::from_name(name).expect("backend");
            assert_eq!(wanted(&backend, &smi, false), Vec::<&str>::new());
            assert_eq!(wanted(&backend, &smi, true).len(), 1, "{name}");
        }
        let fsm = SmiMesh {
            controller: SmiController::Fsm,
            name: None,
        };
        assert_eq!(wanted(&Backend::Smi, &fsm, true), ["FSM"]);
        assert_eq!(wanted(&Backend::Smi, &smi, true), ["osm-edge"]);
    }

    #[test]
    fn every_mesh_has_its_own_managed_by_label_and_keys() {
        let all = meshes(&Backend::Istio, &SmiMesh::default(), "w", true);
        let mut managed: Vec<_> = all.iter().map(|(o, _)| o.managed_by).collect();
        managed.sort();
        managed.dedup();
        assert_eq!(managed.len(), all.len());
        for (o, _) in &all {
            assert!(
                !o.labels.is_empty() || !o.annotations.is_empty(),
                "{}",
                o.mesh
            );
            // Every key is a valid qualified name and every value a label value.
            for (k, v) in o.labels.iter().chain(&o.annotations) {
                assert!(crate::admission::label_key(k).is_ok(), "{k}");
                assert!(crate::admission::label_value(v).is_ok(), "{v}");
            }
        }
    }

    #[test]
    fn smi_mesh_name_is_configurable_and_defaults_per_controller() {
        let label = |smi: &SmiMesh, key: &str| {
            meshes(&Backend::Smi, smi, "w", true)
                .into_iter()
                .flat_map(|(o, _)| o.labels)
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
        };
        let osm = SmiMesh::default();
        assert_eq!(
            label(&osm, "openservicemesh.io/monitored-by").as_deref(),
            Some("osm")
        );
        let fsm = SmiMesh {
            controller: SmiController::Fsm,
            name: Some("edge".into()),
        };
        assert_eq!(
            label(&fsm, "flomesh.io/monitored-by").as_deref(),
            Some("edge")
        );
    }
}

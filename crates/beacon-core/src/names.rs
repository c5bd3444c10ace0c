//! Names derived from the model and app (§3.11 of the contract).

use service_mesh::labels::{self, LabelError};

use crate::kinds::Ownership;

/// Names derived from the model and app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub waypoint: String,
    /// `<model>.<app>`: the namespace `managed-by` value.
    pub identity: String,
    /// `<model>-<app>`: the owner label value.
    pub instance: String,
    /// Upstream's pre-1.0 owner label value `<app>-<model>` (§4.9), swept as ours too.
    pub legacy_instance: Option<String>,
    /// `charms.canonical.com/<model>.<app>.telemetry`
    pub telemetry_key: String,
}

impl Names {
    /// Fails only when the model and app names are too long to make label values: no retry
    /// helps, the operator must deploy under shorter names.
    pub fn new(model: &str, app: &str) -> Result<Names, LabelError> {
        let legacy = format!("{app}-{model}");
        Ok(Names {
            waypoint: labels::waypoint_name(model, app)?,
            identity: labels::identity(model, app)?,
            instance: labels::instance_label(model, app)?,
            // A legacy value over 63 characters could never have been a label value.
            legacy_instance: (legacy.len() <= labels::MAX_LABEL_LEN).then_some(legacy),
            telemetry_key: labels::telemetry_label_key(model, app)?,
        })
    }

    /// Our [`Ownership`]: the field manager is the app name (as the Python beacon's
    /// lightkube), and policies are named `<app>-<model>-...`.
    pub fn ownership(&self, model: &str, app: &str) -> Ownership {
        Ownership {
            field_manager: app.to_owned(),
            legacy_instance: self.legacy_instance.clone(),
            name_prefix: format!("{app}-{model}-"),
            waypoint: self.waypoint.clone(),
        }
    }

    /// The three labels that put a workload on the mesh, in wire order.
    pub fn mesh_labels(&self, model: &str) -> Vec<(String, String)> {
        vec![
            (
                labels::DATAPLANE_MODE_LABEL.to_owned(),
                "ambient".to_owned(),
            ),
            (labels::USE_WAYPOINT_LABEL.to_owned(), self.waypoint.clone()),
            (
                labels::USE_WAYPOINT_NAMESPACE_LABEL.to_owned(),
                model.to_owned(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_owner_label_is_app_then_model() {
        let names = Names::new("prod", "istio-beacon-k8s").expect("names");
        assert_eq!(names.instance, "prod-istio-beacon-k8s");
        assert_eq!(
            names.legacy_instance.as_deref(),
            Some("istio-beacon-k8s-prod")
        );
        let long = Names::new(&"m".repeat(40), &"a".repeat(40)).expect("names");
        assert_eq!(long.legacy_instance, None);
    }

    #[test]
    fn derived_names_fit_kubernetes_limits_for_long_names() {
        let model = "a-very-long-model-name-for-testing-purposes-0123456789";
        let names = Names::new(model, "istio-beacon-k8s").expect("names");
        for value in [
            &names.waypoint,
            &names.instance,
            &names.identity,
            &names.telemetry_key,
        ] {
            assert!(value.len() <= 63, "{value}");
        }
        assert_eq!(
            names.waypoint,
            "a-very-long-model-name-for-testing--istio-beaco-2f28dd-waypoint"
        );
        assert_eq!(
            names.telemetry_key,
            "charms.canonical.com/a-very-long-model-.istio-.a87b90.telemetry"
        );
    }
}

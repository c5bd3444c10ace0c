//! Putting a charm's own workload on the mesh: `reconcile_charm_labels` (contract §3.10).
//!
//! The mesh labels go on the StatefulSet's pod template and on the Service, both named after
//! the application. A ConfigMap (`juju-service-mesh-<app>-labels`) records which labels this
//! library set, so that a label it set earlier and no longer wants is removed, while labels
//! set by anyone else are never touched.

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PostParams};
use kube::core::GroupVersionKind;
use serde_json::{Map, Value, json};
use thiserror::Error;

use crate::model::LabelMap;
use crate::pyjson::{self, PyValue};

/// `label_configmap_name_template`: the record of labels set on this application.
pub fn label_configmap_name(app_name: &str) -> String {
    format!("juju-service-mesh-{app_name}-labels")
}

/// A Kubernetes call of the label reconcile failed.
#[derive(Debug, Error)]
#[error("cannot {what}: {source}")]
pub struct LabelsError {
    /// What was being done, e.g. `patch StatefulSet mydb`.
    pub what: String,
    #[source]
    pub source: kube::Error,
}

/// The labels patch (`value` = set, `None` = remove) and the new record, from the wanted
/// labels and the labels recorded by the previous reconcile. Pure; same order as Python
/// (wanted labels first, then removals in record order).
///
/// ```
/// use service_mesh::consumer::label_patch;
///
/// let wanted = vec![("istio.io/dataplane-mode".to_string(), "ambient".to_string())];
/// let recorded = vec![
///     ("istio.io/dataplane-mode".to_string(), "ambient".to_string()),
///     ("istio.io/use-waypoint".to_string(), "prod-istio-beacon-k8s-waypoint".to_string()),
/// ];
/// let (patch, record) = label_patch(&wanted, &recorded);
/// assert_eq!(
///     patch,
///     vec![
///         ("istio.io/dataplane-mode".to_string(), Some("ambient".to_string())),
///         ("istio.io/use-waypoint".to_string(), None),
///     ]
/// );
/// assert_eq!(record, r#"{"istio.io/dataplane-mode": "ambient"}"#);
/// ```
pub fn label_patch(
    wanted: &LabelMap,
    recorded: &LabelMap,
) -> (Vec<(String, Option<String>)>, String) {
    let mut patch: Vec<(String, Option<String>)> = Vec::new();
    for (k, v) in wanted {
        // A repeated key keeps its first position and last value, as a Python dict does.
        match patch.iter_mut().find(|(pk, _)| pk == k) {
            Some(slot) => slot.1 = Some(v.clone()),
            None => patch.push((k.clone(), Some(v.clone()))),
        }
    }
    for (k, _) in recorded {
        if !patch.iter().any(|(pk, _)| pk == k) {
            patch.push((k.clone(), None));
        }
    }
    let record = pyjson::dumps_value(&PyValue::Dict(
        patch
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), PyValue::Str(v.clone()))))
            .collect(),
    ));
    (patch, record)
}

/// Parse the record's `labels` JSON. A record someone broke is treated as empty (logged):
/// failing every hook would not repair it, and the next reconcile rewrites it.
fn parse_record(raw: &str) -> LabelMap {
    match pyjson::loads(raw) {
        Ok(PyValue::Dict(items)) => items
            .into_iter()
            .filter_map(|(k, v)| match v {
                PyValue::Str(s) => Some((k, s)),
                _ => None,
            })
            .collect(),
        _ => {
            tracing::warn!(
                "The label record is not a JSON object of strings; treating it as empty"
            );
            Vec::new()
        }
    }
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// `reconcile_charm_labels`: set `labels` on StatefulSet `app_name`'s pod template and on
/// Service `app_name` in `namespace`, remove the labels this function set before and no
/// longer wants, and record the new set in ConfigMap `label_configmap_name` (created on
/// first use). All writes carry `fieldManager=<field_manager>` (the Python client uses the
/// application name). The patches are strategic merges of the labels only.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use service_mesh::consumer::{label_configmap_name, reconcile_charm_labels};
///
/// let client = charm_runtime::k8s::client_in_namespace("prod").await?;
/// let labels = vec![("istio.io/dataplane-mode".to_string(), "ambient".to_string())];
/// reconcile_charm_labels(&client, "mydb", "prod", &label_configmap_name("mydb"), &labels, "mydb")
///     .await?;
/// # Ok(())
/// # }
/// ```
pub async fn reconcile_charm_labels(
    client: &kube::Client,
    app_name: &str,
    namespace: &str,
    label_configmap_name: &str,
    labels: &LabelMap,
    field_manager: &str,
) -> Result<(), LabelsError> {
    let configmaps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &resource("", "v1", "ConfigMap", "configmaps"),
    );
    let recorded = match configmaps.get(label_configmap_name).await {
        Ok(cm) => cm
            .data
            .get("data")
            .and_then(|d| d.get("labels"))
            .and_then(Value::as_str)
            .map(parse_record)
            .unwrap_or_default(),
        Err(e) if is_not_found(&e) => {
            let body: DynamicObject = serde_json::from_value(json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": label_configmap_name, "namespace": namespace},
                "data": {"labels": "{}"},
            }))
            .map_err(|e| LabelsError {
                what: format!("build ConfigMap {label_configmap_name}"),
                source: kube::Error::SerdeError(e),
            })?;
            let pp = PostParams {
                field_manager: Some(field_manager.to_owned()),
                ..PostParams::default()
            };
            configmaps
                .create(&pp, &body)
                .await
                .map_err(|source| LabelsError {
                    what: format!("create ConfigMap {label_configmap_name}"),
                    source,
                })?;
            Vec::new()
        }
        Err(source) => {
            return Err(LabelsError {
                what: format!("get ConfigMap {label_configmap_name}"),
                source,
            });
        }
    };
    let (patch, record) = label_patch(labels, &recorded);
    let patch_labels: Map<String, Value> = patch
        .into_iter()
        .map(|(k, v)| (k, v.map_or(Value::Null, Value::String)))
        .collect();
    let params = charm_runtime::k8s::patch_params(field_manager);

    let statefulsets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &resource("apps", "v1", "StatefulSet", "statefulsets"),
    );
    let body = json!({"spec": {"template": {"metadata": {"labels": patch_labels}}}});
    statefulsets
        .patch(app_name, &params, &Patch::Strategic(body))
        .await
        .map_err(|source| LabelsError {
            what: format!("patch StatefulSet {app_name}"),
            source,
        })?;

    let services: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &resource("", "v1", "Service", "services"),
    );
    let body = json!({"metadata": {"labels": patch_labels}});
    services
        .patch(app_name, &params, &Patch::Strategic(body))
        .await
        .map_err(|source| LabelsError {
            what: format!("patch Service {app_name}"),
            source,
        })?;

    let body = json!({"data": {"labels": record}});
    configmaps
        .patch(label_configmap_name, &params, &Patch::Strategic(body))
        .await
        .map_err(|source| LabelsError {
            what: format!("patch ConfigMap {label_configmap_name}"),
            source,
        })?;
    Ok(())
}

/// Delete the label record ConfigMap (on leaving the mesh). Already gone is fine.
pub async fn delete_label_configmap(
    client: &kube::Client,
    namespace: &str,
    label_configmap_name: &str,
) -> Result<(), LabelsError> {
    let configmaps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &resource("", "v1", "ConfigMap", "configmaps"),
    );
    match configmaps
        .delete(label_configmap_name, &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(source) => Err(LabelsError {
            what: format!("delete ConfigMap {label_configmap_name}"),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lm(pairs: &[(&str, &str)]) -> LabelMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The three cases of upstream `test_reconcile_charm_labels`.
    #[test]
    fn add_update_remove_and_remove_all() {
        let (patch, record) = label_patch(&lm(&[("foo", "bar")]), &lm(&[]));
        assert_eq!(patch, vec![("foo".into(), Some("bar".into()))]);
        assert_eq!(record, r#"{"foo": "bar"}"#);

        let (patch, record) = label_patch(
            &lm(&[("foo", "new"), ("baz", "qux")]),
            &lm(&[("foo", "bar"), ("gone", "x")]),
        );
        assert_eq!(
            patch,
            vec![
                ("foo".into(), Some("new".into())),
                ("baz".into(), Some("qux".into())),
                ("gone".into(), None),
            ]
        );
        assert_eq!(record, r#"{"foo": "new", "baz": "qux"}"#);

        let (patch, record) = label_patch(&lm(&[]), &lm(&[("foo", "bar")]));
        assert_eq!(patch, vec![("foo".into(), None)]);
        assert_eq!(record, "{}");
    }

    #[test]
    fn broken_record_is_treated_as_empty() {
        assert!(parse_record("not json").is_empty());
        assert!(parse_record("[1]").is_empty());
        assert_eq!(parse_record(r#"{"a": "b"}"#), lm(&[("a", "b")]));
    }
}

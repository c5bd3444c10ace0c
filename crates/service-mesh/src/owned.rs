//! The diff between the objects a manager wants and the objects it owns (pure).
//!
//! Ownership is by label: callers list only objects carrying their ownership labels (and
//! scope), so everything passed in as live is theirs to delete. An object is unchanged when
//! every label and spec field we would send is already there with the same value (see
//! [`is_subset`]); fields the API server or other managers added (CRD defaults such as a
//! Gateway listener's `allowedRoutes`, status, other labels) do not count, so a reconcile
//! where nothing changed writes nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// What a reconcile must do to the owned objects.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff<K> {
    /// Owned objects that are no longer desired, in the order they were listed.
    pub delete: Vec<K>,
    /// Desired objects that are missing or differ, in desired order.
    pub apply: Vec<(K, Value)>,
    /// Desired objects already present with these labels and this spec.
    pub unchanged: Vec<K>,
}

impl<K> Default for Diff<K> {
    fn default() -> Self {
        Diff {
            delete: Vec::new(),
            apply: Vec::new(),
            unchanged: Vec::new(),
        }
    }
}

/// Decide deletes and applies. `desired` are the bodies as they would be sent (ownership
/// labels included) and `live` the owned objects found, each with its identity `K`. A key
/// given twice is used once (the first wins).
pub fn diff<'a, K: Ord + Clone>(
    desired: impl IntoIterator<Item = (K, &'a Value)>,
    live: impl IntoIterator<Item = (K, &'a Value)>,
) -> Diff<K> {
    let mut live_by_key = BTreeMap::new();
    let mut listed = Vec::new();
    for (key, object) in live {
        if !live_by_key.contains_key(&key) {
            live_by_key.insert(key.clone(), object);
            listed.push(key);
        }
    }
    let mut out = Diff::default();
    let mut wanted = BTreeSet::new();
    for (key, body) in desired {
        if !wanted.insert(key.clone()) {
            continue;
        }
        match live_by_key.get(&key) {
            Some(live) if up_to_date(body, live) => out.unchanged.push(key),
            _ => out.apply.push((key, body.clone())),
        }
    }
    out.delete = listed
        .into_iter()
        .filter(|key| !wanted.contains(key))
        .collect();
    out
}

/// The parts of a body we send, beyond its identity: labels and spec. A desired body
/// without one of them asks nothing of it.
pub fn up_to_date(desired: &Value, live: &Value) -> bool {
    ["/metadata/labels", "/spec"]
        .iter()
        .all(|p| match (desired.pointer(p), live.pointer(p)) {
            (Some(d), Some(l)) => is_subset(d, l),
            (None, _) => true,
            (Some(_), None) => false,
        })
}

/// `desired` ⊆ `live`: every key of every object in `desired` is in `live` with a value
/// that is itself a subset; arrays must have the same length and match element-wise;
/// numbers are compared as f64 (the server may write `2` back as `2.0`); other scalars
/// must be equal.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, dv)| l.get(k).is_some_and(|lv| is_subset(dv, lv))),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        _ => desired == live,
    }
}

/// `body` with `labels` merged into `metadata.labels` (ours win; a missing or non-object
/// `metadata` or `labels` becomes an object).
pub fn with_labels(mut body: Value, labels: &[(String, String)]) -> Value {
    if let Some(obj) = body.as_object_mut() {
        let metadata = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !metadata.is_object() {
            *metadata = Value::Object(Map::new());
        }
        if let Some(meta) = metadata.as_object_mut() {
            let current = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()));
            if !current.is_object() {
                *current = Value::Object(Map::new());
            }
            if let Some(current) = current.as_object_mut() {
                for (k, v) in labels {
                    current.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
    }
    body
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The ownership labels of a beacon instance `prod-beacon` (also used by prm's tests).
    pub(crate) fn owner() -> Vec<(String, String)> {
        vec![
            ("app.kubernetes.io/instance".into(), "prod-beacon".into()),
            (
                "kubernetes-resource-handler-scope".into(),
                "istio-authorization-policy".into(),
            ),
        ]
    }

    fn gateway(name: &str, port: u16) -> Value {
        with_labels(
            json!({
                "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": {"name": name, "namespace": "prod"},
                "spec": {"gatewayClassName": "istio-waypoint",
                         "listeners": [{"name": "mesh", "port": port, "protocol": "HBONE"}]},
            }),
            &owner(),
        )
    }

    /// `body` as the API server returns it: server metadata, status, a defaulted field.
    fn as_served(body: &Value) -> Value {
        let mut live = body.clone();
        live["metadata"]["resourceVersion"] = json!("7");
        live["metadata"]["labels"]["added-by-someone-else"] = json!("x");
        live["spec"]["listeners"][0]["allowedRoutes"] = json!({"namespaces": {"from": "Same"}});
        live["status"] = json!({"conditions": []});
        live
    }

    fn keyed(objects: &[Value]) -> Vec<(String, &Value)> {
        objects
            .iter()
            .map(|o| (o["metadata"]["name"].as_str().unwrap_or("").to_owned(), o))
            .collect()
    }

    fn names(diff: &Diff<String>) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
        (
            diff.delete.iter().map(String::as_str).collect(),
            diff.apply.iter().map(|(k, _)| k.as_str()).collect(),
            diff.unchanged.iter().map(String::as_str).collect(),
        )
    }

    #[test]
    fn noop_is_nothing_to_do() {
        let desired = [gateway("w", 15008)];
        let live = [gateway("w", 15008)];
        let d = diff(keyed(&desired), keyed(&live));
        assert_eq!(names(&d), (vec![], vec![], vec!["w"]));
        assert_eq!(diff::<String>([], []), Diff::default());
    }

    #[test]
    fn server_defaults_and_foreign_fields_count_as_unchanged() {
        let desired = [gateway("w", 15008)];
        let live = [as_served(&desired[0])];
        assert_eq!(
            names(&diff(keyed(&desired), keyed(&live))),
            (vec![], vec![], vec!["w"])
        );
    }

    #[test]
    fn changed_spec_or_missing_label_is_applied_as_desired() {
        let desired = [gateway("w", 15008)];
        let changed = [as_served(&gateway("w", 15009))];
        let d = diff(keyed(&desired), keyed(&changed));
        assert_eq!(names(&d), (vec![], vec!["w"], vec![]));
        assert_eq!(d.apply[0].1, desired[0]);

        let mut unlabelled = as_served(&desired[0]);
        if let Some(labels) = unlabelled["metadata"]["labels"].as_object_mut() {
            labels.remove("kubernetes-resource-handler-scope");
        }
        let d = diff(keyed(&desired), keyed(&[unlabelled]));
        assert_eq!(names(&d), (vec![], vec!["w"], vec![]));
    }

    #[test]
    fn missing_is_applied_and_stale_is_deleted_in_listed_order() {
        let desired = [gateway("new", 1), gateway("kept", 2)];
        let live = [
            gateway("z-stale", 9),
            gateway("kept", 2),
            gateway("a-stale", 9),
        ];
        let d = diff(keyed(&desired), keyed(&live));
        assert_eq!(
            names(&d),
            (vec!["z-stale", "a-stale"], vec!["new"], vec!["kept"])
        );
    }

    #[test]
    fn only_the_objects_passed_in_are_candidates_for_deletion() {
        // Callers pass only objects carrying their ownership labels and scope; a foreign or
        // other-scope object is simply not in `live`, so nothing is decided about it.
        let desired = [gateway("w", 1)];
        let d = diff(keyed(&desired), keyed(&[]));
        assert_eq!(names(&d), (vec![], vec!["w"], vec![]));
        let d = diff(keyed(&[]), keyed(&desired));
        assert_eq!(names(&d), (vec!["w"], vec![], vec![]));
    }

    #[test]
    fn a_key_given_twice_is_used_once() {
        let desired = [gateway("w", 1), gateway("w", 2)];
        let live = [gateway("old", 1), gateway("old", 1)];
        let d = diff(keyed(&desired), keyed(&live));
        assert_eq!(names(&d), (vec!["old"], vec!["w"], vec![]));
        assert_eq!(d.apply[0].1, desired[0]);
    }

    #[test]
    fn a_body_without_labels_or_spec_asks_nothing_of_them() {
        let live = gateway("w", 1);
        assert!(up_to_date(&json!({"metadata": {"name": "w"}}), &live));
        assert!(!up_to_date(&gateway("w", 1), &json!({"metadata": {}})));
    }

    #[test]
    fn subset_semantics() {
        assert!(is_subset(
            &json!({"a": [1, {"b": 2}]}),
            &json!({"a": [1, {"b": 2, "c": 3}], "d": 4})
        ));
        assert!(!is_subset(&json!({"a": [1]}), &json!({"a": [1, 2]})));
        assert!(!is_subset(&json!({"a": 1}), &json!({"a": "1"})));
        assert!(is_subset(&json!(2), &json!(2.0)));
    }

    #[test]
    fn with_labels_merges_over_existing() {
        let b = json!({"metadata": {"name": "x", "labels": {"keep": "1", "app.kubernetes.io/instance": "old"}}});
        let merged = with_labels(b, &owner());
        assert_eq!(
            merged["metadata"]["labels"],
            json!({"keep": "1", "app.kubernetes.io/instance": "prod-beacon", "kubernetes-resource-handler-scope": "istio-authorization-policy"})
        );
        assert_eq!(
            with_labels(json!({"metadata": null}), &owner())["metadata"]["labels"],
            json!({"app.kubernetes.io/instance": "prod-beacon", "kubernetes-resource-handler-scope": "istio-authorization-policy"})
        );
    }
}

//! One plan converges: applied to an in-memory world, the next plan is empty.

use serde_json::{Value, json};

use crate::fixtures::{example, run};
use crate::kinds::{Kind, ObjectKey};
use crate::plan::{Action, Labels, Live, LiveObject, plan};
use crate::snapshot::Config;

/// A cluster with every CRD installed, the beacon's StatefulSet and Service, Pebble
/// reachable, and nothing else.
pub(super) fn empty_cluster() -> Live {
    Live {
        policies: Some(vec![]),
        gateways: Some(vec![]),
        destination_rules: Some(vec![]),
        peer_authentications: Some(vec![]),
        statefulset_labels: Some(Default::default()),
        service_labels: Some(Default::default()),
        pebble_plan: Some(json!({})),
        ..Live::default()
    }
}

/// Applies a plan to an in-memory world the way the API server, Pebble and Juju would
/// (server-side fields added on write), so that convergence can be checked purely.
pub(super) fn simulate(live: &mut Live, actions: &[Action]) {
    fn set_labels(target: &mut Option<Labels>, patch: &serde_json::Map<String, Value>) {
        let labels = target.get_or_insert_with(Default::default);
        for (k, v) in patch {
            match v.as_str() {
                Some(s) => labels.insert(k.clone(), s.to_owned()),
                None => labels.remove(k),
            };
        }
    }
    for action in actions {
        match action {
            Action::PatchStatefulSetLabels { labels, .. } => {
                set_labels(&mut live.statefulset_labels, labels)
            }
            Action::PatchServiceLabels { labels, .. } => {
                set_labels(&mut live.service_labels, labels)
            }
            Action::CreateLabelRecord { labels, .. } | Action::PatchLabelRecord { labels, .. } => {
                live.label_record = serde_json::from_str(labels).ok();
            }
            Action::PatchNamespace {
                labels,
                annotations,
                ..
            } => {
                let mut ns = Some(live.namespace_labels.clone());
                set_labels(&mut ns, labels);
                live.namespace_labels = ns.unwrap_or_default();
                let mut ns = Some(live.namespace_annotations.clone());
                set_labels(&mut ns, annotations);
                live.namespace_annotations = ns.unwrap_or_default();
            }
            Action::Delete(key) => {
                for list in [live.gateways.as_mut(), Some(&mut live.hpas)]
                    .into_iter()
                    .flatten()
                {
                    list.retain(|o| ObjectKey::of(o).as_ref() != Some(key));
                }
                for list in live.backend.values_mut().flatten() {
                    list.retain(|o| o.key != *key);
                }
                if let Some(list) = live.policies.as_mut() {
                    list.retain(|o| o.key != *key);
                }
            }
            Action::ApplyPolicy {
                intent,
                owner_instance,
                ..
            } => {
                let body = intent.body(owner_instance).expect("buildable");
                if let Some(list) = live.policies.as_mut() {
                    list.retain(|o| {
                        o.key.name != intent.name || o.key.namespace != intent.namespace
                    });
                    let mut stored = body;
                    stored["metadata"]["resourceVersion"] = json!("1");
                    stored["metadata"]["managedFields"] = json!([{"manager": "istio-beacon-k8s"}]);
                    list.extend(LiveObject::from_value(&stored));
                }
            }
            Action::Apply { key, body } => {
                assert_eq!(ObjectKey::of(body).as_ref(), Some(key));
                let key = key.clone();
                let mut stored = body.clone();
                stored["metadata"]["resourceVersion"] = json!("1");
                stored["metadata"]["managedFields"] = json!([{"manager": "istio-beacon-k8s"}]);
                stored["status"] = json!({});
                let list = match key.kind {
                    Kind::AuthorizationPolicy => {
                        if let Some(list) = live.policies.as_mut() {
                            list.retain(|o| o.key != key);
                            list.extend(LiveObject::from_value(&stored));
                        }
                        continue;
                    }
                    Kind::Gateway => live.gateways.as_mut(),
                    Kind::HorizontalPodAutoscaler => Some(&mut live.hpas),
                    Kind::DestinationRule => live.destination_rules.as_mut(),
                    Kind::PeerAuthentication => live.peer_authentications.as_mut(),
                    backend => {
                        if let Some(list) = live.backend.get_mut(&backend).and_then(Option::as_mut)
                        {
                            list.retain(|o| o.key != key);
                            list.extend(LiveObject::from_value(&stored));
                        }
                        continue;
                    }
                };
                if let Some(list) = list {
                    list.retain(|o| ObjectKey::of(o).as_ref() != Some(&key));
                    list.push(stored);
                }
            }
            Action::AddPebbleLayer { layer, .. } => {
                live.pebble_plan = Some(json!({"services": layer["services"]}));
            }
            Action::SetRelationData {
                relation_id,
                app,
                unit,
                ..
            } => {
                let bags = live.databags.entry(*relation_id).or_default();
                bags.app.extend(app.clone());
                bags.unit.extend(unit.clone());
            }
        }
    }
}

#[test]
fn one_plan_converges_and_the_next_is_empty() {
    let stale = json!({
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "istio-beacon-k8s-prod-policy-old", "namespace": "team",
            "managedFields": [{"manager": "istio-beacon-k8s"}], "labels": {
            "app.kubernetes.io/instance": "istio-beacon-k8s-prod",
            "kubernetes-resource-handler-scope": "istio-authorization-policy"}},
        "spec": {},
    });
    let mut variants = vec![example()];
    // Traffic intents and mtls-mode converge too.
    let mut shaped = example();
    shaped.service_mesh[0].traffic = Some(
        r#"{"version": 1, "load_balancer": {"simple": "LEAST_REQUEST"}, "mtls": "STRICT"}"#.into(),
    );
    shaped.config.mtls_mode = Some(service_mesh::traffic::MtlsMode::Permissive);
    variants.push(shaped);
    for (manage, on_mesh, units) in [
        (true, true, 3),
        (false, true, 1),
        (false, false, 0),
        (true, false, 0),
    ] {
        let mut snap = example();
        snap.config = Config {
            manage_authorization_policies: manage,
            model_on_mesh: on_mesh,
            cross_model_namespaces: Vec::new(),
            mtls_mode: None,
            ..Config::default()
        };
        snap.planned_units = units;
        variants.push(snap);
    }
    // Every mesh-backend's namespace onboarding (and no waypoint) converges too.
    for backend in ["smi", "consul", "linkerd"] {
        let mut snap = example();
        snap.config.model_on_mesh = true;
        snap.config.mesh_backend =
            service_mesh::backends::Backend::from_name(backend).expect("backend");
        variants.push(snap);
    }
    for snap in variants {
        let d = run(&snap);
        let mut live = Live {
            policies: Some(LiveObject::from_value(&stale).into_iter().collect()),
            ..empty_cluster()
        };
        let first = plan(&d, &live);
        assert!(!first.actions.is_empty());
        simulate(&mut live, &first.actions);
        assert_eq!(plan(&d, &live).actions, vec![], "{:?}", snap.config);
        // And from that converged state, toggling back and forth also converges.
        let mut other = snap.clone();
        other.config.model_on_mesh = !snap.config.model_on_mesh;
        let d2 = run(&other);
        let second = plan(&d2, &live);
        simulate(&mut live, &second.actions);
        assert_eq!(plan(&d2, &live).actions, vec![]);
        assert!(
            live.policies
                .iter()
                .flatten()
                .all(|p| p.key.name != "istio-beacon-k8s-prod-policy-old")
        );
    }
}

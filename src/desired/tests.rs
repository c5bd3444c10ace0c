//! The pure core against the contract's worked example (§3.12) and upstream's unit-test
//! inventory (§6.1).

use serde_json::{Value, json};

use super::*;
use crate::plan::LiveObject;
use crate::snapshot::{CmrRelation, Config, MetricsRelation};

const MYDB_POLICIES: &str = r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [5432, 8080], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}]}, {"source_namespace": "cos", "source_app_name": "prometheus", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9090], "methods": null, "paths": null}]}]"#;

fn mesh(id: u64, app: &str, policies: Option<&str>) -> MeshRelation {
    MeshRelation {
        id,
        remote_app: app.into(),
        policies: policies.map(Into::into),
        derived: None,
    }
}

fn metrics(id: u64, app: &str) -> MetricsRelation {
    MetricsRelation {
        id,
        remote_app: app.into(),
        bind_address: Some("10.1.2.3".into()),
    }
}

/// §3.12: beacon in `prod`, 2 units, mydb on service-mesh, otel-collector on metrics-endpoint.
fn example() -> Snapshot {
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

/// The policy bodies as the beacon would apply them.
fn bodies(d: &Desired) -> Vec<Value> {
    d.policies
        .iter()
        .map(|p| p.body(&d.owner_instance).expect("buildable"))
        .collect()
}

fn names_of(objects: &[Value]) -> Vec<&str> {
    objects
        .iter()
        .filter_map(|o| o.pointer("/metadata/name")?.as_str())
        .collect()
}

fn owner(scope: &str) -> Value {
    json!({"app.kubernetes.io/instance": "prod-istio-beacon-k8s", "kubernetes-resource-handler-scope": scope})
}

#[test]
fn worked_example_gives_exactly_the_three_contract_policies() {
    let d = desired(&example()).expect("desired");
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);
    let labels = owner("istio-authorization-policy");
    assert_eq!(
        bodies(&d),
        vec![
            json!({
                "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3", "namespace": "prod", "labels": labels},
                "spec": {
                    "targetRefs": [{"group": "", "kind": "Service", "name": "mydb"}],
                    "rules": [{
                        "from": [{"source": {"principals": ["cluster.local/ns/prod/sa/myapp"]}}],
                        "to": [{"operation": {"ports": ["5432", "8080"], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}}],
                    }],
                },
            }),
            json!({
                "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": "istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a", "namespace": "prod", "labels": labels},
                "spec": {
                    "selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
                    "rules": [{
                        "from": [{"source": {"principals": ["cluster.local/ns/cos/sa/prometheus"]}}],
                        "to": [{"operation": {"ports": ["9090"]}}],
                    }],
                },
            }),
            json!({
                "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": "istio-beacon-k8s-prod-policy-otel-collector-prod-istio-beacon-k8s-7d3e1c59", "namespace": "prod", "labels": labels},
                "spec": {
                    "selector": {"matchLabels": {"app.kubernetes.io/name": "istio-beacon-k8s"}},
                    "rules": [{
                        "from": [{"source": {"principals": ["cluster.local/ns/prod/sa/otel-collector"]}}],
                        "to": [{"operation": {"ports": ["15090"]}}],
                    }],
                },
            }),
        ]
    );
    // model-on-mesh is off: no modeloperator policy.
    assert!(d.modeloperator.is_empty());
}

#[test]
fn collect_policies_from_service_mesh_relations_keeps_hosts_and_paths() {
    let mut snap = example();
    snap.metrics.clear();
    snap.service_mesh = vec![mesh(
        3,
        "mydb",
        Some(
            r#"[{"source_namespace": "prod", "source_app_name": "a", "target_namespace": "prod", "target_app_name": "mydb", "endpoints": [{"hosts": ["h1"], "ports": [80], "methods": ["GET"], "paths": ["/p"]}]}]"#,
        ),
    )];
    let d = desired(&snap).expect("desired");
    assert_eq!(
        bodies(&d)[0].pointer("/spec/rules/0/to/0/operation"),
        Some(&json!({"ports": ["80"], "hosts": ["h1"], "methods": ["GET"], "paths": ["/p"]}))
    );
}

#[test]
fn collect_policies_from_related_metrics_endpoint_apps() {
    let mut snap = example();
    snap.service_mesh.clear();
    snap.metrics = vec![metrics(7, "metrics-collector")];
    let d = desired(&snap).expect("desired");
    assert_eq!(names_of(&bodies(&d)).len(), 1);
    let all = bodies(&d);
    let p = &all[0];
    assert_eq!(
        p.pointer("/spec/rules/0/from/0/source/principals/0"),
        Some(&json!("cluster.local/ns/prod/sa/metrics-collector"))
    );
    assert_eq!(
        p.pointer("/spec/rules/0/to/0/operation/ports"),
        Some(&json!(["15090"]))
    );
}

#[test]
fn collect_policies_from_related_cmr_applications() {
    let mut snap = example();
    snap.service_mesh.clear();
    snap.metrics = vec![metrics(7, "remote-0123456789abcdef0123456789abcdef")];
    snap.cmr = vec![CmrRelation {
        id: 8,
        remote_app: "remote-0123456789abcdef0123456789abcdef".into(),
        cmr_data: Some(r#"{"app_name": "cmr", "juju_model_name": "remote_model"}"#.into()),
    }];
    let d = desired(&snap).expect("desired");
    assert_eq!(
        bodies(&d)[0].pointer("/spec/rules/0/from/0/source/principals/0"),
        Some(&json!("cluster.local/ns/remote_model/sa/cmr"))
    );
}

#[test]
fn invalid_cmr_data_is_ignored_with_a_warning() {
    let mut snap = example();
    snap.cmr = vec![CmrRelation {
        id: 8,
        remote_app: "otel-collector".into(),
        cmr_data: Some("{not json".into()),
    }];
    let d = desired(&snap).expect("desired");
    assert_eq!(d.warnings.len(), 1);
    // The scraper is then taken to be in our model, as without cmr data.
    assert!(
        names_of(&bodies(&d)).contains(
            &"istio-beacon-k8s-prod-policy-otel-collector-prod-istio-beacon-k8s-7d3e1c59"
        )
    );
}

#[test]
fn bad_consumer_data_skips_only_the_bad_policies() {
    let mut snap = example();
    snap.metrics.clear();
    snap.service_mesh = vec![
        mesh(3, "mydb", Some(MYDB_POLICIES)),
        mesh(4, "broken", Some("{not json")),
        // #0 unit policy with L7 fields, #1 fails validation, #2 targets someone else,
        // #3 targets another namespace, #4 is fine.
        mesh(
            6,
            "web",
            Some(
                r#"[{"source_namespace": "prod", "source_app_name": "a", "target_namespace": "prod", "target_app_name": "web", "target_type": "unit", "endpoints": [{"ports": [80], "methods": ["GET"]}]},
                    {"source_namespace": "prod", "source_app_name": "a", "target_namespace": "prod", "target_type": "app", "endpoints": []},
                    {"source_namespace": "prod", "source_app_name": "a", "target_namespace": "prod", "target_app_name": "mydb", "endpoints": []},
                    {"source_namespace": "prod", "source_app_name": "a", "target_namespace": "kube-system", "target_app_name": "web", "endpoints": []},
                    {"source_namespace": "prod", "source_app_name": "a", "target_namespace": "prod", "target_app_name": "web", "endpoints": [{"ports": [80]}]}]"#,
            ),
        ),
    ];
    let d = desired(&snap).expect("desired");
    // What a later hook computes from the remembered derivations is the same.
    let mut remembered = snap.clone();
    for rel in &mut remembered.service_mesh {
        rel.derived = d.derived.get(&rel.id).cloned();
    }
    let again = desired(&remembered).expect("desired");
    assert_eq!((bodies(&again), &again.skipped), (bodies(&d), &d.skipped));
    assert!(again.derived.is_empty(), "nothing new to remember");
    assert!(
        again
            .policies
            .iter()
            .all(|p| matches!(p.source, PolicySource::Consumer { .. })),
        "consumer policies are not parsed again"
    );
    let skipped: Vec<(u64, Option<usize>)> =
        d.skipped.iter().map(|s| (s.relation_id, s.index)).collect();
    assert_eq!(
        skipped,
        vec![
            (4, None),
            (6, Some(0)),
            (6, Some(1)),
            (6, Some(2)),
            (6, Some(3))
        ]
    );
    assert!(d.skipped.iter().all(|s| {
        s.to_string()
            .contains(&format!("service-mesh:{}", s.relation_id))
    }));
    // mydb's two and web's good one remain.
    assert_eq!(d.policies.len(), 3);
    assert!(
        bodies(&d)[2]
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.contains("-a-prod-web-"))
    );
}

#[test]
fn cross_model_consumers_are_not_target_checked() {
    let mut snap = example();
    snap.metrics.clear();
    snap.service_mesh = vec![mesh(
        3,
        "remote-0123456789abcdef0123456789abcdef",
        Some(
            r#"[{"source_namespace": "prod", "source_app_name": "a", "target_namespace": "other", "target_app_name": "svc", "endpoints": []}]"#,
        ),
    )];
    let d = desired(&snap).expect("desired");
    assert!(d.skipped.is_empty());
    assert_eq!(
        bodies(&d)[0].pointer("/metadata/namespace"),
        Some(&json!("other"))
    );
}

#[test]
fn an_identical_policy_asked_for_twice_gives_one_object() {
    // mydb's databag repeated in one relation, and its first policy in another relation's
    // databag of the same app: three requests for the app policy, two for the unit one.
    let first: Value = serde_json::from_str(MYDB_POLICIES).expect("json");
    let twice = format!("[{0}, {0}]", &MYDB_POLICIES[1..MYDB_POLICIES.len() - 1]);
    let mut snap = example();
    snap.service_mesh = vec![
        mesh(3, "mydb", Some(&twice)),
        mesh(4, "mydb", Some(&format!("[{}]", first[0]))),
    ];
    let d = desired(&snap).expect("desired");
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);
    assert_eq!(
        names_of(&bodies(&d)),
        [
            "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3",
            "istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a",
            "istio-beacon-k8s-prod-policy-otel-collector-prod-istio-beacon-k8s-7d3e1c59",
        ]
    );
}

#[test]
fn missing_policies_key_is_an_empty_list() {
    let mut snap = example();
    snap.metrics.clear();
    snap.service_mesh = vec![mesh(3, "mydb", None)];
    let d = desired(&snap).expect("desired");
    assert!(d.policies.is_empty() && d.skipped.is_empty());
}

#[test]
fn managed_off_desires_no_policies_at_all() {
    for model_on_mesh in [false, true] {
        let mut snap = example();
        snap.config = Config {
            manage_authorization_policies: false,
            model_on_mesh,
        };
        let d = desired(&snap).expect("desired");
        assert!(d.policies.is_empty() && d.modeloperator.is_empty());
        // The waypoint stays.
        assert_eq!(d.waypoint.len(), 2);
    }
}

#[test]
fn modeloperator_policy_only_with_managed_and_model_on_mesh() {
    let mut snap = example();
    snap.config = Config {
        manage_authorization_policies: true,
        model_on_mesh: true,
    };
    let d = desired(&snap).expect("desired");
    assert_eq!(
        d.modeloperator,
        vec![json!({
            "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {
                "name": "istio-beacon-k8s-prod-policy-all-sources-modeloperator", "namespace": "prod",
                "labels": owner("modeloperator-authorization-policy"),
            },
            "spec": {"selector": {"matchLabels": {"juju-modeloperator": "modeloperator"}}, "rules": [{}]},
        })]
    );
}

#[test]
fn waypoint_hpa_pins_replicas_to_planned_units() {
    for units in [1, 3, 5] {
        let mut snap = example();
        snap.planned_units = units;
        let d = desired(&snap).expect("desired");
        assert_eq!(d.waypoint.len(), 2);
        let hpa = &d.waypoint[1];
        assert_eq!(hpa.pointer("/spec/minReplicas"), Some(&json!(units)));
        assert_eq!(hpa.pointer("/spec/maxReplicas"), Some(&json!(units)));
    }
    let mut snap = example();
    snap.planned_units = 0;
    assert!(desired(&snap).expect("desired").waypoint.is_empty());
}

#[test]
fn waypoint_gateway_matches_the_contract() {
    let d = desired(&example()).expect("desired");
    let mut labels = owner("istio-waypoint");
    if let Some(map) = labels.as_object_mut() {
        map.insert("istio.io/waypoint-for".into(), json!("service"));
        map.insert(
            "charms.canonical.com/prod.istio-beacon-k8s.telemetry".into(),
            json!("aggregated"),
        );
    }
    assert_eq!(
        d.waypoint[0],
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "prod-istio-beacon-k8s-waypoint", "namespace": "prod", "labels": labels},
            "spec": {
                "gatewayClassName": "istio-waypoint",
                "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE", "allowedRoutes": {"namespaces": {"from": "All"}}}],
            },
        })
    );
    assert_eq!(
        d.waypoint[1].pointer("/spec/scaleTargetRef"),
        Some(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "prod-istio-beacon-k8s-waypoint"})
        )
    );
}

#[test]
fn provider_databag_is_byte_identical_to_python() {
    let d = desired(&example()).expect("desired");
    let bag = &d.provider_databags[0];
    assert_eq!(
        (bag.endpoint.as_str(), bag.relation_id),
        ("service-mesh", 3)
    );
    assert_eq!(
        bag.app["labels"],
        r#"{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint", "istio.io/use-waypoint-namespace": "prod"}"#
    );
    assert_eq!(bag.app["mesh_type"], r#""istio""#);

    let mut snap = example();
    snap.config.model_on_mesh = true;
    let d = desired(&snap).expect("desired");
    assert_eq!(d.provider_databags[0].app["labels"], "{}");
}

#[test]
fn namespace_intent_follows_model_on_mesh() {
    let d = desired(&example()).expect("desired");
    assert_eq!(
        d.namespace,
        NamespaceIntent::Remove {
            name: "prod".into(),
            identity: "prod.istio-beacon-k8s".into()
        }
    );
    let mut snap = example();
    snap.config.model_on_mesh = true;
    let d = desired(&snap).expect("desired");
    assert_eq!(
        d.namespace,
        NamespaceIntent::Add {
            name: "prod".into(),
            identity: "prod.istio-beacon-k8s".into(),
            labels: vec![
                (
                    "istio.io/use-waypoint".into(),
                    "prod-istio-beacon-k8s-waypoint".into()
                ),
                ("istio.io/dataplane-mode".into(), "ambient".into()),
                (
                    "charms.canonical.com/istio.io.waypoint.managed-by".into(),
                    "prod.istio-beacon-k8s".into()
                ),
            ],
        }
    );
}

#[test]
fn own_labels_are_the_mesh_labels_whatever_model_on_mesh() {
    for model_on_mesh in [false, true] {
        let mut snap = example();
        snap.config.model_on_mesh = model_on_mesh;
        let d = desired(&snap).expect("desired");
        assert_eq!(
            d.charm_labels.record_name,
            "juju-service-mesh-istio-beacon-k8s-labels"
        );
        assert_eq!(
            d.charm_labels.record_json,
            r#"{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint", "istio.io/use-waypoint-namespace": "prod"}"#
        );
    }
}

#[test]
fn metrics_proxy_layer_selects_the_telemetry_label() {
    let d = desired(&example()).expect("desired");
    assert_eq!(
        d.pebble
            .layer
            .pointer("/services/metrics-proxy/environment/POD_LABEL_SELECTOR"),
        Some(&json!(
            "charms.canonical.com/prod.istio-beacon-k8s.telemetry=aggregated"
        ))
    );
}

#[test]
fn telemetry_app_data_only_on_the_leader() {
    let d = desired(&example()).expect("desired");
    assert_eq!(d.telemetry_databags.len(), 1);
    assert!(d.telemetry_databags[0].app.contains_key("scrape_jobs"));
    assert_eq!(
        d.telemetry_databags[0].unit["prometheus_scrape_unit_address"],
        "10.1.2.3"
    );
    let mut snap = example();
    snap.leader = false;
    let bags = telemetry_databags(&snap);
    assert!(bags[0].app.is_empty());
    assert_eq!(
        bags[0].unit["prometheus_scrape_unit_name"],
        "istio-beacon-k8s/0"
    );
}

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

/// Applies a plan to an in-memory world the way the API server, Pebble and Juju would
/// (server-side fields added on write), so that convergence can be checked purely.
fn simulate(live: &mut crate::plan::Live, actions: &[crate::plan::Action]) {
    use crate::kinds::{Kind, ObjectKey};
    use crate::plan::Action;

    fn set_labels(
        target: &mut Option<crate::plan::Labels>,
        patch: &serde_json::Map<String, Value>,
    ) {
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
            Action::PatchNamespaceLabels { labels, .. } => {
                let mut ns = Some(live.namespace_labels.clone());
                set_labels(&mut ns, labels);
                live.namespace_labels = ns.unwrap_or_default();
            }
            Action::Delete(key) => {
                for list in [live.gateways.as_mut(), Some(&mut live.hpas)]
                    .into_iter()
                    .flatten()
                {
                    list.retain(|o| ObjectKey::of(o).as_ref() != Some(key));
                }
                if let Some(list) = live.policies.as_mut() {
                    list.retain(|o| o.key != *key);
                }
            }
            Action::ApplyPolicy {
                intent,
                owner_instance,
            } => {
                let body = intent.body(owner_instance).expect("buildable");
                if let Some(list) = live.policies.as_mut() {
                    list.retain(|o| {
                        o.key.name != intent.name || o.key.namespace != intent.namespace
                    });
                    let mut stored = body;
                    stored["metadata"]["resourceVersion"] = json!("1");
                    list.extend(LiveObject::from_value(&stored));
                }
            }
            Action::Apply(body) => {
                let key = ObjectKey::of(body).expect("key");
                let mut stored = body.clone();
                stored["metadata"]["resourceVersion"] = json!("1");
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
    use crate::plan::{Live, plan};

    let stale = json!({
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "old", "namespace": "team", "labels": {
            "app.kubernetes.io/instance": "istio-beacon-k8s-prod",
            "kubernetes-resource-handler-scope": "istio-authorization-policy"}},
        "spec": {},
    });
    let mut variants = vec![example()];
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
        };
        snap.planned_units = units;
        variants.push(snap);
    }
    for snap in variants {
        let d = desired(&snap).expect("desired");
        let mut live = Live {
            policies: Some(LiveObject::from_value(&stale).into_iter().collect()),
            gateways: Some(vec![]),
            statefulset_labels: Some(Default::default()),
            service_labels: Some(Default::default()),
            pebble_plan: Some(json!({})),
            ..Live::default()
        };
        let first = plan(&d, &live);
        assert!(!first.actions.is_empty());
        simulate(&mut live, &first.actions);
        assert_eq!(plan(&d, &live).actions, vec![], "{:?}", snap.config);
        // And from that converged state, toggling back and forth also converges.
        let mut other = snap.clone();
        other.config.model_on_mesh = !snap.config.model_on_mesh;
        let d2 = desired(&other).expect("desired");
        let second = plan(&d2, &live);
        simulate(&mut live, &second.actions);
        assert_eq!(plan(&d2, &live).actions, vec![]);
        assert!(live.policies.iter().flatten().all(|p| p.key.name != "old"));
    }
}

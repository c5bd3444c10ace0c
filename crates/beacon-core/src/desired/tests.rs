//! The pure core against the contract's worked example (§3.12) and upstream's unit-test
//! inventory (§6.1).

use serde_json::{Value, json};

use super::*;
use crate::fixtures::{MYDB_POLICIES, example, mesh, metrics, run};
use crate::snapshot::{CmrRelation, Config};

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
    let d = run(&example());
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
    let d = run(&snap);
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
    let d = run(&snap);
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
fn a_scraper_name_that_is_no_kubernetes_name_gets_no_policy() {
    // Found by tests/hostile.rs: a metrics-endpoint app named "᠀" became the principal
    // `cluster.local/ns/prod/sa/᠀` and part of the policy's name, which the API server refuses.
    for bad in ["᠀", "", "a b", "Prom", "prom/../x", &"p".repeat(64)] {
        let mut snap = example();
        snap.service_mesh.clear();
        snap.metrics = vec![metrics(7, "prometheus"), metrics(8, bad)];
        let d = run(&snap);
        let all = bodies(&d);
        assert_eq!(all.len(), 1, "{bad:?}: {:?}", names_of(&all));
        assert_eq!(
            all[0].pointer("/spec/rules/0/from/0/source/principals/0"),
            Some(&json!("cluster.local/ns/prod/sa/prometheus"))
        );
        assert_eq!(d.warnings.len(), 1, "{bad:?}: {:?}", d.warnings);
        assert!(
            d.warnings[0].contains("source_app_name"),
            "{:?}",
            d.warnings
        );
    }
}

#[test]
fn collect_policies_from_related_cmr_applications() {
    let mut snap = example();
    snap.service_mesh.clear();
    snap.metrics = vec![metrics(7, "remote-0123456789abcdef0123456789abcdef")];
    snap.cmr = vec![CmrRelation {
        id: 8,
        remote_app: "remote-0123456789abcdef0123456789abcdef".into(),
        // Upstream's test names the model `remote_model`; a Juju model (and so a namespace)
        // cannot have an underscore, and such cmr_data is ignored (next test).
        cmr_data: Some(r#"{"app_name": "cmr", "juju_model_name": "remote-model"}"#.into()),
    }];
    let d = run(&snap);
    assert_eq!(
        bodies(&d)[0].pointer("/spec/rules/0/from/0/source/principals/0"),
        Some(&json!("cluster.local/ns/remote-model/sa/cmr"))
    );
}

#[test]
fn cmr_data_that_is_not_kubernetes_names_is_ignored() {
    for bad in [
        r#"{"app_name": "cmr", "juju_model_name": "remote_model"}"#,
        r#"{"app_name": "c m r", "juju_model_name": "cos"}"#,
        r#"{"app_name": "cmr?dryRun=All", "juju_model_name": "cos"}"#,
        r#"{"app_name": "cmr", "juju_model_name": "cos/../kube-system"}"#,
    ] {
        let mut snap = example();
        snap.service_mesh.clear();
        snap.metrics = vec![metrics(7, "remote-0123456789abcdef0123456789abcdef")];
        snap.cmr = vec![CmrRelation {
            id: 8,
            remote_app: "remote-0123456789abcdef0123456789abcdef".into(),
            cmr_data: Some(bad.into()),
        }];
        let d = run(&snap);
        assert_eq!(d.warnings.len(), 1, "{bad}: {:?}", d.warnings);
        assert!(
            d.warnings[0].contains("provide-cmr-mesh:8"),
            "{:?}",
            d.warnings
        );
        // The scraper keeps the name Juju gives it (as without cmr_data).
        assert_eq!(
            bodies(&d)[0].pointer("/spec/rules/0/from/0/source/principals/0"),
            Some(&json!(
                "cluster.local/ns/prod/sa/remote-0123456789abcdef0123456789abcdef"
            ))
        );
    }
}

#[test]
fn invalid_cmr_data_is_ignored_with_a_warning() {
    let mut snap = example();
    snap.cmr = vec![CmrRelation {
        id: 8,
        remote_app: "otel-collector".into(),
        cmr_data: Some("{not json".into()),
    }];
    let d = run(&snap);
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
    let d = run(&snap);
    // What a later hook computes from the remembered derivations is the same.
    let mut remembered = snap.clone();
    for rel in &mut remembered.service_mesh {
        rel.derived = memo_of(&d, rel.id);
    }
    let again = run(&remembered);
    assert_eq!((bodies(&again), &again.skipped), (bodies(&d), &d.skipped));
    assert_eq!(again.consumer_memo, None, "nothing new to remember");
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
fn cross_model_consumers_only_open_namespaces_the_operator_listed() {
    let mut snap = example();
    snap.metrics.clear();
    snap.service_mesh = vec![mesh(
        3,
        "remote-0123456789abcdef0123456789abcdef",
        Some(
            r#"[{"source_namespace": "prod", "source_app_name": "a", "target_namespace": "other", "target_app_name": "svc", "endpoints": []}]"#,
        ),
    )];
    // Refused by default, with the way out in the reason.
    let d = run(&snap);
    assert!(d.policies.is_empty());
    assert_eq!(d.skipped.len(), 1);
    assert!(
        d.skipped[0].reason.contains("cross-model-namespaces"),
        "{}",
        d.skipped[0]
    );
    // Listed: rendered in that namespace.
    snap.config.cross_model_namespaces = vec!["other".into()];
    let d = run(&snap);
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);
    assert_eq!(
        bodies(&d)[0].pointer("/metadata/namespace"),
        Some(&json!("other"))
    );
    // A memo of an earlier verdict is not trusted for a cross-model consumer: the config
    // (or its cmr_data) may have changed since.
    let mut remembered = snap.clone();
    remembered.config.cross_model_namespaces.clear();
    remembered.service_mesh[0].derived = d
        .consumer_memo
        .as_ref()
        .and_then(|m| m.relations[&3].derived.clone());
    assert!(remembered.service_mesh[0].derived.is_some());
    assert!(run(&remembered).policies.is_empty());
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
    let d = run(&snap);
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

/// A unit policy of `app` on its own pods by selector, from myapp, on `ports`.
fn selector_policy(app: &str, ports: &str) -> String {
    format!(
        r#"[{{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_selector_labels": {{"app.kubernetes.io/name": "{app}"}}, "target_type": "unit", "endpoints": [{{"ports": [{ports}]}}]}}]"#
    )
}

#[test]
fn a_policy_named_like_another_consumers_does_not_replace_it() {
    // The attack: a selector policy's name is `...-custom-selector-<32 bits of its hash>`, so
    // a consumer can try policies on its own pods until one has another consumer's name (a
    // birthday search found this pair in 0.5 s). The first of two such policies used to be
    // the only one: "good"'s policy was silently dropped when "evil" came first, and evil's
    // when good did. Both are kept; the earlier keeps the name.
    let good = selector_policy("good", "16600");
    let evil = selector_policy("evil", "733, 1");
    let name = "istio-beacon-k8s-prod-policy-myapp-prod-custom-selector-34673c63";
    let spec_of = |d: &Desired, app: &str| {
        bodies(d)
            .into_iter()
            .find(|b| {
                b.pointer("/spec/selector/matchLabels/app.kubernetes.io~1name") == Some(&json!(app))
            })
            .unwrap_or_else(|| panic!("no policy of {app}: {:?}", names_of(&bodies(d))))
    };
    let mut snap = example();
    snap.metrics.clear();
    snap.service_mesh = vec![mesh(3, "good", Some(&good))];
    let alone = run(&snap);
    assert_eq!(names_of(&bodies(&alone)), [name]);
    let good_alone = spec_of(&alone, "good");

    // evil related after good: good's policy is untouched, evil's gets the longer name.
    snap.service_mesh.push(mesh(4, "evil", Some(&evil)));
    let d = run(&snap);
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);
    assert_eq!(spec_of(&d, "good"), good_alone);
    let evil_body = spec_of(&d, "evil");
    let long = evil_body["metadata"]["name"].as_str().expect("name");
    assert_eq!(long.len(), name.len() + 8, "{long}");
    assert!(long.starts_with("istio-beacon-k8s-prod-policy-myapp-prod-custom-selector-"));
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(
        d.warnings[0].contains("service-mesh:4 (evil)")
            && d.warnings[0].contains("service-mesh:3 (good)"),
        "{:?}",
        d.warnings
    );

    // evil first: good's policy is still there, the same but for its name.
    snap.service_mesh.reverse();
    let d = run(&snap);
    let mut good_second = spec_of(&d, "good");
    assert_ne!(good_second["metadata"]["name"], json!(name));
    good_second["metadata"]["name"] = json!(name);
    assert_eq!(good_second, good_alone);
    assert_eq!(bodies(&d).len(), 2);
}

#[test]
fn a_disambiguated_name_stays_a_name() {
    let digest = "0123456789abcdef".repeat(4);
    assert_eq!(
        disambiguated("b-m-policy-a-b-custom-selector-01234567", &digest).as_deref(),
        Some("b-m-policy-a-b-custom-selector-0123456789abcdef")
    );
    // 253 characters: cut before the hash, never ending in '-'.
    let full = format!("{}-{}", "a".repeat(243), &digest[..8]);
    let long = disambiguated(&full, &digest).expect("a name");
    assert_eq!(long.len(), 253);
    let cut_at_dash = format!("{}-b-{}", "a".repeat(234), &digest[..8]);
    let long = disambiguated(&cut_at_dash, &digest).expect("a name");
    assert!(long.len() <= 253 && !long.contains("--"), "{long}");
    assert_eq!(disambiguated("no-hash-here", &digest), None);
}

#[test]
fn a_skip_quotes_at_most_a_kilobyte_of_the_consumers_data() {
    // A consumer's value is quoted in the reason logged for its skip: a megabyte of it made a
    // megabyte-long log line (juju-log's argument limit is 128 KiB) on every hook.
    let long = "é".repeat(400_000);
    let policies = format!(
        r#"[{{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "{long}"}}]"#
    );
    let mut snap = example();
    snap.service_mesh = vec![mesh(3, "mydb", Some(&policies))];
    let d = run(&snap);
    assert_eq!(d.skipped.len(), 1);
    let reason = &d.skipped[0].reason;
    assert!(reason.len() <= MAX_REASON_LEN + 40, "{}", reason.len());
    assert!(reason.starts_with("target_app_name \"éé"), "{reason:.80}");
    let size: usize = reason
        .rsplit_once("... (")
        .and_then(|(_, tail)| tail.strip_suffix(" bytes in all)"))
        .and_then(|n| n.parse().ok())
        .expect("the size of the whole reason");
    assert!(size > long.len(), "{size}");
    assert_eq!(bounded("short".into()), "short");
}

#[test]
fn missing_policies_key_is_an_empty_list() {
    let mut snap = example();
    snap.metrics.clear();
    snap.service_mesh = vec![mesh(3, "mydb", None)];
    let d = run(&snap);
    assert!(d.policies.is_empty() && d.skipped.is_empty());
}

#[test]
fn managed_off_desires_no_policies_at_all() {
    for model_on_mesh in [false, true] {
        let mut snap = example();
        snap.config = Config {
            manage_authorization_policies: false,
            model_on_mesh,
            cross_model_namespaces: Vec::new(),
            mtls_mode: None,
            ..Config::default()
        };
        let d = run(&snap);
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
        cross_model_namespaces: Vec::new(),
        mtls_mode: None,
        ..Config::default()
    };
    let d = run(&snap);
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
        let d = run(&snap);
        assert_eq!(d.waypoint.len(), 2);
        let hpa = &d.waypoint[1];
        assert_eq!(hpa.pointer("/spec/minReplicas"), Some(&json!(units)));
        assert_eq!(hpa.pointer("/spec/maxReplicas"), Some(&json!(units)));
    }
    let mut snap = example();
    snap.planned_units = 0;
    assert!(run(&snap).waypoint.is_empty());
}

#[test]
fn waypoint_gateway_matches_the_contract() {
    let d = run(&example());
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
    let d = run(&example());
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
    let d = run(&snap);
    assert_eq!(d.provider_databags[0].app["labels"], "{}");
}

#[test]
fn namespace_intent_follows_model_on_mesh() {
    let d = run(&example());
    assert_eq!(d.namespace.name, "prod");
    assert_eq!(d.namespace.identity, "prod.istio-beacon-k8s");
    assert_eq!(d.namespace.wanted(), None);
    // Every mesh's keys are listed, so that whichever we set earlier can go.
    assert_eq!(d.namespace.meshes.len(), 5);
    let mut snap = example();
    snap.config.model_on_mesh = true;
    let d = run(&snap);
    let wanted = d.namespace.wanted().expect("on the mesh");
    assert_eq!(
        wanted.managed_by,
        "charms.canonical.com/istio.io.waypoint.managed-by"
    );
    assert_eq!(
        wanted.labels,
        vec![
            (
                "istio.io/use-waypoint".into(),
                "prod-istio-beacon-k8s-waypoint".into()
            ),
            ("istio.io/dataplane-mode".into(), "ambient".into()),
        ]
    );
    assert_eq!(wanted.annotations, vec![]);
}

#[test]
fn other_meshes_have_no_waypoint_and_their_own_onboarding() {
    for backend in ["smi", "consul", "linkerd"] {
        let mut snap = example();
        snap.config.model_on_mesh = true;
        snap.config.mesh_backend = Backend::from_name(backend).expect("backend");
        let d = run(&snap);
        assert_eq!(d.waypoint, Vec::<Value>::new(), "{backend}");
        // Nor Istio labels on the beacon's own pods (they would name that waypoint).
        assert_eq!(d.charm_labels.labels, vec![], "{backend}");
        assert_eq!(d.charm_labels.record_json, "{}", "{backend}");
        let wanted = d.namespace.wanted().expect("on the mesh");
        assert_ne!(wanted.mesh, "Istio", "{backend}");
    }
    let d = run(&example());
    assert_eq!(d.waypoint.len(), 2, "Istio's waypoint: Gateway and HPA");
}

#[test]
fn own_labels_are_the_mesh_labels_whatever_model_on_mesh() {
    for model_on_mesh in [false, true] {
        let mut snap = example();
        snap.config.model_on_mesh = model_on_mesh;
        let d = run(&snap);
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
    let d = run(&example());
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
    let d = run(&example());
    assert_eq!(d.telemetry_databags.len(), 1);
    assert!(d.telemetry_databags[0].app.contains_key("scrape_jobs"));
    assert_eq!(
        d.telemetry_databags[0].unit["prometheus_scrape_unit_address"],
        "10.1.2.3"
    );
    let mut snap = example();
    snap.leader = false;
    let bags = telemetry_databags(&snap, &mut Vec::new());
    assert!(bags[0].app.is_empty());
    assert_eq!(
        bags[0].unit["prometheus_scrape_unit_name"],
        "istio-beacon-k8s/0"
    );
}

/// What `d`'s consumer memo remembers for relation `id`.
fn memo_of(d: &Desired, id: u64) -> Option<crate::memo::Derived> {
    let memo = d.consumer_memo.as_ref().expect("a new memo");
    memo.relations[&id].derived.clone()
}

#[test]
fn a_non_istio_backend_renders_the_same_policies_instead_of_istio_objects() {
    for name in ["smi", "consul", "linkerd"] {
        let backend = Backend::from_name(name).expect("a backend");
        let istio = run(&example());
        let admitted: Vec<MeshPolicy> = istio
            .policies
            .iter()
            .map(|p| p.policy().expect("parsed"))
            .collect();
        let expected = backend.render("istio-beacon-k8s", "prod", &admitted);

        let mut snap = example();
        snap.config.model_on_mesh = true;
        snap.config.mesh_backend = backend.clone();
        let d = run(&snap);
        // No Istio policy is wanted, so the plan prunes ours.
        assert!(
            d.policies.is_empty() && d.modeloperator.is_empty(),
            "{name}"
        );
        // (Consul intentions have no ports: every policy of the example is refused.)
        assert_eq!(
            d.backend_objects.is_empty(),
            !expected.outcomes.iter().any(Outcome::rendered),
            "{name}"
        );
        assert_eq!(d.backend_objects.len(), expected.objects.len(), "{name}");
        for (object, bare) in d.backend_objects.iter().zip(&expected.objects) {
            assert_eq!(
                object.pointer("/metadata/labels"),
                Some(&owner("mesh-backend-policy")),
                "{name}"
            );
            assert_eq!(object.get("spec"), bare.get("spec"), "{name}");
            let kind = object.get("kind").and_then(Value::as_str);
            assert!(
                backend.kinds().iter().any(|(_, k, _)| Some(*k) == kind),
                "{name}: {kind:?}"
            );
        }
        // One finding per policy not rendered exactly, in order, naming who asked.
        let not_exact: Vec<(Option<u64>, bool)> = istio
            .policies
            .iter()
            .zip(&expected.outcomes)
            .filter(|(_, o)| **o != Outcome::Exact)
            .map(|(p, o)| {
                (
                    p.origin.as_ref().map(|o| o.relation_id),
                    matches!(o, Outcome::Refused(_)),
                )
            })
            .collect();
        let found: Vec<(Option<u64>, bool)> = d
            .backend_findings
            .iter()
            .map(|f| (f.origin.as_ref().map(|o| o.relation_id), f.refused))
            .collect();
        assert_eq!(found, not_exact, "{name}");
        // The consumer memo does not depend on the backend.
        assert_eq!(d.consumer_memo, run(&example()).consumer_memo, "{name}");
    }
}

#[test]
fn a_backend_finding_names_the_relation_and_the_app() {
    let mut snap = example();
    snap.config.mesh_backend = Backend::Smi;
    let d = run(&snap);
    // mydb's app policy limits HTTP methods and paths to ports: SMI cannot say that.
    let refused = d
        .backend_findings
        .iter()
        .find(|f| f.refused)
        .expect("a refusal");
    let line = refused.to_string();
    assert!(line.starts_with("Skipping policy istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3 from service-mesh:3 (mydb): mesh-backend smi"), "{line}");
    let narrowed = BackendFinding {
        refused: false,
        ..refused.clone()
    };
    assert!(
        narrowed
            .to_string()
            .starts_with("Narrowing policy istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3 from service-mesh:3 (mydb) for mesh-backend smi: "),
    );
    // With Istio nothing is rendered by a backend.
    let istio = run(&example());
    assert!(istio.backend_objects.is_empty() && istio.backend_findings.is_empty());
}

#[test]
fn an_unmanaged_beacon_renders_nothing_for_any_backend() {
    let mut snap = example();
    snap.config.manage_authorization_policies = false;
    snap.config.mesh_backend = Backend::Consul(Default::default());
    let d = run(&snap);
    assert!(d.backend_objects.is_empty() && d.backend_findings.is_empty());
    assert!(d.policies.is_empty());
}

#[test]
fn a_non_istio_backend_publishes_no_labels_and_no_mesh_type() {
    for name in ["smi", "consul", "linkerd"] {
        let mut snap = example();
        snap.config.mesh_backend = Backend::from_name(name).expect("backend");
        let d = run(&snap);
        let empty: BTreeMap<String, String> = [
            ("labels".to_owned(), String::new()),
            ("mesh_type".to_owned(), String::new()),
        ]
        .into();
        assert_eq!(d.provider_databags.len(), 1, "{name}");
        assert_eq!(d.provider_databags[0].app, empty, "{name}");
    }
    let istio = run(&example());
    assert_eq!(istio.provider_databags[0].app["mesh_type"], "\"istio\"");
}

//! Every verified vector of the beacon contract (§2.2, §2.4, §3.6, §3.11, §3.12) and the
//! upstream unit tests that apply to the pure core (§6.1–6.2).

use serde_json::json;
use service_mesh::labels::{
    charm_default_labels, charm_kubernetes_label, identity, instance_label, telemetry_label_key,
    telemetry_labels, waypoint_name,
};
use service_mesh::names::{policy_hash8, policy_name};
use service_mesh::pyjson::dumps;
use service_mesh::{
    BuildError, CmrData, DatabagError, Endpoint, MeshPolicy, MeshType, Method, PolicyError,
    PolicyTargetType, ProviderAppData, RuleViolation, build_authorization_policy, dump_policies,
    parse_policies,
};

/// The consumer `policies` value of the worked example (§2.2), byte for byte.
const WORKED_EXAMPLE: &str = r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [5432, 8080], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}]}, {"source_namespace": "cos", "source_app_name": "prometheus", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9090], "methods": null, "paths": null}]}]"#;

fn parse_all(text: &str) -> Vec<MeshPolicy> {
    parse_policies(text)
        .expect("valid databag")
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .expect("valid policies")
}

fn parse_one(text: &str) -> MeshPolicy {
    MeshPolicy::from_json(text).expect("valid policy")
}

fn policy(src_ns: &str, src_app: &str, tgt_ns: &str, tgt_app: Option<&str>) -> MeshPolicy {
    MeshPolicy {
        source_namespace: src_ns.into(),
        source_app_name: src_app.into(),
        target_namespace: tgt_ns.into(),
        target_app_name: tgt_app.map(Into::into),
        target_selector_labels: None,
        target_service: None,
        target_type: PolicyTargetType::App,
        endpoints: vec![],
    }
}

fn l7_endpoint(host: &str) -> Endpoint {
    Endpoint {
        hosts: Some(vec![host.into()]),
        ports: Some(vec![80i64.into()]),
        methods: Some(vec![Method::Get]),
        paths: Some(vec!["/path1".into()]),
    }
}

fn upstream_basic() -> MeshPolicy {
    MeshPolicy {
        endpoints: vec![l7_endpoint("host1")],
        ..policy(
            "senderNamespace",
            "senderApp",
            "targetNamespace",
            Some("targetApp"),
        )
    }
}

#[test]
fn worked_example_roundtrips_byte_identically() {
    let policies = parse_all(WORKED_EXAMPLE);
    assert_eq!(policies.len(), 2);
    assert_eq!(dump_policies(&policies), WORKED_EXAMPLE);
    assert_eq!(policies[1].target_type, PolicyTargetType::Unit);
    assert_eq!(
        policies[0].endpoints[0].methods,
        Some(vec![Method::Get, Method::Post])
    );
}

#[test]
fn test_generate_authorization_policy_name() {
    let basic = upstream_basic();
    assert_eq!(
        basic.pydantic_str(),
        "source_namespace='senderNamespace' source_app_name='senderApp' target_namespace='targetNamespace' target_app_name='targetApp' target_selector_labels=None target_service=None target_type=<PolicyTargetType.app: 'app'> endpoints=[Endpoint(hosts=['host1'], ports=[80], methods=[<Method.get: 'GET'>], paths=['/path1'])]"
    );
    assert_eq!(
        policy_name("beaconApp", "beaconNamespace", &basic),
        "beaconApp-beaconNamespace-policy-senderApp-senderNamespace-targetApp-741a709a"
    );

    let two = MeshPolicy {
        target_service: Some("my-service".into()),
        endpoints: vec![l7_endpoint("host1"), l7_endpoint("host2")],
        ..upstream_basic()
    };
    assert_eq!(
        policy_name("beaconApp", "beaconNamespace", &two),
        "beaconApp-beaconNamespace-policy-senderApp-senderNamespace-targetApp-81db9c03"
    );

    let long = MeshPolicy {
        source_namespace: "senderNamespace678901234567890123456789012345678901234567890123".into(),
        source_app_name: "senderApp012345678901234567890123456789012345678901234567890123".into(),
        target_namespace: "targetNamespace678901234567890123456789012345678901234567890123".into(),
        target_app_name: Some(
            "targetApp012345678901234567890123456789012345678901234567890123".into(),
        ),
        ..two
    };
    let name = policy_name(
        "beaconApp012345678901234567890123456789012345678901234567890123",
        "beaconNamespace678901234567890123456789012345678901234567890123",
        &long,
    );
    assert_eq!(
        name,
        "beaconApp012345678901234567890123456789012345678901234567890123-beaconNamespace678901234567890123456789012345678901234567890123-policy-senderApp012345678901234567890-senderNamespace678901234567890-targetApp012345678901234567890-d9325e70"
    );
    assert!(name.len() <= 253);
}

#[test]
fn worked_example_names_and_hashes() {
    let policies = parse_all(WORKED_EXAMPLE);
    assert_eq!(
        policy_name("istio-beacon-k8s", "prod", &policies[0]),
        "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3"
    );
    assert_eq!(
        policy_name("istio-beacon-k8s", "prod", &policies[1]),
        "istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a"
    );
}

fn beacon_own_policy() -> MeshPolicy {
    MeshPolicy {
        target_type: PolicyTargetType::Unit,
        endpoints: vec![Endpoint {
            ports: Some(vec![15090i64.into()]),
            ..Endpoint::default()
        }],
        ..policy("prod", "otel-collector", "prod", Some("istio-beacon-k8s"))
    }
}

#[test]
fn beacon_own_metrics_policy_name() {
    let p = beacon_own_policy();
    assert_eq!(
        p.pydantic_str(),
        "source_namespace='prod' source_app_name='otel-collector' target_namespace='prod' target_app_name='istio-beacon-k8s' target_selector_labels=None target_service=None target_type=<PolicyTargetType.unit: 'unit'> endpoints=[Endpoint(hosts=None, ports=[15090], methods=None, paths=None)]"
    );
    assert_eq!(
        policy_name("istio-beacon-k8s", "prod", &p),
        "istio-beacon-k8s-prod-policy-otel-collector-prod-istio-beacon-k8s-7d3e1c59"
    );
}

#[test]
fn selector_label_order_feeds_the_hash() {
    let ba = parse_one(
        r#"{"source_namespace": "m", "source_app_name": "coord", "target_namespace": "m", "target_app_name": null, "target_selector_labels": {"b": "2", "a": "1"}, "target_service": null, "target_type": "unit", "endpoints": [{"ports": [9090]}]}"#,
    );
    assert_eq!(
        ba.pydantic_str(),
        "source_namespace='m' source_app_name='coord' target_namespace='m' target_app_name=None target_selector_labels={'b': '2', 'a': '1'} target_service=None target_type=<PolicyTargetType.unit: 'unit'> endpoints=[Endpoint(hosts=None, ports=[9090], methods=None, paths=None)]"
    );
    assert_eq!(policy_hash8(&ba), "2e4b5821");
    let ab = parse_one(
        r#"{"source_namespace": "m", "source_app_name": "coord", "target_namespace": "m", "target_app_name": null, "target_selector_labels": {"a": "1", "b": "2"}, "target_service": null, "target_type": "unit", "endpoints": [{"ports": [9090]}]}"#,
    );
    assert_eq!(policy_hash8(&ab), "dcca5444");
    assert_eq!(
        policy_name("b", "m", &ab),
        "b-m-policy-coord-m-custom-selector-dcca5444"
    );
}

#[test]
fn special_strings_and_coerced_ports() {
    let p = parse_one(
        r#"{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_type": "app", "endpoints": [{"hosts": [], "ports": ["80", 81.0], "methods": ["GET", "DELETE"], "paths": ["/it's", "/a\"b", "/tab\t", "/\u00e9"]}]}"#,
    );
    assert_eq!(
        p.pydantic_str(),
        "source_namespace='prod' source_app_name='myapp' target_namespace='prod' target_app_name='mydb' target_selector_labels=None target_service=None target_type=<PolicyTargetType.app: 'app'> endpoints=[Endpoint(hosts=[], ports=[80, 81], methods=[<Method.get: 'GET'>, <Method.delete: 'DELETE'>], paths=[\"/it's\", '/a\"b', '/tab\\t', '/é'])]"
    );
    assert_eq!(policy_hash8(&p), "436d3a69");
}

#[test]
fn historic_formats_parse_to_the_same_policy_and_name() {
    // LIBPATCH 1–6: no target_type (defaults to app), old key order.
    let v1 = parse_all(
        r#"[{"source_app_name": "myapp", "source_namespace": "prod", "target_app_name": "mydb", "target_namespace": "prod", "target_service": null, "endpoints": [{"hosts": null, "ports": [5432, 8080], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}]}]"#,
    );
    // LIBPATCH 7–11: target_type after target_service, no target_selector_labels.
    let v7 = parse_all(
        r#"[{"source_app_name": "prometheus", "source_namespace": "cos", "target_app_name": "mydb", "target_namespace": "prod", "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9090], "methods": null, "paths": null}]}]"#,
    );
    let current = parse_all(WORKED_EXAMPLE);
    assert_eq!(v1[0], current[0]);
    assert_eq!(v7[0], current[1]);
    assert_eq!(
        policy_name("istio-beacon-k8s", "prod", &v1[0]),
        "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3"
    );
    assert_eq!(
        policy_name("istio-beacon-k8s", "prod", &v7[0]),
        "istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a"
    );
    // Re-dumped in the current schema, as a current consumer would write it.
    assert_eq!(
        dump_policies(&[v1[0].clone(), v7[0].clone()]),
        WORKED_EXAMPLE
    );
}

#[test]
fn test_mesh_policy_validation() {
    let base = |extra: &str| {
        format!(
            r#"{{"source_app_name": "source-app", "source_namespace": "source-ns", "target_namespace": "target-ns", {extra}}}"#
        )
    };
    let cases: [(&str, Option<&str>); 7] = [
        (
            r#""target_app_name": "target-app", "target_type": "app", "endpoints": [{"ports": [80]}]"#,
            None,
        ),
        (
            r#""target_service": "my-service", "target_type": "app", "endpoints": [{"ports": [80]}]"#,
            None,
        ),
        (
            r#""target_type": "app", "endpoints": [{"ports": [80]}]"#,
            Some(
                "Bad policy configuration. Neither target_app_name nor target_service specified for MeshPolicy with target_type PolicyTargetType.app",
            ),
        ),
        (
            r#""target_app_name": "target-app", "target_selector_labels": {"app": "my-app"}, "target_type": "app", "endpoints": [{"ports": [80]}]"#,
            Some(
                "Bad policy configuration. MeshPolicy with target_type PolicyTargetType.app does not support target_selector_labels.",
            ),
        ),
        (
            r#""target_app_name": "target-app", "target_type": "unit", "endpoints": [{"ports": [8080]}]"#,
            None,
        ),
        (
            r#""target_selector_labels": {"app": "my-app"}, "target_type": "unit", "endpoints": [{"ports": [8080]}]"#,
            None,
        ),
        (
            r#""target_app_name": "target-app", "target_selector_labels": {"app": "my-app"}, "target_type": "unit", "endpoints": [{"ports": [8080]}]"#,
            Some(
                "Bad policy configuration. MeshPolicy with target_type PolicyTargetType.unit cannot specify both target_app_name and target_selector_labels.",
            ),
        ),
    ];
    for (extra, expected) in cases {
        let result = MeshPolicy::from_json(&base(extra));
        match expected {
            None => assert_eq!(result.expect("valid").source_app_name, "source-app"),
            Some(msg) => {
                let err = result.expect_err("must be rejected").to_string();
                assert!(err.contains(msg), "{err:?} lacks {msg:?}");
            }
        }
    }
    // The unit rule on target_service, and "" counting as absent.
    let unit_service = policy_err(&base(r#""target_type": "unit", "target_service": "svc""#));
    assert_eq!(
        unit_service,
        PolicyError::Rule(RuleViolation::ServiceNotSupported(PolicyTargetType::Unit))
    );
    assert_eq!(
        policy_err(&base(r#""target_app_name": "", "target_service": """#)),
        PolicyError::Rule(RuleViolation::NoTarget(PolicyTargetType::App))
    );
    assert!(MeshPolicy::from_json(&base(r#""target_type": "unit", "target_service": """#)).is_ok());
}

fn policy_err(text: &str) -> PolicyError {
    match MeshPolicy::from_json(text) {
        Err(service_mesh::PolicyParseError::Policy(e)) => e,
        other => panic!("expected a policy error, got {other:?}"),
    }
}

#[test]
fn lax_and_strict_field_coercions_follow_pydantic() {
    let with_ports = |ports: &str| {
        MeshPolicy::from_json(&format!(
            r#"{{"source_namespace": "a", "source_app_name": "b", "target_namespace": "c", "target_app_name": "d", "endpoints": [{{"ports": {ports}}}]}}"#
        ))
        .map(|p| p.endpoints[0].ports.clone().unwrap_or_default().iter().map(ToString::to_string).collect::<Vec<_>>())
    };
    assert_eq!(
        with_ports(r#"["80", 80.0, true, false, " 80 ", "+0080", "1_000", "80.00", -0.0, 99999999999999999999, "99999999999999999999"]"#)
            .expect("lax ints"),
        ["80", "80", "1", "0", "80", "80", "1000", "80", "0", "99999999999999999999", "99999999999999999999"]
    );
    for (bad, kind) in [
        (r#"["80.5"]"#, "int_parsing"),
        (r#"["abc"]"#, "int_parsing"),
        (r#"["80."]"#, "int_parsing"),
        (r#"["1__0"]"#, "int_parsing"),
        (r#"["0x50"]"#, "int_parsing"),
        ("[80.5]", "int_from_float"),
        ("[1e20]", "int_parsing_size"),
        ("[NaN]", "finite_number"),
        ("[null]", "int_type"),
        (r#""80""#, "list_type"),
    ] {
        match with_ports(bad) {
            Err(service_mesh::PolicyParseError::Policy(PolicyError::Field(e))) => {
                assert_eq!(e.kind.pydantic_type(), kind, "{bad}");
            }
            other => panic!("{bad}: expected {kind}, got {other:?}"),
        }
    }
    // Methods are case-sensitive; endpoints null and non-string names are rejected.
    let base = r#""source_namespace": "a", "source_app_name": "b", "target_namespace": "c", "target_app_name": "d""#;
    for (extra, loc, kind) in [
        (
            r#""endpoints": [{"methods": ["get"]}]"#,
            "endpoints.0.methods.0",
            "enum",
        ),
        (r#""endpoints": null"#, "endpoints", "list_type"),
        (r#""endpoints": [null]"#, "endpoints.0", "model_type"),
        (
            r#""endpoints": [{"hosts": [null]}]"#,
            "endpoints.0.hosts.0",
            "string_type",
        ),
        (r#""target_type": "APP""#, "target_type", "enum"),
        (r#""target_service": 5"#, "target_service", "string_type"),
    ] {
        match policy_err_any(&format!("{{{base}, {extra}}}")) {
            PolicyError::Field(e) => {
                assert_eq!(
                    (e.loc.to_string().as_str(), e.kind.pydantic_type()),
                    (loc, kind),
                    "{extra}"
                );
            }
            other => panic!("{extra}: {other:?}"),
        }
    }
    // Missing required keys, reported in field order.
    match policy_err_any(r#"{"source_app_name": 1, "unknown": true}"#) {
        PolicyError::Field(e) => assert_eq!(e.to_string(), "source_namespace: missing"),
        other => panic!("{other:?}"),
    }
}

fn policy_err_any(text: &str) -> PolicyError {
    policy_err(text)
}

#[test]
fn databag_level_errors_and_per_element_results() {
    assert!(matches!(
        parse_policies("not json"),
        Err(DatabagError::InvalidJson(_))
    ));
    assert_eq!(parse_policies(r#"{"a": 1}"#), Err(DatabagError::NotAList));
    let results = parse_policies(
        r#"[{"source_namespace": "a"}, {"source_namespace": "a", "source_app_name": "b", "target_namespace": "c", "target_app_name": "d"}, 7]"#,
    )
    .expect("a list");
    assert_eq!(results.len(), 3);
    assert!(results[0].is_err());
    assert!(results[1].is_ok());
    assert!(results[2].is_err());
    assert_eq!(parse_policies("[]"), Ok(vec![]));
}

#[test]
fn test_cmr_data_roundtrip() {
    let data = CmrData {
        app_name: "prometheus".into(),
        juju_model_name: "cos".into(),
    };
    assert_eq!(
        data.to_json(),
        r#"{"app_name": "prometheus", "juju_model_name": "cos"}"#
    );
    assert_eq!(CmrData::parse(&data.to_json()), Ok(data));
    assert_eq!(
        CmrData::parse(r#"{"juju_model_name": "remote_model", "app_name": "cmr", "x": 1}"#),
        Ok(CmrData {
            app_name: "cmr".into(),
            juju_model_name: "remote_model".into()
        })
    );
    assert!(matches!(
        CmrData::parse("{"),
        Err(service_mesh::CmrDataError::InvalidJson(_))
    ));
    assert!(matches!(
        CmrData::parse(r#"{"app_name": "x"}"#),
        Err(service_mesh::CmrDataError::Invalid(_))
    ));
}

#[test]
fn test_provider_sends_data_and_test_getting_relation_data() {
    let labels = vec![
        ("istio.io/dataplane-mode".to_owned(), "ambient".to_owned()),
        (
            "istio.io/use-waypoint".to_owned(),
            "prod-istio-beacon-k8s-waypoint".to_owned(),
        ),
        (
            "istio.io/use-waypoint-namespace".to_owned(),
            "prod".to_owned(),
        ),
    ];
    let data = ProviderAppData {
        labels,
        mesh_type: MeshType::Istio,
    };
    let bag = data.to_databag();
    assert_eq!(
        bag,
        vec![
            (
                "labels".to_owned(),
                r#"{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint", "istio.io/use-waypoint-namespace": "prod"}"#.to_owned()
            ),
            ("mesh_type".to_owned(), r#""istio""#.to_owned()),
        ]
    );
    let read = ProviderAppData::parse(bag.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(read, Ok(Some(data)));
    let empty = ProviderAppData {
        labels: vec![],
        mesh_type: MeshType::Istio,
    };
    assert_eq!(empty.to_databag()[0].1, "{}");
    assert_eq!(ProviderAppData::parse(std::iter::empty()), Ok(None));
    // Consumers json.loads every key, and need both.
    assert!(ProviderAppData::parse([("labels", "{}"), ("other", "not json")]).is_err());
    assert!(ProviderAppData::parse([("labels", "{}")]).is_err());
    assert!(ProviderAppData::parse([("labels", "{}"), ("mesh_type", "\"linkerd\"")]).is_err());
}

#[test]
fn charm_kubernetes_label_tables() {
    let long = "a-very-long-model-name-for-testing-purposes-0123456789";
    let m63 = "m".repeat(63);
    let a63 = "a".repeat(63);
    let table: [(&str, &str, [&str; 4]); 4] = [
        (
            "prod",
            "istio-beacon-k8s",
            [
                "prod-istio-beacon-k8s-waypoint",
                "prod.istio-beacon-k8s",
                "prod-istio-beacon-k8s",
                "charms.canonical.com/prod.istio-beacon-k8s.telemetry",
            ],
        ),
        (
            "istio-system",
            "istio-beacon-k8s",
            [
                "istio-system-istio-beacon-k8s-waypoint",
                "istio-system.istio-beacon-k8s",
                "istio-system-istio-beacon-k8s",
                "charms.canonical.com/istio-system.istio-beacon-k8s.telemetry",
            ],
        ),
        (
            long,
            "istio-beacon-k8s",
            [
                "a-very-long-model-name-for-testing--istio-beaco-2f28dd-waypoint",
                "a-very-long-model-name-for-testing-purpose.istio-beacon-.a87b90",
                "a-very-long-model-name-for-testing-purpose-istio-beacon--2f28dd",
                "charms.canonical.com/a-very-long-model-.istio-.a87b90.telemetry",
            ],
        ),
        (
            &m63,
            &a63,
            [
                "mmmmmmmmmmmmmmmmmmmmmmm-aaaaaaaaaaaaaaaaaaaaaaa-6665ee-waypoint",
                "mmmmmmmmmmmmmmmmmmmmmmmmmmm.aaaaaaaaaaaaaaaaaaaaaaaaaaaa.98e616",
                "mmmmmmmmmmmmmmmmmmmmmmmmmmm-aaaaaaaaaaaaaaaaaaaaaaaaaaaa-6665ee",
                "charms.canonical.com/mmmmmmmmmmmm.aaaaaaaaaaaa.98e616.telemetry",
            ],
        ),
    ];
    for (model, app, [wp, id, inst, tele]) in table {
        assert_eq!(waypoint_name(model, app).as_deref(), Ok(wp));
        assert_eq!(identity(model, app).as_deref(), Ok(id));
        assert_eq!(instance_label(model, app).as_deref(), Ok(inst));
        assert_eq!(telemetry_label_key(model, app).as_deref(), Ok(tele));
        assert!(tele.len() <= 63 && wp.len() <= 63);
    }
    // Upstream canonical_service_mesh vectors.
    assert_eq!(
        identity(&"m".repeat(32), &"a".repeat(31)).as_deref(),
        Ok("mmmmmmmmmmmmmmmmmmmmmmmmmmm.aaaaaaaaaaaaaaaaaaaaaaaaaaaa.c4949d")
    );
    assert_eq!(
        charm_kubernetes_label(
            &"m".repeat(40),
            &"a".repeat(40),
            "prefix/",
            "-suffix",
            ".",
            63
        )
        .as_deref(),
        Ok("prefix/mmmmmmmmmmmmmmmmmmmm.aaaaaaaaaaaaaaaaaaaaa.499dc0-suffix")
    );
    assert_eq!(
        charm_default_labels("abcde", "fghij", "scope"),
        Ok(vec![
            (
                "app.kubernetes.io/instance".to_owned(),
                "fghij-abcde".to_owned()
            ),
            (
                "kubernetes-resource-handler-scope".to_owned(),
                "scope".to_owned()
            ),
        ])
    );
    assert_eq!(
        telemetry_labels("prod", "istio-beacon-k8s"),
        Ok(vec![(
            "charms.canonical.com/prod.istio-beacon-k8s.telemetry".to_owned(),
            "aggregated".to_owned()
        )])
    );
    // Instance label stays within 63 for 1/63/64-character names.
    for n in [1, 63, 64] {
        let name = "x".repeat(n);
        let label = instance_label(&name, &name).expect("valid");
        assert!(label.len() <= 63, "{n}: {label}");
    }
}

#[test]
fn charm_kubernetes_label_errors() {
    assert_eq!(
        identity("", "app").map_err(|e| e.to_string()),
        Err("Both model_name and app_name must be at least 1 character long.".to_owned())
    );
    assert!(identity("model", "").is_err());
    // Short labels never need the fixed part; long ones with a huge prefix cannot fit.
    assert_eq!(
        charm_kubernetes_label("m", "a", &"p".repeat(60), "", ".", 63).as_deref(),
        Ok(&*format!("{}m.a", "p".repeat(60)))
    );
    let err =
        charm_kubernetes_label("mm", "aa", &"p".repeat(60), "", ".", 63).expect_err("too long");
    assert!(err.to_string().starts_with(
        "Fixed label portion (prefix, suffix, hash, and separator) is too long (68 chars)"
    ));
    // Labels are unique for names that collide when cut.
    assert_ne!(identity(&m(70, 'x'), "app1"), identity(&m(70, 'x'), "app2"));
}

fn m(n: usize, c: char) -> String {
    std::iter::repeat_n(c, n).collect()
}

#[test]
fn worked_example_policy_bodies() {
    let policies = parse_all(WORKED_EXAMPLE);
    let app = build_authorization_policy("istio-beacon-k8s", "prod", &policies[0]).expect("app");
    assert_eq!(
        dumps(&app),
        dumps(&json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3", "namespace": "prod"},
            "spec": {
                "targetRefs": [{"group": "", "kind": "Service", "name": "mydb"}],
                "rules": [{
                    "from": [{"source": {"principals": ["cluster.local/ns/prod/sa/myapp"]}}],
                    "to": [{"operation": {"ports": ["5432", "8080"], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}}]
                }]
            }
        }))
    );
    let unit = build_authorization_policy("istio-beacon-k8s", "prod", &policies[1]).expect("unit");
    assert_eq!(
        dumps(&unit),
        dumps(&json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a", "namespace": "prod"},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
                "rules": [{
                    "from": [{"source": {"principals": ["cluster.local/ns/cos/sa/prometheus"]}}],
                    "to": [{"operation": {"ports": ["9090"]}}]
                }]
            }
        }))
    );
    let own =
        build_authorization_policy("istio-beacon-k8s", "prod", &beacon_own_policy()).expect("own");
    assert_eq!(
        own["metadata"]["name"],
        "istio-beacon-k8s-prod-policy-otel-collector-prod-istio-beacon-k8s-7d3e1c59"
    );
    assert_eq!(
        own["spec"]["selector"],
        json!({"matchLabels": {"app.kubernetes.io/name": "istio-beacon-k8s"}})
    );
    assert_eq!(
        own["spec"]["rules"][0]["to"],
        json!([{"operation": {"ports": ["15090"]}}])
    );
    assert_eq!(
        own["spec"]["rules"][0]["from"][0]["source"]["principals"],
        json!(["cluster.local/ns/prod/sa/otel-collector"])
    );
    assert!(own["spec"].get("action").is_none() && own["spec"].get("targetRefs").is_none());
}

fn build(p: &MeshPolicy) -> serde_json::Value {
    build_authorization_policy("b", "m", p).expect("buildable")
}

#[test]
fn additional_builder_outputs() {
    let unit = |app: Option<&str>| MeshPolicy {
        target_type: PolicyTargetType::Unit,
        ..policy("s", "a", "t", app)
    };
    // Unit policy with no ports → to: [].
    assert_eq!(build(&unit(Some("x")))["spec"]["rules"][0]["to"], json!([]));
    // App endpoint with only methods → ports [] and methods.
    let only_get = MeshPolicy {
        endpoints: vec![Endpoint {
            methods: Some(vec![Method::Get]),
            ..Endpoint::default()
        }],
        ..policy("s", "a", "t", Some("x"))
    };
    assert_eq!(
        dumps(&build(&only_get)["spec"]["rules"][0]["to"]),
        r#"[{"operation": {"ports": [], "methods": ["GET"]}}]"#
    );
    // Entirely null endpoint → ports [] only; empty lists are kept.
    let null_ep = MeshPolicy {
        endpoints: vec![Endpoint::default()],
        ..policy("s", "a", "t", Some("x"))
    };
    assert_eq!(
        build(&null_ep)["spec"]["rules"][0]["to"],
        json!([{"operation": {"ports": []}}])
    );
    let empty_lists = MeshPolicy {
        endpoints: vec![Endpoint {
            hosts: Some(vec![]),
            ports: Some(vec![]),
            methods: Some(vec![]),
            paths: Some(vec![]),
        }],
        ..policy("s", "a", "t", Some("x"))
    };
    assert_eq!(
        dumps(&build(&empty_lists)["spec"]["rules"][0]["to"]),
        r#"[{"operation": {"hosts": [], "ports": [], "methods": [], "paths": []}}]"#
    );
    // App policy with endpoints=[] → to: [].
    assert_eq!(
        build(&policy("s", "a", "t", Some("x")))["spec"]["rules"][0]["to"],
        json!([])
    );
    // target_service only → the name and targetRefs use the service.
    let svc = MeshPolicy {
        target_service: Some("svc".into()),
        ..policy("s", "a", "t", None)
    };
    let body = build(&svc);
    let name = body["metadata"]["name"].as_str().expect("name");
    assert!(name.starts_with("b-m-policy-a-s-svc-"), "{name}");
    assert_eq!(body["spec"]["targetRefs"][0]["name"], "svc");
    // Both app and service → the name uses the app, targetRefs the service.
    let both = MeshPolicy {
        target_service: Some("svc".into()),
        ..policy("s", "a", "t", Some("app"))
    };
    let body = build(&both);
    assert!(
        body["metadata"]["name"]
            .as_str()
            .expect("name")
            .starts_with("b-m-policy-a-s-app-")
    );
    assert_eq!(body["spec"]["targetRefs"][0]["name"], "svc");
    // Unit policy with selector labels → custom-selector, selector as given (in order).
    let sel = MeshPolicy {
        target_selector_labels: Some(vec![("z".into(), "1".into()), ("a".into(), "2".into())]),
        ..unit(None)
    };
    let body = build(&sel);
    assert!(
        body["metadata"]["name"]
            .as_str()
            .expect("name")
            .starts_with("b-m-policy-a-s-custom-selector-")
    );
    assert_eq!(
        dumps(&body["spec"]["selector"]),
        r#"{"matchLabels": {"z": "1", "a": "2"}}"#
    );
    // Unit policy with neither app nor labels → no selector (namespace-wide).
    let body = build(&unit(None));
    assert!(body["spec"].get("selector").is_none());
    assert_eq!(body["metadata"]["namespace"], "t");
}

#[test]
fn test_build_authorization_policies_unit_rejects_l7() {
    let l7 = MeshPolicy {
        target_type: PolicyTargetType::Unit,
        endpoints: vec![l7_endpoint("h")],
        ..policy("s", "src", "t", Some("tgt"))
    };
    let err = build_authorization_policy("b", "m", &l7).expect_err("refused");
    assert_eq!(
        err,
        BuildError::UnitPolicyWithL7 {
            source_app_name: "src".into(),
            target_app_name: Some("tgt".into())
        }
    );
    assert_eq!(
        err.to_string(),
        "UnitPolicy requested between src and tgt is not created as it contains some disallowed policy attributes. UnitPolicy for Istio service mesh cannot contain paths, methods or hosts"
    );
    // Empty L7 lists are allowed on unit policies.
    let empty = MeshPolicy {
        endpoints: vec![Endpoint {
            hosts: Some(vec![]),
            methods: Some(vec![]),
            paths: Some(vec![]),
            ports: Some(vec![1i64.into()]),
        }],
        ..l7
    };
    assert_eq!(
        build(&empty)["spec"]["rules"][0]["to"],
        json!([{"operation": {"ports": ["1"]}}])
    );
    // An invalid policy built in code is refused with the rule it breaks.
    assert_eq!(
        build_authorization_policy("b", "m", &policy("s", "a", "t", None)),
        Err(BuildError::Invalid(RuleViolation::NoTarget(
            PolicyTargetType::App
        )))
    );
}

#[test]
fn test_build_authorization_policies_app() {
    let policies = [
        MeshPolicy {
            endpoints: vec![l7_endpoint("host0")],
            ..policy(
                "source-namespace0",
                "source-app0",
                "target-namespace0",
                Some("target-app0"),
            )
        },
        MeshPolicy {
            target_service: Some("my-service1".into()),
            endpoints: vec![l7_endpoint("host1")],
            ..policy(
                "source-namespace1",
                "source-app1",
                "target-namespace1",
                Some("target-app1"),
            )
        },
    ];
    for p in &policies {
        let body =
            build_authorization_policy("istio-beacon-k8s", "my-model", p).expect("app policy");
        assert_eq!(body["metadata"]["namespace"], p.target_namespace.as_str());
        let target = p
            .target_service
            .as_deref()
            .or(p.target_app_name.as_deref())
            .expect("target");
        assert_eq!(body["spec"]["targetRefs"][0]["name"], target);
        for (i, ep) in p.endpoints.iter().enumerate() {
            let op = &body["spec"]["rules"][0]["to"][i]["operation"];
            assert_eq!(op["hosts"], json!(ep.hosts));
            assert_eq!(op["ports"], json!(["80"]));
            assert_eq!(op["methods"], json!(["GET"]));
            assert_eq!(op["paths"], json!(ep.paths));
        }
        // Upstream test_policy_builder: the name carries "policy" and the beacon name.
        let name = body["metadata"]["name"].as_str().expect("name");
        assert!(name.contains("policy") && name.starts_with("istio-beacon-k8s-my-model-"));
    }
}

#[test]
fn test_juju_identity() {
    assert_eq!(
        service_mesh::istio::peer_identity("app", "ns"),
        "cluster.local/ns/ns/sa/app"
    );
}

#[test]
fn test_endpoint_defaults_and_test_mesh_policy_roundtrip() {
    let ep = Endpoint::default();
    assert_eq!(
        (ep.hosts, ep.ports, ep.methods, ep.paths),
        (None, None, None, None)
    );
    let p = MeshPolicy {
        source_namespace: "ns1".into(),
        source_app_name: "app1".into(),
        target_namespace: "ns2".into(),
        target_app_name: Some("app2".into()),
        target_selector_labels: None,
        target_service: None,
        target_type: PolicyTargetType::App,
        endpoints: vec![Endpoint {
            ports: Some(vec![80i64.into()]),
            methods: Some(vec![Method::Get]),
            paths: Some(vec!["/api".into()]),
            hosts: None,
        }],
    };
    let dumped = dump_policies(std::slice::from_ref(&p));
    assert_eq!(parse_all(&dumped), vec![p]);
    // Empty lists survive the round trip as empty lists (test_relation_data_policies).
    let empty = r#"[{"source_namespace": "a", "source_app_name": "b", "target_namespace": "c", "target_app_name": "d", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": [], "ports": [80], "methods": [], "paths": []}]}]"#;
    assert_eq!(dump_policies(&parse_all(empty)), empty);
}

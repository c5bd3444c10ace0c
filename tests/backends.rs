//! `mesh-backend` through charm-sim: the demo model (examples/demo-model/scenario.yaml)
//! rendered for SMI, Consul and Linkerd, switches between backends, missing CRDs, and what a
//! non-Istio backend publishes to consumers.

mod common;

use std::path::Path;

use common::{app_data_after, exit_code, logs, object, status, step, writes, written_by};
use serde_json::{Value, json};

const BACKENDS: [&str; 3] = ["smi", "consul", "linkerd"];

/// The demo model's scenario with `config` merged in and `steps` instead of its own.
fn demo(config: Value, steps: Value) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-model/scenario.yaml");
    let text = std::fs::read_to_string(path).expect("demo scenario");
    let mut scenario: Value = serde_yaml_ng::from_str(&text).expect("demo scenario is YAML");
    let merged = scenario["config"].as_object_mut().expect("config");
    for (k, v) in config.as_object().expect("config object") {
        merged.insert(k.clone(), v.clone());
    }
    scenario["steps"] = steps;
    scenario
}

/// Plays a scenario document against the beacon; returns charm-sim's output.
fn play(scenario: &Value) -> Value {
    common::play_json(common::charm_dir(), scenario)
}

fn switch_to(backend: &str) -> Value {
    json!({"update": {"config": {"mesh-backend": backend}}})
}

#[test]
fn a_non_istio_backend_publishes_no_labels_or_mesh_type_and_istio_again_restores_them() {
    for backend in BACKENDS {
        let out = play(&demo(
            json!({}),
            json!([
                "config-changed",
                switch_to(backend),
                "config-changed",
                "update-status",
                switch_to("istio"),
                "config-changed",
            ]),
        ));
        for i in 0..4 {
            assert_eq!(exit_code(&out, i), 0, "{backend} step {i}");
        }
        let istio = app_data_after(&out, 0, 3).clone();
        assert_eq!(istio["mesh_type"], json!("\"istio\""), "{backend}");
        assert!(istio.get("labels").is_some(), "{backend}");
        // The keys we wrote are deleted: the consumer library reads "no data".
        assert_eq!(app_data_after(&out, 1, 3), &json!({}), "{backend}");
        assert_eq!(app_data_after(&out, 2, 3), &json!({}), "{backend}");
        // Nothing to write for it on a no-op.
        assert!(
            !step(&out, 2)["hook_tools"]
                .as_object()
                .expect("hook_tools")
                .contains_key("relation-set"),
            "{backend}: {}",
            step(&out, 2)["hook_tools"]
        );
        assert_eq!(app_data_after(&out, 3, 3), &istio, "{backend}");
    }
}

/// The objects after the last step of `kind` in API group `group`, as `<namespace>/<name>`.
fn objects_of(out: &Value, group: &str, kind: &str) -> Vec<String> {
    out["kubernetes"]
        .as_array()
        .expect("kubernetes")
        .iter()
        .filter(|o| {
            o["kind"] == kind
                && o["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with(&format!("{group}/")))
        })
        .map(|o| {
            let ns = o["metadata"]["namespace"].as_str().unwrap_or("");
            format!("{ns}/{}", o["metadata"]["name"].as_str().unwrap_or(""))
        })
        .collect()
}

/// `(group, kind)` of every kind a backend renders.
fn kinds(backend: &str) -> Vec<(&'static str, &'static str)> {
    match backend {
        "smi" => vec![
            ("access.smi-spec.io", "TrafficTarget"),
            ("specs.smi-spec.io", "HTTPRouteGroup"),
            ("specs.smi-spec.io", "TCPRoute"),
        ],
        "consul" => vec![("consul.hashicorp.com", "ServiceIntentions")],
        _ => vec![
            ("policy.linkerd.io", "Server"),
            ("policy.linkerd.io", "HTTPRoute"),
            ("policy.linkerd.io", "AuthorizationPolicy"),
            ("policy.linkerd.io", "MeshTLSAuthentication"),
        ],
    }
}

/// Every object of `backend`'s kinds after the last step.
fn backend_objects(out: &Value, backend: &str) -> Vec<String> {
    kinds(backend)
        .into_iter()
        .flat_map(|(group, kind)| objects_of(out, group, kind))
        .collect()
}

/// The demo's own steps, then an update-status.
fn demo_steps() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-model/scenario.yaml");
    let text = std::fs::read_to_string(path).expect("demo scenario");
    let scenario: Value = serde_yaml_ng::from_str(&text).expect("YAML");
    let mut steps = scenario["steps"].as_array().expect("steps").clone();
    steps.push(json!("update-status"));
    Value::Array(steps)
}

fn step_count(out: &Value) -> usize {
    out["steps"].as_array().expect("steps").len()
}

fn active(msg: &str) -> Option<(String, String)> {
    Some(("active".to_owned(), msg.to_owned()))
}

/// What the demo model's policies give under each backend (see the backends' docs): mydb's
/// app policy limits HTTP methods and paths to ports (SMI cannot limit routes to ports,
/// Consul no ports; Linkerd renders HTTPRoutes on each port's Server, narrowed because another
/// client's equally specific path could take a request); prometheus's unit policy and the
/// beacon's own metrics policy are TCP on one port (Consul intentions are per Service, not
/// pods). Linkerd: per port of mydb's policy a Server, its route and the catch-all route, one
/// authentication and authorization (5 × 2); per TCP port a Server, authentication and
/// authorization (3 × 2).
fn demo_expectation(backend: &str) -> (&'static str, usize) {
    match backend {
        "smi" => (
            "1 policy skipped: invalid consumer data (see juju debug-log)",
            4,
        ),
        "consul" => (
            "3 policies skipped: invalid consumer data (see juju debug-log)",
            0,
        ),
        _ => (
            "1 policy narrowed: the mesh cannot express all of it (see juju debug-log)",
            16,
        ),
    }
}

#[test]
fn the_demo_model_under_each_backend() {
    for backend in BACKENDS {
        let out = play(&demo(json!({"mesh-backend": backend}), demo_steps()));
        let n = step_count(&out);
        for i in 0..n {
            assert_eq!(exit_code(&out, i), 0, "{backend} step {i}");
        }
        let (message, count) = demo_expectation(backend);
        assert_eq!(status(&out, n - 1), active(message), "{backend}");
        // Accepted by the simulator's CRD validation, and ours.
        let objects = backend_objects(&out, backend);
        assert_eq!(objects.len(), count, "{backend}: {objects:?}");
        for o in out["kubernetes"].as_array().expect("kubernetes") {
            let group = o["apiVersion"]
                .as_str()
                .unwrap_or("")
                .split('/')
                .next()
                .unwrap_or("");
            if kinds(backend)
                .iter()
                .any(|(g, k)| *g == group && o["kind"] == *k)
            {
                assert_eq!(
                    o["metadata"]["labels"],
                    json!({"app.kubernetes.io/instance": "prod-istio-beacon-k8s", "kubernetes-resource-handler-scope": "mesh-backend-policy"}),
                    "{backend}"
                );
            }
        }
        // No Istio AuthorizationPolicy: the policies are the other mesh's.
        assert!(objects_of(&out, "security.istio.io", "AuthorizationPolicy").is_empty());
        // Each refusal is logged naming the relation and the app.
        let refusals: Vec<String> = logs(&out, n - 1, "WARNING")
            .into_iter()
            .filter(|l| l.starts_with("Skipping policy"))
            .collect();
        let counted = |what: &str| -> usize {
            message
                .split("; ")
                .filter(|part| part.contains(what))
                .filter_map(|part| part.split(' ').next()?.parse::<usize>().ok())
                .sum()
        };
        assert_eq!(
            refusals.len(),
            counted("skipped"),
            "{backend}: {refusals:?}"
        );
        let narrowings = logs(&out, n - 1, "WARNING")
            .into_iter()
            .filter(|l| l.starts_with("Narrowing policy"))
            .count();
        assert_eq!(narrowings, counted("narrowed"), "{backend}");
        assert!(
            refusals
                .iter()
                .all(|l| l.contains(&format!("mesh-backend {backend}"))
                    && (l.contains("from service-mesh:3 (mydb)") || l.contains("from the beacon"))),
            "{refusals:?}"
        );
        // The no-op update-status writes nothing.
        assert!(
            writes(&out, n - 1).is_empty(),
            "{backend}: {:?}",
            writes(&out, n - 1)
        );
    }
}

/// Objects of other owners the beacon must never touch: an Istio policy of another beacon,
/// one planted under our labels by someone else, a Linkerd Server planted under our backend
/// labels, and unlabelled Consul and SMI objects.
fn foreign() -> Vec<Value> {
    let ours = json!({"app.kubernetes.io/instance": "prod-istio-beacon-k8s", "kubernetes-resource-handler-scope": "istio-authorization-policy"});
    let ours_backend = json!({"app.kubernetes.io/instance": "prod-istio-beacon-k8s", "kubernetes-resource-handler-scope": "mesh-backend-policy"});
    vec![
        written_by(
            "other-beacon",
            json!({
                "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": "theirs-ap", "namespace": "prod", "labels": {"app.kubernetes.io/instance": "prod-other", "kubernetes-resource-handler-scope": "istio-authorization-policy"}},
                "spec": {},
            }),
        ),
        written_by(
            "kubectl",
            json!({
                "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": "planted-ap", "namespace": "prod", "labels": ours},
                "spec": {},
            }),
        ),
        written_by(
            "kubectl",
            json!({
                "apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server",
                "metadata": {"name": "planted-server", "namespace": "prod", "labels": ours_backend},
                "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}}, "port": 5432},
            }),
        ),
        written_by(
            "consul-operator",
            json!({
                "apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceIntentions",
                "metadata": {"name": "theirs-intentions", "namespace": "prod"},
                "spec": {"destination": {"name": "mydb"}, "sources": [{"name": "web", "action": "allow"}]},
            }),
        ),
        written_by(
            "osm-operator",
            json!({
                "apiVersion": "access.smi-spec.io/v1alpha3", "kind": "TrafficTarget",
                "metadata": {"name": "theirs-target", "namespace": "prod"},
                "spec": {
                    "destination": {"kind": "ServiceAccount", "name": "mydb", "namespace": "prod"},
                    "sources": [{"kind": "ServiceAccount", "name": "web", "namespace": "prod"}],
                    "rules": [{"kind": "TCPRoute", "name": "theirs"}],
                },
            }),
        ),
    ]
}

const FOREIGN: [(&str, &str); 5] = [
    ("AuthorizationPolicy", "theirs-ap"),
    ("AuthorizationPolicy", "planted-ap"),
    ("Server", "planted-server"),
    ("ServiceIntentions", "theirs-intentions"),
    ("TrafficTarget", "theirs-target"),
];

#[test]
fn a_switch_to_each_backend_and_back_converges_and_deletes_nothing_foreign() {
    for backend in BACKENDS {
        let mut scenario = demo(
            json!({}),
            json!([
                "config-changed",
                "update-status",
                switch_to(backend),
                "config-changed",
                "update-status",
                switch_to("istio"),
                "config-changed",
                "update-status",
            ]),
        );
        scenario["kubernetes"]
            .as_array_mut()
            .expect("kubernetes")
            .extend(foreign());
        let out = play(&scenario);
        for i in 0..6 {
            assert_eq!(exit_code(&out, i), 0, "{backend} step {i}");
            for w in writes(&out, i) {
                assert!(
                    !FOREIGN
                        .iter()
                        .any(|(_, name)| w.ends_with(&format!("/{name}"))),
                    "{backend} step {i}: {w}"
                );
            }
        }
        let (message, count) = demo_expectation(backend);
        let istio_aps = |i: usize| {
            writes(&out, i)
                .into_iter()
                .filter(|w| {
                    w.contains("/authorizationpolicies/") && w.contains("security.istio.io")
                })
                .collect::<Vec<_>>()
        };
        // Istio first: our three policies.
        assert_eq!(istio_aps(0).len(), 3, "{backend}");
        assert_eq!(status(&out, 1), active(""), "{backend}");
        // The switch: our policies (3) and the waypoint (Gateway, HPA: Istio's data plane)
        // deleted, the backend's applied; then a no-op.
        let deletes: Vec<String> = writes(&out, 2)
            .into_iter()
            .filter(|w| w.starts_with("DELETE"))
            .collect();
        assert_eq!(deletes.len(), 5, "{backend}: {deletes:?}");
        assert_eq!(
            deletes
                .iter()
                .filter(|w| w.contains("security.istio.io"))
                .count(),
            3
        );
        assert!(
            deletes.iter().all(|w| w.contains("security.istio.io")
                || w.ends_with("/prod-istio-beacon-k8s-waypoint")),
            "{deletes:?}"
        );
        // The beacon's own Istio labels go too: its StatefulSet, Service and label record.
        let own_labels = |i: usize| {
            writes(&out, i)
                .into_iter()
                .filter(|w| {
                    w.ends_with("/statefulsets/istio-beacon-k8s")
                        || w.ends_with("/services/istio-beacon-k8s")
                        || w.ends_with("/configmaps/juju-service-mesh-istio-beacon-k8s-labels")
                })
                .count()
        };
        assert_eq!(own_labels(2), 3, "{backend}: {:?}", writes(&out, 2));
        assert_eq!(
            writes(&out, 2).len() - 5 - 3,
            count,
            "{backend}: {:?}",
            writes(&out, 2)
        );
        assert!(
            writes(&out, 3).is_empty(),
            "{backend}: {:?}",
            writes(&out, 3)
        );
        assert_eq!(status(&out, 3), active(message), "{backend}");
        // Back to Istio: the backend's objects deleted, our policies applied; then a no-op.
        let back = writes(&out, 4);
        assert_eq!(
            back.iter().filter(|w| w.starts_with("DELETE")).count(),
            count,
            "{backend}: {back:?}"
        );
        assert_eq!(
            istio_aps(4)
                .iter()
                .filter(|w| w.starts_with("PATCH"))
                .count(),
            3
        );
        assert!(
            object(&out, "Gateway", "prod", "prod-istio-beacon-k8s-waypoint").is_some(),
            "{backend}: the waypoint is back"
        );
        assert_eq!(own_labels(4), 3, "{backend}: the beacon's labels are back");
        assert!(
            writes(&out, 5).is_empty(),
            "{backend}: {:?}",
            writes(&out, 5)
        );
        assert_eq!(status(&out, 5), active(""), "{backend}");
        assert!(
            backend_objects(&out, backend)
                .iter()
                .all(|o| FOREIGN.iter().any(|(_, n)| o.ends_with(n)))
        );
        // Every foreign object is still there.
        for (kind, name) in FOREIGN {
            assert!(
                object(&out, kind, "prod", name).is_some(),
                "{backend}: {kind} {name}"
            );
        }
    }
}

/// The default CRDs (crates/charm-sim/crds) but those of `group`.
fn crds_without(group: &str) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/charm-sim/crds");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("crds dir")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{group}__")))
        })
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    json!(files)
}

#[test]
fn a_missing_crd_of_the_backend_blocks_naming_it() {
    // For Consul, a policy it can say (no ports): otherwise nothing is wanted, and a missing
    // CRD blocks nothing.
    let consul_policies = r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": null, "methods": ["GET"], "paths": ["/api"]}]}]"#;
    for (backend, group, crd) in [
        (
            "smi",
            "access.smi-spec.io",
            "TrafficTarget CRD (access.smi-spec.io/v1alpha3) not found",
        ),
        (
            "consul",
            "consul.hashicorp.com",
            "ServiceIntentions CRD (consul.hashicorp.com/v1alpha1) not found",
        ),
        (
            "linkerd",
            "policy.linkerd.io",
            "Server CRD (policy.linkerd.io/v1beta3) not found",
        ),
    ] {
        let mut scenario = demo(
            json!({"mesh-backend": backend}),
            json!(["config-changed", "update-status"]),
        );
        scenario["crds"] = crds_without(group);
        if backend == "consul" {
            scenario["relations"][1]["remote_app_data"]["policies"] = json!(consul_policies);
        }
        let out = play(&scenario);
        for i in 0..2 {
            assert_eq!(exit_code(&out, i), 0, "{backend}");
            let (state, message) = status(&out, i).expect("a status");
            assert_eq!(state, "blocked", "{backend}: {message}");
            assert!(message.starts_with(crd), "{backend}: {message}");
        }
        // Nothing of the missing kinds (SMI's TCPRoute, from another CRD group, is written).
        for (g, kind) in kinds(backend) {
            if g == group {
                assert!(objects_of(&out, g, kind).is_empty(), "{backend} {kind}");
            }
        }
        // The rest is still reconciled: the label record of the beacon's own labels.
        assert!(
            object(
                &out,
                "ConfigMap",
                "prod",
                "juju-service-mesh-istio-beacon-k8s-labels"
            )
            .is_some(),
            "{backend}"
        );
        // No Istio waypoint under another mesh.
        assert!(object(&out, "Gateway", "prod", "prod-istio-beacon-k8s-waypoint").is_none());
    }
}

/// The paths of a step's API requests.
fn request_paths(out: &Value, i: usize) -> Vec<String> {
    step(out, i)["api_requests"]
        .as_array()
        .expect("api_requests")
        .iter()
        .filter_map(|r| r["path"].as_str().map(str::to_owned))
        .collect()
}

const BACKEND_GROUPS: [&str; 4] = [
    "access.smi-spec.io",
    "specs.smi-spec.io",
    "consul.hashicorp.com",
    "policy.linkerd.io",
];

#[test]
fn with_istio_only_hooks_that_read_everything_list_the_other_meshes() {
    let out = play(&demo(json!({}), json!(["config-changed", "update-status"])));
    let touches = |i: usize| {
        request_paths(&out, i)
            .into_iter()
            .filter(|p| {
                BACKEND_GROUPS
                    .iter()
                    .any(|g| p.contains(&format!("/apis/{g}/")))
            })
            .collect::<Vec<_>>()
    };
    // config-changed lists each of the 8 kinds once (a switch away deletes their objects).
    assert_eq!(touches(0).len(), 8, "{:?}", touches(0));
    // A no-op update-status sends nothing more than before the option existed.
    assert!(touches(1).is_empty(), "{:?}", touches(1));
    assert!(writes(&out, 1).is_empty());
}

#[test]
fn a_backend_object_the_api_server_refuses_is_skipped_alone() {
    let mut scenario = demo(
        json!({"mesh-backend": "linkerd"}),
        json!([
            "config-changed",
            "update-status",
            "update-status",
            "config-changed"
        ]),
    );
    scenario["faults"] = json!([
        {"match": {"method": "PATCH", "path_regex": ".*/servers/istio-beacon-k8s-prod-mydb-9090"}, "error": 422, "times": 1}
    ]);
    let out = play(&scenario);
    for i in 0..4 {
        assert_eq!(exit_code(&out, i), 0, "step {i}");
    }
    // Refused: logged, counted (next to mydb's narrowed policy); everything else written.
    const SKIPPED_AND_NARROWED: &str = "1 policy skipped: invalid consumer data (see juju debug-log); 1 policy narrowed: the mesh cannot express all of it (see juju debug-log)";
    assert_eq!(status(&out, 0), active(SKIPPED_AND_NARROWED));
    assert!(
        logs(&out, 0, "ERROR")
            .iter()
            .any(|l| l.starts_with("Skipping Server prod/istio-beacon-k8s-prod-mydb-9090")),
        "{:?}",
        logs(&out, 0, "ERROR")
    );
    assert_eq!(
        backend_objects(&out, "linkerd").len(),
        demo_expectation("linkerd").1
    );
    remembered_until_a_hook_reads_everything(&out, SKIPPED_AND_NARROWED, "linkerd");
}

/// After a refusal in step 0: steps 1 and 2 (which do not read everything) neither send nor
/// log the refused object again, and still count it (`counted`); step 3 (`config-changed`)
/// sends it again, and the fault was for one request.
fn remembered_until_a_hook_reads_everything(out: &Value, counted: &str, backend: &str) {
    for i in [1, 2] {
        assert!(writes(out, i).is_empty(), "step {i}: {:?}", writes(out, i));
        assert!(logs(out, i, "ERROR").is_empty(), "step {i}");
        assert_eq!(status(out, i), active(counted), "step {i}");
    }
    assert_eq!(writes(out, 3).len(), 1, "{:?}", writes(out, 3));
    assert_eq!(status(out, 3), active(demo_expectation(backend).0));
}

#[test]
fn a_refused_smi_object_is_remembered_until_a_hook_reads_everything() {
    let mut scenario = demo(
        json!({"mesh-backend": "smi"}),
        json!([
            "config-changed",
            "update-status",
            {"hook": "service-mesh-relation-changed", "relation": 3},
            "config-changed"
        ]),
    );
    scenario["faults"] = json!([
        {"match": {"method": "PATCH", "path_regex": ".*/traffictargets/.*-mydb-.*"}, "error": 422, "times": 1}
    ]);
    let out = play(&scenario);
    for i in 0..4 {
        assert_eq!(exit_code(&out, i), 0, "step {i}");
    }
    let refused = "2 policies skipped: invalid consumer data (see juju debug-log)";
    assert_eq!(status(&out, 0), active(refused));
    let errors = logs(&out, 0, "ERROR");
    assert!(
        errors.len() == 1 && errors[0].starts_with("Skipping TrafficTarget prod/"),
        "{errors:?}"
    );
    remembered_until_a_hook_reads_everything(&out, refused, "smi");
    assert_eq!(
        backend_objects(&out, "smi").len(),
        demo_expectation("smi").1
    );
}

/// The demo model under `backend`; under Consul with two consumers whose policies it can
/// say (the demo's are limited to ports, which Consul intentions have not).
fn demo_for(backend: &str, steps: Value) -> Value {
    let mut scenario = demo(json!({"mesh-backend": backend}), steps);
    if backend == "consul" {
        let policy = |app: &str| {
            format!(
                r#"[{{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "{app}", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{{"hosts": null, "ports": null, "methods": ["GET"], "paths": ["/api"]}}]}}]"#
            )
        };
        let relations = scenario["relations"].as_array_mut().expect("relations");
        let mydb = relations
            .iter_mut()
            .find(|r| r["remote_app"] == "mydb")
            .expect("mydb");
        mydb["remote_app_data"]["policies"] = json!(policy("mydb"));
        relations.push(json!({
            "id": 9, "endpoint": "service-mesh", "remote_app": "web",
            "remote_units": ["web/0"], "remote_app_data": {"policies": policy("web")},
        }));
    }
    scenario
}

/// Our objects of `backend`'s kinds after the last step, whole.
fn backend_bodies(out: &Value, backend: &str) -> Vec<Value> {
    out["kubernetes"]
        .as_array()
        .expect("kubernetes")
        .iter()
        .filter(|o| {
            let group = o["apiVersion"].as_str().unwrap_or("").split('/').next();
            kinds(backend)
                .iter()
                .any(|(g, k)| Some(*g) == group && o["kind"] == *k)
        })
        .cloned()
        .collect()
}

/// `object` edited by another actor: a source (or identity) it authorizes replaced.
fn tampered(object: &Value) -> Option<Value> {
    let mut edited = object.clone();
    let spec = edited.get_mut("spec")?;
    if let Some(sources) = spec.get_mut("sources").and_then(Value::as_array_mut) {
        sources.first_mut()?["name"] = json!("intruder");
    } else if let Some(ids) = spec.get_mut("identities").and_then(Value::as_array_mut) {
        *ids = vec![json!(
            "intruder.prod.serviceaccount.identity.linkerd.cluster.local"
        )];
    } else if let Some(refs) = spec.get_mut("identityRefs").and_then(Value::as_array_mut) {
        refs.first_mut()?["name"] = json!("intruder");
    } else {
        return None;
    }
    let meta = edited["metadata"].as_object_mut()?;
    for key in [
        "resourceVersion",
        "managedFields",
        "uid",
        "creationTimestamp",
        "generation",
    ] {
        meta.remove(key);
    }
    Some(edited)
}

#[test]
fn under_each_backend_a_no_op_writes_nothing_and_drift_is_repaired_on_any_hook() {
    for backend in BACKENDS {
        // What the beacon writes, to aim the edits at.
        let first = play(&demo_for(backend, json!(["config-changed"])));
        let objects = backend_bodies(&first, backend);
        assert!(objects.len() >= 2, "{backend}: {objects:?}");
        let edited = objects
            .iter()
            .find_map(tampered)
            .unwrap_or_else(|| panic!("{backend}: nothing to edit in {objects:?}"));
        let edited_name = edited["metadata"]["name"].clone();
        let deleted = objects
            .iter()
            .find(|o| o["metadata"]["name"] != edited_name || o["kind"] != edited["kind"])
            .expect("another object");
        let out = play(&demo_for(
            backend,
            json!([
                "config-changed",
                "update-status",
                {"update": {
                    "kubernetes": [edited],
                    "kubernetes_delete": [{
                        "apiVersion": deleted["apiVersion"],
                        "kind": deleted["kind"],
                        "namespace": deleted["metadata"]["namespace"],
                        "name": deleted["metadata"]["name"],
                    }],
                }},
                "update-status",
                "update-status",
            ]),
        ));
        for i in 0..4 {
            assert_eq!(exit_code(&out, i), 0, "{backend} step {i}");
        }
        assert!(!writes(&out, 0).is_empty(), "{backend}");
        // A no-op: no write (and the memo of what was applied makes it cheap).
        assert!(
            writes(&out, 1).is_empty(),
            "{backend}: {:?}",
            writes(&out, 1)
        );
        // An ordinary hook repairs both: the edited object and the deleted one are applied
        // again, nothing else.
        let repair = writes(&out, 2);
        assert_eq!(repair.len(), 2, "{backend}: {repair:?}");
        assert!(repair.iter().all(|w| w.starts_with("PATCH ")), "{repair:?}");
        for name in [&edited_name, &deleted["metadata"]["name"]] {
            let name = name.as_str().expect("name");
            assert!(
                repair.iter().any(|w| w.ends_with(&format!("/{name}"))),
                "{backend}: {name} not in {repair:?}"
            );
        }
        let strip = |objects: Vec<Value>| -> Vec<Value> {
            objects
                .into_iter()
                .map(|o| json!([o["kind"], o["metadata"]["name"], o["spec"]]))
                .collect()
        };
        assert_eq!(
            strip(backend_bodies(&out, backend)),
            strip(objects.clone()),
            "{backend}"
        );
        assert!(
            writes(&out, 3).is_empty(),
            "{backend}: {:?}",
            writes(&out, 3)
        );
    }
}

/// The keys `model-on-mesh` puts on the Namespace under each backend (labels, annotations),
/// with the beacon's managed-by label.
fn onboarding(backend: &str) -> (Value, Value) {
    const ME: &str = "prod.istio-beacon-k8s";
    match backend {
        "istio" => (
            json!({"istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint", "istio.io/dataplane-mode": "ambient", "charms.canonical.com/istio.io.waypoint.managed-by": ME}),
            json!({}),
        ),
        "smi" => (
            json!({"openservicemesh.io/monitored-by": "osm", "charms.canonical.com/openservicemesh.io.managed-by": ME}),
            json!({"openservicemesh.io/sidecar-injection": "enabled"}),
        ),
        "consul" => (
            json!({"connect-inject": "enabled", "charms.canonical.com/consul.hashicorp.com.managed-by": ME}),
            json!({}),
        ),
        _ => (
            json!({"charms.canonical.com/linkerd.io.managed-by": ME}),
            json!({"linkerd.io/inject": "enabled"}),
        ),
    }
}

/// The model's Namespace after the last step: its labels and annotations, without the
/// name label Kubernetes sets.
fn namespace_keys(out: &Value) -> (Value, Value) {
    let ns = object(out, "Namespace", "", "prod").expect("Namespace prod");
    let mut labels = ns["metadata"]["labels"].clone();
    if let Some(map) = labels.as_object_mut() {
        map.remove("kubernetes.io/metadata.name");
    }
    let annotations = ns["metadata"]
        .get("annotations")
        .cloned()
        .unwrap_or(json!({}));
    (
        if labels.is_null() { json!({}) } else { labels },
        annotations,
    )
}

#[test]
fn model_on_mesh_puts_the_namespace_on_the_backends_mesh_and_a_switch_moves_it() {
    for backend in BACKENDS {
        // Istio first, on the mesh; then the switch; then a no-op.
        let out = play(&demo(
            json!({"model-on-mesh": true}),
            json!([
                "config-changed",
                switch_to(backend),
                "config-changed",
                "update-status"
            ]),
        ));
        for i in 0..3 {
            assert_eq!(exit_code(&out, i), 0, "{backend} step {i}");
        }
        assert_eq!(namespace_keys(&out), onboarding(backend), "{backend}");
        let patches: Vec<String> = writes(&out, 1)
            .into_iter()
            .filter(|w| w.contains("/api/v1/namespaces/prod") && !w.contains("/prod/"))
            .collect();
        assert_eq!(
            patches.len(),
            1,
            "{backend}: one patch moves it: {patches:?}"
        );
        assert!(
            writes(&out, 2).is_empty(),
            "{backend}: {:?}",
            writes(&out, 2)
        );

        // And back to Istio, then off the mesh: nothing of ours is left.
        let out = play(&demo(
            json!({"model-on-mesh": true, "mesh-backend": backend}),
            json!(["config-changed", switch_to("istio"), "config-changed",]),
        ));
        assert_eq!(namespace_keys(&out), onboarding("istio"), "{backend}");
        let out = play(&demo(
            json!({"model-on-mesh": true, "mesh-backend": backend}),
            json!([
                "config-changed",
                {"update": {"config": {"model-on-mesh": false}}},
                "config-changed",
            ]),
        ));
        assert_eq!(namespace_keys(&out), (json!({}), json!({})), "{backend}");
    }
}

#[test]
fn another_entitys_mesh_keys_are_not_taken_over() {
    // The namespace is already injected by someone else: left as it is, and said.
    let mut scenario = demo(
        json!({"model-on-mesh": true, "mesh-backend": "linkerd"}),
        json!(["config-changed"]),
    );
    let ns = scenario["kubernetes"]
        .as_array_mut()
        .expect("kubernetes")
        .iter_mut()
        .find(|o| o["kind"] == "Namespace")
        .expect("a Namespace in the demo model");
    ns["metadata"]["annotations"] = json!({"linkerd.io/inject": "enabled"});
    let out = play(&scenario);
    assert_eq!(exit_code(&out, 0), 0);
    assert_eq!(
        namespace_keys(&out),
        (json!({}), json!({"linkerd.io/inject": "enabled"}))
    );
    assert!(
        logs(&out, 0, "WARNING")
            .iter()
            .any(|l| l.contains("Cannot put Namespace 'prod' on Linkerd")
                && l.contains("managed by another entity")),
        "{:?}",
        logs(&out, 0, "WARNING")
    );
}

#[test]
fn linkerd_identities_follow_the_configured_trust_domain() {
    let out = play(&demo(
        json!({"mesh-backend": "linkerd", "linkerd-trust-domain": "example.org", "linkerd-control-plane-namespace": "linkerd-cp"}),
        json!(["config-changed"]),
    ));
    assert_eq!(exit_code(&out, 0), 0);
    let identities: Vec<String> = out["kubernetes"]
        .as_array()
        .expect("kubernetes")
        .iter()
        .filter(|o| o["kind"] == "MeshTLSAuthentication")
        .flat_map(|o| {
            o["spec"]["identities"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|i| i.as_str().map(str::to_owned))
        .collect();
    assert!(!identities.is_empty());
    assert!(
        identities
            .iter()
            .all(|i| i.ends_with(".serviceaccount.identity.linkerd-cp.example.org")),
        "{identities:?}"
    );
    // A value that is not a DNS name blocks, naming the option.
    let out = play(&demo(
        json!({"mesh-backend": "linkerd", "linkerd-trust-domain": "a b"}),
        json!(["config-changed"]),
    ));
    let (state, message) = status(&out, 0).expect("a status");
    assert_eq!(state, "blocked");
    assert!(message.contains("linkerd-trust-domain"), "{message}");
}

/// tests/scenarios/access.yaml under `backend`, with `steps` after its config-changed.
fn access_under(backend: &str, steps: Value) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/access.yaml");
    let text = std::fs::read_to_string(path).expect("access scenario");
    let mut scenario: Value = serde_yaml_ng::from_str(&text).expect("YAML");
    scenario["config"]["mesh-backend"] = json!(backend);
    let mut all = vec![json!("config-changed")];
    all.extend(steps.as_array().expect("steps").iter().cloned());
    scenario["steps"] = Value::Array(all);
    scenario
}

fn check(source: &str, port: u16) -> Value {
    json!({"action": "check-access", "params": {"source": source, "target": "mydb", "port": port}})
}

fn answer(out: &Value, i: usize) -> (String, String, String) {
    assert_eq!(exit_code(out, i), 0, "step {i}");
    let action = &step(out, i)["action"];
    assert_eq!(action["failed"], Value::Null, "step {i}: {action}");
    let r = &action["results"];
    let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
    (s("decision"), s("enforced-by"), s("reason"))
}

#[test]
fn check_access_under_linkerd_evaluates_linkerds_objects() {
    let out = play(&access_under(
        "linkerd",
        json!([
            // prometheus's unit policy became a Server on 9090 authorizing it.
            check("cos.prometheus", 9090),
            check("myapp", 9090),
            // No Server on 7777: the cluster's default inbound policy decides.
            check("myapp", 7777),
            check("off-mesh", 9090),
        ]),
    ));
    let (decision, by, reason) = answer(&out, 1);
    assert_eq!(decision, "allow", "{reason}");
    assert_eq!(by, "linkerd (mesh-backend) in prod");
    assert!(reason.contains("Linkerd Servers and policies"), "{reason}");
    assert_eq!(answer(&out, 2).0, "deny");
    let (decision, _, reason) = answer(&out, 3);
    assert_eq!(decision, "undetermined");
    assert!(reason.contains("no Server serves port 7777"), "{reason}");
    assert_eq!(answer(&out, 4).0, "undetermined");

    // With the namespace's default inbound policy the port without a Server is decided.
    let mut scenario = access_under("linkerd", json!([check("myapp", 7777)]));
    let ns = scenario["kubernetes"]
        .as_array_mut()
        .expect("kubernetes")
        .iter_mut()
        .find(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == "prod")
        .expect("Namespace prod");
    ns["metadata"]["annotations"] = json!({"config.linkerd.io/default-inbound-policy": "deny"});
    assert_eq!(answer(&play(&scenario), 1).0, "deny");
    let ns_open = {
        let mut s = scenario.clone();
        for o in s["kubernetes"].as_array_mut().expect("kubernetes") {
            if o["kind"] == "Namespace" && o["metadata"]["name"] == "prod" {
                o["metadata"]["annotations"] =
                    json!({"config.linkerd.io/default-inbound-policy": "all-unauthenticated"});
            }
        }
        s
    };
    assert_eq!(answer(&play(&ns_open), 1).0, "allow");
}

#[test]
fn check_access_under_smi_and_consul_uses_their_evaluators() {
    for backend in ["smi", "consul"] {
        let out = play(&access_under(
            backend,
            json!([check("cos.prometheus", 9090), check("myapp", 9090)]),
        ));
        let (decision, by, reason) = answer(&out, 1);
        assert_eq!(by, format!("{backend} (mesh-backend) in prod"));
        // SMI says prometheus's TCP policy exactly; Consul cannot say ports nor unit
        // policies, so nothing of it is rendered there: denied.
        let want = if backend == "smi" { "allow" } else { "deny" };
        assert_eq!(decision, want, "{backend}: {reason}");
        assert_eq!(answer(&out, 2).0, "deny", "{backend}");
    }
}

#[test]
fn show_policies_under_a_backend_says_how_that_mesh_renders_each_policy() {
    for backend in BACKENDS {
        let out = play(&access_under(
            backend,
            json!([{"action": "show-policies", "params": {"format": "json"}}]),
        ));
        assert_eq!(exit_code(&out, 1), 0);
        let action = &step(&out, 1)["action"];
        assert_eq!(action["failed"], Value::Null, "{backend}: {action}");
        let r = &action["results"];
        // mydb's two and the beacon's own: none of them an AuthorizationPolicy to write.
        assert_eq!(r["states"]["mesh-backend"], "3", "{backend}: {r}");
        let report: Value =
            serde_json::from_str(r["report"].as_str().expect("report")).expect("json");
        assert_eq!(report["mesh-backend"], backend);
        let lines: Vec<&Value> = report["consumers"][0]["policies"]
            .as_array()
            .expect("policies")
            .iter()
            .chain(report["own"].as_array().expect("own"))
            .collect();
        let mesh = |i: usize| lines[i]["mesh"].as_str().expect("mesh").to_owned();
        // prometheus's unit policy (TCP 9090, the whole app): SMI and Linkerd say it
        // exactly; Consul intentions have neither ports nor pods.
        let scrape = mesh(1);
        match backend {
            "consul" => assert!(scrape.starts_with("refused: "), "{scrape}"),
            _ => assert_eq!(scrape, "exact", "{backend}"),
        }
        // The same words as the debug-log's findings.
        for i in 0..lines.len() {
            let m = mesh(i);
            assert!(
                m == "exact" || m.starts_with("narrowed: ") || m.starts_with("refused: "),
                "{backend}: {m}"
            );
        }
    }
}

/// The warning lines of the first step that are about policies.
fn findings(out: &Value) -> Vec<String> {
    logs(out, 0, "WARNING")
        .into_iter()
        .filter(|l| l.starts_with("Skipping policy") || l.starts_with("Narrowing policy"))
        .collect()
}

/// [`backend_bodies`] of one kind.
fn bodies_of_kind(out: &Value, backend: &str, kind: &str) -> Vec<Value> {
    let mut bodies = backend_bodies(out, backend);
    bodies.retain(|o| o["kind"] == kind);
    bodies
}

/// The README's examples table ("Other meshes"), row by row.
#[test]
fn the_readme_examples_hold() {
    // Rows 1 and 2: the demo model.
    let reason = |lines: &[String], policy: &str| -> String {
        lines
            .iter()
            .find(|l| l.contains(policy))
            .cloned()
            .unwrap_or_default()
    };
    const APP: &str = "policy-myapp-prod-mydb";
    const UNIT: &str = "policy-prometheus-cos-mydb";
    let smi = play(&demo(
        json!({"mesh-backend": "smi"}),
        json!(["config-changed"]),
    ));
    let lines = findings(&smi);
    assert!(reason(&lines, APP).contains("SMI HTTP routes cannot be limited to ports"));
    assert_eq!(reason(&lines, UNIT), "", "exact under SMI");
    let target = bodies_of_kind(&smi, "smi", "TrafficTarget")
        .into_iter()
        .find(|t| t["spec"]["destination"]["name"] == "mydb")
        .expect("mydb's TrafficTarget");
    assert_eq!(
        target["spec"]["sources"],
        json!([{"kind": "ServiceAccount", "name": "prometheus", "namespace": "cos"}])
    );
    assert_eq!(target["spec"]["rules"][0]["kind"], "TCPRoute");

    let consul = play(&demo(
        json!({"mesh-backend": "consul"}),
        json!(["config-changed"]),
    ));
    let lines = findings(&consul);
    assert!(reason(&lines, APP).contains("Consul intentions have no ports"));
    assert!(reason(&lines, UNIT).contains("Consul intentions are per service"));

    let linkerd = play(&demo(
        json!({"mesh-backend": "linkerd"}),
        json!(["config-changed"]),
    ));
    let lines = findings(&linkerd);
    assert!(reason(&lines, APP).starts_with("Narrowing policy"));
    assert!(reason(&lines, APP).contains("ties with this one"));
    assert_eq!(reason(&lines, UNIT), "", "exact under Linkerd");
    let names = |kind: &str| -> Vec<String> {
        bodies_of_kind(&linkerd, "linkerd", kind)
            .iter()
            .map(|o| {
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    };
    for port in ["5432", "8080", "9090"] {
        assert!(
            names("Server").contains(&format!("istio-beacon-k8s-prod-mydb-{port}")),
            "{port}"
        );
    }
    assert!(
        bodies_of_kind(&linkerd, "linkerd", "MeshTLSAuthentication")
            .iter()
            .any(|m| {
                m["spec"]["identities"]
                    == json!(["myapp.prod.serviceaccount.identity.linkerd.cluster.local"])
            })
    );
    assert!(names("HTTPRoute").iter().any(|n| n.contains("mydb-5432")));
    assert!(names("HTTPRoute").iter().any(|n| n.contains("mydb-8080")));

    // Row 3: GET /api without ports.
    let portless = r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": null, "methods": ["GET"], "paths": ["/api"]}]}]"#;
    let with = |backend: &str| {
        let mut scenario = demo(json!({"mesh-backend": backend}), json!(["config-changed"]));
        scenario["relations"][1]["remote_app_data"]["policies"] = json!(portless);
        play(&scenario)
    };
    let smi = with("smi");
    assert_eq!(findings(&smi), Vec::<String>::new());
    let group = bodies_of_kind(&smi, "smi", "HTTPRouteGroup")
        .into_iter()
        .find(|g| g["metadata"]["name"] == "istio-beacon-k8s-prod-mydb-myapp-prod")
        .expect("mydb's route group");
    assert_eq!(
        group["spec"]["matches"],
        json!([{"name": "m0", "pathRegex": "^/api$", "methods": ["GET"]}])
    );
    let consul = with("consul");
    let intentions = bodies_of_kind(&consul, "consul", "ServiceIntentions");
    let mydb = intentions
        .iter()
        .find(|i| i["metadata"]["name"] == "istio-beacon-k8s-prod-mydb")
        .expect("mydb's intentions");
    assert_eq!(
        mydb["spec"]["sources"],
        json!([{"name": "myapp", "namespace": "prod", "permissions": [{"action": "allow", "http": {"pathExact": "/api", "methods": ["GET"]}}]}])
    );
    let linkerd = with("linkerd");
    assert!(
        findings(&linkerd)
            .iter()
            .any(|l| l.starts_with("Skipping policy")
                && l.contains("a Linkerd Server is one port: 'any port' cannot be said")),
        "{:?}",
        findings(&linkerd)
    );
}

#[test]
fn a_hook_that_cannot_read_the_cluster_still_logs_what_the_consumers_data_gave() {
    // Every LIST of Linkerd Servers fails (1 + 3 retries): the hook fails for Juju to retry,
    // and the policy Linkerd narrows is said all the same.
    let mut scenario = demo(
        json!({"mesh-backend": "linkerd"}),
        json!(["config-changed"]),
    );
    scenario["faults"] = json!([
        {"match": {"method": "GET", "path_regex": ".*/servers.*"}, "error": 503, "times": 8}
    ]);
    let out = play(&scenario);
    assert_ne!(exit_code(&out, 0), 0);
    assert!(
        findings(&out)
            .iter()
            .any(|l| l.starts_with("Narrowing policy") && l.contains("from service-mesh:3 (mydb)")),
        "{:?}",
        logs(&out, 0, "WARNING")
    );
}

//! The beacon played through `charm-sim` (real hook tools, a real Kubernetes API server and
//! Pebble): databags, statuses, API writes per step, and the objects left in the cluster.

mod common;

use common::{
    app_data_after, exit_code, local_app_data, logs, object, objects, owned_policy, run, run_file,
    status, step, tool_runs, writes, written_by,
};
use serde_json::{Value, json};

const AP: &str = "/apis/security.istio.io/v1/namespaces/prod/authorizationpolicies";
const P1: &str = "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3";
/// relation_lifecycle's changed policy (ports [5432], methods [GET]), named by the Python
/// library's `_generate_network_policy_name` (canonical-service-mesh, from PyPI).
const P1_CHANGED: &str = "istio-beacon-k8s-prod-policy-myapp-prod-mydb-d36f06ec";
const MODELOPERATOR: &str = "istio-beacon-k8s-prod-policy-all-sources-modeloperator";
const WAYPOINT: &str = "prod-istio-beacon-k8s-waypoint";
const LABELS: &str = r#"{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint", "istio.io/use-waypoint-namespace": "prod"}"#;

fn active(msg: &str) -> Option<(String, String)> {
    Some(("active".into(), msg.into()))
}

/// The writes of a first leader reconcile before any policy: own labels, then waypoint.
fn first_run_writes() -> Vec<String> {
    vec![
        "PATCH /apis/apps/v1/namespaces/prod/statefulsets/istio-beacon-k8s".into(),
        "PATCH /api/v1/namespaces/prod/services/istio-beacon-k8s".into(),
        "POST /api/v1/namespaces/prod/configmaps".into(),
        format!("PATCH /apis/gateway.networking.k8s.io/v1/namespaces/prod/gateways/{WAYPOINT}"),
        format!("PATCH /apis/autoscaling/v2/namespaces/prod/horizontalpodautoscalers/{WAYPOINT}"),
    ]
}

/// [`first_run_writes`], then the apply of the one consumer policy `P1`.
fn first_run_writes_with_p1() -> Vec<String> {
    let mut writes = first_run_writes();
    writes.push(format!("PATCH {AP}/{P1}"));
    writes
}

#[test]
fn relation_added_changed_broken() {
    let out = run("relation_lifecycle");
    // install: upstream does not observe it; status stays unknown.
    assert_eq!((exit_code(&out, 0), status(&out, 0)), (0, None));
    assert!(writes(&out, 0).is_empty());
    // leader-elected: full reconcile, no consumer policies yet: Maintenance once, then
    // Active.
    assert_eq!(writes(&out, 1), first_run_writes());
    assert_eq!(status(&out, 1), active(""));
    assert_eq!(tool_runs(&out, 1, "status-set"), 2);
    // relation-created: provider data only, no Kubernetes at all.
    assert_eq!(out["steps"][2]["api_requests"], json!([]));
    // relation-changed with a policy: exactly one apply.
    assert_eq!(writes(&out, 3), vec![format!("PATCH {AP}/{P1}")]);
    // policy changed: old deleted, new applied.
    assert_eq!(
        writes(&out, 4),
        vec![
            format!("DELETE {AP}/{P1}"),
            format!("PATCH {AP}/{P1_CHANGED}")
        ]
    );
    // broken: its policy is deleted.
    assert_eq!(writes(&out, 5), vec![format!("DELETE {AP}/{P1_CHANGED}")]);
    // update-status with nothing changed: reads only, and the status it already shows is
    // not set again (Juju would add it to the status history).
    assert!(writes(&out, 6).is_empty());
    assert_eq!(status(&out, 6), active(""));
    assert_eq!(tool_runs(&out, 6, "status-set"), 0);
    assert_eq!(tool_runs(&out, 6, "status-get"), 1);
    // Nor does it log (every juju-log line is a process).
    assert_eq!(tool_runs(&out, 6, "juju-log"), 0);
    assert!(objects(&out, "AuthorizationPolicy").is_empty());
    assert_eq!(objects(&out, "Gateway"), vec![format!("prod/{WAYPOINT}")]);
    assert_eq!(
        objects(&out, "HorizontalPodAutoscaler"),
        vec![format!("prod/{WAYPOINT}")]
    );
}

#[test]
fn config_toggles_both_ways() {
    let out = run("config_toggles");
    assert_eq!(writes(&out, 0), first_run_writes_with_p1());
    // model-on-mesh on: namespace labelled, modeloperator policy created.
    assert_eq!(
        writes(&out, 1),
        vec![
            "PATCH /api/v1/namespaces/prod".to_owned(),
            format!("PATCH {AP}/{MODELOPERATOR}")
        ]
    );
    // managed off: every policy we own is deleted.
    assert_eq!(
        writes(&out, 2),
        vec![
            format!("DELETE {AP}/{P1}"),
            format!("DELETE {AP}/{MODELOPERATOR}")
        ]
    );
    // both back to defaults: namespace labels removed, consumer policy back.
    assert_eq!(
        writes(&out, 3),
        vec![
            "PATCH /api/v1/namespaces/prod".to_owned(),
            format!("PATCH {AP}/{P1}")
        ]
    );
    for i in 0..4 {
        assert_eq!((exit_code(&out, i), status(&out, i)), (0, active("")));
    }
    // Consumers get `{}` exactly while the namespace carries the labels.
    let labels_after = |i| app_data_after(&out, i, 3)["labels"].clone();
    assert_eq!(
        [
            labels_after(0),
            labels_after(1),
            labels_after(2),
            labels_after(3)
        ],
        [json!(LABELS), json!("{}"), json!("{}"), json!(LABELS)]
    );
    assert_eq!(
        objects(&out, "AuthorizationPolicy"),
        vec![format!("prod/{P1}")]
    );
    let ns = object(&out, "Namespace", "", "prod").expect("namespace");
    assert_eq!(
        ns["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "prod"})
    );
    assert_eq!(
        local_app_data(&out, 3),
        &json!({"labels": LABELS, "mesh_type": "\"istio\""})
    );
}

#[test]
fn model_on_mesh_labels_namespace_and_empties_consumer_labels() {
    let out = run("model_on_mesh");
    assert_eq!(
        local_app_data(&out, 3),
        &json!({"labels": "{}", "mesh_type": "\"istio\""})
    );
    let ns = object(&out, "Namespace", "", "prod").expect("namespace");
    assert_eq!(
        ns["metadata"]["labels"],
        json!({
            "charms.canonical.com/istio.io.waypoint.managed-by": "prod.istio-beacon-k8s",
            "istio.io/dataplane-mode": "ambient",
            "istio.io/use-waypoint": WAYPOINT,
            "kubernetes.io/metadata.name": "prod",
        })
    );
    let mo =
        object(&out, "AuthorizationPolicy", "prod", MODELOPERATOR).expect("modeloperator policy");
    assert_eq!(
        mo["spec"],
        json!({"rules": [{}], "selector": {"matchLabels": {"juju-modeloperator": "modeloperator"}}})
    );
    // The beacon's own pods are on the mesh whatever model-on-mesh says.
    let sts = object(&out, "StatefulSet", "prod", "istio-beacon-k8s").expect("statefulset");
    assert_eq!(
        sts["spec"]["template"]["metadata"]["labels"]["istio.io/use-waypoint"],
        json!(WAYPOINT)
    );
    let record = object(
        &out,
        "ConfigMap",
        "prod",
        "juju-service-mesh-istio-beacon-k8s-labels",
    )
    .expect("record");
    assert_eq!(record["data"]["labels"], json!(LABELS));
    // Second reconcile: nothing to write (upstream re-patches the namespace every time).
    assert!(writes(&out, 1).is_empty());
}

#[test]
fn leader_change() {
    let out = run("leader_change");
    let backup = active("Backup unit; standing by for leader takeover");
    assert_eq!(status(&out, 0), backup);
    assert_eq!(out["steps"][0]["api_requests"], json!([]));
    // A non-leader does not publish provider data.
    assert_eq!(out["steps"][1]["api_requests"], json!([]));
    // New leader: converges on leader-elected (upstream waits for another event).
    assert_eq!(writes(&out, 2), first_run_writes_with_p1());
    assert_eq!(status(&out, 2), active(""));
    assert_eq!(
        local_app_data(&out, 3),
        &json!({"labels": LABELS, "mesh_type": "\"istio\""})
    );
}

#[test]
fn hpa_follows_planned_units_and_remove_tears_down_at_zero() {
    let out = run("scale_and_remove");
    // After the departed hook the HPA is at 1 replica: only that one write.
    assert_eq!(
        writes(&out, 1),
        vec![format!(
            "PATCH /apis/autoscaling/v2/namespaces/prod/horizontalpodautoscalers/{WAYPOINT}"
        )]
    );
    // remove while units remain: nothing.
    assert!(writes(&out, 2).is_empty());
    assert!(
        logs(&out, 2, "INFO")
            .iter()
            .any(|l| l.contains("Application is not scaling to 0"))
    );
    // remove at 0 planned units, on a non-leader: everything owned goes, namespace unlabelled.
    let mut teardown = writes(&out, 3);
    teardown.sort();
    assert_eq!(
        teardown,
        vec![
            "DELETE /apis/autoscaling/v2/namespaces/prod/horizontalpodautoscalers/prod-istio-beacon-k8s-waypoint".to_owned(),
            format!("DELETE /apis/gateway.networking.k8s.io/v1/namespaces/prod/gateways/{WAYPOINT}"),
            format!("DELETE {AP}/{MODELOPERATOR}"),
            format!("DELETE {AP}/{P1}"),
            "PATCH /api/v1/namespaces/prod".to_owned(),
        ]
    );
    assert_eq!(exit_code(&out, 3), 0);
    assert!(objects(&out, "AuthorizationPolicy").is_empty());
    assert!(objects(&out, "Gateway").is_empty());
    assert!(objects(&out, "HorizontalPodAutoscaler").is_empty());
    let ns = object(&out, "Namespace", "", "prod").expect("namespace");
    assert_eq!(
        ns["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "prod"})
    );
}

#[test]
fn hpa_replicas_equal_planned_units() {
    let out = run("config_toggles");
    let hpa = object(&out, "HorizontalPodAutoscaler", "prod", WAYPOINT).expect("hpa");
    assert_eq!(hpa["spec"]["minReplicas"], json!(2));
    assert_eq!(hpa["spec"]["maxReplicas"], json!(2));
    // 3 planned units, then one departs: the HPA is pinned to 1.
    let out = run("scale");
    let hpa = object(&out, "HorizontalPodAutoscaler", "prod", WAYPOINT).expect("hpa");
    assert_eq!(hpa["spec"]["minReplicas"], json!(1));
    assert_eq!(hpa["spec"]["maxReplicas"], json!(1));
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": WAYPOINT})
    );
}

#[test]
fn stale_owned_pruned_foreign_untouched() {
    let out = run("stale_and_foreign");
    // Exactly these deletes, and nothing of other owners' (other-beacons, hand-written), nor
    // what only carries our labels: another beacon's whose current label is our legacy one,
    // and an object relabelled by hand.
    let deletes: Vec<String> = writes(&out, 0)
        .into_iter()
        .filter(|w| w.starts_with("DELETE "))
        .collect();
    assert_eq!(
        deletes,
        vec![
            "DELETE /apis/gateway.networking.k8s.io/v1/namespaces/prod/gateways/istio-beacon-k8s-prod-waypoint"
                .to_owned(),
            format!("DELETE {AP}/stale-owned"),
            "DELETE /apis/security.istio.io/v1/namespaces/team/authorizationpolicies/istio-beacon-k8s-prod-policy-legacy-owned"
                .to_owned(),
        ]
    );
    assert_eq!(
        objects(&out, "AuthorizationPolicy"),
        vec![
            "istio-beacon-k8s/prod-istio-beacon-k8s-policy-web-istio-beacon-k8s-db-1234abcd"
                .to_owned(),
            "prod/hand-written".to_owned(),
            "prod/relabelled".to_owned(),
            "team/other-beacons".to_owned()
        ]
    );
    // Each left alone is said so, once per hook.
    let left: Vec<String> = logs(&out, 0, "WARNING")
        .into_iter()
        .filter(|l| l.starts_with("Leaving "))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(objects(&out, "Gateway"), vec![format!("prod/{WAYPOINT}")]);
    assert!(writes(&out, 1).is_empty());
}

#[test]
fn missing_crds_block_with_exit_zero() {
    let out = run("crds_missing");
    assert_eq!(exit_code(&out, 0), 0);
    assert_eq!(
        status(&out, 0),
        Some((
            "blocked".into(),
            "AuthorizationPolicy CRD (security.istio.io/v1) not found: is Istio installed?".into()
        ))
    );
    // Consumers still get their labels; the beacon's own labels are still reconciled.
    assert_eq!(
        local_app_data(&out, 3),
        &json!({"labels": LABELS, "mesh_type": "\"istio\""})
    );
    assert_eq!(writes(&out, 0), first_run_writes()[..3].to_vec());
}

#[test]
fn api_fault_fails_the_hook_then_converges() {
    let out = run("api_fault");
    assert_ne!(exit_code(&out, 0), 0);
    assert_eq!(app_data_after(&out, 0, 3), &json!({}));
    // Juju discards the failed hook's relation data; the retry publishes it.
    assert_eq!(exit_code(&out, 1), 0);
    assert_eq!(writes(&out, 1), vec![format!("PATCH {AP}/{P1}")]);
    assert_eq!(status(&out, 1), active(""));
    assert_eq!(
        local_app_data(&out, 3),
        &json!({"labels": LABELS, "mesh_type": "\"istio\""})
    );
    // Converged: the third run writes nothing.
    assert!(writes(&out, 2).is_empty());
    assert_eq!(
        objects(&out, "AuthorizationPolicy"),
        vec![format!("prod/{P1}")]
    );
}

#[test]
fn bad_consumer_skipped_good_one_served() {
    let out = run("bad_consumer");
    assert_eq!(exit_code(&out, 0), 0);
    assert_eq!(
        status(&out, 0),
        active("3 policies skipped: invalid consumer data (see juju debug-log)")
    );
    assert_eq!(
        objects(&out, "AuthorizationPolicy"),
        vec![format!("prod/{P1}")]
    );
    let errors = logs(&out, 0, "ERROR");
    assert!(
        errors.iter().any(|l| l.contains("service-mesh:4 (web)")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|l| l.contains("service-mesh:6 (evil)") && l.contains("kube-system")),
        "{errors:?}"
    );
    // A cross-model consumer may open a namespace the operator listed; the API server
    // refuses a policy in one that does not exist: logged naming the consumer, counted, not
    // fatal.
    let ghost = "AuthorizationPolicy ghost/istio-beacon-k8s-prod-policy-myapp-prod-svc-";
    let refused = "from service-mesh:8 (remote-0123456789abcdef0123456789abcdef): the API server rejected it (HTTP 404)";
    assert!(
        errors
            .iter()
            .any(|l| l.contains(&format!("Skipping {ghost}")) && l.contains(refused)),
        "{errors:?}"
    );
    let ghost_writes = |i| {
        writes(&out, i)
            .into_iter()
            .filter(|w| w.contains("/namespaces/ghost/"))
            .count()
    };
    assert_eq!(ghost_writes(0), 1);
    // Not sent again while unchanged, and still counted.
    assert_eq!(ghost_writes(1), 0);
    assert_eq!(
        status(&out, 1),
        active("3 policies skipped: invalid consumer data (see juju debug-log)")
    );
    // A hook that reads everything tries again.
    assert_eq!(ghost_writes(2), 1);
    // Every consumer, bad or not, gets the provider data.
    for id in [3, 4, 6, 8] {
        assert_eq!(
            local_app_data(&out, id),
            &json!({"labels": LABELS, "mesh_type": "\"istio\""})
        );
    }
}

#[test]
fn unready_waypoint_waits_without_blocking_policies() {
    let out = run("waypoint_readiness");
    assert_eq!(exit_code(&out, 0), 0);
    assert_eq!(
        status(&out, 0),
        Some((
            "waiting".into(),
            "Waiting for waypoint Deployment prod/prod-istio-beacon-k8s-waypoint to become ready"
                .into()
        ))
    );
    assert!(writes(&out, 0).contains(&format!("PATCH {AP}/{P1}")));
    assert_eq!(status(&out, 1), active(""));
    // Nothing to write, but the status changes: only the final status is set.
    assert!(writes(&out, 1).is_empty());
    assert_eq!(tool_runs(&out, 1, "status-set"), 1);
    assert!(writes(&out, 1).is_empty());
}

#[test]
fn metrics_proxy_layer_is_planned() {
    let out = run("relation_lifecycle");
    assert_eq!(
        out["pebble"]["metrics-proxy"]["plan"]["services"]["metrics-proxy"],
        json!({
            "command": "metrics-proxy",
            "environment": {"POD_LABEL_SELECTOR": "charms.canonical.com/prod.istio-beacon-k8s.telemetry=aggregated"},
            "override": "replace",
            "startup": "enabled",
            "summary": "Metrics Broadcast Proxy",
        })
    );
}

#[test]
fn unreachable_pebble_is_not_fatal_and_pebble_ready_adds_the_layer() {
    let out = run("pebble_unreachable");
    assert_eq!((exit_code(&out, 0), status(&out, 0)), (0, active("")));
    assert!(
        logs(&out, 0, "WARNING")
            .iter()
            .any(|l| l.contains("Pebble"))
    );
    assert_eq!(writes(&out, 0), first_run_writes());
    // pebble-ready: the layer is added; Kubernetes is already converged.
    assert!(writes(&out, 1).is_empty());
    assert_eq!(
        out["pebble"]["metrics-proxy"]["plan"]["services"]["metrics-proxy"]["command"],
        json!("metrics-proxy")
    );
    assert_eq!(status(&out, 2), active(""));
}

#[test]
fn takeover_from_the_python_charm_writes_nothing() {
    let out = run("upgrade_from_python");
    let steps = out["steps"].as_array().expect("steps").len();
    for i in 0..steps {
        assert_eq!(
            (exit_code(&out, i), status(&out, i)),
            (0, active("")),
            "step {i}"
        );
        assert!(
            writes(&out, i).is_empty(),
            "step {i}: {:?}",
            writes(&out, i)
        );
    }
    assert_eq!(objects(&out, "AuthorizationPolicy").len(), 3);
}

#[test]
fn remembered_consumer_data_and_applied_policies() {
    let out = run("remembered");
    assert_eq!(writes(&out, 0), first_run_writes_with_p1());
    assert!(writes(&out, 1).is_empty());
    // Drift: the edited policy is applied again (and only it).
    assert_eq!(writes(&out, 2), vec![format!("PATCH {AP}/{P1}")]);
    // New consumer data is not looked at before its relation-changed...
    assert!(writes(&out, 3).is_empty());
    // ...which applies it.
    assert_eq!(
        writes(&out, 4),
        vec![
            format!("DELETE {AP}/{P1}"),
            format!("PATCH {AP}/{P1_CHANGED}")
        ]
    );
    // A non-leader stands by and writes nothing.
    assert!(writes(&out, 5).is_empty());
    assert_eq!(
        status(&out, 5),
        active("Backup unit; standing by for leader takeover")
    );
    // Leader again: the data changed meanwhile is read without waiting for relation-changed.
    assert_eq!(
        writes(&out, 6),
        vec![
            format!("DELETE {AP}/{P1_CHANGED}"),
            format!("PATCH {AP}/{P1}")
        ]
    );
    // config-changed and upgrade-charm read everything again and find nothing to do.
    assert!(writes(&out, 7).is_empty() && writes(&out, 8).is_empty());
    // Our app bag, emptied as only another leader could: config-changed does not read it
    // back, leader-elected does and publishes again.
    let published = app_data_after(&out, 8, 3).clone();
    assert!(published.get("mesh_type").is_some(), "{published}");
    assert_eq!(app_data_after(&out, 9, 3), &json!({}));
    assert_eq!(app_data_after(&out, 10, 3), &published);
    assert!(writes(&out, 9).is_empty() && writes(&out, 10).is_empty());
    assert_eq!(
        objects(&out, "AuthorizationPolicy"),
        vec![format!("prod/{P1}")]
    );
    let p1 = object(&out, "AuthorizationPolicy", "prod", P1).expect("P1");
    assert_eq!(
        p1["spec"]["rules"][0]["from"][0]["source"]["principals"][0],
        "cluster.local/ns/prod/sa/myapp"
    );
}

/// The `policies` value one consumer writes (as in `scripts/bench.py`): 10 app policies from
/// 10 clients, with Python `json.dumps` formatting like the consumer library.
fn consumer_policies(consumer: &str) -> String {
    let policies = (0..10)
        .map(|k| {
            json!({
                "source_namespace": "prod",
                "source_app_name": format!("{consumer}-client{k}"),
                "target_namespace": "prod",
                "target_app_name": consumer,
                "target_selector_labels": null,
                "target_service": null,
                "target_type": "app",
                "endpoints": [
                    {"hosts": null, "ports": [8000 + k], "methods": ["GET", "POST"], "paths": ["/api"]}
                ],
            })
        })
        .collect();
    service_mesh::pyjson::dumps(&Value::Array(policies))
}

/// `scripts/bench.py`'s model: `consumers` apps `consumer<i>` on `service-mesh` (relation id
/// 100 + i) asking for 10 policies each, a ready waypoint, and `steps`.
fn many_consumers(consumers: usize, config: Value, steps: Value) -> Value {
    let mut relations = vec![json!({"id": 1, "endpoint": "peers", "remote_units": []})];
    relations.extend((0..consumers).map(|i| {
        let app = format!("consumer{i}");
        json!({
            "id": 100 + i,
            "endpoint": "service-mesh",
            "remote_app": app,
            "remote_units": [format!("{app}/0")],
            "remote_app_data": {"policies": consumer_policies(&app)},
        })
    }));
    let app = "istio-beacon-k8s";
    let app_labels = json!({"app.kubernetes.io/name": app});
    let waypoint_labels = json!({"gateway.networking.k8s.io/gateway-name": WAYPOINT});
    json!({
        "model": {"name": "prod", "uuid": "7b0e1c9e-0000-4000-8000-000000000001"},
        "unit": format!("{app}/0"),
        "leader": true,
        "planned_units": 1,
        "config": config,
        "relations": relations,
        "containers": {"metrics-proxy": {"can_connect": true}},
        "kubernetes": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}},
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": app, "namespace": "prod"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": app_labels},
                    "serviceName": format!("{app}-endpoints"),
                    "template": {
                        "metadata": {"labels": app_labels},
                        "spec": {"containers": [{"name": "charm", "image": "charm-base"}]},
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": app, "namespace": "prod"},
                "spec": {"selector": app_labels, "ports": [{"port": 65535}]},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": WAYPOINT, "namespace": "prod"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": waypoint_labels},
                    "template": {
                        "metadata": {"labels": waypoint_labels},
                        "spec": {"containers": [{"name": "istio-proxy", "image": "proxyv2"}]},
                    },
                },
                "status": {"replicas": 1, "readyReplicas": 1},
            },
        ],
        "crds": "default",
        "steps": steps,
    })
}

/// The query parameters of each of a step's LISTs of AuthorizationPolicies (across all
/// namespaces), in order.
fn policy_lists(out: &Value, i: usize) -> Vec<Vec<(String, String)>> {
    step(out, i)["api_requests"]
        .as_array()
        .expect("api_requests")
        .iter()
        .filter(|r| {
            r["method"] == "GET" && r["path"] == "/apis/security.istio.io/v1/authorizationpolicies"
        })
        .map(|r| {
            r["query"]
                .as_str()
                .expect("a query")
                .split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// Asserts that step `i` listed the policies in two pages of at most 500: the second one
/// continues the first.
fn assert_two_pages(out: &Value, i: usize) {
    let lists = policy_lists(out, i);
    let param = |list: &[(String, String)], key: &str| {
        list.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    assert_eq!(lists.len(), 2, "step {i}: {lists:?}");
    for list in &lists {
        assert_eq!(
            param(list, "limit").as_deref(),
            Some("500"),
            "step {i}: {list:?}"
        );
    }
    assert_eq!(param(&lists[0], "continue"), None, "step {i}");
    assert!(
        param(&lists[1], "continue").is_some_and(|t| !t.is_empty()),
        "step {i}: {:?}",
        lists[1]
    );
}

#[test]
fn policy_list_is_paged_past_500() {
    // 601 owned policies, listed in pages of 500 (src/live.rs): 60 consumers x 10, plus the
    // modeloperator's. The API server lists in (namespace, name) order; "all-sources-
    // modeloperator" sorts before every consumer's policy, so the page boundary falls inside
    // one consumer's ten (consumer53, relation 153) instead of between two consumers.
    const PAGE: usize = 500;
    // Both sort after every "istio-beacon-k8s-prod-policy-consumer..." name: on page 2.
    let stale = "istio-beacon-k8s-prod-policy-old-client-prod-old-app-0badcafe";
    let foreign = "other-beacon-prod-policy-web-prod-db-12345678";
    let spec = json!({
        "selector": {"matchLabels": {"app.kubernetes.io/name": "old-app"}},
        "rules": [{}],
    });
    let scenario = many_consumers(
        60,
        json!({"model-on-mesh": true}),
        json!([
            "config-changed",
            "update-status",
            // Ours, left by a consumer that went away unseen; and another beacon's.
            {"update": {"kubernetes": [
                written_by("istio-beacon-k8s", owned_policy(stale, "prod-istio-beacon-k8s", spec.clone())),
                written_by("other-beacon", owned_policy(foreign, "other-beacon", spec)),
            ]}},
            "update-status",
            {"hook": "service-mesh-relation-broken", "relation": 153},
        ]),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("paged.json");
    let text = serde_json::to_vec(&scenario).expect("scenario as JSON");
    std::fs::write(&path, text).expect("write scenario");
    let out = run_file(&path);
    for i in 0..4 {
        assert_eq!(
            (exit_code(&out, i), status(&out, i)),
            (0, active("")),
            "step {i}: {:?}",
            logs(&out, i, "ERROR").first()
        );
    }

    // 1. First reconcile: our own objects, the namespace labels, and every policy applied.
    let prefix = format!("PATCH {AP}/");
    let (applied, others): (Vec<String>, Vec<String>) = writes(&out, 0)
        .into_iter()
        .partition(|w| w.starts_with(&prefix));
    let mut expected = first_run_writes();
    expected.push("PATCH /api/v1/namespaces/prod".into());
    assert_eq!(others, expected);
    let mut owned: Vec<String> = applied
        .iter()
        .map(|w| w[prefix.len()..].to_owned())
        .collect();
    // Sorted as the API server lists them (all are in prod).
    owned.sort();
    owned.dedup();
    assert_eq!(owned.len(), 601);
    assert!(owned.binary_search(&MODELOPERATOR.to_owned()).is_ok());
    for i in 0..60 {
        for k in 0..10 {
            let name =
                format!("istio-beacon-k8s-prod-policy-consumer{i}-client{k}-prod-consumer{i}-");
            let found = owned.iter().filter(|n| n.starts_with(&name)).count();
            assert_eq!(found, 1, "{name}");
        }
    }

    // 2. Nothing changed: no write, though the LIST took two pages to see everything.
    assert!(writes(&out, 1).is_empty(), "{:?}", writes(&out, 1));
    assert_two_pages(&out, 1);

    // 3. The stale policy is only on page 2: found and deleted, alone. The foreign one, on
    // the same page, is not ours (and not even listed).
    assert!(owned.iter().filter(|n| n.as_str() < stale).count() >= PAGE);
    assert!(owned.iter().filter(|n| n.as_str() < foreign).count() >= PAGE);
    assert_eq!(writes(&out, 2), vec![format!("DELETE {AP}/{stale}")]);
    assert_two_pages(&out, 2);

    // 4. consumer53's relation is broken: its ten policies go, from both pages.
    let (positions, gone): (Vec<usize>, Vec<&String>) = owned
        .iter()
        .enumerate()
        .filter(|(_, n)| n.starts_with("istio-beacon-k8s-prod-policy-consumer53-"))
        .unzip();
    assert_eq!(gone.len(), 10);
    assert!(
        positions.iter().any(|&p| p < PAGE) && positions.iter().any(|&p| p >= PAGE),
        "{positions:?}"
    );
    let mut deleted = writes(&out, 3);
    deleted.sort();
    let expected: Vec<String> = gone.iter().map(|n| format!("DELETE {AP}/{n}")).collect();
    assert_eq!(deleted, expected);

    // What is left: the other 59 consumers' policies, the modeloperator's and the foreign one.
    let mut left: Vec<String> = owned
        .iter()
        .filter(|n| !gone.contains(n))
        .chain([&foreign.to_owned()])
        .map(|n| format!("prod/{n}"))
        .collect();
    left.sort();
    assert_eq!(objects(&out, "AuthorizationPolicy"), left);
}

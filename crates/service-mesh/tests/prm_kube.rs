//! PolicyResourceManager against the simulator's real HTTP Kubernetes API server.
#![cfg(feature = "kube")]

use charm_sim::kube::{ApiServer, ApiServerConfig, Fault, FaultError, FaultMatch};
use serde_json::{Value, json};
use service_mesh::prm::{
    AUTHORIZATION_POLICY_SCOPE, PolicyResourceManager, PrmError, ReconcileOutcome, ReconcileReport,
};
use service_mesh::{MeshPolicy, build_authorization_policy, parse_policies};

const AP: &str = "security.istio.io/v1";
const KIND: &str = "AuthorizationPolicy";

/// The worked example of the contract, plus a unit policy with L7 fields (refused).
const POLICIES: &str = r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [5432, 8080], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}]}, {"source_namespace": "cos", "source_app_name": "prometheus", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9090], "methods": null, "paths": null}]}, {"source_namespace": "cos", "source_app_name": "grafana", "target_namespace": "other", "target_app_name": "mydb", "target_type": "unit", "endpoints": [{"ports": [3000], "paths": ["/x"]}]}]"#;

const APP_POLICY: &str = "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3";
const UNIT_POLICY: &str = "istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a";

fn policies() -> Vec<MeshPolicy> {
    parse_policies(POLICIES)
        .expect("valid databag")
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("valid policies")
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn server(crds: bool, objects: Vec<Value>) -> ApiServer {
    let mut all = vec![namespace("prod"), namespace("other")];
    all.extend(objects);
    ApiServer::start(ApiServerConfig {
        crds: if crds {
            ApiServer::default_crds()
        } else {
            vec![]
        },
        objects: all,
        faults: vec![],
    })
    .expect("start the simulated API server")
}

fn client(server: &ApiServer) -> kube::Client {
    let url = server.url().parse().expect("server URL");
    kube::Client::try_from(kube::Config::new(url)).expect("kube client")
}

fn manager(server: &ApiServer, scope: &str) -> PolicyResourceManager {
    PolicyResourceManager::new(client(server), "istio-beacon-k8s", "prod", scope)
        .expect("valid labels")
}

fn reconciled(outcome: Result<ReconcileOutcome, PrmError>) -> ReconcileReport {
    match outcome {
        Ok(ReconcileOutcome::Reconciled(report)) => report,
        other => panic!("expected a reconcile, got {other:?}"),
    }
}

fn names(keys: &[service_mesh::prm::ResourceKey]) -> Vec<&str> {
    keys.iter().map(|k| k.name.as_str()).collect()
}

/// (method, path, query) of the requests since the last call.
fn requests(server: &ApiServer) -> Vec<(String, String, String)> {
    server
        .take_requests()
        .into_iter()
        .map(|r| (r.method, r.path, r.query))
        .collect()
}

#[tokio::test]
async fn reconcile_applies_labels_skips_l7_unit_policy_and_is_idempotent() {
    let server = server(true, vec![]);
    let prm = manager(&server, AUTHORIZATION_POLICY_SCOPE);
    let report = reconciled(prm.reconcile(&policies(), &[]).await);
    assert_eq!(names(&report.applied), [APP_POLICY, UNIT_POLICY]);
    assert_eq!(
        report.skipped.len(),
        1,
        "the unit policy with paths is refused"
    );
    assert!(report.deleted.is_empty() && report.unchanged.is_empty());

    let reqs = requests(&server);
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert_eq!(reqs[0].0, "GET");
    assert_eq!(
        reqs[0].1,
        "/apis/security.istio.io/v1/authorizationpolicies"
    );
    assert!(
        reqs[0].2.contains(
            "labelSelector=app.kubernetes.io/instance=prod-istio-beacon-k8s,kubernetes-resource-handler-scope=istio-authorization-policy"
        ),
        "{}",
        reqs[0].2
    );
    for (method, path, query) in &reqs[1..] {
        assert_eq!(method, "PATCH");
        assert!(
            path.starts_with("/apis/security.istio.io/v1/namespaces/prod/authorizationpolicies/")
        );
        assert!(query.contains("fieldManager=istio-beacon-k8s") && query.contains("force=true"));
    }

    // The stored objects carry the ownership labels and exactly the built spec.
    let stored = server
        .object(AP, KIND, Some("prod"), APP_POLICY)
        .expect("app policy stored");
    assert_eq!(
        stored["metadata"]["labels"]["app.kubernetes.io/instance"],
        "prod-istio-beacon-k8s"
    );
    assert_eq!(
        stored["metadata"]["labels"]["kubernetes-resource-handler-scope"],
        "istio-authorization-policy"
    );
    let built =
        build_authorization_policy("istio-beacon-k8s", "prod", &policies()[0]).expect("built");
    assert_eq!(stored["spec"], built["spec"]);

    // Second run: nothing changed, so only the LIST goes out.
    let report = reconciled(prm.reconcile(&policies(), &[]).await);
    assert!(report.applied.is_empty() && report.deleted.is_empty());
    assert_eq!(names(&report.unchanged), [APP_POLICY, UNIT_POLICY]);
    let reqs = requests(&server);
    assert_eq!(reqs.len(), 1, "no PATCH for unchanged policies: {reqs:?}");
}

#[tokio::test]
async fn changed_and_removed_policies_are_replaced_and_deleted_scopes_do_not_interfere() {
    // A policy of somebody else, with no ownership labels, must survive.
    let foreign = json!({"apiVersion": AP, "kind": KIND,
        "metadata": {"name": "foreign", "namespace": "other"}, "spec": {}});
    let server = server(true, vec![foreign]);
    let prm = manager(&server, AUTHORIZATION_POLICY_SCOPE);
    let modeloperator = manager(&server, "modeloperator-authorization-policy");
    let raw = json!({"apiVersion": AP, "kind": KIND,
        "metadata": {"name": "istio-beacon-k8s-prod-policy-all-sources-modeloperator", "namespace": "prod"},
        "spec": {"selector": {"matchLabels": {"juju-modeloperator": "modeloperator"}}, "rules": [{}]}});
    reconciled(
        modeloperator
            .reconcile(&[], std::slice::from_ref(&raw))
            .await,
    );
    reconciled(prm.reconcile(&policies(), &[]).await);

    // Only the app policy stays desired: the unit policy is deleted, nothing else touched.
    let report = reconciled(prm.reconcile(&policies()[..1], &[]).await);
    assert_eq!(names(&report.deleted), [UNIT_POLICY]);
    assert_eq!(names(&report.unchanged), [APP_POLICY]);
    assert!(server.object(AP, KIND, Some("prod"), UNIT_POLICY).is_none());
    assert!(server.object(AP, KIND, Some("other"), "foreign").is_some());
    let modeloperator_name = "istio-beacon-k8s-prod-policy-all-sources-modeloperator";
    assert!(
        server
            .object(AP, KIND, Some("prod"), modeloperator_name)
            .is_some()
    );

    // A changed policy gets a new name: old deleted, new applied.
    let mut changed = policies()[0].clone();
    changed.endpoints[0].paths = Some(vec!["/api".into()]);
    let report = reconciled(prm.reconcile(std::slice::from_ref(&changed), &[]).await);
    assert_eq!(names(&report.deleted), [APP_POLICY]);
    assert_eq!(report.applied.len(), 1);
    assert_ne!(report.applied[0].name, APP_POLICY);

    // Drift in the spec is repaired by a new apply under the same name.
    let mut drifted = server
        .object(AP, KIND, Some("prod"), &report.applied[0].name)
        .expect("stored");
    drifted["spec"]["rules"] = json!([]);
    server.apply_objects(vec![drifted]).expect("drift");
    let again = reconciled(prm.reconcile(std::slice::from_ref(&changed), &[]).await);
    assert_eq!(names(&again.applied), names(&report.applied));

    // Nothing desired: every owned policy goes, the other scope's and the foreign one stay.
    let report = reconciled(prm.reconcile(&[], &[]).await);
    assert_eq!(report.deleted.len(), 1);
    assert!(
        server
            .object(AP, KIND, Some("prod"), modeloperator_name)
            .is_some()
    );
    assert!(server.object(AP, KIND, Some("other"), "foreign").is_some());
    assert_eq!(modeloperator.delete().await.expect("delete").len(), 1);
    assert!(
        server
            .object(AP, KIND, Some("prod"), modeloperator_name)
            .is_none()
    );
}

#[tokio::test]
async fn missing_crd_is_a_typed_outcome_and_delete_tolerates_it() {
    let server = server(false, vec![]);
    let prm = manager(&server, AUTHORIZATION_POLICY_SCOPE);
    assert!(matches!(
        prm.reconcile(&policies(), &[]).await,
        Ok(ReconcileOutcome::CrdMissing)
    ));
    assert_eq!(prm.delete().await.expect("tolerated").len(), 0);
    let report = reconciled(prm.reconcile(&[], &[]).await);
    assert!(report.deleted.is_empty());
}

#[tokio::test]
async fn unsupported_raw_policy_is_rejected_before_any_request() {
    let server = server(true, vec![]);
    let prm = manager(&server, AUTHORIZATION_POLICY_SCOPE);
    let raw = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "n", "namespace": "prod"}});
    match prm.reconcile(&[], &[raw]).await {
        Err(e @ PrmError::UnsupportedRawPolicy { .. }) => {
            assert!(
                e.to_string()
                    .starts_with("raw_policy of type 'NetworkPolicy'")
            );
        }
        other => panic!("expected UnsupportedRawPolicy, got {other:?}"),
    }
    assert!(server.take_requests().is_empty());
}

#[tokio::test]
async fn delete_errors_are_collected_404_ignored_and_applies_still_happen() {
    let server = server(true, vec![]);
    let prm = manager(&server, AUTHORIZATION_POLICY_SCOPE);
    reconciled(prm.reconcile(&policies(), &[]).await);

    // The stale policy vanished between LIST and DELETE: 404 is fine.
    server.add_faults(vec![Fault {
        matcher: FaultMatch {
            method: Some("DELETE".into()),
            path_regex: Some(UNIT_POLICY.into()),
        },
        error: FaultError::Status(404),
        times: 1,
        after: false,
    }]);
    let report = reconciled(prm.reconcile(&policies()[..1], &[]).await);
    assert_eq!(names(&report.deleted), [UNIT_POLICY]);

    // A failing DELETE is reported, after the desired policies were applied.
    server.add_faults(vec![Fault {
        matcher: FaultMatch {
            method: Some("DELETE".into()),
            path_regex: Some(APP_POLICY.into()),
        },
        error: FaultError::Status(500),
        times: 1,
        after: false,
    }]);
    let result = prm.reconcile(&policies()[1..2], &[]).await;
    match result {
        Err(PrmError::Delete(errors)) => assert_eq!(errors.len(), 1),
        other => panic!("expected a delete error, got {other:?}"),
    }
    assert!(server.object(AP, KIND, Some("prod"), UNIT_POLICY).is_some());
    assert!(server.object(AP, KIND, Some("prod"), APP_POLICY).is_some());
}

#[tokio::test]
async fn legacy_labelled_policies_are_swept_only_when_asked() {
    use service_mesh::labels::legacy_charm_default_labels;
    let legacy =
        legacy_charm_default_labels("istio-beacon-k8s", "prod", AUTHORIZATION_POLICY_SCOPE);
    assert_eq!(legacy[0].1, "istio-beacon-k8s-prod");
    let legacy_labels: serde_json::Map<String, Value> = legacy
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let old = |ns: &str, name: &str| {
        json!({"apiVersion": AP, "kind": KIND, "metadata": {"name": name, "namespace": ns,
            "labels": legacy_labels.clone()}, "spec": {}})
    };
    let server = server(true, vec![old("prod", APP_POLICY), old("other", "orphan")]);

    // Without the sweep (the Python behaviour) the orphan survives.
    let plain = manager(&server, AUTHORIZATION_POLICY_SCOPE);
    let report = reconciled(plain.reconcile(&policies()[..1], &[]).await);
    assert!(report.deleted.is_empty());
    assert!(server.object(AP, KIND, Some("other"), "orphan").is_some());

    // With it, the orphan goes and the desired policy is adopted under the new labels.
    let sweeping = manager(&server, AUTHORIZATION_POLICY_SCOPE).with_legacy_labels(legacy);
    let report = reconciled(sweeping.reconcile(&policies()[..1], &[]).await);
    assert_eq!(names(&report.deleted), ["orphan"]);
    assert!(server.object(AP, KIND, Some("other"), "orphan").is_none());
    let adopted = server
        .object(AP, KIND, Some("prod"), APP_POLICY)
        .expect("kept");
    assert_eq!(
        adopted["metadata"]["labels"]["app.kubernetes.io/instance"],
        "prod-istio-beacon-k8s"
    );
}

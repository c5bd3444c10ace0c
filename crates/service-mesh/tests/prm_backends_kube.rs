//! PolicyResourceManager with a non-Istio backend, against the simulator's API server (whose
//! default CRDs include SMI, Consul and Linkerd): the rendered objects of every kind are
//! created with the ownership labels, a second reconcile writes nothing, stale objects of
//! every kind are deleted, outcomes are reported per policy, and a missing CRD is
//! `CrdMissing`.
#![cfg(feature = "kube")]

use charm_sim::kube::{ApiServer, ApiServerConfig};
use serde_json::{Value, json};
use service_mesh::backends::{Backend, Outcome, linkerd::LinkerdOptions};
use service_mesh::prm::{
    AUTHORIZATION_POLICY_SCOPE, PolicyResourceManager, PrmError, ReconcileOutcome, ReconcileReport,
};
use service_mesh::{MeshPolicy, parse_policies};

/// An L4 app policy (Linkerd: exact, Servers), and an L7 one (Linkerd: exact, HTTPRoutes).
const POLICIES: &str = r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [5432, 8080], "methods": null, "paths": null}]}, {"source_namespace": "cos", "source_app_name": "grafana", "target_namespace": "prod", "target_app_name": "mydb", "target_type": "app", "endpoints": [{"ports": [3000], "methods": ["GET"]}]}]"#;

fn policies() -> Vec<MeshPolicy> {
    parse_policies(POLICIES)
        .expect("valid databag")
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("valid policies")
}

fn server(crds: Vec<Value>) -> ApiServer {
    ApiServer::start(ApiServerConfig {
        crds,
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        ],
        faults: vec![],
    })
    .expect("start the simulated API server")
}

fn manager(server: &ApiServer, backend: Backend) -> PolicyResourceManager {
    let url = server.url().parse().expect("server URL");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("kube client");
    PolicyResourceManager::new(
        client,
        "istio-beacon-k8s",
        "prod",
        AUTHORIZATION_POLICY_SCOPE,
    )
    .expect("valid labels")
    .with_backend(backend)
}

fn reconciled(outcome: Result<ReconcileOutcome, PrmError>) -> ReconcileReport {
    match outcome {
        Ok(ReconcileOutcome::Reconciled(report)) => report,
        other => panic!("expected a reconcile, got {other:?}"),
    }
}

fn kinds_names(keys: &[service_mesh::prm::ResourceKey]) -> Vec<(String, String)> {
    let mut v: Vec<_> = keys
        .iter()
        .map(|k| (k.kind.clone(), k.name.clone()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn linkerd_objects_are_managed_like_authorization_policies() {
    let server = server(ApiServer::default_crds());
    let prm = manager(&server, Backend::Linkerd(LinkerdOptions::default()));
    let report = reconciled(prm.reconcile(&policies(), &[]).await);
    assert_eq!(report.outcomes, [Outcome::Exact, Outcome::Exact]);
    assert!(report.skipped.is_empty());
    let mut expected: Vec<(String, String)> = ["5432", "8080"]
        .iter()
        .flat_map(|p| {
            ["AuthorizationPolicy", "MeshTLSAuthentication", "Server"]
                .map(|k| (k.to_string(), format!("istio-beacon-k8s-prod-mydb-{p}")))
        })
        .collect();
    // grafana's GET on 3000: the Server (no port-level client), its route (authorized) and
    // the catch-all route (nobody).
    let rendered =
        Backend::Linkerd(LinkerdOptions::default()).render("istio-beacon-k8s", "prod", &policies());
    let on_3000: Vec<(String, String)> = rendered
        .objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().expect("kind").to_string(),
                o["metadata"]["name"].as_str().expect("name").to_string(),
            )
        })
        .filter(|(_, n)| n.starts_with("istio-beacon-k8s-prod-mydb-3000"))
        .collect();
    let count = |k: &str| on_3000.iter().filter(|(kind, _)| kind == k).count();
    assert_eq!(
        [
            count("Server"),
            count("HTTPRoute"),
            count("MeshTLSAuthentication"),
            count("AuthorizationPolicy")
        ],
        [1, 2, 1, 1],
        "{on_3000:?}"
    );
    expected.extend(on_3000);
    expected.sort();
    assert_eq!(kinds_names(&report.applied), expected);
    assert!(
        report
            .applied
            .iter()
            .all(|k| k.group == "policy.linkerd.io")
    );

    // Listed back with the ownership labels: nothing to write the second time.
    let again = reconciled(prm.reconcile(&policies(), &[]).await);
    assert!(
        again.applied.is_empty() && again.deleted.is_empty(),
        "{again:?}"
    );
    assert_eq!(kinds_names(&again.unchanged), expected);

    // The 8080 endpoint gone: its three objects are deleted, of each kind.
    let fewer = POLICIES.replace("[5432, 8080]", "[5432]");
    let fewer: Vec<MeshPolicy> = parse_policies(&fewer)
        .expect("valid")
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("valid");
    let report = reconciled(prm.reconcile(&fewer, &[]).await);
    assert_eq!(
        kinds_names(&report.deleted),
        ["AuthorizationPolicy", "MeshTLSAuthentication", "Server"]
            .map(|k| (k.to_string(), "istio-beacon-k8s-prod-mydb-8080".to_string()))
    );

    // A raw policy of another mesh is refused, naming the backend's kinds.
    let raw = json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "x", "namespace": "prod"}, "spec": {}});
    match prm.reconcile(&[], &[raw]).await {
        Err(e @ PrmError::UnsupportedRawPolicy { .. }) => assert!(
            e.to_string().ends_with(
                "['Server', 'HTTPRoute', 'AuthorizationPolicy', 'MeshTLSAuthentication']"
            ),
            "{e}"
        ),
        other => panic!("expected UnsupportedRawPolicy, got {other:?}"),
    }

    // Nothing desired: everything owned goes.
    let report = reconciled(prm.reconcile(&[], &[]).await);
    assert_eq!(report.deleted.len(), expected.len() - 3);
    assert!(
        prm.list_owned()
            .await
            .expect("list")
            .expect("crds")
            .is_empty()
    );
}

#[tokio::test]
async fn smi_and_consul_render_through_the_manager_and_missing_crds_are_reported() {
    let full = server(ApiServer::default_crds());
    let l7 = r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_type": "app", "endpoints": [{"methods": ["GET"], "paths": ["/api*"]}]}]"#;
    let l7: Vec<MeshPolicy> = parse_policies(l7)
        .expect("valid")
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("valid");
    for name in ["smi", "consul"] {
        let prm = manager(&full, Backend::from_name(name).expect("backend"));
        let report = reconciled(prm.reconcile(&l7, &[]).await);
        assert_eq!(report.outcomes, [Outcome::Exact], "{name}");
        assert!(!report.applied.is_empty(), "{name}");
    }
    // Without the CRDs (only Istio's): a typed outcome, and delete tolerates it.
    let istio_only: Vec<Value> = ApiServer::default_crds()
        .into_iter()
        .filter(|c| c["spec"]["group"] == "security.istio.io")
        .collect();
    let bare = server(istio_only);
    let prm = manager(&bare, Backend::Smi);
    assert!(matches!(
        prm.reconcile(&l7, &[]).await,
        Ok(ReconcileOutcome::CrdMissing)
    ));
    assert!(prm.delete().await.expect("tolerated").is_empty());
}

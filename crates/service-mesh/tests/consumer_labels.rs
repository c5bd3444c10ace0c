//! `reconcile_charm_labels` (contract §3.10) against charm-sim's Kubernetes API server:
//! the labels land on the StatefulSet pod template and the Service, the record ConfigMap is
//! created on first use and tracks exactly our labels, labels set by others are never
//! touched, and leaving the mesh removes ours and the record.

use charm_sim::kube::{ApiServer, ApiServerConfig};
use serde_json::{Value, json};
use service_mesh::consumer::{
    delete_label_configmap, label_configmap_name, reconcile_charm_labels,
};

const NS: &str = "prod";
const APP: &str = "tester";

fn server() -> ApiServer {
    ApiServer::start(ApiServerConfig {
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
            json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": APP, "namespace": NS},
                "spec": {
                    "serviceName": APP,
                    "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/name": APP, "other": "keep"}},
                        "spec": {"containers": [{"name": "charm", "image": "x"}]},
                    },
                },
            }),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": APP, "namespace": NS, "labels": {"other": "keep"}},
                "spec": {"ports": [{"port": 8080}]},
            }),
        ],
        ..ApiServerConfig::default()
    })
    .expect("start the API server")
}

async fn client(server: &ApiServer) -> kube::Client {
    let config = kube::Config::new(server.url().parse().expect("server URL"));
    kube::Client::try_from(config).expect("kube client")
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod_labels(server: &ApiServer) -> Value {
    let sts = server
        .object("apps/v1", "StatefulSet", Some(NS), APP)
        .expect("StatefulSet");
    sts["spec"]["template"]["metadata"]["labels"].clone()
}

fn service_labels(server: &ApiServer) -> Value {
    let svc = server
        .object("v1", "Service", Some(NS), APP)
        .expect("Service");
    svc["metadata"]["labels"].clone()
}

fn record(server: &ApiServer) -> Option<String> {
    server
        .object("v1", "ConfigMap", Some(NS), &label_configmap_name(APP))
        .map(|cm| cm["data"]["labels"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn labels_join_update_and_leave() {
    let server = server();
    let client = client(&server).await;
    let cm = label_configmap_name(APP);
    assert_eq!(cm, "juju-service-mesh-tester-labels");
    let mesh = labels(&[
        ("istio.io/dataplane-mode", "ambient"),
        ("istio.io/use-waypoint", "prod-istio-beacon-k8s-waypoint"),
        ("istio.io/use-waypoint-namespace", "prod"),
    ]);

    // Join: the record does not exist yet, so it is created (404 → create).
    reconcile_charm_labels(&client, APP, NS, &cm, &mesh, APP)
        .await
        .expect("join");
    assert_eq!(
        pod_labels(&server),
        json!({
            "app.kubernetes.io/name": APP, "other": "keep",
            "istio.io/dataplane-mode": "ambient",
            "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint",
            "istio.io/use-waypoint-namespace": "prod",
        })
    );
    assert_eq!(
        service_labels(&server)["istio.io/use-waypoint-namespace"],
        "prod"
    );
    assert_eq!(service_labels(&server)["other"], "keep");
    assert_eq!(
        record(&server).as_deref(),
        Some(
            r#"{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint", "istio.io/use-waypoint-namespace": "prod"}"#
        )
    );
    let requests = server.take_requests();
    let writes: Vec<(String, String)> = requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(
        writes,
        [
            (
                "POST".to_string(),
                format!("/api/v1/namespaces/{NS}/configmaps")
            ),
            (
                "PATCH".to_string(),
                format!("/apis/apps/v1/namespaces/{NS}/statefulsets/{APP}")
            ),
            (
                "PATCH".to_string(),
                format!("/api/v1/namespaces/{NS}/services/{APP}")
            ),
            (
                "PATCH".to_string(),
                format!("/api/v1/namespaces/{NS}/configmaps/{cm}")
            ),
        ]
    );
    assert!(
        requests
            .iter()
            .filter(|r| r.method != "GET")
            .all(|r| r.query.contains("fieldManager=tester")),
        "every write carries the field manager"
    );

    // Someone else adds a label; we drop one of ours (e.g. model-on-mesh on the beacon).
    server
        .apply_objects(vec![json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": APP, "namespace": NS, "labels": {
                "other": "keep", "foreign": "x",
                "istio.io/dataplane-mode": "ambient",
                "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint",
                "istio.io/use-waypoint-namespace": "prod",
            }},
            "spec": {"ports": [{"port": 8080}]},
        })])
        .expect("foreign write");
    reconcile_charm_labels(
        &client,
        APP,
        NS,
        &cm,
        &labels(&[("istio.io/dataplane-mode", "ambient")]),
        APP,
    )
    .await
    .expect("update");
    assert_eq!(
        service_labels(&server),
        json!({"other": "keep", "foreign": "x", "istio.io/dataplane-mode": "ambient"})
    );
    assert_eq!(
        pod_labels(&server),
        json!({"app.kubernetes.io/name": APP, "other": "keep", "istio.io/dataplane-mode": "ambient"})
    );
    assert_eq!(
        record(&server).as_deref(),
        Some(r#"{"istio.io/dataplane-mode": "ambient"}"#)
    );

    // Leave: our labels go, the record is deleted, foreign labels stay.
    reconcile_charm_labels(&client, APP, NS, &cm, &Vec::new(), APP)
        .await
        .expect("leave");
    delete_label_configmap(&client, NS, &cm)
        .await
        .expect("delete record");
    assert_eq!(
        service_labels(&server),
        json!({"other": "keep", "foreign": "x"})
    );
    assert_eq!(
        pod_labels(&server),
        json!({"app.kubernetes.io/name": APP, "other": "keep"})
    );
    assert_eq!(record(&server), None);
    // Deleting it again is not an error.
    delete_label_configmap(&client, NS, &cm)
        .await
        .expect("idempotent delete");
}

#[tokio::test]
async fn missing_statefulset_is_an_error() {
    let server = server();
    server
        .delete_object("apps/v1", "StatefulSet", Some(NS), APP)
        .expect("delete");
    let client = client(&server).await;
    let err = reconcile_charm_labels(
        &client,
        APP,
        NS,
        &label_configmap_name(APP),
        &labels(&[("a", "b")]),
        APP,
    )
    .await
    .expect_err("no StatefulSet");
    assert_eq!(err.what, format!("patch StatefulSet {APP}"));
}

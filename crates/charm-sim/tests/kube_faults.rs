//! Injected faults as the real `kube` client observes them.

mod kubeclient;

use charm_sim::kube::{ApiServer, ApiServerConfig, Fault, FaultError, FaultMatch};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

/// A client; `retry` keeps kube's default retrying of 429/503/504.
async fn client(server: &ApiServer, retry: bool) -> kube::Client {
    let mut cfg = kubeclient::config(server).await;
    cfg.default_retry = retry;
    kube::Client::try_from(cfg).expect("client")
}

fn server(faults: Vec<Fault>) -> ApiServer {
    ApiServer::start(ApiServerConfig {
        crds: vec![],
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "prod"}, "data": {"k": "v"}}),
        ],
        faults,
    })
    .expect("server starts")
}

fn fault(method: &str, error: FaultError, times: u32) -> Fault {
    Fault {
        matcher: FaultMatch {
            method: Some(method.into()),
            path_regex: Some(".*/configmaps/.*".into()),
        },
        error,
        times,
        after: false,
    }
}

fn statuses(server: &ApiServer) -> Vec<(String, u16)> {
    server
        .take_requests()
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect()
}

fn apply(v: &str) -> Patch<serde_json::Value> {
    Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c"}, "data": {"k": v}}))
}

#[tokio::test]
async fn status_faults_hit_only_matching_requests_then_clear() {
    let server = server(vec![fault("PATCH", FaultError::Status(500), 1)]);
    let cms: Api<ConfigMap> = Api::namespaced(client(&server, false).await, "prod");
    cms.get("c").await.expect("GET does not match");
    let pp = PatchParams::apply("beacon").force();
    match cms.patch("c", &pp, &apply("1")).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (500, "InternalError"));
        }
        other => panic!("expected a 500, got {other:?}"),
    }
    cms.patch("c", &pp, &apply("1"))
        .await
        .expect("fault used up");
    assert_eq!(
        statuses(&server),
        [
            ("GET".to_string(), 200),
            ("PATCH".to_string(), 500),
            ("PATCH".to_string(), 200)
        ]
    );

    server.add_faults(vec![fault("PATCH", FaultError::Status(409), 2)]);
    for _ in 0..2 {
        match cms.patch("c", &pp, &apply("2")).await {
            Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "Conflict")),
            other => panic!("expected a 409, got {other:?}"),
        }
    }
    cms.patch("c", &pp, &apply("2")).await.expect("cleared");
}

#[tokio::test]
async fn too_many_requests_carries_retry_after_and_is_retried_by_kube() {
    let server = server(vec![fault("GET", FaultError::Status(429), 1)]);
    let cms: Api<ConfigMap> = Api::namespaced(client(&server, false).await, "prod");
    match cms.get("c").await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (429, "TooManyRequests"));
            assert_eq!(s.details.map(|d| d.retry_after_seconds), Some(1));
        }
        other => panic!("expected a 429, got {other:?}"),
    }
    let _ = server.take_requests();

    // kube's default client honours Retry-After and tries again.
    server.add_faults(vec![fault("GET", FaultError::Status(429), 1)]);
    let retrying: Api<ConfigMap> = Api::namespaced(client(&server, true).await, "prod");
    retrying.get("c").await.expect("retried");
    assert_eq!(
        statuses(&server),
        [("GET".to_string(), 429), ("GET".to_string(), 200)]
    );
}

#[tokio::test]
async fn timeout_answers_504_after_holding_the_request() {
    let server = server(vec![fault("GET", FaultError::Timeout, 1)]);
    let cms: Api<ConfigMap> = Api::namespaced(client(&server, false).await, "prod");
    match cms.get("c").await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (504, "Timeout")),
        other => panic!("expected a 504, got {other:?}"),
    }
    assert_eq!(statuses(&server), [("GET".to_string(), 504)]);
}

#[tokio::test]
async fn reset_closes_the_connection_without_a_response() {
    let server = server(vec![fault("GET", FaultError::Reset, 1)]);
    let cms: Api<ConfigMap> = Api::namespaced(client(&server, false).await, "prod");
    match cms.get("c").await {
        Err(kube::Error::Api(s)) => panic!("expected a transport error, got status {s:?}"),
        Err(_) => {}
        Ok(_) => panic!("expected a transport error, got an answer"),
    }
    assert_eq!(statuses(&server), [("GET".to_string(), 0)]);
    cms.get("c").await.expect("next request is served");
}

#[test]
fn faults_deserialize_from_scenario_yaml() {
    let faults: Vec<Fault> = serde_yaml_ng::from_str(
        "- {match: {method: PATCH, path_regex: '.*/authorizationpolicies/.*'}, error: 500, times: 2}\n\
         - {match: {}, error: reset}\n",
    )
    .expect("faults parse");
    assert_eq!(faults[0].error, FaultError::Status(500));
    assert_eq!(faults[0].times, 2);
    assert_eq!(faults[1].error, FaultError::Reset);
    assert_eq!(faults[1].times, 1);
    let bad = Fault {
        matcher: FaultMatch {
            method: None,
            path_regex: Some("(".into()),
        },
        error: FaultError::Reset,
        times: 1,
        after: false,
    };
    assert!(
        ApiServer::start(ApiServerConfig {
            faults: vec![bad],
            ..ApiServerConfig::default()
        })
        .is_err(),
        "a bad regex is a configuration error"
    );
}

//! The bounded retries of `k8s::client_with` against charm-sim's real API server: faults are
//! armed on the server, and the number of attempts is read from the server's request record
//! (never from the clock).
#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use std::time::Duration;

use charm_runtime::k8s::{self, Retry, is_retryable};
use charm_sim::kube::{ApiServer, ApiServerConfig, Fault, FaultError, FaultMatch};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

/// More than any client here will try: the fault holds for the whole test.
const PERSISTENT: u32 = 1_000;

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
    .unwrap()
}

fn fault(method: &str, error: FaultError, times: u32) -> Fault {
    Fault {
        matcher: FaultMatch {
            method: Some(method.into()),
            path_regex: Some("/configmaps".into()),
        },
        error,
        times,
        after: false,
    }
}

/// The config a charm's `Config::infer()` would find through the simulator's kubeconfig.
async fn config(server: &ApiServer) -> kube::Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, "prod").unwrap();
    let kc = Kubeconfig::read_from(&path).unwrap();
    kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap()
}

async fn configmaps(server: &ApiServer, retry: Retry) -> Api<ConfigMap> {
    Api::namespaced(
        k8s::client_with(config(server).await, retry).unwrap(),
        "prod",
    )
}

/// (method, status) of every request the server saw since the last call.
fn attempts(server: &ApiServer) -> Vec<(String, u16)> {
    server
        .take_requests()
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect()
}

fn times(method: &str, status: u16, n: usize) -> Vec<(String, u16)> {
    vec![(method.to_string(), status); n]
}

fn api_code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn persistent_503_fails_after_three_retries() {
    let server = server(vec![fault("GET", FaultError::Status(503), PERSISTENT)]);
    let cms = configmaps(&server, Retry::HOOK).await;
    let err = cms.get("c").await.unwrap_err();
    assert_eq!(api_code(&err), 503);
    assert!(is_retryable(&err), "{err}");
    assert_eq!(
        attempts(&server),
        times("GET", 503, 4),
        "1 attempt + 3 retries"
    );
}

#[tokio::test]
async fn persistent_429_fails_after_three_retries_despite_retry_after() {
    // The simulator asks for `Retry-After: 1`; a wait is never longer than max_delay (2 s), so
    // the three waits fit in the budget and the count is exact.
    let server = server(vec![fault("GET", FaultError::Status(429), PERSISTENT)]);
    let cms = configmaps(&server, Retry::HOOK).await;
    let err = cms.get("c").await.unwrap_err();
    assert_eq!(api_code(&err), 429);
    assert!(is_retryable(&err), "{err}");
    assert_eq!(attempts(&server), times("GET", 429, 4));
}

/// Fast, deterministic waits for the tests that are about counting, not about the defaults.
fn quick(max_retries: u32, budget_ms: u64) -> Retry {
    Retry {
        max_retries,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(5),
        budget: Duration::from_millis(budget_ms),
        jitter: false,
    }
}

#[tokio::test]
async fn a_transient_503_or_504_is_retried_to_success() {
    let server = server(vec![
        fault("GET", FaultError::Status(503), 1),
        fault("GET", FaultError::Status(504), 1),
    ]);
    let cms = configmaps(&server, quick(3, 1_000)).await;
    assert_eq!(cms.get("c").await.unwrap().data.unwrap()["k"], "v");
    assert_eq!(
        attempts(&server),
        [
            ("GET".to_string(), 503),
            ("GET".to_string(), 504),
            ("GET".to_string(), 200)
        ]
    );
}

#[tokio::test]
async fn a_create_is_retried_with_its_body() {
    let server = server(vec![fault("POST", FaultError::Status(503), 2)]);
    let cms = configmaps(&server, quick(3, 1_000)).await;
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "new"}, "data": {"a": "b"}}))
    .unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let requests = server.take_requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 503, 201]
    );
    assert_eq!(
        requests[2].body.as_ref().unwrap()["data"],
        json!({"a": "b"})
    );
    assert_eq!(cms.get("new").await.unwrap().data.unwrap()["a"], "b");
}

#[tokio::test]
async fn other_errors_are_not_retried() {
    let server = server(vec![
        fault("GET", FaultError::Status(500), PERSISTENT),
        fault("PATCH", FaultError::Status(409), PERSISTENT),
    ]);
    let cms = configmaps(&server, quick(3, 1_000)).await;
    let err = cms.get("c").await.unwrap_err();
    assert_eq!(api_code(&err), 500);
    assert!(!is_retryable(&err));
    let missing = configmaps(&server, quick(3, 1_000))
        .await
        .get("absent")
        .await;
    // The 500 fault also hits this GET: still one attempt.
    assert_eq!(api_code(&missing.unwrap_err()), 500);
    assert_eq!(attempts(&server), times("GET", 500, 2));
}

#[tokio::test]
async fn the_waiting_budget_is_shared_by_all_requests_of_a_client() {
    // 5 ms per wait, 12 ms in all: the first request gets two retries (10 ms), the third wait
    // does not fit; the next request has 2 ms left and gets none.
    let server = server(vec![fault("GET", FaultError::Status(503), PERSISTENT)]);
    let cms = configmaps(&server, quick(3, 12)).await;
    assert_eq!(api_code(&cms.get("c").await.unwrap_err()), 503);
    assert_eq!(attempts(&server), times("GET", 503, 3));
    assert_eq!(api_code(&cms.get("c").await.unwrap_err()), 503);
    assert_eq!(attempts(&server), times("GET", 503, 1));
    // A new client (the next hook) has a new budget.
    let next_hook = configmaps(&server, quick(3, 12)).await;
    assert_eq!(api_code(&next_hook.get("c").await.unwrap_err()), 503);
    assert_eq!(attempts(&server), times("GET", 503, 3));
}

#[tokio::test]
async fn no_retries_means_one_attempt() {
    let server = server(vec![fault("GET", FaultError::Status(503), PERSISTENT)]);
    let cms = configmaps(&server, Retry::NONE).await;
    assert_eq!(api_code(&cms.get("c").await.unwrap_err()), 503);
    assert_eq!(attempts(&server), times("GET", 503, 1));
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    // A port nobody listens on: the request is never sent, so retrying is safe.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = kube::Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
    config.default_namespace = "prod".into();
    let cms: Api<ConfigMap> =
        Api::namespaced(k8s::client_with(config, quick(2, 1_000)).unwrap(), "prod");
    let err = cms.get("c").await.unwrap_err();
    assert!(is_retryable(&err), "{err:?}");
}

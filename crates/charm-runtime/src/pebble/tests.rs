#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::UnixListener;

use super::*;

/// One request as the fake Pebble saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    host: Option<String>,
    body: String,
}

type Route = fn(&str, &str) -> (u16, String);

/// A fake Pebble on a unix socket in a temp dir, answering with `route(method, uri)`.
struct FakePebble {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakePebble {
    fn start(route: Route) -> FakePebble {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("pebble.socket");
        let listener = UnixListener::bind(&socket).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        async move {
                            let method = req.method().to_string();
                            let uri = req.uri().to_string();
                            let host = req
                                .headers()
                                .get(header::HOST)
                                .and_then(|h| h.to_str().ok())
                                .map(str::to_string);
                            let body = req.into_body().collect().await?.to_bytes();
                            let body = String::from_utf8_lossy(&body).into_owned();
                            log.lock().unwrap().push(Seen {
                                method: method.clone(),
                                uri: uri.clone(),
                                host,
                                body,
                            });
                            let (status, text) = route(&method, &uri);
                            let resp = http::Response::builder()
                                .status(status)
                                .header(header::CONTENT_TYPE, "application/json")
                                .body(Full::new(Bytes::from(text)))
                                .unwrap();
                            Ok::<_, hyper::Error>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakePebble {
            _dir: dir,
            socket,
            seen,
        }
    }

    fn client(&self) -> Client {
        Client::with_socket(&self.socket)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn sync(result: &str) -> (u16, String) {
    (
        200,
        format!(r#"{{"type":"sync","status-code":200,"status":"OK","result":{result}}}"#),
    )
}

fn error(code: u16, status: &str, message: &str) -> (u16, String) {
    (
        code,
        serde_json::json!({
            "type": "error",
            "status-code": code,
            "status": status,
            "result": {"message": message},
        })
        .to_string(),
    )
}

const PLAN_YAML: &str = "services:\n    metrics-proxy:\n        summary: Metrics Broadcast Proxy\n        startup: enabled\n        override: replace\n        command: metrics-proxy\n        environment:\n            POD_LABEL_SELECTOR: app.kubernetes.io/name=aggregated\n        on-failure: restart\n";

fn happy(method: &str, uri: &str) -> (u16, String) {
    match (method, uri) {
        ("GET", "/v1/system-info") => sync(
            r#"{"boot-id":"d6fd4a2b-0b4e-4f4e-9f5a-1c0e0e0e0e0e","http-address":"","version":"v1.19.0"}"#,
        ),
        ("POST", "/v1/layers") => sync("true"),
        ("GET", "/v1/plan?format=yaml") => sync(&serde_json::to_string(PLAN_YAML).unwrap()),
        ("GET", "/v1/services") => sync(
            r#"[{"name":"metrics-proxy","startup":"enabled","current":"active","current-since":"2026-11-29T10:00:00Z"}]"#,
        ),
        ("POST", "/v1/services") => (
            202,
            r#"{"type":"async","status-code":202,"status":"Accepted","change":"42","result":null}"#
                .to_string(),
        ),
        ("GET", "/v1/changes/42/wait?timeout=30.000s") => sync(
            r#"{"id":"42","kind":"replan","summary":"Replan service \"metrics-proxy\"","status":"Done","tasks":[],"ready":true,"spawn-time":"2026-11-29T10:00:00Z","ready-time":"2026-11-29T10:00:01Z"}"#,
        ),
        _ => error(404, "Not Found", "not found"),
    }
}

fn beacon_layer() -> Layer {
    Layer {
        summary: Some("Metrics Broadcast Proxy Layer".into()),
        description: Some("Pebble layer for the metrics broadcast proxy".into()),
        services: BTreeMap::from([(
            "metrics-proxy".to_string(),
            Service {
                override_: Some("replace".into()),
                summary: Some("Metrics Broadcast Proxy".into()),
                command: Some("metrics-proxy".into()),
                startup: Some("enabled".into()),
                environment: BTreeMap::from([(
                    "POD_LABEL_SELECTOR".to_string(),
                    "app.kubernetes.io/name=aggregated".to_string(),
                )]),
                ..Service::default()
            },
        )]),
        ..Layer::default()
    }
}

#[test]
fn layer_yaml_matches_ops() {
    // The exact text ops 3.9's `Layer.to_yaml()` gives for the same layer.
    let ops = "description: Pebble layer for the metrics broadcast proxy\nservices:\n  metrics-proxy:\n    command: metrics-proxy\n    environment:\n      POD_LABEL_SELECTOR: app.kubernetes.io/name=aggregated\n    override: replace\n    startup: enabled\n    summary: Metrics Broadcast Proxy\nsummary: Metrics Broadcast Proxy Layer\n";
    assert_eq!(beacon_layer().to_yaml().unwrap(), ops);
}

#[tokio::test]
async fn system_info_and_can_connect() {
    let pebble = FakePebble::start(happy);
    let info = pebble.client().system_info().await.unwrap();
    assert_eq!(info.version, "v1.19.0");
    assert!(info.boot_id.is_some());
    assert!(pebble.client().can_connect().await);
    let seen = pebble.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].uri.as_str()),
        ("GET", "/v1/system-info")
    );
    assert_eq!(
        seen[0].host.as_deref(),
        Some("localhost"),
        "Go's server needs Host"
    );
}

#[tokio::test]
async fn add_layer_sends_pebble_body() {
    let pebble = FakePebble::start(happy);
    pebble
        .client()
        .add_layer("metrics-proxy", &beacon_layer(), true)
        .await
        .unwrap();
    let seen = pebble.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].uri.as_str()),
        ("POST", "/v1/layers")
    );
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "action": "add",
            "combine": true,
            "label": "metrics-proxy",
            "format": "yaml",
            "layer": beacon_layer().to_yaml().unwrap(),
        })
    );
}

#[tokio::test]
async fn get_plan_parses_yaml_result() {
    let pebble = FakePebble::start(happy);
    let plan = pebble.client().get_plan().await.unwrap();
    let svc = &plan.services["metrics-proxy"];
    assert_eq!(svc.command.as_deref(), Some("metrics-proxy"));
    assert_eq!(svc.override_.as_deref(), Some("replace"));
    assert_eq!(
        svc.environment["POD_LABEL_SELECTOR"],
        "app.kubernetes.io/name=aggregated"
    );
    assert_eq!(
        svc.other.get("on-failure"),
        Some(&serde_yaml_ng::Value::String("restart".into())),
        "unknown service fields are kept"
    );
    assert_eq!(pebble.seen()[0].uri, "/v1/plan?format=yaml");
}

#[tokio::test]
async fn empty_plan() {
    let pebble = FakePebble::start(|_, _| sync(r#""{}\n""#));
    assert_eq!(pebble.client().get_plan().await.unwrap(), Plan::default());
}

#[tokio::test]
async fn get_services() {
    let pebble = FakePebble::start(happy);
    let services = pebble.client().get_services().await.unwrap();
    assert_eq!(
        services,
        vec![ServiceInfo {
            name: "metrics-proxy".into(),
            startup: "enabled".into(),
            current: "active".into()
        }]
    );
}

#[tokio::test]
async fn replan_waits_for_the_change() {
    let pebble = FakePebble::start(happy);
    let change = pebble
        .client()
        .replan(Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!((change.id.as_str(), change.kind.as_str()), ("42", "replan"));
    assert!(change.ready);
    let seen = pebble.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].uri.as_str()),
        ("POST", "/v1/services")
    );
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body, json!({"action": "replan", "services": []}));
    assert_eq!(seen[1].uri, "/v1/changes/42/wait?timeout=30.000s");
}

#[tokio::test]
async fn failed_change_is_change_failed() {
    let pebble = FakePebble::start(|method, uri| match (method, uri) {
        ("POST", "/v1/services") => happy(method, uri),
        _ => sync(
            r#"{"id":"42","kind":"replan","summary":"Replan","status":"Error","ready":true,"err":"cannot perform the following tasks:\n- Start service \"metrics-proxy\" (cannot start service: exited quickly with code 1)"}"#,
        ),
    });
    let err = pebble
        .client()
        .replan(Duration::from_millis(1500))
        .await
        .unwrap_err();
    match &err {
        PebbleError::ChangeFailed { id, kind, err } => {
            assert_eq!((id.as_str(), kind.as_str()), ("42", "replan"));
            assert!(err.contains("exited quickly"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pebble.seen()[1].uri, "/v1/changes/42/wait?timeout=1.500s");
    assert!(!err.is_connection_error());
}

#[tokio::test]
async fn wait_timeout_is_change_timeout() {
    let pebble = FakePebble::start(|_, _| {
        error(
            504,
            "Gateway Timeout",
            "timed out waiting for change after 1s",
        )
    });
    let err = pebble
        .client()
        .wait_change("7", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PebbleError::ChangeTimeout { ref id, .. } if id == "7"),
        "{err:?}"
    );
}

#[tokio::test]
async fn error_envelope_is_api_error() {
    let pebble = FakePebble::start(|_, _| {
        (
            400,
            r#"{"type":"error","status-code":400,"status":"Bad Request","result":{"message":"layer \"metrics-proxy\" must define \"override\" for service \"metrics-proxy\"","kind":"generic-file-error"}}"#
                .to_string(),
        )
    });
    let err = pebble
        .client()
        .add_layer("metrics-proxy", &Layer::default(), true)
        .await
        .unwrap_err();
    match &err {
        PebbleError::Api {
            status_code,
            status,
            kind,
            message,
        } => {
            assert_eq!(*status_code, 400);
            assert_eq!(status, "Bad Request");
            assert_eq!(kind, "generic-file-error");
            assert!(message.starts_with("layer \"metrics-proxy\" must define"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("Pebble API error 400 Bad Request: layer")
    );
    assert!(
        !pebble.client().can_connect().await,
        "an API error is not 'connected'"
    );
}

#[tokio::test]
async fn non_envelope_body_is_decode_error() {
    let pebble = FakePebble::start(|_, _| (502, "<html>bad gateway</html>".to_string()));
    let err = pebble.client().system_info().await.unwrap_err();
    assert!(
        matches!(err, PebbleError::Decode { ref body, .. } if body == "<html>bad gateway</html>"),
        "{err:?}"
    );
}

#[tokio::test]
async fn async_response_without_change_is_decode_error() {
    let pebble = FakePebble::start(|_, _| sync("null"));
    let err = pebble
        .client()
        .replan(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, PebbleError::Decode { .. }), "{err:?}");
}

#[tokio::test]
async fn absent_socket_is_connection_failed() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::with_socket(dir.path().join("metrics-proxy").join("pebble.socket"));
    let err = client.system_info().await.unwrap_err();
    assert!(
        matches!(err, PebbleError::ConnectionFailed { .. }),
        "{err:?}"
    );
    assert!(err.is_connection_error());
    assert!(!client.can_connect().await);
}

#[tokio::test]
async fn stale_socket_is_connection_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pebble.socket");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists(), "the socket file stays behind");
    let err = Client::with_socket(&path).system_info().await.unwrap_err();
    assert!(
        matches!(err, PebbleError::ConnectionFailed { .. }),
        "{err:?}"
    );
}

#[test]
fn socket_path_layout() {
    assert_eq!(containers_root(None), PathBuf::from("/charm/containers"));
    assert_eq!(
        containers_root(Some("".into())),
        PathBuf::from("/charm/containers")
    );
    assert_eq!(
        containers_root(Some("/tmp/sim/containers".into())),
        PathBuf::from("/tmp/sim/containers")
    );
    assert_eq!(
        Client::for_container("metrics-proxy")
            .socket()
            .strip_prefix(containers_root(std::env::var_os(CONTAINERS_ROOT_VAR)))
            .ok(),
        Some(std::path::Path::new("metrics-proxy/pebble.socket"))
    );
}

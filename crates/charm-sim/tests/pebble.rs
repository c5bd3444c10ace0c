//! The fake Pebble over its real unix socket: envelopes, layers with combine, services,
//! changes; and sockets following `can_connect`.
#![allow(clippy::unwrap_used)]
mod common;
use std::path::Path;
use std::sync::{Arc, Mutex};

use charm_sim::pebble::{PebbleServer, PebbleState};
use common::{TestCharm, scenario};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

async fn call(socket: &Path, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
    let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(bytes)))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[test]
fn pebble_api_envelopes_layers_services_changes() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("web").join("pebble.socket");
    let state = Arc::new(Mutex::new(PebbleState::new()));
    let _server = PebbleServer::start(&rt, &socket, state.clone()).unwrap();
    rt.block_on(async {
        let (code, info) = call(&socket, "GET", "/v1/system-info", None).await;
        assert_eq!(code, 200);
        assert_eq!(info["type"], "sync");
        assert_eq!(info["status-code"], 200);
        assert_eq!(info["status"], "OK");
        assert!(info["result"]["version"].is_string());

        let layer1 = "summary: base\nservices:\n  svc:\n    override: replace\n    command: run\n    startup: enabled\n    environment: {A: '1'}\n";
        let (code, r) = call(
            &socket,
            "POST",
            "/v1/layers",
            Some(json!({"action": "add", "label": "base", "combine": true, "format": "yaml", "layer": layer1})),
        )
        .await;
        assert_eq!((code, &r["result"]), (200, &json!(true)));
        // Same label without combine: Pebble's 400 error envelope.
        let (code, r) = call(
            &socket,
            "POST",
            "/v1/layers",
            Some(json!({"action": "add", "label": "base", "combine": false, "format": "yaml", "layer": layer1})),
        )
        .await;
        assert_eq!(code, 400);
        assert_eq!(r["type"], "error");
        assert_eq!(r["result"]["message"], "layer \"base\" already exists");
        // combine=true merges into the existing layer.
        let layer2 = "services:\n  svc:\n    override: merge\n    environment: {B: '2'}\n";
        let (code, _) = call(
            &socket,
            "POST",
            "/v1/layers",
            Some(json!({"action": "add", "label": "base", "combine": true, "format": "yaml", "layer": layer2})),
        )
        .await;
        assert_eq!(code, 200);

        let (code, plan) = call(&socket, "GET", "/v1/plan?format=yaml", None).await;
        assert_eq!(code, 200);
        let parsed: Value = serde_yaml_ng::from_str(plan["result"].as_str().unwrap()).unwrap();
        assert_eq!(
            parsed,
            json!({"services": {"svc": {"command": "run", "environment": {"A": "1", "B": "2"},
                   "override": "merge", "startup": "enabled"}}})
        );

        let (code, svcs) = call(&socket, "GET", "/v1/services?names=svc", None).await;
        assert_eq!(code, 200);
        assert_eq!(svcs["result"][0]["current"], "inactive");

        let (code, ch) = call(
            &socket,
            "POST",
            "/v1/services",
            Some(json!({"action": "replan", "services": []})),
        )
        .await;
        assert_eq!(code, 202);
        assert_eq!(ch["type"], "async");
        assert_eq!(ch["status"], "Accepted");
        let id = ch["change"].as_str().unwrap().to_string();
        let (code, done) = call(&socket, "GET", &format!("/v1/changes/{id}/wait"), None).await;
        assert_eq!(code, 200);
        assert_eq!(done["result"]["status"], "Done");
        assert_eq!(done["result"]["ready"], true);
        let (_, svcs) = call(&socket, "GET", "/v1/services", None).await;
        assert_eq!(svcs["result"][0]["current"], "active");

        let (code, _) = call(
            &socket,
            "POST",
            "/v1/services",
            Some(json!({"action": "stop", "services": ["svc"]})),
        )
        .await;
        assert_eq!(code, 202);
        let (_, svcs) = call(&socket, "GET", "/v1/services", None).await;
        assert_eq!(svcs["result"][0]["current"], "inactive");
        let (code, r) = call(
            &socket,
            "POST",
            "/v1/services",
            Some(json!({"action": "start", "services": ["nope"]})),
        )
        .await;
        assert_eq!((code, r["type"].as_str()), (400, Some("error")));

        let (code, r) = call(&socket, "GET", "/v1/changes/99", None).await;
        assert_eq!((code, r["status-code"].as_u64()), (404, Some(404)));
    });
    assert_eq!(
        state.lock().unwrap().plan()["services"]["svc"]["command"],
        "run"
    );
}

#[test]
fn sockets_follow_can_connect() {
    let c = TestCharm::new(
        r#"
for ctr in web side; do
  if [ -S "$CHARM_CONTAINERS_ROOT/$ctr/pebble.socket" ]; then echo "$ctr up"; else echo "$ctr down"; fi
done
"#,
    );
    let out = c.run(&scenario(
        true,
        "containers: {side: {can_connect: false}}\nsteps:\n  - install\n  \
         - {update: {containers: {side: {can_connect: true}, web: {can_connect: false}}}}\n  - start\n",
    ));
    assert_eq!(out.steps[0].stdout, "web up\nside down\n");
    assert_eq!(out.steps[1].stdout, "web down\nside up\n");
}

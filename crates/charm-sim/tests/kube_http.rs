//! Malformed and unusual requests: every one gets a proper answer (a `Status` body, or the
//! apiserver's plain-text 404 page), and the server keeps serving.

mod kubeclient;
use kubeclient::client;

use charm_sim::kube::{ApiServer, ApiServerConfig};
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// Sends a raw request; returns the status and the body text.
async fn send(
    client: &kube::Client,
    method: &str,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(kube::client::Body::from(body))
        .expect("request");
    let res = client.send(req).await.expect("an answer");
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn reason(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert_eq!(v["kind"], "Status", "{body}");
    assert_eq!(v["status"], "Failure", "{body}");
    v["reason"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn bad_requests_get_status_answers() {
    let server = ApiServer::start(ApiServerConfig {
        crds: vec![],
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "prod"}}),
        ],
        faults: vec![],
    })
    .expect("server starts");
    let c = client(&server).await;
    let json_ct = "application/json";
    let cm = "/api/v1/namespaces/prod/configmaps";

    let (s, b) = send(
        &c,
        "PATCH",
        &format!("{cm}/c"),
        "text/plain",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!((s, reason(&b).as_str()), (415, "UnsupportedMediaType"));

    let (s, b) = send(&c, "POST", cm, json_ct, b"{not json".to_vec()).await;
    assert_eq!((s, reason(&b).as_str()), (400, "BadRequest"));

    let (s, b) = send(&c, "POST", cm, json_ct, b"[1, 2]".to_vec()).await;
    assert_eq!((s, reason(&b).as_str()), (400, "BadRequest"));

    let (s, b) = send(
        &c,
        "POST",
        cm,
        json_ct,
        br#"{"metadata": {"name": "x"}}"#.to_vec(),
    )
    .await;
    assert_eq!((s, reason(&b).as_str()), (400, "BadRequest"), "no kind");

    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let (s, b) = send(&c, "POST", cm, json_ct, deep.into_bytes()).await;
    assert_eq!((s, reason(&b).as_str()), (400, "BadRequest"), "too deep");

    let huge = format!(
        r#"{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "big"}}, "data": {{"k": "{}"}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    let (s, b) = send(&c, "POST", cm, json_ct, huge.into_bytes()).await;
    assert_eq!((s, reason(&b).as_str()), (413, "RequestEntityTooLarge"));

    let (s, b) = send(&c, "GET", &format!("{cm}/c/status/more"), json_ct, vec![]).await;
    assert_eq!((s, reason(&b).as_str()), (404, "NotFound"));

    let (s, b) = send(
        &c,
        "GET",
        "/api/v1/namespaces/%FF%FE/configmaps/c",
        json_ct,
        vec![],
    )
    .await;
    assert_eq!((s, reason(&b).as_str()), (404, "NotFound"));

    let (s, b) = send(&c, "GET", "/apis/nope.example.com/v1/foos", json_ct, vec![]).await;
    assert_eq!((s, b.as_str()), (404, "404 page not found\n"));

    let (s, b) = send(&c, "GET", "/api/v1/foos", json_ct, vec![]).await;
    assert_eq!((s, reason(&b).as_str()), (404, "NotFound"));

    let (s, b) = send(&c, "PUT", cm, json_ct, b"{}".to_vec()).await;
    assert_eq!((s, reason(&b).as_str()), (405, "MethodNotAllowed"));

    let (s, b) = send(&c, "POST", "/api/v1/configmaps", json_ct, b"{}".to_vec()).await;
    assert_eq!((s, reason(&b).as_str()), (405, "MethodNotAllowed"));

    let (s, b) = send(
        &c,
        "GET",
        &format!("{cm}?labelSelector=a%20in%20(b"),
        json_ct,
        vec![],
    )
    .await;
    assert_eq!((s, reason(&b).as_str()), (400, "BadRequest"));

    let (s, b) = send(
        &c,
        "PATCH",
        &format!("{cm}/c?fieldManager=m&force=maybe"),
        "application/apply-patch+yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n".to_vec(),
    )
    .await;
    assert_eq!((s, reason(&b).as_str()), (400, "BadRequest"));

    let (s, b) = send(
        &c,
        "PATCH",
        &format!("{cm}/c?fieldManager=m"),
        "application/apply-patch+yaml",
        b"key: [unclosed\n".to_vec(),
    )
    .await;
    assert_eq!((s, reason(&b).as_str()), (400, "BadRequest"));

    let (s, b) = send(
        &c,
        "PATCH",
        &format!("{cm}/c?force=true"),
        "application/merge-patch+json",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(
        (s, reason(&b).as_str()),
        (422, "Invalid"),
        "force on a non-apply patch"
    );

    let (s, b) = send(
        &c,
        "PATCH",
        &format!("{cm}/c"),
        "application/json-patch+json",
        br#"[{"op": "explode", "path": "/x"}]"#.to_vec(),
    )
    .await;
    assert_eq!((s, reason(&b).as_str()), (422, "Invalid"));

    let (s, b) = send(
        &c,
        "PATCH",
        &format!("{cm}/c"),
        "application/merge-patch+json",
        br#"{"metadata": {"name": "renamed"}}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (s, reason(&b).as_str()),
        (422, "Invalid"),
        "name is immutable"
    );

    // Still serving, and every request was recorded with its answer.
    let (s, _) = send(&c, "GET", &format!("{cm}/c"), json_ct, vec![]).await;
    assert_eq!(s, 200);
    let recorded = server.take_requests();
    assert_eq!(recorded.len(), 19);
    assert_eq!(
        recorded[7].path,
        "/api/v1/namespaces/\u{fffd}\u{fffd}/configmaps/c"
    );
    assert!(recorded.iter().all(|r| r.status >= 200));
}

#[tokio::test]
async fn dry_run_and_generate_name() {
    let server = ApiServer::start(ApiServerConfig {
        crds: vec![],
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        ],
        faults: vec![],
    })
    .expect("server starts");
    let c = client(&server).await;
    let cm = "/api/v1/namespaces/prod/configmaps";
    let body =
        br#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}"#;
    let (s, b) = send(
        &c,
        "POST",
        &format!("{cm}?dryRun=All"),
        "application/json",
        body.to_vec(),
    )
    .await;
    assert_eq!(s, 201);
    let v: Value = serde_json::from_str(&b).expect("object");
    assert!(
        v["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .starts_with("gen-")
    );
    assert!(
        server
            .objects_for_output()
            .iter()
            .all(|o| o["kind"] != "ConfigMap"),
        "dry run"
    );
    let (s, _) = send(&c, "POST", cm, "application/json", body.to_vec()).await;
    assert_eq!(s, 201);
    assert_eq!(
        server
            .objects_for_output()
            .iter()
            .filter(|o| o["kind"] == "ConfigMap")
            .count(),
        1
    );
}

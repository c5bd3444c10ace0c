//! The telemetry pieces wired into the hook: scrape databags, the charm-tracing request,
//! and the hook's spans sent to the tracing collector.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;

use common::{exit_code, relation, run, run_file, status};
use serde_json::{Value, json};

#[test]
fn scrape_and_tracing_databags() {
    let out = run("telemetry");
    // Step 0 ran as a non-leader: backup status, unit data only (app data came on step 1).
    assert_eq!(
        status(&out, 0),
        Some((
            "active".into(),
            "Backup unit; standing by for leader takeover".into()
        ))
    );
    assert_eq!((exit_code(&out, 0), exit_code(&out, 1)), (0, 0));
    let metrics = relation(&out, 5);
    assert_eq!(
        metrics["local_unit_data"]["prometheus_scrape_unit_fqdn"],
        json!("istio-beacon-k8s-0.istio-beacon-k8s-endpoints.prod.svc.cluster.local")
    );
    assert_eq!(
        metrics["local_unit_data"]["prometheus_scrape_unit_name"],
        json!("istio-beacon-k8s/0")
    );
    assert_eq!(
        metrics["local_app_data"]["scrape_jobs"],
        json!(r#"[{"metrics_path": "/metrics", "static_configs": [{"targets": ["*:15090"]}]}]"#)
    );
    assert!(
        metrics["local_app_data"]["alert_rules"]
            .as_str()
            .is_some_and(|r| r.contains("HostDown"))
    );
    assert_eq!(
        relation(&out, 9)["local_app_data"],
        json!({"receivers": r#"["otlp_http"]"#})
    );
}

/// Accept `n` HTTP requests, answer 200, and send each request's path and body.
fn collector(n: usize) -> (u16, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            // Record before answering, so the request is in the channel when the hook ends.
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let _ = tx.send((path, String::from_utf8_lossy(&body).into_owned()));
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}",
            );
        }
    });
    (port, rx)
}

#[test]
fn hook_spans_reach_the_tracing_collector() {
    let (port, requests) = collector(2);
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/telemetry.yaml"),
    )
    .expect("scenario");
    let scenario = template.replace("http://127.0.0.1:9", &format!("http://127.0.0.1:{port}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("telemetry.yaml");
    std::fs::write(&file, scenario).expect("write scenario");
    let out = run_file(&file);
    assert_eq!((exit_code(&out, 0), exit_code(&out, 1)), (0, 0));
    // One export per hook, to <url>/v1/traces, with the hook's root span.
    let sent: Vec<(String, String)> = requests.try_iter().collect();
    assert_eq!(sent.len(), 2);
    for (path, body) in &sent {
        assert_eq!(path, "/v1/traces");
        let body: Value = serde_json::from_str(body).expect("OTLP JSON");
        let spans = body
            .pointer("/resourceSpans/0/scopeSpans/0/spans")
            .and_then(Value::as_array);
        assert!(
            spans.is_some_and(|s| s.iter().any(|span| span["name"] == "hook")),
            "{body}"
        );
    }
}

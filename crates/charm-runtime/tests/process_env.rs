//! What needs a real process environment: `JujuContext::from_env` and `k8s::client` reading
//! `KUBECONFIG`. Each test re-runs this test binary as a child with a constructed environment
//! (the way Juju starts a hook: `env_clear()` plus the hook's variables), because changing
//! this process's environment is not safe with other tests running.
#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;
use std::sync::{Arc, Mutex};

use charm_runtime::context::{ContextError, Event, HookEvent, JujuContext, RelationKind};
use charm_runtime::k8s;

const CHILD: &str = "CHARM_RUNTIME_TEST_CHILD";

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Run test `name` of this binary in a child with exactly `env`; panic with its output if
/// it fails.
fn run_child(name: &str, env: &[(&str, OsString)]) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env(CHILD, "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn hook_env(dispatch: &str) -> Vec<(&'static str, OsString)> {
    [
        ("JUJU_DISPATCH_PATH", dispatch),
        ("JUJU_HOOK_NAME", "service-mesh-relation-changed"),
        ("JUJU_UNIT_NAME", "beacon/0"),
        ("JUJU_MODEL_NAME", "istio-system"),
        ("JUJU_MODEL_UUID", "cdac5656-2423-4388-8f30-41854b4cca7d"),
        ("JUJU_VERSION", "3.6.4"),
        ("JUJU_RELATION", "service-mesh"),
        ("JUJU_RELATION_ID", "service-mesh:4"),
        ("JUJU_REMOTE_APP", "consumer"),
        ("JUJU_REMOTE_UNIT", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k, OsString::from(v)))
    .collect()
}

#[test]
fn from_env_reads_the_process_environment() {
    if !in_child() {
        return run_child(
            "from_env_reads_the_process_environment",
            &hook_env("hooks/service-mesh-relation-changed"),
        );
    }
    let ctx = JujuContext::from_env().unwrap();
    assert_eq!(
        ctx.event,
        Event::Hook(HookEvent::Relation {
            endpoint: "service-mesh".into(),
            kind: RelationKind::Changed
        })
    );
    assert_eq!(ctx.relation_id, Some(4));
    assert_eq!(ctx.remote_unit, None);
    assert_eq!(ctx.app_name, "beacon");
}

#[test]
fn from_env_rejects_non_utf8() {
    if !in_child() {
        let mut env = hook_env("hooks/install");
        env.push(("JUJU_REMOTE_APP", OsString::from_vec(vec![b'a', 0xff])));
        return run_child("from_env_rejects_non_utf8", &env);
    }
    match JujuContext::from_env() {
        Err(ContextError::Malformed { var, problem, .. }) => {
            assert_eq!(
                (var, problem.as_str()),
                ("JUJU_REMOTE_APP", "not valid UTF-8")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn from_env_missing_dispatch_path() {
    if !in_child() {
        let env: Vec<_> = hook_env("x")
            .into_iter()
            .filter(|(k, _)| *k != "JUJU_DISPATCH_PATH")
            .collect();
        return run_child("from_env_missing_dispatch_path", &env);
    }
    assert_eq!(
        JujuContext::from_env(),
        Err(ContextError::Missing {
            var: "JUJU_DISPATCH_PATH"
        })
    );
}

/// A minimal HTTP/1.1 API server: answers `/version` and any PATCH with a ConfigMap, and
/// records request lines and headers.
fn fake_apiserver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push(line.trim_end().to_string());
                    }
                    let length = head
                        .iter()
                        .find_map(|h| {
                            let (k, v) = h.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let request_line = head.first().cloned().unwrap_or_default();
                    log.lock().unwrap().extend(head);
                    let reply = if request_line.starts_with("GET /version") {
                        r#"{"major":"1","minor":"33","gitVersion":"v1.33.0","gitCommit":"x","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.24","compiler":"gc","platform":"linux/amd64"}"#
                    } else {
                        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"istio-system"},"data":{"k":"v"}}"#
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    if writer.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

#[test]
fn client_uses_kubeconfig_and_field_manager() {
    if !in_child() {
        let (port, seen) = fake_apiserver();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim\n    namespace: default\ncurrent-context: sim\nusers:\n- name: sim\n  user:\n    token: sim-token\n"
            ),
        )
        .unwrap();
        run_child(
            "client_uses_kubeconfig_and_field_manager",
            &[("KUBECONFIG", kubeconfig.into_os_string())],
        );
        let seen = seen.lock().unwrap().clone();
        assert!(
            seen.iter().any(|l| l.starts_with("GET /version")),
            "{seen:?}"
        );
        let patch = seen
            .iter()
            .find(|l| l.starts_with("PATCH "))
            .unwrap_or_else(|| panic!("no PATCH in {seen:?}"));
        assert!(
            patch.starts_with("PATCH /api/v1/namespaces/istio-system/configmaps/cm?"),
            "{patch}"
        );
        assert!(patch.contains("fieldManager=beacon"), "{patch}");
        assert!(patch.contains("force=true"), "{patch}");
        assert!(
            seen.iter()
                .any(|l| l.eq_ignore_ascii_case("authorization: Bearer sim-token")),
            "{seen:?}"
        );
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = k8s::client_in_namespace("istio-system").await.unwrap();
        assert_eq!(client.default_namespace(), "istio-system");
        let version = client.apiserver_version().await.unwrap();
        assert_eq!(version.git_version, "v1.33.0");
        let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
            kube::Api::default_namespaced(client);
        let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}});
        api.patch(
            "cm",
            &k8s::apply_params("beacon"),
            &kube::api::Patch::Apply(cm),
        )
        .await
        .unwrap();
        let plain = k8s::client().await.unwrap();
        assert_eq!(
            plain.default_namespace(),
            "default",
            "from the kubeconfig context"
        );
    });
}

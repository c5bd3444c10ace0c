//! kubectl (client-go) against the simulated API server, through the kubeconfig the
//! simulator writes for charms. kubectl comes from `scripts/setup-kubectl.sh`; without it
//! these tests skip with a message, except under `CI=true`, where they fail.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use charm_sim::kube::{ApiServer, ApiServerConfig};
use serde_json::{Value, json};

/// kubectl on PATH; `None` (after saying so) when missing outside CI.
fn kubectl_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("kubectl"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "kubectl is not installed (scripts/setup-kubectl.sh installs it)"
        );
        eprintln!("SKIPPED: kubectl is not installed; run scripts/setup-kubectl.sh");
    }
    found
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A fresh simulated API server (CRDs installed, namespace `prod`) and kubectl pointed at it.
struct Kubectl {
    server: ApiServer,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Kubectl {
    fn start() -> Option<Kubectl> {
        let bin = kubectl_binary()?;
        let server = ApiServer::start(ApiServerConfig {
            crds: ApiServer::default_crds(),
            objects: vec![
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
            ],
            faults: vec![],
        })
        .expect("server starts");
        let dir = tempfile::tempdir().expect("tempdir");
        server
            .write_kubeconfig(&dir.path().join("kubeconfig"), "prod")
            .expect("kubeconfig");
        Some(Kubectl { server, bin, dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `kubectl ARGS` (stdin: `input`, or nothing) and returns what it did.
    fn run(&self, args: &[&str], input: Option<&str>) -> Out {
        let mut child = Command::new(&self.bin)
            .arg(format!(
                "--kubeconfig={}",
                self.path("kubeconfig").display()
            ))
            .arg(format!("--cache-dir={}", self.path("cache").display()))
            .arg("--request-timeout=10s")
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path())
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        if let Some(text) = input {
            let mut stdin = child.stdin.take().expect("stdin");
            // kubectl may exit without reading (a usage error): its exit code tells.
            if let Err(e) = stdin.write_all(text.as_bytes()) {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
            }
        }
        let out = child.wait_with_output().expect("kubectl runs");
        Out {
            code: out.status.code().expect("kubectl exited (not killed)"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl and requires exit 0; returns stdout.
    fn ok(&self, args: &[&str], input: Option<&str>) -> String {
        let out = self.run(args, input);
        assert_eq!(
            out.code, 0,
            "kubectl {args:?} failed:\n{}\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs kubectl and requires exit 1 with every `needle` in stderr; returns stderr.
    fn fails(&self, args: &[&str], input: Option<&str>, needles: &[&str]) -> String {
        let out = self.run(args, input);
        assert_eq!(
            out.code, 1,
            "kubectl {args:?} should fail:\n{}\n{}",
            out.stdout, out.stderr
        );
        for n in needles {
            assert!(
                out.stderr.contains(n),
                "kubectl {args:?}: stderr lacks {n:?}:\n{}",
                out.stderr
            );
        }
        out.stderr
    }

    fn get_json(&self, args: &[&str]) -> Value {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.ok(&a, None)).expect("JSON")
    }

    fn configmap(&self, name: &str) -> Option<Value> {
        self.server.object("v1", "ConfigMap", Some("prod"), name)
    }

    /// Every request was answered by a handler: no 5xx, nothing reset, no discovery or
    /// OpenAPI document missing.
    fn assert_server_healthy(&self) {
        for r in self.server.take_requests() {
            assert!(
                (200..500).contains(&r.status),
                "{} {} answered {}",
                r.method,
                r.path,
                r.status
            );
            let discovery =
                r.path == "/api" || r.path == "/apis" || r.path.starts_with("/openapi/");
            assert!(
                !(discovery && r.status == 404),
                "{} {} answered 404",
                r.method,
                r.path
            );
        }
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.assert_server_healthy();
        }
    }
}

/// `(manager, operation)` → owned fieldsV1, from the stored object.
fn managed(obj: &Value) -> Vec<(String, Value)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .map(|e| {
            (
                format!(
                    "{}/{}",
                    e["manager"].as_str().expect("manager"),
                    e["operation"].as_str().expect("operation")
                ),
                e["fieldsV1"].clone(),
            )
        })
        .collect()
}

fn names(list: &str) -> Vec<&str> {
    let mut v: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
    v.sort();
    v
}

const POLICY: &str = "\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-app
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/prod/sa/app]
";

#[test]
fn discovery_lists_builtins_and_crds() {
    let Some(k) = Kubectl::start() else { return };
    let out = k.ok(&["api-resources"], None);
    let row = |name: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("api-resources lacks {name}:\n{out}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row("configmaps"),
        ["configmaps", "cm", "v1", "true", "ConfigMap"]
    );
    assert_eq!(
        row("namespaces"),
        ["namespaces", "ns", "v1", "false", "Namespace"]
    );
    // Two kinds share the plural (Istio's and Linkerd's): one row each, told by group.
    let rows = |name: &str| -> Vec<Vec<String>> {
        out.lines()
            .filter(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    };
    let policies: Vec<Vec<String>> = rows("authorizationpolicies")
        .into_iter()
        .map(|r| r[2..].to_vec())
        .collect();
    assert!(
        policies.contains(&vec![
            "security.istio.io/v1".to_owned(),
            "true".to_owned(),
            "AuthorizationPolicy".to_owned()
        ]),
        "{out}"
    );
    assert!(
        policies
            .iter()
            .any(|r| r[0].starts_with("policy.linkerd.io/")),
        "{out}"
    );
    assert_eq!(
        row("customresourcedefinitions")[2..],
        [
            "apiextensions.k8s.io/v1",
            "false",
            "CustomResourceDefinition"
        ]
    );
    let names = k.ok(
        &[
            "api-resources",
            "--api-group=security.istio.io",
            "-o",
            "name",
        ],
        None,
    );
    assert_eq!(
        names.trim(),
        "authorizationpolicies.security.istio.io\npeerauthentications.security.istio.io"
    );
    let versions = k.ok(&["api-versions"], None);
    for gv in [
        "v1",
        "apps/v1",
        "security.istio.io/v1",
        "security.istio.io/v1beta1",
        "gateway.networking.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing:\n{versions}"
        );
    }
}

#[test]
fn get_custom_resources_across_namespaces() {
    let Some(k) = Kubectl::start() else { return };
    let none = k.run(
        &["get", "authorizationpolicies.security.istio.io", "-A"],
        None,
    );
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(
        none.stderr.contains("No resources found"),
        "{}",
        none.stderr
    );
    let policy = |ns: &str, name: &str| {
        json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": ns, "labels": {"team": ns}},
            "spec": {"action": "DENY"}})
    };
    k.server
        .apply_objects(vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}),
            policy("prod", "p1"),
            policy("other", "p2"),
        ])
        .expect("objects");
    let out = k.ok(
        &["get", "authorizationpolicies.security.istio.io", "-A"],
        None,
    );
    // The server prints (a Table): the CRD's printer columns, ACTION and AGE.
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().take(3).collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["NAMESPACE", "NAME", "ACTION"],
            ["other", "p2", "DENY"],
            ["prod", "p1", "DENY"]
        ],
        "{out}"
    );
    let header: Vec<&str> = out
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAMESPACE", "NAME", "ACTION", "AGE"]);
    // The rows carry the objects' metadata: labels for --show-labels.
    let labelled = k.ok(&["get", "ap", "--show-labels"], None);
    let row: Vec<&str> = labelled
        .lines()
        .nth(1)
        .expect("row")
        .split_whitespace()
        .collect();
    assert_eq!(
        (row[0], row[1], row[3]),
        ("p1", "DENY", "team=prod"),
        "{labelled}"
    );
    // A Gateway's columns, JSONPath filters included (the CRD defaults Programmed to Unknown).
    k.server
        .apply_objects(vec![
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "prod"},
            "spec": {"gatewayClassName": "istio-waypoint",
                "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}}),
        ])
        .expect("gateway");
    let gw = k.ok(&["get", "gateways"], None);
    let lines: Vec<&str> = gw.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"],
        "{gw}"
    );
    assert_eq!(
        lines[1].split_whitespace().take(3).collect::<Vec<_>>(),
        ["gw", "istio-waypoint", "Unknown"],
        "{gw}"
    );
    // The short name, in the kubeconfig's namespace; the v1beta1 version by its full name.
    assert_eq!(
        k.ok(&["get", "ap", "-o", "name"], None).trim(),
        "authorizationpolicy.security.istio.io/p1"
    );
    let beta = k.get_json(&[
        "authorizationpolicies.v1beta1.security.istio.io",
        "p2",
        "-n",
        "other",
    ]);
    assert_eq!(beta["apiVersion"], "security.istio.io/v1beta1");
    assert_eq!(beta["spec"]["action"], "DENY");
}

#[test]
fn categories_name_kinds_together() {
    let Some(k) = Kubectl::start() else { return };
    k.server
        .apply_objects(vec![
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "prod"},
                "spec": {"ports": [{"port": 80}]}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "prod"}}),
            json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": "p", "namespace": "prod"}, "spec": {}}),
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": {"name": "gw", "namespace": "prod"},
                "spec": {"gatewayClassName": "istio-waypoint",
                    "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}}),
        ])
        .expect("objects");
    // `all` is the built-in workloads and services; the CRDs bring their own categories.
    assert_eq!(
        k.ok(&["get", "all", "-o", "name"], None).trim(),
        "service/web"
    );
    assert_eq!(
        k.ok(&["get", "istio-io", "-o", "name"], None).trim(),
        "authorizationpolicy.security.istio.io/p"
    );
    assert_eq!(
        k.ok(&["get", "gateway-api", "-o", "name"], None).trim(),
        "gateway.gateway.networking.k8s.io/gw"
    );
}

#[test]
fn a_crd_installed_later_is_found_despite_the_discovery_cache() {
    let Some(k) = Kubectl::start() else { return };
    k.ok(&["get", "configmaps"], None);
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}
    });
    k.ok(
        &["apply", "--server-side", "-f", "-"],
        Some(&crd.to_string()),
    );
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n";
    assert_eq!(
        k.ok(&["apply", "--server-side", "-f", "-"], Some(widget))
            .trim(),
        "widget.example.com/w serverside-applied"
    );
    assert_eq!(k.get_json(&["widgets", "w"])["spec"]["size"], 3);
}

#[test]
fn server_side_apply_conflicts_and_forced_takeover() {
    let Some(k) = Kubectl::start() else { return };
    let cm = |v: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  labels: {{app: web}}\ndata:\n  k: {v}\n"
        )
    };
    let out = k.ok(
        &["apply", "--server-side", "--field-manager=a", "-f", "-"],
        Some(&cm("v1")),
    );
    assert_eq!(out.trim(), "configmap/cfg serverside-applied");
    let stored = k.configmap("cfg").expect("created");
    assert_eq!(stored["data"]["k"], "v1");
    assert_eq!(
        managed(&stored),
        [(
            "a/Apply".to_string(),
            json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
        )]
    );

    // Re-applying the same configuration is fine; b applying a different value conflicts.
    k.ok(
        &["apply", "--server-side", "--field-manager=a", "-f", "-"],
        Some(&cm("v1")),
    );
    k.fails(
        &["apply", "--server-side", "--field-manager=b", "-f", "-"],
        Some(&cm("v2")),
        &[
            "Apply failed with 1 conflict",
            "conflict with \"a\"",
            ".data.k",
            "--force-conflicts",
        ],
    );
    assert_eq!(k.configmap("cfg").expect("kept")["data"]["k"], "v1");

    let out = k.ok(
        &[
            "apply",
            "--server-side",
            "--field-manager=b",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&cm("v2")),
    );
    assert_eq!(out.trim(), "configmap/cfg serverside-applied");
    assert_eq!(
        k.ok(&["get", "cm", "cfg", "-o", "jsonpath={.data.k}"], None),
        "v2"
    );
    // b took .data.k over; both share the label both applied with the same value.
    let stored = k.configmap("cfg").expect("kept");
    assert_eq!(
        managed(&stored),
        [
            (
                "a/Apply".to_string(),
                json!({"f:metadata": {"f:labels": {"f:app": {}}}})
            ),
            (
                "b/Apply".to_string(),
                json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
            ),
        ]
    );
    // a now conflicts with b in turn.
    k.fails(
        &["apply", "--server-side", "--field-manager=a", "-f", "-"],
        Some(&cm("v1")),
        &["conflict with \"b\"", ".data.k"],
    );
}

#[test]
fn label_and_field_selectors() {
    let Some(k) = Kubectl::start() else { return };
    let cm = |name: &str, labels: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
    };
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        cm("cm-x", json!({"a": "x"})),
        cm("cm-y", json!({"a": "y"})),
        cm("cm-yb", json!({"a": "y", "b": "1"})),
        cm("cm-z", json!({"a": "z"})),
        cm("cm-none", json!({})),
    ]});
    let out = k.ok(
        &["apply", "--server-side", "-f", "-"],
        Some(&list.to_string()),
    );
    assert_eq!(out.lines().count(), 5, "{out}");
    let sel = |s: &str| k.ok(&["get", "cm", "-o", "name", "-l", s], None);
    assert_eq!(
        names(&sel("a in (x,y),!b")),
        ["configmap/cm-x", "configmap/cm-y"]
    );
    assert_eq!(names(&sel("a notin (x),b")), ["configmap/cm-yb"]);
    assert_eq!(
        names(&sel("a!=x")),
        [
            "configmap/cm-none",
            "configmap/cm-y",
            "configmap/cm-yb",
            "configmap/cm-z"
        ]
    );
    assert_eq!(names(&sel("a")).len(), 4);
    assert_eq!(names(&sel("a=q")), Vec::<&str>::new());
    let out = k.ok(
        &[
            "get",
            "cm",
            "-o",
            "name",
            "--field-selector",
            "metadata.name=cm-z",
        ],
        None,
    );
    assert_eq!(out.trim(), "configmap/cm-z");
    k.fails(&["get", "cm", "-l", "a in (x"], None, &["BadRequest"]);
}

#[test]
fn patch_strategic_merge_and_json() {
    let Some(k) = Kubectl::start() else { return };
    let objects = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
            "data": {"keep": "1", "drop": "2"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"old": "x"}}},
    ]});
    k.ok(
        &["apply", "--server-side", "-f", "-"],
        Some(&objects.to_string()),
    );

    // ConfigMap: each patch type, then the result.
    let patch = |target: &[&str], ty: &str, p: &str| {
        let mut a = vec!["patch"];
        a.extend_from_slice(target);
        let ty = format!("--type={ty}");
        a.extend_from_slice(&[&ty, "-p", p]);
        k.ok(&a, None)
    };
    assert_eq!(
        patch(&["cm", "cfg"], "strategic", r#"{"data":{"s":"3"}}"#).trim(),
        "configmap/cfg patched"
    );
    patch(&["cm", "cfg"], "merge", r#"{"data":{"m":"4","drop":null}}"#);
    patch(
        &["cm", "cfg"],
        "json",
        r#"[{"op":"add","path":"/data/j","value":"5"},{"op":"replace","path":"/data/keep","value":"6"},{"op":"remove","path":"/data/s"}]"#,
    );
    assert_eq!(
        k.get_json(&["cm", "cfg"])["data"],
        json!({"keep": "6", "m": "4", "j": "5"})
    );
    // A JSON patch that cannot apply changes nothing.
    let rv = k.configmap("cfg").expect("cfg")["metadata"]["resourceVersion"].clone();
    let failed = k.run(
        &[
            "patch",
            "cm",
            "cfg",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/data/nope"}]"#,
        ],
        None,
    );
    assert_eq!(failed.code, 1, "{}", failed.stdout);
    let after = k.configmap("cfg").expect("cfg");
    assert_eq!(after["metadata"]["resourceVersion"], rv);
    assert_eq!(after["data"], json!({"keep": "6", "m": "4", "j": "5"}));

    // Service: strategic merge adds a port by its merge key; merge patch replaces the list.
    patch(
        &["svc", "web"],
        "strategic",
        r#"{"spec":{"ports":[{"name":"metrics","port":9090,"protocol":"TCP"}]}}"#,
    );
    let ports = |k: &Kubectl| -> Vec<i64> {
        k.get_json(&["svc", "web"])["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .map(|p| p["port"].as_i64().expect("port"))
            .collect()
    };
    assert_eq!(ports(&k), [80, 9090]);
    patch(
        &["svc", "web"],
        "strategic",
        r#"{"spec":{"ports":[{"port":80,"targetPort":8081}]}}"#,
    );
    let svc = k.get_json(&["svc", "web"]);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8081);
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");
    assert_eq!(ports(&k), [80, 9090]);
    patch(
        &["svc", "web"],
        "merge",
        r#"{"spec":{"ports":[{"name":"only","port":443,"protocol":"TCP"}]}}"#,
    );
    assert_eq!(ports(&k), [443]);

    // Namespace (cluster-scoped): merge adds and removes labels, JSON patch with ~1.
    patch(
        &["ns", "team"],
        "merge",
        r#"{"metadata":{"labels":{"new":"y","old":null}}}"#,
    );
    patch(
        &["ns", "team"],
        "json",
        r#"[{"op":"add","path":"/metadata/labels/example.com~1owner","value":"me"}]"#,
    );
    let ns = k
        .server
        .object("v1", "Namespace", None, "team")
        .expect("namespace");
    assert_eq!(
        ns["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "team", "new": "y", "example.com/owner": "me"})
    );

    k.fails(
        &[
            "patch",
            "cm",
            "missing",
            "--type=merge",
            "-p",
            r#"{"data":{"a":"b"}}"#,
        ],
        None,
        &[r#"configmaps "missing" not found"#],
    );
}

#[test]
fn delete_and_delete_missing() {
    let Some(k) = Kubectl::start() else { return };
    let objects = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "inner", "namespace": "gone"}},
    ]});
    k.ok(
        &["apply", "--server-side", "-f", "-"],
        Some(&objects.to_string()),
    );
    assert_eq!(
        k.ok(&["delete", "cm", "cfg"], None).trim(),
        r#"configmap "cfg" deleted"#
    );
    assert_eq!(k.configmap("cfg"), None);
    k.fails(
        &["delete", "cm", "cfg"],
        None,
        &[r#"Error from server (NotFound): configmaps "cfg" not found"#],
    );
    k.fails(
        &["get", "cm", "cfg"],
        None,
        &[r#"Error from server (NotFound): configmaps "cfg" not found"#],
    );
    let out = k.run(&["delete", "cm", "cfg", "--ignore-not-found"], None);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{}", out.stderr);

    // A namespace takes its objects with it.
    k.ok(&["delete", "namespace", "gone"], None);
    assert_eq!(k.server.object("v1", "Namespace", None, "gone"), None);
    assert_eq!(
        k.server.object("v1", "ConfigMap", Some("gone"), "inner"),
        None
    );
    // Custom resources by full name.
    k.ok(&["apply", "--server-side", "-f", "-"], Some(POLICY));
    k.ok(
        &[
            "delete",
            "authorizationpolicies.security.istio.io",
            "allow-app",
        ],
        None,
    );
    assert_eq!(
        k.server.object(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some("prod"),
            "allow-app"
        ),
        None
    );
}

#[test]
fn get_json_round_trips_through_replace() {
    let Some(k) = Kubectl::start() else { return };
    k.ok(
        &["apply", "--server-side", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {a: b}}\ndata: {k: v}\n"),
    );
    let got = k.get_json(&["cm", "cfg"]);
    // What kubectl prints is the stored object (kubectl may hide managedFields).
    let mut stored = k.configmap("cfg").expect("cfg");
    let mut printed = got.clone();
    for o in [&mut stored, &mut printed] {
        o["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("managedFields");
    }
    assert_eq!(printed, stored);

    // Edit the printed object and send it back: a PUT with its resourceVersion.
    let mut edited = got.clone();
    edited["data"]["k"] = json!("changed");
    edited["data"]["new"] = json!("x");
    assert_eq!(
        k.ok(&["replace", "-f", "-"], Some(&edited.to_string()))
            .trim(),
        "configmap/cfg replaced"
    );
    let now = k.get_json(&["cm", "cfg"]);
    assert_eq!(now["data"], json!({"k": "changed", "new": "x"}));
    assert_eq!(now["metadata"]["uid"], got["metadata"]["uid"]);
    assert_ne!(
        now["metadata"]["resourceVersion"],
        got["metadata"]["resourceVersion"]
    );
    // The same stale copy again: the optimistic-concurrency conflict.
    k.fails(
        &["replace", "-f", "-"],
        Some(&edited.to_string()),
        &["the object has been modified"],
    );
    // A list prints as a List of the same objects.
    let list = k.get_json(&["cm"]);
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["data"], now["data"]);
    // YAML output parses to the same object.
    let yaml: Value =
        serde_yaml_ng::from_str(&k.ok(&["get", "cm", "cfg", "-o", "yaml"], None)).expect("yaml");
    assert_eq!(yaml, now);
}

#[test]
fn invalid_authorization_policy_is_refused_with_the_schema_error() {
    let Some(k) = Kubectl::start() else { return };
    let bad = POLICY.replace("action: ALLOW", "action: BOGUS");
    for verb in [
        vec!["apply", "--server-side", "-f", "-"],
        vec!["create", "-f", "-"],
    ] {
        k.fails(
            &verb,
            Some(&bad),
            &[
                r#"AuthorizationPolicy "allow-app" is invalid"#,
                r#"spec.action: Unsupported value: "BOGUS""#,
            ],
        );
    }
    assert_eq!(
        k.server.object(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some("prod"),
            "allow-app"
        ),
        None
    );
    // The valid one is accepted through the same path (kubectl's own validation included).
    k.ok(&["create", "-f", "-"], Some(POLICY));
    let got = k.get_json(&["ap", "allow-app"]);
    assert_eq!(got["spec"]["action"], "ALLOW");
    assert_eq!(
        got["spec"]["rules"][0]["from"][0]["source"]["principals"],
        json!(["cluster.local/ns/prod/sa/app"])
    );
    // An invalid patch of the stored one is refused too, and changes nothing.
    k.fails(
        &[
            "patch",
            "ap",
            "allow-app",
            "--type=merge",
            "-p",
            r#"{"spec":{"action":"NOPE"}}"#,
        ],
        None,
        &[r#"spec.action: Unsupported value: "NOPE""#],
    );
    assert_eq!(k.get_json(&["ap", "allow-app"])["spec"]["action"], "ALLOW");
}

#[test]
fn typed_create_of_a_builtin_works_or_is_refused_as_protobuf() {
    // `kubectl create namespace` sends JSON from older kubectl, protobuf from newer (client-go's
    // typed clients); this server reads JSON and YAML only, and says so with a 415.
    let Some(k) = Kubectl::start() else { return };
    let out = k.run(&["create", "namespace", "x"], None);
    let created = k.server.object("v1", "Namespace", None, "x");
    if out.code == 0 {
        assert_eq!(out.stdout.trim(), "namespace/x created");
        assert!(created.is_some());
    } else {
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("the body of the request was in an unknown format"),
            "{}",
            out.stderr
        );
        assert_eq!(created, None);
        // The same namespace from a manifest is JSON, and works.
        k.ok(
            &["create", "-f", "-"],
            Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"),
        );
        assert!(k.server.object("v1", "Namespace", None, "x").is_some());
    }
}

#[test]
fn undeclared_fields_fail_apply_and_strict_create() {
    let Some(k) = Kubectl::start() else { return };
    let typo = POLICY.replace("action: ALLOW", "action: ALLOW\n  typo: 1");
    let stored = |k: &Kubectl| {
        k.server.object(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some("prod"),
            "allow-app",
        )
    };
    // Server-side apply converts the patch to the schema's type whatever fieldValidation
    // says: a real server answers 500 without a reason, which kubectl prints bare.
    k.fails(
        &["apply", "--server-side", "-f", "-"],
        Some(&typo),
        &["Error from server: failed to create typed patch object (prod/allow-app; \
           security.istio.io/v1, Kind=AuthorizationPolicy): .spec.typo: field not declared in schema"],
    );
    assert_eq!(stored(&k), None);
    let apply = k.server.take_requests().pop().expect("the apply");
    assert_eq!((apply.method.as_str(), apply.status), ("PATCH", 500));

    // A create: kubectl ≥ 1.27 asks for fieldValidation=Strict, refused with the decoder's
    // error; older kubectl sends none, and the field is pruned.
    let out = k.run(&["create", "-f", "-"], Some(&typo));
    let post = k.server.take_requests().pop().expect("the create");
    assert_eq!(post.method, "POST");
    if post.query.contains("fieldValidation=Strict") {
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert!(
            out.stderr.contains(
                r#"AuthorizationPolicy in version "v1" cannot be handled as a AuthorizationPolicy: strict decoding error: unknown field "spec.typo""#
            ),
            "{}",
            out.stderr
        );
        assert_eq!(stored(&k), None);
    } else {
        assert_eq!(out.code, 0, "{}", out.stderr);
        k.ok(&["delete", "ap", "allow-app"], None);
    }
    // Without validation the field is pruned, as the schema says.
    k.ok(&["create", "--validate=false", "-f", "-"], Some(&typo));
    let got = stored(&k).expect("created");
    assert_eq!(got["spec"]["action"], "ALLOW");
    assert_eq!(got["spec"].get("typo"), None);
}

#[test]
fn server_dry_run_and_diff_change_nothing() {
    let Some(k) = Kubectl::start() else { return };
    let cm = |v: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg}}\ndata: {{k: {v}}}\n")
    };
    // A dry-run create answers the object as it would be, and stores nothing.
    let out = k.ok(
        &[
            "apply",
            "--server-side",
            "--dry-run=server",
            "-f",
            "-",
            "-o",
            "json",
        ],
        Some(&cm("v1")),
    );
    let dry: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(dry["data"]["k"], "v1");
    assert_eq!(dry["metadata"].get("resourceVersion"), None);
    assert_eq!(k.configmap("cfg"), None);

    k.ok(&["apply", "--server-side", "-f", "-"], Some(&cm("v1")));
    let before = k.configmap("cfg").expect("cfg");
    // kubectl diff is a dry-run apply compared with the live object: only data.k differs
    // (a dry run takes no new resourceVersion).
    let diff = k.run(&["diff", "--server-side", "-f", "-"], Some(&cm("v2")));
    assert_eq!(diff.code, 1, "1 = differences found:\n{}", diff.stderr);
    let changed: Vec<&str> = diff
        .stdout
        .lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
                // kubectl before 1.21 shows managedFields, whose apply time is the dry run's
                // (as upstream): another second, another time.
                && !l[1..].trim_start().starts_with("time:")
        })
        .collect();
    assert_eq!(changed, ["-  k: v1", "+  k: v2"], "{}", diff.stdout);
    assert_eq!(k.configmap("cfg").expect("cfg"), before);
    // No difference: exit 0, nothing printed.
    let same = k.run(&["diff", "--server-side", "-f", "-"], Some(&cm("v1")));
    assert_eq!(
        (same.code, same.stdout.as_str()),
        (0, ""),
        "{}",
        same.stderr
    );
}

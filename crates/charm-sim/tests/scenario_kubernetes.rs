//! The Kubernetes side as scenarios drive it: initial objects, `update: {kubernetes,
//! kubernetes_delete}` as another actor, faults, and per-step `api_requests` of the charm only.
#![allow(clippy::unwrap_used)]
mod common;
use common::{TestCharm, scenario};

/// A charm that GETs a ConfigMap through KUBECONFIG's server with python3's urllib.
const GET_CM: &str = r#"
server=$(sed -n 's/^ *server: *//p' "$KUBECONFIG" | head -n 1)
python3 - "$server" <<'PY'
import sys, urllib.request, urllib.error
url = sys.argv[1] + "/api/v1/namespaces/prod/configmaps/cm?x=a%20b"
try:
    with urllib.request.urlopen(url) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
PY
"#;

#[test]
fn updates_faults_and_requests() {
    let c = TestCharm::new(GET_CM);
    let cm =
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: cm, namespace: prod}, data: {k: v}}";
    let out = c.run(&scenario(
        true,
        &format!(
            "faults: [{{match: {{method: GET, path_regex: '/configmaps/cm$'}}, error: 500, times: 1}}]\n\
             steps:\n  - install\n  - {{update: {{kubernetes: [{cm}]}}}}\n  - start\n  \
             - {{update: {{kubernetes_delete: [{{apiVersion: v1, kind: ConfigMap, namespace: prod, name: cm}}]}}}}\n  \
             - update-status\n"
        ),
    ));
    let codes: Vec<&str> = out.steps.iter().map(|s| s.stdout.trim()).collect();
    // Faulted once, then found (created by the update), then gone (deleted by the update).
    assert_eq!(codes, ["500", "200", "404"]);
    for (step, status) in out.steps.iter().zip([500, 200, 404]) {
        // Only the charm's own request is recorded, percent-decoded.
        assert_eq!(step.api_requests.len(), 1, "{step:?}");
        let r = &step.api_requests[0];
        assert_eq!(
            (
                r.method.as_str(),
                r.path.as_str(),
                r.query.as_str(),
                r.status
            ),
            (
                "GET",
                "/api/v1/namespaces/prod/configmaps/cm",
                "x=a b",
                status
            )
        );
    }
    // The namespace from the scenario persists; the ConfigMap is gone.
    let kinds: Vec<&str> = out
        .kubernetes
        .iter()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["Namespace"]);
}

#[test]
fn update_faults_replace_the_armed_ones() {
    let c = TestCharm::new(GET_CM);
    let cm =
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: cm, namespace: prod}, data: {k: v}}";
    let get = "{method: GET, path_regex: '/configmaps/cm$'}";
    let out = c.run(&scenario(
        true,
        &format!(
            "faults: [{{match: {get}, error: 500, times: 5}}]\n\
             steps:\n  - install\n  \
             - {{update: {{kubernetes: [{cm}], faults: [{{match: {get}, error: 503, times: 2}}]}}}}\n  \
             - start\n  \
             - {{update: {{faults: []}}}}\n  - update-status\n  \
             - {{update: {{faults: [{{match: {get}, error: '504'}}]}}}}\n  - update-status\n  \
             - update-status\n"
        ),
    ));
    let codes: Vec<&str> = out.steps.iter().map(|s| s.stdout.trim()).collect();
    // The start's 500s are replaced (not added to), `[]` disarms the second 503, the 504 is
    // consumed once.
    assert_eq!(codes, ["500", "503", "200", "504", "200"]);
}

/// A charm that creates the ConfigMap `cm` with python3's urllib and prints the status.
const CREATE_CM: &str = r#"
server=$(sed -n 's/^ *server: *//p' "$KUBECONFIG" | head -n 1)
python3 - "$server" <<'PY'
import sys, urllib.request, urllib.error
body = b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}'
req = urllib.request.Request(sys.argv[1] + "/api/v1/namespaces/prod/configmaps", data=body,
                             headers={"Content-Type": "application/json"}, method="POST")
try:
    with urllib.request.urlopen(req) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("no answer")
PY
"#;

#[test]
fn a_fault_after_the_request_keeps_its_effect() {
    let c = TestCharm::new(CREATE_CM);
    let post = "{method: POST, path_regex: '/configmaps$'}";
    let out = c.run(&scenario(
        true,
        &format!(
            "faults: [{{match: {post}, error: 503, after: true}}]\n\
             steps:\n  - install\n  - start\n  \
             - {{update: {{kubernetes_delete: [{{apiVersion: v1, kind: ConfigMap, namespace: prod, name: cm}}]}}}}\n  \
             - {{update: {{faults: [{{match: {post}, error: reset, after: true}}]}}}}\n  \
             - update-status\n  - update-status\n"
        ),
    ));
    let codes: Vec<&str> = out.steps.iter().map(|s| s.stdout.trim()).collect();
    // Created though answered 503, so the next create conflicts; created though the
    // connection was reset.
    assert_eq!(codes, ["503", "409", "no answer", "409"]);
    let statuses: Vec<u16> = out.steps.iter().map(|s| s.api_requests[0].status).collect();
    assert_eq!(statuses, [503, 409, 0, 409]);
}

//! check-access: parameters checked, and the worked example's policies evaluated.

use serde_json::json;
use service_mesh::authz::{Mesh, evaluate};

use super::*;
use crate::fixtures::{example, run};

fn params(source: &str, target: &str, port: i64) -> Params {
    Params {
        source: source.into(),
        target: target.into(),
        port,
        root_namespace: "istio-system".into(),
        auto_allow_waypoint: true,
        ..Params::default()
    }
}

#[test]
fn sources_in_every_spelling() {
    let q = |s: &str| query(&params(s, "mydb", 80), "prod").map(|q| q.source);
    assert_eq!(q("myapp"), Ok(Peer::workload("prod", "myapp")));
    assert_eq!(q("cos.prometheus"), Ok(Peer::workload("cos", "prometheus")));
    assert_eq!(
        q("cluster.local/ns/cos/sa/prometheus"),
        Ok(Peer::Workload {
            namespace: "cos".into(),
            service_account: "prometheus".into(),
            trust_domain: Some("cluster.local".into()),
        })
    );
    assert_eq!(
        q("spiffe://example.org/ns/a/sa/b"),
        Ok(Peer::Workload {
            namespace: "a".into(),
            service_account: "b".into(),
            trust_domain: Some("example.org".into()),
        })
    );
    assert_eq!(q("off-mesh"), Ok(Peer::Plaintext));
    for bad in ["", "My App", "a/b", "x.y.z", "cluster.local/ns/A/sa/b"] {
        assert!(q(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn targets_ports_and_paths_are_checked() {
    let t = |s: &str| query(&params("a", s, 80), "prod").map(|q| q.target);
    let r = |ns: &str, name: &str| TargetRef {
        namespace: ns.into(),
        name: name.into(),
    };
    assert_eq!(t("mydb"), Ok(r("prod", "mydb")));
    assert_eq!(t("team/web"), Ok(r("team", "web")));
    assert_eq!(t("team.web"), Ok(r("team", "web")));
    assert!(t("a?b").is_err());
    for port in [0, -1, 65536] {
        let e = query(&params("a", "b", port), "prod").expect_err("bad port");
        assert!(e.starts_with("port"), "{e}");
    }
    let mut p = params("a", "b", 80);
    p.path = Some("api".into());
    assert!(
        query(&p, "prod")
            .expect_err("bad path")
            .contains("must start with '/'")
    );
    p.path = Some("/api".into());
    let q = query(&p, "prod").expect("l7");
    let http = q.request.http.expect("http");
    assert_eq!((http.method.as_str(), http.host.as_str()), ("GET", "b"));
    // No method, path or host: a TCP request.
    assert!(
        query(&params("a", "b", 80), "prod")
            .expect("tcp")
            .request
            .http
            .is_none()
    );
}

/// The worked example's policies as the beacon applies them, and mydb's Service on the
/// waypoint.
fn world() -> (Vec<Value>, Found) {
    let d = run(&example());
    let policies = d
        .policies
        .iter()
        .map(|i| i.body(&d.owner_instance).expect("buildable"))
        .collect();
    let found = Found {
        service_labels: Some(
            [
                (
                    "istio.io/use-waypoint".to_owned(),
                    "prod-istio-beacon-k8s-waypoint".to_owned(),
                ),
                (
                    "istio.io/use-waypoint-namespace".to_owned(),
                    "prod".to_owned(),
                ),
            ]
            .into(),
        ),
        pod: Some((
            [("app.kubernetes.io/name".to_owned(), "mydb".to_owned())].into(),
            "mydb".to_owned(),
        )),
        namespace_labels: Labels::new(),
    };
    (policies, found)
}

fn check(p: &Params) -> Map<String, Value> {
    let (policies, found) = world();
    let q = query(p, "prod").expect("query");
    let target = evaluator_target(&q, &found).expect("target");
    results(&evaluate(&Mesh::default(), &policies, &target, &q.request))
}

#[test]
fn an_allowed_l7_request_names_the_policy_and_rule() {
    let mut p = params("myapp", "mydb", 8080);
    p.method = Some("post".into());
    p.path = Some("/api".into());
    let r = check(&p);
    assert_eq!(r["decision"], "allow");
    assert_eq!(
        r["policy"],
        "prod/istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3"
    );
    assert_eq!(r["rule"], "0");
    assert_eq!(r["waypoint"]["decision"], "allow");
    assert!(
        r["enforced-by"]
            .as_str()
            .expect("text")
            .starts_with("waypoint prod/prod-istio-beacon-k8s-waypoint and ztunnel"),
        "{r:?}"
    );
}

#[test]
fn a_denied_request_names_the_closest_rule_and_what_failed() {
    let mut p = params("myapp", "mydb", 8080);
    p.method = Some("DELETE".into());
    p.path = Some("/api".into());
    let r = check(&p);
    assert_eq!(r["decision"], "deny");
    assert_eq!(
        r["enforced-by"],
        "waypoint prod/prod-istio-beacon-k8s-waypoint"
    );
    assert_eq!(
        r["policy"],
        "prod/istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3"
    );
    let reason = r["reason"].as_str().expect("text");
    assert!(
        reason.contains("method DELETE not in [GET, POST]"),
        "{reason}"
    );
    assert_eq!(json!(r["ztunnel"]["decision"]), json!("not-reached"));
}

#[test]
fn a_unit_level_scrape_from_another_model_is_allowed_at_ztunnel() {
    let mut p = params("cos.prometheus", "mydb", 9090);
    p.to_pod = true;
    let r = check(&p);
    assert_eq!(r["decision"], "allow", "{r:?}");
    assert!(
        r["enforced-by"]
            .as_str()
            .expect("text")
            .starts_with("ztunnel")
    );
    assert!(r.get("waypoint").is_none_or(|w| w["decision"] != "deny"));
}

#[test]
fn an_off_mesh_source_is_denied_at_ztunnel() {
    let mut p = params("off-mesh", "mydb", 9090);
    p.to_pod = true;
    let r = check(&p);
    assert_eq!(r["decision"], "deny", "{r:?}");
    assert!(
        r["enforced-by"]
            .as_str()
            .expect("text")
            .starts_with("ztunnel")
    );
}

#[test]
fn a_missing_service_is_said_plainly() {
    let q = query(&params("a", "nosuch", 80), "prod").expect("query");
    let e = evaluator_target(&q, &Found::default()).expect_err("no service");
    assert_eq!(e, "Service prod/nosuch not found");
}

//! The read-only actions through charm-sim on the demo model (tests/scenarios/access.yaml).

mod common;

use common::{exit_code, run, step};
use serde_json::Value;

const P1: &str = "prod/istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3";

fn results(out: &Value, i: usize) -> &Value {
    assert_eq!(exit_code(out, i), 0, "step {i}");
    let action = &step(out, i)["action"];
    assert_eq!(action["failed"], Value::Null, "step {i}: {action}");
    &action["results"]
}

fn failed(out: &Value, i: usize) -> String {
    assert_eq!(exit_code(out, i), 0, "step {i}");
    step(out, i)["action"]["failed"]
        .as_str()
        .unwrap_or_else(|| panic!("step {i} did not fail"))
        .to_owned()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn check_access_answers_who_may_reach_what_and_why_not() {
    let out = run("access");
    // 1: allowed by the consumer's policy, at the waypoint and at ztunnel.
    let r = results(&out, 1);
    assert_eq!(text(r, "decision"), "allow");
    assert_eq!(text(r, "policy"), P1);
    assert_eq!(text(r, "rule"), "0");
    assert!(text(r, "enforced-by").starts_with("waypoint prod/prod-istio-beacon-k8s-waypoint"));
    // 2: denied at the waypoint, the closest rule and the failing attribute named.
    let r = results(&out, 2);
    assert_eq!(text(r, "decision"), "deny");
    assert_eq!(
        text(r, "enforced-by"),
        "waypoint prod/prod-istio-beacon-k8s-waypoint"
    );
    assert_eq!(text(r, "policy"), P1);
    assert!(
        text(r, "reason").contains("method DELETE not in [GET, POST]"),
        "{r}"
    );
    // 3: the cross-model scrape reaches the pods, allowed at ztunnel by the unit policy.
    let r = results(&out, 3);
    assert_eq!(text(r, "decision"), "allow", "{r}");
    assert!(text(r, "enforced-by").starts_with("ztunnel"));
    assert_eq!(
        text(r, "policy"),
        "prod/istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a"
    );
    // 4: no identity, no policy for it.
    let r = results(&out, 4);
    assert_eq!(text(r, "decision"), "deny");
    assert!(text(r, "enforced-by").starts_with("ztunnel"));
    // 6: the dba team's DENY decides, whoever allows.
    let r = results(&out, 6);
    assert_eq!(text(r, "decision"), "deny");
    assert_eq!(text(r, "policy"), "prod/no-get-for-myapp");
    // 7: hardened mode: the root namespace's allow-nothing denies what nothing allows.
    let r = results(&out, 7);
    assert_eq!(text(r, "decision"), "deny", "{r}");
    assert!(
        text(r, "reason").contains("istio-system/istio-k8s-allow-nothing"),
        "{r}"
    );
    // 10: managed off, hardened: our policies are gone, and what nothing allows is denied
    // at the waypoint by the root namespace's allow-nothing, which the answer names.
    let r = results(&out, 10);
    assert_eq!(text(r, "decision"), "deny", "{r}");
    assert_eq!(
        text(r, "enforced-by"),
        "waypoint prod/prod-istio-beacon-k8s-waypoint"
    );
    let reason = text(r, "reason");
    assert!(
        reason.contains("istio-system/istio-k8s-allow-nothing-waypoints"),
        "{reason}"
    );
    assert!(reason.contains("allows nothing"), "{reason}");
    // 11..13: bad parameters and a missing target: plain failures.
    assert_eq!(failed(&out, 11), "port 0 is not a port number (1-65535)");
    assert!(failed(&out, 12).starts_with("source \"my app\""));
    assert_eq!(failed(&out, 13), "Service prod/nosuch not found");
}

#[test]
fn show_policies_lists_every_consumer_policy_with_its_state() {
    let out = run("access");
    let r = results(&out, 5);
    assert_eq!(r["consumers"], "1");
    assert_eq!(r["skipped"], "0");
    // The consumer's two and the beacon's own (otel-collector scraping it).
    assert_eq!(r["states"]["applied"], "3");
    let report: Value = serde_yaml_ng::from_str(text(r, "report")).expect("yaml report");
    let mydb = &report["consumers"][0];
    assert_eq!(mydb["relation"], "service-mesh:3");
    assert_eq!(mydb["identity"], "model prod");
    assert_eq!(mydb["policies"][0]["authorization-policy"], P1);
    assert_eq!(mydb["policies"][0]["target"], "Service prod/mydb");
    assert_eq!(mydb["policies"][0]["state"], "applied");
    // Managed off, filtered on mydb, as JSON.
    let r = results(&out, 9);
    // mydb's two and the beacon's own.
    assert_eq!(r["states"]["not-managed"], "3");
    let report: Value = serde_json::from_str(text(r, "report")).expect("json report");
    assert_eq!(report["managed"], false);
    assert_eq!(report["consumers"].as_array().expect("list").len(), 1);
    assert_eq!(failed(&out, 14), "format \"xml\" is not yaml or json");
}

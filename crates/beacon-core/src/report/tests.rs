//! show-policies on the contract's worked example, against live objects in every state.

use serde_json::json;

use super::*;
use crate::fixtures::{example, run};
use crate::memo::Refusals;
use crate::snapshot::CmrRelation;

const P1: &str = "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3";

fn names() -> Names {
    Names::new("prod", "istio-beacon-k8s").expect("names")
}

/// The policies of `example()` as live objects (as the beacon applies them).
fn applied() -> Vec<LiveObject> {
    let d = run(&example());
    d.policies
        .iter()
        .map(|i| {
            let mut body = i.body(&d.owner_instance).expect("buildable");
            body["metadata"]["resourceVersion"] = json!("1");
            LiveObject::from_value(&body).expect("keyed")
        })
        .collect()
}

#[test]
fn every_policy_with_its_object_source_target_and_state() {
    let mut live = applied();
    // The consumer's unit policy drifted; the own (metrics) policy is missing.
    let unit = live
        .iter_mut()
        .find(|o| o.key.name.contains("prometheus"))
        .expect("unit policy");
    unit.spec = serde_json::value::to_raw_value(&json!({"rules": [{}]})).ok();
    live.retain(|o| !o.key.name.contains("otel-collector"));
    let r = show_policies(&example(), &names(), &live, &Refusals::new(), None);
    assert!(r.managed);
    assert_eq!(r.consumers.len(), 1);
    let c = &r.consumers[0];
    assert_eq!(
        (c.relation.as_str(), c.app.as_str(), c.identity.as_str()),
        ("service-mesh:3", "mydb", "model prod")
    );
    assert_eq!(c.policies.len(), 2);
    let app = &c.policies[0];
    assert_eq!(app.authorization_policy, format!("prod/{P1}"));
    assert_eq!(app.source, vec!["cluster.local/ns/prod/sa/myapp"]);
    assert_eq!(app.target, "Service prod/mydb");
    assert_eq!(
        app.to,
        vec![Operation {
            ports: vec!["5432".into(), "8080".into()],
            methods: vec!["GET".into(), "POST".into()],
            paths: vec!["/api".into(), "/health".into()],
            hosts: vec![],
        }]
    );
    assert_eq!(app.state, State::Applied);
    let unit = &c.policies[1];
    assert_eq!(unit.target, "pods in prod with app.kubernetes.io/name=mydb");
    assert_eq!(unit.source, vec!["cluster.local/ns/cos/sa/prometheus"]);
    assert_eq!(unit.state, State::Drifted);
    assert_eq!(r.own.len(), 1);
    assert_eq!(r.own[0].state, State::Missing);
    assert_eq!(r.own[0].to[0].ports, vec!["15090"]);
}

#[test]
fn not_managed_refused_and_skipped_say_so() {
    let mut snap = example();
    snap.service_mesh
        .push(crate::fixtures::mesh(4, "web", Some("not json")));
    let refusals: Refusals = {
        let d = run(&snap);
        let i = &d.policies[0];
        [(record_key(&i.namespace, &i.name), i.digest.clone())].into()
    };
    let r = show_policies(&snap, &names(), &[], &refusals, None);
    assert_eq!(r.consumers[0].policies[0].state, State::Refused);
    assert_eq!(r.consumers[0].policies[1].state, State::Missing);
    let web = &r.consumers[1];
    assert!(web.policies.is_empty());
    assert_eq!(web.skipped.len(), 1);
    assert!(
        web.skipped[0].reason.starts_with("invalid JSON list"),
        "{:?}",
        web.skipped
    );
    snap.config.manage_authorization_policies = false;
    let r = show_policies(&snap, &names(), &applied(), &Refusals::new(), None);
    assert!(!r.managed);
    assert!(
        r.consumers[0]
            .policies
            .iter()
            .chain(&r.own)
            .all(|p| p.state == State::NotManaged)
    );
    // The policies are still listed: what would be applied.
    assert_eq!(r.consumers[0].policies.len(), 2);
}

#[test]
fn an_app_filter_keeps_that_consumer_and_a_shared_policy_shows_for_both() {
    let mut snap = example();
    // Another relation of a second app asking for the very same policies (one object).
    snap.service_mesh.push(crate::fixtures::mesh(
        5,
        "mydb",
        Some(crate::fixtures::MYDB_POLICIES),
    ));
    snap.service_mesh
        .push(crate::fixtures::mesh(6, "web", Some("[]")));
    let r = show_policies(&snap, &names(), &applied(), &Refusals::new(), Some("mydb"));
    let rels: Vec<&str> = r.consumers.iter().map(|c| c.relation.as_str()).collect();
    assert_eq!(rels, vec!["service-mesh:3", "service-mesh:5"]);
    assert_eq!(r.consumers[1].policies.len(), 2);
    assert!(
        r.consumers[1]
            .policies
            .iter()
            .all(|p| p.state == State::Applied)
    );
}

#[test]
fn cross_model_consumers_show_what_is_known_of_them() {
    let mut snap = example();
    let app = "remote-0123456789abcdef0123456789abcdef";
    snap.service_mesh = vec![crate::fixtures::mesh(7, app, Some("[]"))];
    let r = show_policies(&snap, &names(), &[], &Refusals::new(), None);
    assert_eq!(
        r.consumers[0].identity,
        "cross-model: unknown (no cmr_data on provide-cmr-mesh)"
    );
    snap.cmr = vec![CmrRelation {
        id: 8,
        remote_app: app.into(),
        cmr_data: Some(r#"{"app_name": "client", "juju_model_name": "team"}"#.into()),
    }];
    let r = show_policies(&snap, &names(), &[], &Refusals::new(), Some("client"));
    assert_eq!(
        r.consumers[0].identity,
        "cross-model: team.client (its cmr_data)"
    );
}

#[test]
fn the_report_serializes_with_kebab_case_keys() {
    let r = show_policies(&example(), &names(), &applied(), &Refusals::new(), None);
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(v["consumers"][0]["policies"][0]["state"], "applied");
    assert!(v["consumers"][0]["policies"][0]["authorization-policy"].is_string());
    let yaml = serde_yaml_ng::to_string(&r).expect("yaml");
    assert!(
        yaml.contains(
            "authorization-policy: prod/istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3"
        ),
        "{yaml}"
    );
}

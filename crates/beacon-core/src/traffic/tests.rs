//! Traffic intents: rendered for the consumer's own Service, refused otherwise, one bad
//! intent isolated; mtls-mode.

use serde_json::{Value, json};
use service_mesh::traffic::MtlsMode;

use super::*;
use crate::fixtures::{example, mesh};
use crate::snapshot::MeshRelation;

fn names() -> Names {
    Names::new("prod", "istio-beacon-k8s").expect("names")
}

fn with(rel: u64, app: &str, traffic: &str) -> MeshRelation {
    MeshRelation {
        traffic: Some(traffic.into()),
        ..mesh(rel, app, Some("[]"))
    }
}

fn kinds(t: &Traffic) -> Vec<(String, String)> {
    t.objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().expect("kind").to_owned(),
                o["metadata"]["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect()
}

#[test]
fn an_intent_renders_a_destination_rule_and_peer_authentication_for_its_own_service() {
    let mut snap = example();
    snap.service_mesh = vec![with(
        3,
        "mydb",
        r#"{"version": 1, "load_balancer": {"consistent_hash": {"http_cookie": {"name": "s", "ttl": "0s"}}}, "mtls": "STRICT"}"#,
    )];
    let t = traffic(&snap, &names());
    assert!(t.skipped.is_empty(), "{:?}", t.skipped);
    let name = "istio-beacon-k8s-prod-traffic-mydb";
    assert_eq!(
        kinds(&t),
        vec![
            ("DestinationRule".to_owned(), name.to_owned()),
            ("PeerAuthentication".to_owned(), name.to_owned()),
        ]
    );
    let dr = &t.objects[0];
    assert_eq!(dr["apiVersion"], "networking.istio.io/v1");
    assert_eq!(dr["metadata"]["namespace"], "prod");
    assert_eq!(dr["spec"]["host"], "mydb.prod.svc.cluster.local");
    assert_eq!(
        dr["metadata"]["labels"],
        json!({"app.kubernetes.io/instance": "prod-istio-beacon-k8s", "kubernetes-resource-handler-scope": "istio-traffic-intent"})
    );
    let pa = &t.objects[1];
    assert_eq!(pa["spec"]["mtls"]["mode"], "STRICT");
    assert_eq!(
        pa["spec"]["selector"]["matchLabels"],
        json!({"app.kubernetes.io/name": "mydb"})
    );
    assert_eq!(t.services.len(), 1);
    assert_eq!(t.services[0].0, "mydb");
}

#[test]
fn only_the_consumers_own_service_and_bad_intents_skip_that_consumer_only() {
    let mut snap = example();
    snap.service_mesh = vec![
        with(
            3,
            "mydb",
            r#"{"version": 1, "load_balancer": {"simple": "ROUND_ROBIN"}}"#,
        ),
        with(
            4,
            "evil",
            r#"{"version": 1, "service": "mydb", "load_balancer": {"simple": "RANDOM"}}"#,
        ),
        with(
            5,
            "bad",
            r#"{"version": 1, "load_balancer": {"simple": "BOGUS"}}"#,
        ),
        with(6, "future", r#"{"version": 2}"#),
        with(
            7,
            "remote-0123456789abcdef0123456789abcdef",
            r#"{"version": 1, "mtls": "STRICT"}"#,
        ),
        with(8, "garbage", "not json"),
    ];
    let t = traffic(&snap, &names());
    assert_eq!(
        kinds(&t),
        vec![(
            "DestinationRule".to_owned(),
            "istio-beacon-k8s-prod-traffic-mydb".to_owned()
        )]
    );
    let skipped: Vec<(u64, bool)> = t
        .skipped
        .iter()
        .map(|s| (s.origin.relation_id, !s.reason.is_empty()))
        .collect();
    assert_eq!(
        skipped,
        vec![(4, true), (5, true), (6, true), (7, true), (8, true)]
    );
    assert!(
        t.skipped[0]
            .reason
            .contains("not the related application's Service")
    );
    assert!(t.skipped[3].reason.contains("cross-model"));
    assert_eq!(
        t.skipped[0].to_string(),
        format!(
            "Skipping the traffic intent from service-mesh:4 (evil): {}",
            t.skipped[0].reason
        )
    );
}

#[test]
fn no_traffic_key_is_exactly_as_before() {
    let t = traffic(&example(), &names());
    assert_eq!(t, Traffic::default());
}

#[test]
fn mtls_mode_is_one_namespace_wide_peer_authentication() {
    for (mode, wire) in [
        (MtlsMode::Strict, "STRICT"),
        (MtlsMode::Permissive, "PERMISSIVE"),
    ] {
        let mut snap = example();
        snap.config.mtls_mode = Some(mode);
        let t = traffic(&snap, &names());
        assert_eq!(t.objects.len(), 1);
        let pa = &t.objects[0];
        assert_eq!(pa["kind"], "PeerAuthentication");
        assert_eq!(pa["metadata"]["name"], "istio-beacon-k8s-prod-mtls");
        assert_eq!(pa["spec"]["mtls"]["mode"], wire);
        assert_eq!(pa["spec"].get("selector"), None::<&Value>);
    }
}

//! Rendered DestinationRules and PeerAuthentications against the simulator's API server,
//! which validates custom resources against the real Istio 1.29.6 CRD schemas (charm-sim's
//! default CRD set): what the renderer makes is accepted, a bad value is refused with 422.
#![cfg(feature = "kube")]

use charm_sim::kube::{ApiServer, ApiServerConfig};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};
use service_mesh::TrafficIntent;
use service_mesh::traffic::{
    MtlsMode, render_destination_rule, render_peer_authentication, traffic_name, workload_selector,
};

fn server() -> ApiServer {
    ApiServer::start(ApiServerConfig {
        crds: ApiServer::default_crds(),
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        ],
        faults: vec![],
    })
    .expect("start the simulated API server")
}

fn api(server: &ApiServer, group: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let url = server.url().parse().expect("server URL");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("kube client");
    let res = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", kind), plural);
    Api::namespaced_with(client, "prod", &res)
}

fn destination_rules(server: &ApiServer) -> Api<DynamicObject> {
    api(
        server,
        "networking.istio.io",
        "DestinationRule",
        "destinationrules",
    )
}

fn peer_authentications(server: &ApiServer) -> Api<DynamicObject> {
    api(
        server,
        "security.istio.io",
        "PeerAuthentication",
        "peerauthentications",
    )
}

async fn apply(api: &Api<DynamicObject>, obj: &Value) -> Result<DynamicObject, kube::Error> {
    let name = obj["metadata"]["name"].as_str().expect("name").to_owned();
    let pp = PatchParams::apply("istio-beacon-k8s").force();
    let body: DynamicObject = serde_json::from_value(obj.clone()).expect("object");
    api.patch(&name, &pp, &Patch::Apply(body)).await
}

const INTENT: &str = r#"{"version": 1, "load_balancer": {"consistent_hash": {"http_cookie": {"name": "session", "path": "/", "ttl": "1h"}, "minimum_ring_size": 1024}}, "connection_pool": {"tcp": {"max_connections": 100, "connect_timeout": "5s"}, "http": {"http1_max_pending_requests": 10, "http2_max_requests": 100, "max_requests_per_connection": 1, "max_retries": 3}}, "outlier_detection": {"consecutive_5xx_errors": 5, "consecutive_gateway_errors": 0, "interval": "10s", "base_ejection_time": "30s", "max_ejection_percent": 50}, "tls": {"mode": "ISTIO_MUTUAL"}, "ports": [{"port": 8080, "load_balancer": {"simple": "LEAST_REQUEST"}}, {"port": 9090, "tls": {"mode": "MUTUAL", "credential_name": "client-cert", "sni": "mydb.example.com"}}], "mtls": "STRICT"}"#;

fn labels() -> Vec<(String, String)> {
    vec![(
        "app.kubernetes.io/instance".to_owned(),
        "prod-istio-beacon-k8s".to_owned(),
    )]
}

#[tokio::test]
async fn rendered_objects_are_accepted_and_stored_as_sent() {
    let server = server();
    let intent = TrafficIntent::from_json(INTENT).expect("valid intent");
    let name = traffic_name("istio-beacon-k8s", "prod", "mydb");
    let dr = render_destination_rule(&intent, "mydb", "prod", &name, &labels());
    let stored = apply(&destination_rules(&server), &dr)
        .await
        .expect("DR accepted");
    let stored = serde_json::to_value(&stored).expect("json");
    // Nothing pruned: every field we send is in the schema.
    assert_eq!(stored["spec"], dr["spec"]);

    let mode = intent.mtls.expect("mtls");
    let selector = workload_selector("mydb");
    let pa = render_peer_authentication(mode, "prod", &name, Some(&selector), &labels());
    let stored = apply(&peer_authentications(&server), &pa)
        .await
        .expect("PA accepted");
    assert_eq!(
        serde_json::to_value(&stored).expect("json")["spec"],
        pa["spec"]
    );

    // Namespace-wide (the beacon's own `mtls-mode`), every mode.
    for mode in MtlsMode::ALL {
        let pa = render_peer_authentication(*mode, "prod", "ns-wide", None, &labels());
        let stored = apply(&peer_authentications(&server), &pa)
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(
            serde_json::to_value(&stored).expect("json")["spec"],
            pa["spec"]
        );
    }

    // Only settings for ports, and no settings at all.
    for text in [
        r#"{"version": 1, "ports": [{"port": 80, "outlier_detection": {}}]}"#,
        r#"{"version": 1, "mtls": "PERMISSIVE"}"#,
    ] {
        let intent = TrafficIntent::from_json(text).expect("valid");
        let dr = render_destination_rule(&intent, "web", "prod", "web-traffic", &vec![]);
        apply(&destination_rules(&server), &dr)
            .await
            .unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

#[tokio::test]
async fn invalid_objects_are_refused_with_422() {
    let server = server();
    let intent =
        TrafficIntent::from_json(r#"{"version": 1, "load_balancer": {"simple": "RANDOM"}}"#)
            .expect("valid");
    let mut dr = render_destination_rule(&intent, "mydb", "prod", "bad", &vec![]);
    dr["spec"]["trafficPolicy"]["loadBalancer"]["simple"] = json!("BOGUS");
    let err = apply(&destination_rules(&server), &dr)
        .await
        .expect_err("BOGUS refused");
    match err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{s:?}");
            assert!(
                s.message.contains("spec.trafficPolicy.loadBalancer.simple"),
                "{}",
                s.message
            );
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    let mut pa = render_peer_authentication(MtlsMode::Strict, "prod", "bad", None, &vec![]);
    pa["spec"]["mtls"]["mode"] = json!("ISTIO_MUTUAL");
    match apply(&peer_authentications(&server), &pa)
        .await
        .expect_err("refused")
    {
        kube::Error::Api(s) => assert_eq!(s.code, 422, "{s:?}"),
        other => panic!("expected an API error, got {other:?}"),
    }
}

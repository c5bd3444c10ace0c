//! Traffic intents: each wire field against the Istio object it renders.
//!
//! Field names and enum values are checked against Istio 1.29's API reference:
//! - DestinationRule (networking.istio.io/v1):
//!   <https://istio.io/v1.29/docs/reference/config/networking/destination-rule/>
//!   (`TrafficPolicy`, `LoadBalancerSettings`, `LoadBalancerSettings.SimpleLB`,
//!   `LoadBalancerSettings.ConsistentHashLB` (`HTTPCookie`, `RingHash`; its own
//!   `minimumRingSize` is "Deprecated"), `ConnectionPoolSettings.TCPSettings`,
//!   `ConnectionPoolSettings.HTTPSettings`, `OutlierDetection`, `ClientTLSSettings` and its
//!   `TLSmode`, `TrafficPolicy.PortTrafficPolicy`, `PortSelector`);
//! - PeerAuthentication (security.istio.io/v1):
//!   <https://istio.io/v1.29/docs/reference/config/security/peer_authentication/>
//!   (`PeerAuthentication.MutualTLS.Mode`: UNSET, DISABLE, PERMISSIVE, STRICT);
//! - and the generated schemas of the same release, istio/istio 1.29.6
//!   `manifests/charts/base/files/crd-all.gen.yaml` (shipped in `crates/charm-sim/crds/`),
//!   which every rendered object is validated against in `traffic_props.rs`.

use serde_json::{Value, json};
use service_mesh::traffic::{
    ClientTls, ConnectionPool, ConsistentHash, Duration, HashKey, HttpCookie, HttpSettings,
    LoadBalancer, MtlsMode, OutlierDetection, PortTrafficPolicy, SimpleLb, TcpSettings, TlsMode,
    TrafficError, TrafficIntent, TrafficPolicy, parse_traffic, render_destination_rule,
    render_peer_authentication, traffic_name, workload_selector,
};

fn parse(text: &str) -> TrafficIntent {
    TrafficIntent::from_json(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The DestinationRule's `trafficPolicy` for a wire value.
fn policy_of(text: &str) -> Value {
    let dr = render_destination_rule(&parse(text), "mydb", "prod", "n", &vec![]);
    dr["spec"]["trafficPolicy"].clone()
}

/// `{"version": 1, <body>}` → its trafficPolicy.
fn tp(body: &str) -> Value {
    policy_of(&format!(r#"{{"version": 1, {body}}}"#))
}

#[test]
fn destination_rule_envelope_host_name_and_labels() {
    let intent = parse(r#"{"version": 1, "load_balancer": {"simple": "RANDOM"}}"#);
    let labels = vec![
        (
            "app.kubernetes.io/instance".to_owned(),
            "prod-istio-beacon-k8s".to_owned(),
        ),
        (
            "kubernetes-resource-handler-scope".to_owned(),
            "istio-traffic".to_owned(),
        ),
    ];
    let dr = render_destination_rule(&intent, "mydb", "prod", "the-name", &labels);
    assert_eq!(
        dr,
        json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "the-name", "namespace": "prod", "labels": {
                "app.kubernetes.io/instance": "prod-istio-beacon-k8s",
                "kubernetes-resource-handler-scope": "istio-traffic"}},
            "spec": {
                "host": "mydb.prod.svc.cluster.local",
                "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}},
            },
        })
    );
    // Key order is fixed (server-side apply bodies compare equal run to run).
    assert_eq!(
        serde_json::to_string(&dr).expect("json"),
        r#"{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"the-name","namespace":"prod","labels":{"app.kubernetes.io/instance":"prod-istio-beacon-k8s","kubernetes-resource-handler-scope":"istio-traffic"}},"spec":{"host":"mydb.prod.svc.cluster.local","trafficPolicy":{"loadBalancer":{"simple":"RANDOM"}}}}"#
    );
    // No labels: no `labels` key.
    let bare = render_destination_rule(&intent, "svc", "ns", "x", &vec![]);
    assert_eq!(bare["metadata"], json!({"name": "x", "namespace": "ns"}));
}

#[test]
fn every_simple_load_balancer_value() {
    // SimpleLB values of the reference (UNSPECIFIED is not offered).
    for value in [
        "LEAST_CONN",
        "ROUND_ROBIN",
        "RANDOM",
        "PASSTHROUGH",
        "LEAST_REQUEST",
    ] {
        assert_eq!(
            tp(&format!(r#""load_balancer": {{"simple": "{value}"}}"#)),
            json!({"loadBalancer": {"simple": value}})
        );
    }
    assert_eq!(SimpleLb::ALL.len(), 5);
}

#[test]
fn consistent_hash_by_header() {
    assert_eq!(
        tp(r#""load_balancer": {"consistent_hash": {"http_header_name": "x-user"}}"#),
        json!({"loadBalancer": {"consistentHash": {"httpHeaderName": "x-user"}}})
    );
}

#[test]
fn consistent_hash_by_cookie_with_name_path_ttl() {
    assert_eq!(
        tp(
            r#""load_balancer": {"consistent_hash": {"http_cookie": {"name": "session", "path": "/app", "ttl": "1h"}}}"#
        ),
        json!({"loadBalancer": {"consistentHash": {"httpCookie": {"name": "session", "path": "/app", "ttl": "1h"}}}})
    );
    // Only the name is required; a zero TTL (a session cookie) is allowed.
    assert_eq!(
        tp(r#""load_balancer": {"consistent_hash": {"http_cookie": {"name": "s", "ttl": "0s"}}}"#),
        json!({"loadBalancer": {"consistentHash": {"httpCookie": {"name": "s", "ttl": "0s"}}}})
    );
}

#[test]
fn consistent_hash_by_source_ip_and_query_parameter() {
    assert_eq!(
        tp(r#""load_balancer": {"consistent_hash": {"use_source_ip": true}}"#),
        json!({"loadBalancer": {"consistentHash": {"useSourceIp": true}}})
    );
    assert_eq!(
        tp(r#""load_balancer": {"consistent_hash": {"http_query_parameter_name": "user_id"}}"#),
        json!({"loadBalancer": {"consistentHash": {"httpQueryParameterName": "user_id"}}})
    );
}

#[test]
fn minimum_ring_size_goes_to_ring_hash_not_the_deprecated_field() {
    // ConsistentHashLB.minimumRingSize is "Deprecated" in the reference and the CRD
    // (istiod warns about it); RingHash.minimumRingSize replaces it.
    let rendered = tp(
        r#""load_balancer": {"consistent_hash": {"use_source_ip": true, "minimum_ring_size": 1024}}"#,
    );
    assert_eq!(
        rendered,
        json!({"loadBalancer": {"consistentHash": {"useSourceIp": true, "ringHash": {"minimumRingSize": 1024}}}})
    );
    assert!(rendered["loadBalancer"]["consistentHash"]["minimumRingSize"].is_null());
}

#[test]
fn connection_pool_tcp_fields() {
    assert_eq!(
        tp(r#""connection_pool": {"tcp": {"max_connections": 100, "connect_timeout": "30ms"}}"#),
        json!({"connectionPool": {"tcp": {"maxConnections": 100, "connectTimeout": "30ms"}}})
    );
}

#[test]
fn connection_pool_http_fields() {
    assert_eq!(
        tp(
            r#""connection_pool": {"http": {"http1_max_pending_requests": 10, "http2_max_requests": 1000, "max_requests_per_connection": 1, "max_retries": 3}}"#
        ),
        json!({"connectionPool": {"http": {
            "http1MaxPendingRequests": 10,
            "http2MaxRequests": 1000,
            "maxRequestsPerConnection": 1,
            "maxRetries": 3,
        }}})
    );
}

#[test]
fn outlier_detection_fields() {
    assert_eq!(
        tp(
            r#""outlier_detection": {"consecutive_5xx_errors": 7, "consecutive_gateway_errors": 0, "interval": "5m", "base_ejection_time": "15m", "max_ejection_percent": 100}"#
        ),
        json!({"outlierDetection": {
            "consecutive5xxErrors": 7,
            "consecutiveGatewayErrors": 0,
            "interval": "5m",
            "baseEjectionTime": "15m",
            "maxEjectionPercent": 100,
        }})
    );
    // `{}` turns outlier detection on with Istio's defaults.
    assert_eq!(
        tp(r#""outlier_detection": {}"#),
        json!({"outlierDetection": {}})
    );
}

#[test]
fn every_client_tls_mode() {
    for (wire, rendered) in [
        (r#"{"mode": "DISABLE"}"#, json!({"mode": "DISABLE"})),
        (
            r#"{"mode": "ISTIO_MUTUAL"}"#,
            json!({"mode": "ISTIO_MUTUAL"}),
        ),
        (
            r#"{"mode": "ISTIO_MUTUAL", "sni": "mydb.prod.svc.cluster.local"}"#,
            json!({"mode": "ISTIO_MUTUAL", "sni": "mydb.prod.svc.cluster.local"}),
        ),
        (r#"{"mode": "SIMPLE"}"#, json!({"mode": "SIMPLE"})),
        (
            r#"{"mode": "SIMPLE", "credential_name": "ca-cert", "sni": "db.example.com"}"#,
            json!({"mode": "SIMPLE", "credentialName": "ca-cert", "sni": "db.example.com"}),
        ),
        (
            r#"{"mode": "MUTUAL", "credential_name": "client-cert"}"#,
            json!({"mode": "MUTUAL", "credentialName": "client-cert"}),
        ),
    ] {
        assert_eq!(
            tp(&format!(r#""tls": {wire}"#)),
            json!({ "tls": rendered }),
            "{wire}"
        );
    }
    assert_eq!(TlsMode::ALL.len(), 4);
}

#[test]
fn port_level_settings_keep_their_order_and_use_the_port_selector() {
    let rendered = tp(
        r#""load_balancer": {"simple": "ROUND_ROBIN"}, "ports": [{"port": 8081, "tls": {"mode": "DISABLE"}}, {"port": 80, "load_balancer": {"simple": "LEAST_REQUEST"}, "connection_pool": {"tcp": {"max_connections": 5}}, "outlier_detection": {"interval": "1s"}}]"#,
    );
    assert_eq!(
        rendered,
        json!({
            "loadBalancer": {"simple": "ROUND_ROBIN"},
            "portLevelSettings": [
                {"port": {"number": 8081}, "tls": {"mode": "DISABLE"}},
                {"port": {"number": 80},
                 "loadBalancer": {"simple": "LEAST_REQUEST"},
                 "connectionPool": {"tcp": {"maxConnections": 5}},
                 "outlierDetection": {"interval": "1s"}},
            ],
        })
    );
    // Per-port settings alone still make a trafficPolicy.
    assert_eq!(
        tp(r#""ports": [{"port": 9090, "tls": {"mode": "ISTIO_MUTUAL"}}]"#),
        json!({"portLevelSettings": [{"port": {"number": 9090}, "tls": {"mode": "ISTIO_MUTUAL"}}]})
    );
}

#[test]
fn an_intent_without_settings_renders_no_traffic_policy() {
    let only_mtls = parse(r#"{"version": 1, "mtls": "STRICT"}"#);
    assert!(!only_mtls.has_traffic_policy());
    let dr = render_destination_rule(&only_mtls, "mydb", "prod", "n", &vec![]);
    assert_eq!(dr["spec"], json!({"host": "mydb.prod.svc.cluster.local"}));
    assert!(parse(r#"{"version": 1, "tls": {"mode": "DISABLE"}}"#).has_traffic_policy());
}

#[test]
fn durations_are_rendered_in_one_exact_unit() {
    assert_eq!(
        tp(r#""outlier_detection": {"interval": "1m30s", "base_ejection_time": "1500ms"}"#),
        json!({"outlierDetection": {"interval": "90s", "baseEjectionTime": "1500ms"}})
    );
}

#[test]
fn peer_authentication_for_a_workload_and_namespace_wide() {
    let labels = vec![("owner".to_owned(), "beacon".to_owned())];
    let selector = workload_selector("mydb");
    let pa = render_peer_authentication(
        MtlsMode::Strict,
        "prod",
        "istio-beacon-k8s-prod-traffic-mydb",
        Some(&selector),
        &labels,
    );
    assert_eq!(
        pa,
        json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "istio-beacon-k8s-prod-traffic-mydb", "namespace": "prod",
                         "labels": {"owner": "beacon"}},
            "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
                     "mtls": {"mode": "STRICT"}},
        })
    );
    // Every mode of PeerAuthentication.MutualTLS.Mode; no selector: the whole namespace.
    for (mode, value) in [
        (MtlsMode::Unset, "UNSET"),
        (MtlsMode::Disable, "DISABLE"),
        (MtlsMode::Permissive, "PERMISSIVE"),
        (MtlsMode::Strict, "STRICT"),
    ] {
        let pa = render_peer_authentication(mode, "prod", "ns-wide", None, &vec![]);
        assert_eq!(pa["spec"], json!({"mtls": {"mode": value}}));
        assert_eq!(
            pa["metadata"],
            json!({"name": "ns-wide", "namespace": "prod"})
        );
        // An empty selector is namespace-wide too (never `matchLabels: {}`).
        let empty = render_peer_authentication(mode, "prod", "x", Some(&vec![]), &vec![]);
        assert_eq!(empty["spec"], json!({"mtls": {"mode": value}}));
    }
    assert_eq!(
        parse(r#"{"version": 1, "mtls": "PERMISSIVE"}"#).mtls,
        Some(MtlsMode::Permissive)
    );
}

/// Every field set, in code.
fn full_intent() -> TrafficIntent {
    TrafficIntent {
        service: None,
        policy: TrafficPolicy {
            load_balancer: Some(LoadBalancer::ConsistentHash(ConsistentHash {
                key: HashKey::HttpCookie(HttpCookie {
                    name: "session".into(),
                    path: Some("/".into()),
                    ttl: Some(Duration::from_secs(3600)),
                }),
                minimum_ring_size: Some(1024),
            })),
            connection_pool: Some(ConnectionPool {
                tcp: Some(TcpSettings {
                    max_connections: Some(100),
                    connect_timeout: Some(Duration::from_secs(5)),
                }),
                http: Some(HttpSettings {
                    http1_max_pending_requests: Some(10),
                    http2_max_requests: Some(100),
                    max_requests_per_connection: Some(1),
                    max_retries: Some(3),
                }),
            }),
            outlier_detection: Some(OutlierDetection {
                consecutive_5xx_errors: Some(5),
                consecutive_gateway_errors: Some(3),
                interval: Some(Duration::from_secs(10)),
                base_ejection_time: Some(Duration::from_secs(30)),
                max_ejection_percent: Some(50),
            }),
            tls: Some(ClientTls {
                mode: TlsMode::IstioMutual,
                credential_name: None,
                sni: None,
            }),
        },
        ports: vec![PortTrafficPolicy {
            port: 8080,
            policy: TrafficPolicy {
                load_balancer: Some(LoadBalancer::Simple(SimpleLb::LeastRequest)),
                ..TrafficPolicy::default()
            },
        }],
        mtls: Some(MtlsMode::Strict),
    }
}

const FULL_WIRE: &str = r#"{"version": 1, "load_balancer": {"consistent_hash": {"http_cookie": {"name": "session", "path": "/", "ttl": "1h"}, "minimum_ring_size": 1024}}, "connection_pool": {"tcp": {"max_connections": 100, "connect_timeout": "5s"}, "http": {"http1_max_pending_requests": 10, "http2_max_requests": 100, "max_requests_per_connection": 1, "max_retries": 3}}, "outlier_detection": {"consecutive_5xx_errors": 5, "consecutive_gateway_errors": 3, "interval": "10s", "base_ejection_time": "30s", "max_ejection_percent": 50}, "tls": {"mode": "ISTIO_MUTUAL"}, "ports": [{"port": 8080, "load_balancer": {"simple": "LEAST_REQUEST"}}], "mtls": "STRICT"}"#;

#[test]
fn the_wire_value_is_json_dumps_with_a_fixed_key_order_and_round_trips() {
    let intent = full_intent();
    assert_eq!(intent.to_json(), FULL_WIRE);
    assert_eq!(intent.validate(), Ok(()));
    assert_eq!(parse(FULL_WIRE), intent);
    // serde goes through the same value, and validates on the way in.
    assert_eq!(
        serde_json::to_value(&intent).expect("serialize"),
        intent.to_value()
    );
    let back: TrafficIntent = serde_json::from_str(FULL_WIRE).expect("deserialize");
    assert_eq!(back, intent);
    let bad = serde_json::from_str::<TrafficIntent>(r#"{"version": 1, "mtls": "strict"}"#)
        .expect_err("lowercase mode");
    assert!(
        bad.to_string().contains("traffic.mtls: must be one of"),
        "{bad}"
    );
    // Python's reader sees the same object.
    assert_eq!(
        serde_json::from_str::<Value>(FULL_WIRE).expect("json"),
        intent.to_value()
    );
    // `null` reads as absent (a Python writer dumping None).
    assert_eq!(
        parse(r#"{"version": 1, "load_balancer": null, "ports": null, "mtls": null}"#),
        TrafficIntent::default()
    );
    assert_eq!(TrafficIntent::default().to_json(), r#"{"version": 1}"#);
}

#[test]
fn the_full_intent_renders_every_field() {
    let dr = render_destination_rule(&full_intent(), "mydb", "prod", "n", &vec![]);
    assert_eq!(
        dr["spec"]["trafficPolicy"],
        json!({
            "loadBalancer": {"consistentHash": {
                "httpCookie": {"name": "session", "path": "/", "ttl": "1h"},
                "ringHash": {"minimumRingSize": 1024}}},
            "connectionPool": {
                "tcp": {"maxConnections": 100, "connectTimeout": "5s"},
                "http": {"http1MaxPendingRequests": 10, "http2MaxRequests": 100,
                         "maxRequestsPerConnection": 1, "maxRetries": 3}},
            "outlierDetection": {"consecutive5xxErrors": 5, "consecutiveGatewayErrors": 3,
                                 "interval": "10s", "baseEjectionTime": "30s",
                                 "maxEjectionPercent": 50},
            "tls": {"mode": "ISTIO_MUTUAL"},
            "portLevelSettings": [{"port": {"number": 8080}, "loadBalancer": {"simple": "LEAST_REQUEST"}}],
        })
    );
}

fn refused(body: &str) -> String {
    let text = format!(r#"{{"version": 1, {body}}}"#);
    match TrafficIntent::from_json(&text) {
        Ok(i) => panic!("{text} accepted as {i:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_values_are_refused_with_the_field_path_and_reason() {
    for (body, message) in [
        (
            r#""load_balancer": {}"#,
            "traffic.load_balancer: must set exactly one of: simple, consistent_hash",
        ),
        (
            r#""load_balancer": {"simple": "ROUND_ROBIN", "consistent_hash": {"use_source_ip": true}}"#,
            "traffic.load_balancer: must set exactly one of: simple, consistent_hash",
        ),
        (
            r#""load_balancer": {"simple": "UNSPECIFIED"}"#,
            "traffic.load_balancer.simple: must be one of: LEAST_CONN, ROUND_ROBIN, RANDOM, PASSTHROUGH, LEAST_REQUEST",
        ),
        (
            r#""load_balancer": {"simple": 1}"#,
            "traffic.load_balancer.simple: must be a string, not an integer",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"http_header_name": "a", "use_source_ip": true}}"#,
            "traffic.load_balancer.consistent_hash: must set exactly one of: http_header_name, http_cookie, use_source_ip, http_query_parameter_name",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"minimum_ring_size": 10}}"#,
            "traffic.load_balancer.consistent_hash: must set exactly one of: http_header_name, http_cookie, use_source_ip, http_query_parameter_name",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"use_source_ip": false}}"#,
            "traffic.load_balancer.consistent_hash.use_source_ip: must be true (to hash on something else, give that key instead)",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"http_header_name": "bad header"}}"#,
            "traffic.load_balancer.consistent_hash.http_header_name: must be an HTTP token (RFC 7230), 1 to 256 characters",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"http_header_name": ""}}"#,
            "traffic.load_balancer.consistent_hash.http_header_name: must be an HTTP token (RFC 7230), 1 to 256 characters",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"http_cookie": {}}}"#,
            "traffic.load_balancer.consistent_hash.http_cookie.name: missing (the cookie's name)",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"http_cookie": {"name": "s", "path": "app"}}}"#,
            "traffic.load_balancer.consistent_hash.http_cookie.path: must be a cookie path starting with '/' (visible ASCII, no ';'), 1 to 1024 characters",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"http_cookie": {"name": "s", "ttl": "1d"}}}"#,
            "traffic.load_balancer.consistent_hash.http_cookie.ttl: must be a duration like \"10s\", \"1m30s\" or \"100ms\" (whole numbers; units h, m, s, ms in that order)",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"http_query_parameter_name": "a&b"}}"#,
            "traffic.load_balancer.consistent_hash.http_query_parameter_name: must be a query parameter name ([A-Za-z0-9._~-]), 1 to 256 characters",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"use_source_ip": true, "minimum_ring_size": 0}}"#,
            "traffic.load_balancer.consistent_hash.minimum_ring_size: must be an integer in 1..=8388608",
        ),
        (
            r#""load_balancer": {"consistent_hash": {"use_source_ip": true, "minimum_ring_size": 8388609}}"#,
            "traffic.load_balancer.consistent_hash.minimum_ring_size: must be an integer in 1..=8388608",
        ),
        (
            r#""connection_pool": {}"#,
            "traffic.connection_pool: must set at least one of: tcp, http",
        ),
        (
            r#""connection_pool": {"tcp": {}}"#,
            "traffic.connection_pool.tcp: must set at least one of: max_connections, connect_timeout",
        ),
        (
            r#""connection_pool": {"http": {"max_retries": 0}}"#,
            "traffic.connection_pool.http.max_retries: must be an integer in 1..=2147483647",
        ),
        (
            r#""connection_pool": {"http": {"http2_max_requests": 2147483648}}"#,
            "traffic.connection_pool.http.http2_max_requests: must be an integer in 1..=2147483647",
        ),
        (
            r#""connection_pool": {"http": {"http1_max_pending_requests": 1.0}}"#,
            "traffic.connection_pool.http.http1_max_pending_requests: must be an integer in 1..=2147483647, not a float",
        ),
        (
            r#""connection_pool": {"http": {"max_requests_per_connection": true}}"#,
            "traffic.connection_pool.http.max_requests_per_connection: must be an integer in 1..=2147483647, not a boolean",
        ),
        (
            r#""connection_pool": {"tcp": {"max_connections": "100"}}"#,
            "traffic.connection_pool.tcp.max_connections: must be an integer in 1..=2147483647, not a string",
        ),
        (
            r#""connection_pool": {"tcp": {"connect_timeout": "0s"}}"#,
            "traffic.connection_pool.tcp.connect_timeout: must be between 1ms and 8760h",
        ),
        (
            r#""connection_pool": {"tcp": {"connect_timeout": "8761h"}}"#,
            "traffic.connection_pool.tcp.connect_timeout: must be between 1ms and 8760h",
        ),
        (
            r#""connection_pool": {"tcp": {"connect_timeout": 5}}"#,
            "traffic.connection_pool.tcp.connect_timeout: must be a string, not an integer",
        ),
        (
            r#""outlier_detection": {"consecutive_5xx_errors": -1}"#,
            "traffic.outlier_detection.consecutive_5xx_errors: must be an integer in 0..=4294967295",
        ),
        (
            r#""outlier_detection": {"consecutive_gateway_errors": 4294967296}"#,
            "traffic.outlier_detection.consecutive_gateway_errors: must be an integer in 0..=4294967295",
        ),
        (
            r#""outlier_detection": {"max_ejection_percent": 101}"#,
            "traffic.outlier_detection.max_ejection_percent: must be an integer in 1..=100",
        ),
        (
            r#""outlier_detection": {"max_ejection_percent": 0}"#,
            "traffic.outlier_detection.max_ejection_percent: must be an integer in 1..=100",
        ),
        (
            r#""outlier_detection": {"interval": "1.5s"}"#,
            "traffic.outlier_detection.interval: must be a duration like \"10s\", \"1m30s\" or \"100ms\" (whole numbers; units h, m, s, ms in that order)",
        ),
        (
            r#""outlier_detection": {"base_ejection_time": "30"}"#,
            "traffic.outlier_detection.base_ejection_time: must be a duration like \"10s\", \"1m30s\" or \"100ms\" (whole numbers; units h, m, s, ms in that order)",
        ),
        (r#""tls": {}"#, "traffic.tls.mode: missing (the TLS mode)"),
        (
            r#""tls": {"mode": "istio_mutual"}"#,
            "traffic.tls.mode: must be one of: DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL",
        ),
        (
            r#""tls": {"mode": "MUTUAL"}"#,
            "traffic.tls.credential_name: required with mode MUTUAL (the Secret holding the client certificate)",
        ),
        (
            r#""tls": {"mode": "ISTIO_MUTUAL", "credential_name": "x"}"#,
            "traffic.tls.credential_name: not allowed with mode ISTIO_MUTUAL (only SIMPLE or MUTUAL)",
        ),
        (
            r#""tls": {"mode": "DISABLE", "sni": "a.b"}"#,
            "traffic.tls.sni: not allowed with mode DISABLE",
        ),
        (
            r#""tls": {"mode": "SIMPLE", "credential_name": "Bad_Name"}"#,
            "traffic.tls.credential_name: must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'), 1 to 253 characters",
        ),
        (
            r#""ports": {}"#,
            "traffic.ports: must be a list, not an object",
        ),
        (
            r#""ports": [{"tls": {"mode": "DISABLE"}}]"#,
            "traffic.ports.0.port: missing (the Service port)",
        ),
        (
            r#""ports": [{"port": 0, "tls": {"mode": "DISABLE"}}]"#,
            "traffic.ports.0.port: must be an integer in 1..=65535",
        ),
        (
            r#""ports": [{"port": 65536, "tls": {"mode": "DISABLE"}}]"#,
            "traffic.ports.0.port: must be an integer in 1..=65535",
        ),
        (
            r#""ports": [{"port": 80, "tls": {"mode": "DISABLE"}}, {"port": 80, "tls": {"mode": "SIMPLE"}}]"#,
            "traffic.ports.1.port: port 80 is listed more than once",
        ),
        (
            r#""ports": [{"port": 80, "mtls": "STRICT"}]"#,
            "traffic.ports.0.mtls: unknown key (expected one of: port, load_balancer, connection_pool, outlier_detection, tls)",
        ),
        (
            r#""ports": [null]"#,
            "traffic.ports.0: must be an object, not null",
        ),
        (
            r#""service": "MyDB""#,
            "traffic.service: must be a Service name (DNS-1035 label: lowercase letters, digits and '-', starting with a letter), 1 to 63 characters",
        ),
        (
            r#""service": "1db""#,
            "traffic.service: must be a Service name (DNS-1035 label: lowercase letters, digits and '-', starting with a letter), 1 to 63 characters",
        ),
        (
            r#""service": "db-""#,
            "traffic.service: must be a Service name (DNS-1035 label: lowercase letters, digits and '-', starting with a letter), 1 to 63 characters",
        ),
        (
            r#""service": ["db"]"#,
            "traffic.service: must be a string, not a list",
        ),
        (
            r#""mtls": "MUTUAL""#,
            "traffic.mtls: must be one of: UNSET, DISABLE, PERMISSIVE, STRICT",
        ),
        (
            r#""loadBalancer": {"simple": "RANDOM"}"#,
            "traffic.loadBalancer: unknown key (expected one of: version, service, load_balancer, connection_pool, outlier_detection, tls, ports, mtls)",
        ),
    ] {
        assert_eq!(refused(body), message, "{body}");
    }
    let many: Vec<String> = (1..=129)
        .map(|p| format!(r#"{{"port": {p}, "tls": {{"mode": "DISABLE"}}}}"#))
        .collect();
    assert_eq!(
        refused(&format!(r#""ports": [{}]"#, many.join(", "))),
        "traffic.ports: at most 128 entries"
    );
}

#[test]
fn whole_value_errors() {
    assert!(matches!(
        TrafficIntent::from_json(r#"{"version": 3}"#),
        Err(TrafficError::UnsupportedVersion { found }) if found == "3"
    ));
    assert!(matches!(
        TrafficIntent::from_json("{nope"),
        Err(TrafficError::InvalidJson(_))
    ));
    assert!(matches!(
        parse_traffic(Some("\"text\"")),
        Err(TrafficError::Invalid { .. })
    ));
    let e = TrafficIntent::from_json(r#"{"version": 1, "tls": {"mode": "X"}}"#).expect_err("bad");
    assert_eq!(
        e.path().map(ToString::to_string).as_deref(),
        Some("tls.mode")
    );
}

#[test]
fn validate_catches_intents_built_in_code() {
    let mut intent = full_intent();
    intent.ports[0].policy = TrafficPolicy::default();
    assert_eq!(
        intent.validate().expect_err("empty port").to_string(),
        "traffic.ports.0: must set at least one of: load_balancer, connection_pool, outlier_detection, tls"
    );
    let mut intent = full_intent();
    if let Some(cp) = &mut intent.policy.connection_pool {
        cp.tcp = Some(TcpSettings {
            max_connections: Some(0),
            connect_timeout: None,
        });
    }
    assert_eq!(
        intent.validate().expect_err("zero").to_string(),
        "traffic.connection_pool.tcp.max_connections: must be an integer in 1..=2147483647"
    );
}

#[test]
fn names() {
    // The scheme: <beacon-app>-<beacon-model>-traffic-<consumer-app>, verbatim when valid.
    assert_eq!(
        traffic_name("istio-beacon-k8s", "prod", "mydb"),
        "istio-beacon-k8s-prod-traffic-mydb"
    );
    assert_eq!(
        traffic_name(
            "istio-beacon-k8s",
            "prod",
            "remote-0123456789abcdef0123456789abcdef"
        ),
        "istio-beacon-k8s-prod-traffic-remote-0123456789abcdef0123456789abcdef"
    );
    // Otherwise cleaned up and suffixed with a hash of the inputs.
    let upper = traffic_name("Beacon", "prod", "db");
    assert!(upper.starts_with("beacon-prod-traffic-db-"), "{upper}");
    assert_ne!(upper, traffic_name("beacon", "prod", "db"));
    assert_ne!(
        traffic_name("b", "m", "a_b"),
        traffic_name("b", "m", "a.b_")
    );
    let long = traffic_name("beacon", "prod", &"x".repeat(300));
    assert_eq!(long.len(), 253);
    let weird = traffic_name("", "", "");
    assert!(weird.starts_with("traffic-"), "{weird}");
    let only_symbols = traffic_name("_", "_", "_");
    assert!(only_symbols.starts_with("traffic-"), "{only_symbols}");
    // Deterministic.
    assert_eq!(traffic_name("a", "B", "c"), traffic_name("a", "B", "c"));
}

#[test]
fn the_readme_example_is_the_json_it_shows() {
    let intent = TrafficIntent {
        service: None,
        policy: TrafficPolicy {
            load_balancer: Some(LoadBalancer::ConsistentHash(ConsistentHash {
                key: HashKey::HttpCookie(HttpCookie {
                    name: "session".into(),
                    path: None,
                    ttl: None,
                }),
                minimum_ring_size: None,
            })),
            outlier_detection: Some(OutlierDetection {
                consecutive_5xx_errors: Some(5),
                ..Default::default()
            }),
            ..Default::default()
        },
        ports: vec![],
        mtls: Some(MtlsMode::Strict),
    };
    let shown = r#"{"version": 1, "load_balancer": {"consistent_hash": {"http_cookie": {"name": "session"}}}, "outlier_detection": {"consecutive_5xx_errors": 5}, "mtls": "STRICT"}"#;
    assert_eq!(intent.to_json(), shown);
    assert_eq!(parse(shown), intent);
}

#[test]
fn a_service_other_than_the_application() {
    let text = r#"{"version": 1, "service": "mydb-api", "load_balancer": {"simple": "RANDOM"}}"#;
    let intent = parse(text);
    assert_eq!(intent.service.as_deref(), Some("mydb-api"));
    assert_eq!(intent.to_json(), text);
    assert_eq!(intent.service_or("mydb"), "mydb-api");
    assert_eq!(TrafficIntent::default().service_or("mydb"), "mydb");
    let dr = render_destination_rule(&intent, intent.service_or("mydb"), "prod", "n", &vec![]);
    assert_eq!(dr["spec"]["host"], "mydb-api.prod.svc.cluster.local");
}

//! Properties of traffic intents: rendering is total and always valid, reading never panics.
//!
//! - every valid intent (generated in code) survives its wire encoding, and its
//!   DestinationRule and PeerAuthentication validate against the real Istio 1.29.6 CRD
//!   schemas (`openAPIV3Schema` of `v1`, from `crates/charm-sim/crds/`, checked by the
//!   `jsonschema` crate with every object closed to unknown keys, so a misspelt field fails)
//!   and pass the rules of istiod's validating webhook that concern these fields
//!   (istio/istio 1.29.6 `pkg/config/validation/validation.go`: `validateTrafficPolicy`,
//!   `validatePortTrafficPolicies`, `validateConnectionPool`, `validateOutlierDetection`,
//!   `validateLoadBalancer`, and `agent.ValidateTLS` / `agent.ValidateDuration`) and the
//!   CRD's CEL rule on durations (`duration(self) >= duration('1ms')`);
//! - hostile JSON, shaped like the schema or not, is either read (and then renders as
//!   above) or refused with a reason naming a `traffic` field, never a panic;
//! - names are always DNS-1123 subdomains.

use proptest::prelude::*;
use serde_json::{Value, json};
use service_mesh::traffic::{
    ClientTls, ConnectionPool, ConsistentHash, Duration, HashKey, HttpCookie, HttpSettings,
    LoadBalancer, MtlsMode, OutlierDetection, PortTrafficPolicy, SimpleLb, TcpSettings, TlsMode,
    TrafficError, TrafficIntent, TrafficPolicy, render_destination_rule,
    render_peer_authentication, traffic_name, workload_selector,
};

const DR_CRD: &str =
    include_str!("../../charm-sim/crds/networking.istio.io__v1__DestinationRule.yaml");
const PA_CRD: &str =
    include_str!("../../charm-sim/crds/security.istio.io__v1__PeerAuthentication.yaml");

/// Close every object schema that lists its properties (the API server would prune
/// unknown fields silently; here they must not exist at all).
fn close(node: &mut Value) {
    match node {
        Value::Object(m) => {
            if m.contains_key("properties")
                && !m.contains_key("additionalProperties")
                && !m.contains_key("x-kubernetes-preserve-unknown-fields")
            {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            for v in m.values_mut() {
                close(v);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(close),
        _ => {}
    }
}

fn validator(crd_yaml: &str) -> jsonschema::Validator {
    let crd: Value = serde_yaml_ng::from_str(crd_yaml).expect("CRD YAML");
    let version = crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["name"] == "v1")
        .expect("v1 served");
    let mut schema = version["schema"]["openAPIV3Schema"].clone();
    let props = schema["properties"]
        .as_object_mut()
        .expect("root properties");
    props.insert("apiVersion".into(), json!({"type": "string"}));
    props.insert("kind".into(), json!({"type": "string"}));
    props.insert(
        "metadata".into(),
        json!({"type": "object", "properties": {
            "name": {"type": "string"}, "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}),
    );
    close(&mut schema);
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&schema)
        .expect("schema compiles")
}

fn dr_validator() -> &'static jsonschema::Validator {
    static V: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    V.get_or_init(|| validator(DR_CRD))
}

fn pa_validator() -> &'static jsonschema::Validator {
    static V: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    V.get_or_init(|| validator(PA_CRD))
}

fn schema_errors(v: &jsonschema::Validator, obj: &Value) -> Vec<String> {
    v.iter_errors(obj)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// A Go/CEL duration as the renderer writes it: one whole unit, at least 1ms, whole ms.
fn duration_ms(s: &str) -> Option<u64> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let scale = match unit {
        "h" => 3_600_000,
        "m" => 60_000,
        "s" => 1000,
        "ms" => 1,
        _ => return None,
    };
    Some(n * scale)
}

/// istiod's webhook rules for the parts of a traffic policy we render.
fn istiod_errors(tp: &Value, port_level: bool) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(m) = tp.as_object() else {
        return vec!["traffic policy not an object".into()];
    };
    let fields = ["loadBalancer", "connectionPool", "outlierDetection", "tls"];
    if !fields.iter().any(|f| m.contains_key(*f))
        && (port_level || !m.contains_key("portLevelSettings"))
    {
        errs.push("traffic policy must have at least one field".into());
    }
    let dur = |v: &Value, min: u64, what: &str, errs: &mut Vec<String>| match v
        .as_str()
        .and_then(duration_ms)
    {
        Some(ms) if ms >= min => {}
        _ => errs.push(format!("{what}: bad duration {v}")),
    };
    if let Some(cp) = m.get("connectionPool") {
        if cp.get("tcp").is_none() && cp.get("http").is_none() {
            errs.push("connection pool must have at least one field".into());
        }
        if let Some(t) = cp["tcp"].get("connectTimeout") {
            dur(t, 1, "connectTimeout", &mut errs);
        }
        for (k, v) in cp["http"].as_object().into_iter().flatten() {
            if v.as_i64().is_none_or(|n| n < 0) {
                errs.push(format!("{k} must be non-negative"));
            }
        }
        if cp["tcp"]["maxConnections"].as_i64().is_some_and(|n| n < 0) {
            errs.push("max connections must be non-negative".into());
        }
    }
    if let Some(od) = m.get("outlierDetection") {
        for k in ["interval", "baseEjectionTime"] {
            if let Some(v) = od.get(k) {
                dur(v, 1, k, &mut errs);
            }
        }
        if let Some(p) = od.get("maxEjectionPercent")
            && !p.as_i64().is_some_and(|n| (0..=100).contains(&n))
        {
            errs.push("percentage not in range 0..100".into());
        }
    }
    if let Some(ch) = m
        .get("loadBalancer")
        .and_then(|lb| lb.get("consistentHash"))
    {
        if let Some(c) = ch.get("httpCookie") {
            if c["name"].as_str().is_none_or(str::is_empty) {
                errs.push("name required for HttpCookie".into());
            }
            if let Some(ttl) = c.get("ttl") {
                dur(ttl, 0, "ttl", &mut errs);
            }
        }
        if ch.get("minimumRingSize").is_some() {
            errs.push("deprecated minimumRingSize (warning)".into());
        }
    }
    if let Some(tls) = m.get("tls") {
        let mode = tls["mode"].as_str().unwrap_or("");
        let cred = tls.get("credentialName").is_some();
        if mode == "MUTUAL" && !cred {
            errs.push("client certificate required for mutual tls".into());
        }
    }
    if let Some(pls) = m.get("portLevelSettings") {
        for p in pls.as_array().into_iter().flatten() {
            if p["port"]["number"].as_u64().is_none() {
                errs.push("portTrafficPolicy must have valid port".into());
            }
            errs.extend(istiod_errors(p, true));
        }
    }
    errs
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The rendered objects of `intent`, checked.
fn check_renders(intent: &TrafficIntent) {
    let labels = vec![(
        "app.kubernetes.io/instance".to_owned(),
        "prod-istio-beacon-k8s".to_owned(),
    )];
    let name = traffic_name("istio-beacon-k8s", "prod", "mydb");
    let service = intent.service_or("mydb");
    let dr = render_destination_rule(intent, service, "prod", &name, &labels);
    let errors = schema_errors(dr_validator(), &dr);
    assert!(errors.is_empty(), "{dr}\n{errors:#?}");
    assert_eq!(
        dr["spec"]["host"],
        format!("{service}.prod.svc.cluster.local")
    );
    assert!(is_dns_subdomain(dr["spec"]["host"].as_str().expect("host")));
    match dr["spec"].get("trafficPolicy") {
        Some(tp) => {
            assert!(intent.has_traffic_policy());
            let errs = istiod_errors(tp, false);
            assert!(errs.is_empty(), "{dr}\n{errs:#?}");
        }
        None => assert!(!intent.has_traffic_policy()),
    }
    if let Some(mode) = intent.mtls {
        let selector = workload_selector("mydb");
        for sel in [Some(&selector), None] {
            let pa = render_peer_authentication(mode, "prod", &name, sel, &labels);
            let errors = schema_errors(pa_validator(), &pa);
            assert!(errors.is_empty(), "{pa}\n{errors:#?}");
        }
    }
}

fn duration(min_ms: u64) -> impl Strategy<Value = Duration> {
    prop_oneof![
        (min_ms..=100_000u64).prop_map(Duration::from_millis),
        (1..=8760u64).prop_map(|h| Duration::from_millis(h * 3_600_000)),
        Just(Duration::MAX),
        Just(Duration::from_millis(min_ms)),
    ]
}

fn count() -> impl Strategy<Value = u32> {
    prop_oneof![1..=1000u32, Just(1u32), Just(i32::MAX as u32)]
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    prop::option::of(s)
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}"
}

fn hash_key() -> BoxedStrategy<HashKey> {
    prop_oneof![
        token().prop_map(HashKey::HttpHeaderName),
        (token(), opt("/[!-:<-~]{0,30}"), opt(duration(0)))
            .prop_map(|(name, path, ttl)| { HashKey::HttpCookie(HttpCookie { name, path, ttl }) }),
        Just(HashKey::UseSourceIp),
        "[A-Za-z0-9._~-]{1,40}".prop_map(HashKey::HttpQueryParameterName),
    ]
    .boxed()
}

fn load_balancer() -> BoxedStrategy<LoadBalancer> {
    prop_oneof![
        prop::sample::select(SimpleLb::ALL.to_vec()).prop_map(LoadBalancer::Simple),
        (
            hash_key(),
            opt(prop_oneof![1..=8_388_608u32, Just(8_388_608u32)])
        )
            .prop_map(|(key, minimum_ring_size)| LoadBalancer::ConsistentHash(
                ConsistentHash {
                    key,
                    minimum_ring_size
                }
            )),
    ]
    .boxed()
}

fn connection_pool() -> BoxedStrategy<ConnectionPool> {
    let tcp = (opt(count()), opt(duration(1)))
        .prop_filter("at least one", |(a, b)| a.is_some() || b.is_some())
        .prop_map(|(max_connections, connect_timeout)| TcpSettings {
            max_connections,
            connect_timeout,
        });
    let http = (opt(count()), opt(count()), opt(count()), opt(count()))
        .prop_filter("at least one", |(a, b, c, d)| {
            a.is_some() || b.is_some() || c.is_some() || d.is_some()
        })
        .prop_map(|(a, b, c, d)| HttpSettings {
            http1_max_pending_requests: a,
            http2_max_requests: b,
            max_requests_per_connection: c,
            max_retries: d,
        });
    (opt(tcp), opt(http))
        .prop_filter("at least one", |(t, h)| t.is_some() || h.is_some())
        .prop_map(|(tcp, http)| ConnectionPool { tcp, http })
        .boxed()
}

fn outlier_detection() -> BoxedStrategy<OutlierDetection> {
    (
        opt(prop_oneof![0..=100u32, Just(u32::MAX)]),
        opt(prop_oneof![0..=100u32, Just(u32::MAX)]),
        opt(duration(1)),
        opt(duration(1)),
        opt(1..=100u32),
    )
        .prop_map(|(a, b, c, d, e)| OutlierDetection {
            consecutive_5xx_errors: a,
            consecutive_gateway_errors: b,
            interval: c,
            base_ejection_time: d,
            max_ejection_percent: e,
        })
        .boxed()
}

fn tls() -> BoxedStrategy<ClientTls> {
    let name = "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]{1,10}){0,2}";
    (
        prop::sample::select(TlsMode::ALL.to_vec()),
        opt(name),
        opt(name),
    )
        .prop_map(|(mode, cred, sni)| ClientTls {
            mode,
            credential_name: match mode {
                TlsMode::Mutual => Some(cred.unwrap_or_else(|| "client-cert".into())),
                TlsMode::Simple => cred,
                _ => None,
            },
            sni: if mode == TlsMode::Disable { None } else { sni },
        })
        .boxed()
}

fn policy() -> BoxedStrategy<TrafficPolicy> {
    (
        opt(load_balancer()),
        opt(connection_pool()),
        opt(outlier_detection()),
        opt(tls()),
    )
        .prop_map(|(a, b, c, d)| TrafficPolicy {
            load_balancer: a,
            connection_pool: b,
            outlier_detection: c,
            tls: d,
        })
        .boxed()
}

fn intent() -> BoxedStrategy<TrafficIntent> {
    let ports = prop::collection::btree_map(
        1..=65535u16,
        policy().prop_filter("port entries set something", |p| !p.is_empty()),
        0..4,
    );
    (
        opt("[a-z]([a-z0-9-]{0,30}[a-z0-9])?"),
        policy(),
        ports,
        opt(prop::sample::select(MtlsMode::ALL.to_vec())),
    )
        .prop_map(|(service, policy, ports, mtls)| TrafficIntent {
            service,
            policy,
            ports: ports
                .into_iter()
                .map(|(port, policy)| PortTrafficPolicy { port, policy })
                .collect(),
            mtls,
        })
        .boxed()
}

const KEYS: &[&str] = &[
    "version",
    "service",
    "load_balancer",
    "simple",
    "consistent_hash",
    "http_header_name",
    "http_cookie",
    "name",
    "path",
    "ttl",
    "use_source_ip",
    "http_query_parameter_name",
    "minimum_ring_size",
    "connection_pool",
    "tcp",
    "http",
    "max_connections",
    "connect_timeout",
    "http1_max_pending_requests",
    "http2_max_requests",
    "max_requests_per_connection",
    "max_retries",
    "outlier_detection",
    "consecutive_5xx_errors",
    "consecutive_gateway_errors",
    "interval",
    "base_ejection_time",
    "max_ejection_percent",
    "tls",
    "mode",
    "credential_name",
    "sni",
    "ports",
    "port",
    "mtls",
];

/// JSON text shaped like the schema: known keys, edge values, wrong types, junk.
fn hostile_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("NaN".to_owned()),
        Just("-Infinity".to_owned()),
        Just("1e400".to_owned()),
        Just("123456789012345678901234567890".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        (0..=70000i64).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        prop::sample::select(vec![
            "\"10s\"",
            "\"0s\"",
            "\"1m30s\"",
            "\"1.5s\"",
            "\"-1s\"",
            "\"1d\"",
            "\"\"",
            "\"LEAST_REQUEST\"",
            "\"BOGUS\"",
            "\"STRICT\"",
            "\"MUTUAL\"",
            "\"ISTIO_MUTUAL\"",
            "\"x-user\"",
            "\"/\"",
            "\"a b\"",
            "\"\\u00e9\"",
            "\"\\ud83d\\ude00\"",
            "\"8760h\"",
            "\"8761h\"",
            "\"99999999999999h\"",
        ])
        .prop_map(str::to_owned),
        "\"[ -~]{0,12}\"".prop_map(|s| s.replace('\\', "\\\\")),
    ]
}

fn hostile_value() -> impl Strategy<Value = String> {
    hostile_leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
                        "[a-z_]{1,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| {
                let body: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("\"{k}\": {v}"))
                    .collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

/// A hostile top-level document: usually a version-1 object, sometimes anything.
fn hostile_document() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(
            (prop::sample::select(KEYS.to_vec()), hostile_value()),
            0..6
        )
        .prop_map(|kv| {
            let mut body = vec!["\"version\": 1".to_owned()];
            body.extend(kv.into_iter().map(|(k, v)| format!("\"{k}\": {v}")));
            format!("{{{}}}", body.join(", "))
        }),
        1 => hostile_value(),
        1 => any::<String>(),
    ]
}

/// A read intent, or a reason pointing into `traffic`.
fn check_read(text: &str) {
    match TrafficIntent::from_json(text) {
        Ok(intent) => {
            // Accepted values are valid ones: they round-trip and render.
            assert_eq!(intent.validate(), Ok(()), "{text}");
            assert_eq!(
                TrafficIntent::from_json(&intent.to_json()).as_ref(),
                Ok(&intent)
            );
            check_renders(&intent);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("traffic"), "{msg}");
            if let TrafficError::Invalid { reason, .. } = &e {
                assert!(!reason.is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_valid_intent_round_trips_and_renders_valid_objects(intent in intent()) {
        prop_assert_eq!(intent.validate(), Ok(()));
        let text = intent.to_json();
        prop_assert_eq!(TrafficIntent::from_json(&text), Ok(intent.clone()));
        // The wire text is what Python's json.dumps writes for the same object.
        let reparsed: Value = serde_json::from_str(&text).expect("JSON");
        prop_assert_eq!(service_mesh::pyjson::dumps(&reparsed), text);
        check_renders(&intent);
    }

    #[test]
    fn hostile_input_is_read_or_refused_with_a_reason(text in hostile_document()) {
        check_read(&text);
    }

    #[test]
    fn one_bad_field_in_a_valid_intent_is_refused_at_its_path(
        intent in intent(),
        junk in hostile_leaf(),
        pick in any::<prop::sample::Index>(),
    ) {
        // Replace one leaf of a valid wire value with junk: either still valid (and then it
        // renders), or refused naming that leaf's path (or its parent's, for rules across
        // keys).
        let mut value = intent.to_value();
        let mut leaves = Vec::new();
        collect_leaves(&value, &mut Vec::new(), &mut leaves);
        let path = pick.get(&leaves).clone();
        const SENTINEL: &str = "\u{0}junk";
        set(&mut value, &path, Value::String(SENTINEL.to_owned()));
        // Spliced in as raw text: NaN, Infinity and huge numbers have no serde_json value.
        let text = service_mesh::pyjson::dumps(&value).replacen("\"\\u0000junk\"", &junk, 1);
        prop_assert!(!text.contains("junk\""), "{}", text);
        check_read(&text);
        if let Err(TrafficError::Invalid { path: at, .. }) = TrafficIntent::from_json(&text) {
            let shown = at.to_string();
            let target = path.join(".");
            let parent = path[..path.len() - 1].join(".");
            prop_assert!(
                target.starts_with(&shown) || shown.starts_with(&parent),
                "error at {}, junk at {}", shown, target
            );
        }
    }

    #[test]
    fn names_are_always_dns_subdomains(
        app in any::<String>(),
        model in "[a-z0-9-]{0,70}",
        consumer in prop_oneof!["[a-z][a-z0-9-]{0,60}", any::<String>()],
    ) {
        let name = traffic_name(&app, &model, &consumer);
        prop_assert!(is_dns_subdomain(&name), "{name:?}");
        prop_assert!(!name.is_empty() && name.len() <= 253);
        prop_assert_eq!(&name, &traffic_name(&app, &model, &consumer));
    }
}

fn collect_leaves(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                at.push(k.clone());
                collect_leaves(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(i.to_string());
                collect_leaves(x, at, out);
                at.pop();
            }
        }
        _ => out.push(at.clone()),
    }
}

fn set(v: &mut Value, path: &[String], new: Value) {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Object(m) => m.entry(p.clone()).or_insert(Value::Null),
            Value::Array(a) => &mut a[p.parse::<usize>().expect("index")],
            _ => return,
        };
    }
    *cur = new;
}

#[test]
fn the_schemas_catch_what_they_should() {
    // The validator is not vacuous: the example of a bad value, a misspelt field,
    // a wrong type and the deprecated-but-valid field.
    let base = |tp: Value| {
        json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
               "metadata": {"name": "x", "namespace": "prod"},
               "spec": {"host": "mydb.prod.svc.cluster.local", "trafficPolicy": tp}})
    };
    let v = dr_validator();
    assert!(!schema_errors(v, &base(json!({"loadBalancer": {"simple": "BOGUS"}}))).is_empty());
    assert!(!schema_errors(v, &base(json!({"loadBalancr": {"simple": "RANDOM"}}))).is_empty());
    assert!(
        !schema_errors(
            v,
            &base(json!({"connectionPool": {"tcp": {"maxConnections": "1"}}}))
        )
        .is_empty()
    );
    assert!(
        !schema_errors(
            v,
            &base(json!({"loadBalancer": {"simple": "RANDOM", "consistentHash": {"useSourceIp": true}}}))
        )
        .is_empty(),
        "simple and consistentHash are a oneOf"
    );
    assert!(schema_errors(v, &base(json!({"loadBalancer": {"consistentHash": {"useSourceIp": true, "minimumRingSize": 5}}}))).is_empty());
    let pa = |spec: Value| {
        json!({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
               "metadata": {"name": "x", "namespace": "prod"}, "spec": spec})
    };
    assert!(
        !schema_errors(
            pa_validator(),
            &pa(json!({"mtls": {"mode": "ISTIO_MUTUAL"}}))
        )
        .is_empty()
    );
    assert!(schema_errors(pa_validator(), &pa(json!({"mtls": {"mode": "STRICT"}}))).is_empty());
    // And the istiod rules, on objects the renderer never makes.
    assert!(!istiod_errors(&json!({}), false).is_empty());
    assert!(!istiod_errors(&json!({"tls": {"mode": "MUTUAL"}}), false).is_empty());
    assert!(!istiod_errors(&json!({"outlierDetection": {"interval": "0ms"}}), false).is_empty());
}

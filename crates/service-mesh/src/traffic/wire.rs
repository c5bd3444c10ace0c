//! Writing a `traffic` value: the wire keys in a fixed order, absent settings left out,
//! `json.dumps` spacing (through [`crate::pyjson`]). `serde` goes through the same value.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::{
    ClientTls, ConnectionPool, ConsistentHash, HashKey, LoadBalancer, OutlierDetection,
    TRAFFIC_VERSION, TrafficIntent, TrafficPolicy,
};
use crate::pyjson::{self, PyValue};

fn put<T: Into<Value>>(m: &mut Map<String, Value>, k: &str, v: Option<T>) {
    if let Some(v) = v {
        m.insert(k.to_owned(), v.into());
    }
}

fn load_balancer(lb: &LoadBalancer) -> Value {
    match lb {
        LoadBalancer::Simple(s) => json!({ "simple": s.value() }),
        LoadBalancer::ConsistentHash(ch) => json!({ "consistent_hash": consistent_hash(ch) }),
    }
}

fn consistent_hash(ch: &ConsistentHash) -> Value {
    let mut m = Map::new();
    match &ch.key {
        HashKey::HttpHeaderName(h) => put(&mut m, "http_header_name", Some(h.as_str())),
        HashKey::HttpCookie(c) => {
            let mut cookie = Map::new();
            cookie.insert("name".into(), c.name.clone().into());
            put(&mut cookie, "path", c.path.as_deref());
            put(&mut cookie, "ttl", c.ttl.map(|d| d.to_string()));
            m.insert("http_cookie".into(), cookie.into());
        }
        HashKey::UseSourceIp => put(&mut m, "use_source_ip", Some(true)),
        HashKey::HttpQueryParameterName(q) => {
            put(&mut m, "http_query_parameter_name", Some(q.as_str()));
        }
    }
    put(&mut m, "minimum_ring_size", ch.minimum_ring_size);
    m.into()
}

fn connection_pool(cp: &ConnectionPool) -> Value {
    let mut m = Map::new();
    if let Some(t) = &cp.tcp {
        let mut tcp = Map::new();
        put(&mut tcp, "max_connections", t.max_connections);
        put(
            &mut tcp,
            "connect_timeout",
            t.connect_timeout.map(|d| d.to_string()),
        );
        m.insert("tcp".into(), tcp.into());
    }
    if let Some(h) = &cp.http {
        let mut http = Map::new();
        put(
            &mut http,
            "http1_max_pending_requests",
            h.http1_max_pending_requests,
        );
        put(&mut http, "http2_max_requests", h.http2_max_requests);
        put(
            &mut http,
            "max_requests_per_connection",
            h.max_requests_per_connection,
        );
        put(&mut http, "max_retries", h.max_retries);
        m.insert("http".into(), http.into());
    }
    m.into()
}

fn outlier_detection(od: &OutlierDetection) -> Value {
    let mut m = Map::new();
    put(&mut m, "consecutive_5xx_errors", od.consecutive_5xx_errors);
    put(
        &mut m,
        "consecutive_gateway_errors",
        od.consecutive_gateway_errors,
    );
    put(&mut m, "interval", od.interval.map(|d| d.to_string()));
    put(
        &mut m,
        "base_ejection_time",
        od.base_ejection_time.map(|d| d.to_string()),
    );
    put(&mut m, "max_ejection_percent", od.max_ejection_percent);
    m.into()
}

fn tls(t: &ClientTls) -> Value {
    let mut m = Map::new();
    m.insert("mode".into(), t.mode.value().into());
    put(&mut m, "credential_name", t.credential_name.as_deref());
    put(&mut m, "sni", t.sni.as_deref());
    m.into()
}

fn policy_into(m: &mut Map<String, Value>, p: &TrafficPolicy) {
    put(
        m,
        "load_balancer",
        p.load_balancer.as_ref().map(load_balancer),
    );
    put(
        m,
        "connection_pool",
        p.connection_pool.as_ref().map(connection_pool),
    );
    put(
        m,
        "outlier_detection",
        p.outlier_detection.as_ref().map(outlier_detection),
    );
    put(m, "tls", p.tls.as_ref().map(tls));
}

impl TrafficIntent {
    /// The wire value: `version`, the default policy's keys, `ports`, `mtls`, in that order.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("version".into(), TRAFFIC_VERSION.into());
        put(&mut m, "service", self.service.as_deref());
        policy_into(&mut m, &self.policy);
        if !self.ports.is_empty() {
            let ports = self
                .ports
                .iter()
                .map(|p| {
                    let mut pm = Map::new();
                    pm.insert("port".into(), p.port.into());
                    policy_into(&mut pm, &p.policy);
                    Value::Object(pm)
                })
                .collect();
            m.insert("ports".into(), Value::Array(ports));
        }
        put(&mut m, "mtls", self.mtls.map(|x| x.value()));
        Value::Object(m)
    }

    /// The databag value, as Python's `json.dumps(value)` would write it.
    pub fn to_json(&self) -> String {
        pyjson::dumps(&self.to_value())
    }
}

impl Serialize for TrafficIntent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

/// `serde_json` value → `json.loads` value (integers kept exact, as text).
fn to_py(v: &Value) -> PyValue {
    match v {
        Value::Null => PyValue::Null,
        Value::Bool(b) => PyValue::Bool(*b),
        Value::Number(n) if n.is_i64() || n.is_u64() => PyValue::Int(n.to_string()),
        Value::Number(n) => PyValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => PyValue::Str(s.clone()),
        Value::Array(a) => PyValue::List(a.iter().map(to_py).collect()),
        Value::Object(o) => PyValue::Dict(o.iter().map(|(k, v)| (k.clone(), to_py(v))).collect()),
    }
}

/// Validating: whatever [`TrafficIntent::from_json`] refuses, this refuses (the error's
/// `Display` is the message).
impl<'de> Deserialize<'de> for TrafficIntent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        TrafficIntent::from_py(&to_py(&v)).map_err(D::Error::custom)
    }
}

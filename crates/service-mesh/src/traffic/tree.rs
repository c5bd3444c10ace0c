//! A traffic policy as a JSON tree, written once for both of its spellings: the wire's
//! snake_case keys (the `traffic` value, [`Keys::Wire`]) and Istio's camelCase ones (a
//! DestinationRule's `trafficPolicy`, [`Keys::Istio`]). Keys are inserted in one fixed
//! order, absent settings left out.

use serde_json::{Map, Value, json};

use super::{
    ClientTls, ConnectionPool, ConsistentHash, HashKey, LoadBalancer, OutlierDetection,
    TrafficPolicy,
};

/// Which spelling of the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keys {
    Wire,
    Istio,
}

impl Keys {
    /// The key `snake` (the wire's name) in this spelling.
    fn name(self, snake: &str) -> String {
        match self {
            Keys::Wire => snake.to_owned(),
            Keys::Istio => {
                let mut parts = snake.split('_');
                let mut out = parts.next().unwrap_or_default().to_owned();
                for part in parts {
                    let mut chars = part.chars();
                    out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                    out.push_str(chars.as_str());
                }
                out
            }
        }
    }
}

/// Inserts `k: v` when there is a `v`.
pub(super) fn put<T: Into<Value>>(m: &mut Map<String, Value>, k: &str, v: Option<T>) {
    if let Some(v) = v {
        m.insert(k.to_owned(), v.into());
    }
}

struct Writer(Keys);

impl Writer {
    fn put<T: Into<Value>>(&self, m: &mut Map<String, Value>, snake: &str, v: Option<T>) {
        put(m, &self.0.name(snake), v);
    }

    fn load_balancer(&self, lb: &LoadBalancer) -> Value {
        match lb {
            LoadBalancer::Simple(s) => json!({ "simple": s.value() }),
            LoadBalancer::ConsistentHash(ch) => {
                let mut m = Map::new();
                m.insert(self.0.name("consistent_hash"), self.consistent_hash(ch));
                m.into()
            }
        }
    }

    fn consistent_hash(&self, ch: &ConsistentHash) -> Value {
        let mut m = Map::new();
        match &ch.key {
            HashKey::HttpHeaderName(h) => self.put(&mut m, "http_header_name", Some(h.as_str())),
            HashKey::HttpCookie(c) => {
                let mut cookie = Map::new();
                cookie.insert("name".into(), c.name.clone().into());
                put(&mut cookie, "path", c.path.as_deref());
                put(&mut cookie, "ttl", c.ttl.map(|d| d.to_string()));
                m.insert(self.0.name("http_cookie"), cookie.into());
            }
            HashKey::UseSourceIp => self.put(&mut m, "use_source_ip", Some(true)),
            HashKey::HttpQueryParameterName(q) => {
                self.put(&mut m, "http_query_parameter_name", Some(q.as_str()));
            }
        }
        if let Some(n) = ch.minimum_ring_size {
            match self.0 {
                Keys::Wire => put(&mut m, "minimum_ring_size", Some(n)),
                // `ConsistentHashLB.minimumRingSize` is deprecated ("Use RingHash instead");
                // istiod warns on it. `ringHash.minimumRingSize` is its replacement.
                Keys::Istio => {
                    m.insert("ringHash".into(), json!({ "minimumRingSize": n }));
                }
            }
        }
        m.into()
    }

    fn connection_pool(&self, cp: &ConnectionPool) -> Value {
        let mut m = Map::new();
        if let Some(t) = &cp.tcp {
            let mut tcp = Map::new();
            self.put(&mut tcp, "max_connections", t.max_connections);
            let timeout = t.connect_timeout.map(|d| d.to_string());
            self.put(&mut tcp, "connect_timeout", timeout);
            m.insert("tcp".into(), tcp.into());
        }
        if let Some(h) = &cp.http {
            let mut http = Map::new();
            let pending = h.http1_max_pending_requests;
            self.put(&mut http, "http1_max_pending_requests", pending);
            self.put(&mut http, "http2_max_requests", h.http2_max_requests);
            let per_connection = h.max_requests_per_connection;
            self.put(&mut http, "max_requests_per_connection", per_connection);
            self.put(&mut http, "max_retries", h.max_retries);
            m.insert("http".into(), http.into());
        }
        m.into()
    }

    fn outlier_detection(&self, od: &OutlierDetection) -> Value {
        let mut m = Map::new();
        self.put(&mut m, "consecutive_5xx_errors", od.consecutive_5xx_errors);
        let gateway = od.consecutive_gateway_errors;
        self.put(&mut m, "consecutive_gateway_errors", gateway);
        self.put(&mut m, "interval", od.interval.map(|d| d.to_string()));
        let ejection = od.base_ejection_time.map(|d| d.to_string());
        self.put(&mut m, "base_ejection_time", ejection);
        self.put(&mut m, "max_ejection_percent", od.max_ejection_percent);
        m.into()
    }

    fn tls(&self, t: &ClientTls) -> Value {
        let mut m = Map::new();
        m.insert("mode".into(), t.mode.value().into());
        self.put(&mut m, "credential_name", t.credential_name.as_deref());
        put(&mut m, "sni", t.sni.as_deref());
        m.into()
    }
}

/// Inserts the policy's settings into `m`, spelt as `keys` says.
pub(super) fn policy_into(m: &mut Map<String, Value>, p: &TrafficPolicy, keys: Keys) {
    let w = Writer(keys);
    let lb = p.load_balancer.as_ref().map(|lb| w.load_balancer(lb));
    w.put(m, "load_balancer", lb);
    let pool = p.connection_pool.as_ref().map(|cp| w.connection_pool(cp));
    w.put(m, "connection_pool", pool);
    let outliers = p
        .outlier_detection
        .as_ref()
        .map(|od| w.outlier_detection(od));
    w.put(m, "outlier_detection", outliers);
    w.put(m, "tls", p.tls.as_ref().map(|t| w.tls(t)));
}

#[cfg(test)]
mod tests {
    use super::Keys;

    #[test]
    fn istio_keys_are_the_wire_keys_in_camel_case() {
        for (wire, istio) in [
            ("load_balancer", "loadBalancer"),
            ("consecutive_5xx_errors", "consecutive5xxErrors"),
            ("http1_max_pending_requests", "http1MaxPendingRequests"),
            ("http_query_parameter_name", "httpQueryParameterName"),
            ("tls", "tls"),
        ] {
            assert_eq!(Keys::Wire.name(wire), wire);
            assert_eq!(Keys::Istio.name(wire), istio);
        }
    }
}

//! Traffic intents: how a charm wants its own Service to be reached (load balancing,
//! connection limits, outlier ejection, client TLS, and the mTLS mode its workloads accept),
//! sent to the beacon in the consumer's app databag under [`TRAFFIC_KEY`] and rendered as an
//! Istio `DestinationRule` (`networking.istio.io/v1`) and `PeerAuthentication`
//! (`security.istio.io/v1`), field names and enum values as Istio 1.29's API reference.
//!
//! The key is an extension of the `service_mesh` interface that only Rust libraries know:
//! the Python libraries read `policies` and nothing else, so `traffic` is invisible to them.
//!
//! # Wire format
//!
//! One JSON object, written with Python's `json.dumps` spacing and a fixed key order
//! ([`TrafficIntent::to_json`]); absent settings are left out (a reader also takes `null` as
//! absent). `version` is required and must be 1: a newer writer's intent is refused with
//! [`TrafficError::UnsupportedVersion`] rather than half-applied. Every other key is optional:
//! the top level is the default policy for every port of the Service, `ports` holds
//! per-port overrides (Istio's `portLevelSettings`), and `mtls` is the mode the charm's own
//! workloads accept (a `PeerAuthentication`).
//!
//! ```json
//! {"version": 1,
//!  "load_balancer": {"consistent_hash": {"http_cookie": {"name": "session", "path": "/", "ttl": "1h"}, "minimum_ring_size": 1024}},
//!  "connection_pool": {"tcp": {"max_connections": 100, "connect_timeout": "5s"},
//!                      "http": {"http1_max_pending_requests": 10, "http2_max_requests": 100, "max_requests_per_connection": 1, "max_retries": 3}},
//!  "outlier_detection": {"consecutive_5xx_errors": 5, "consecutive_gateway_errors": 3, "interval": "10s", "base_ejection_time": "30s", "max_ejection_percent": 50},
//!  "tls": {"mode": "ISTIO_MUTUAL"},
//!  "ports": [{"port": 8080, "load_balancer": {"simple": "LEAST_REQUEST"}}],
//!  "mtls": "STRICT"}
//! ```
//!
//! | key | value |
//! |---|---|
//! | `service` | the Service's name when it is not the application's (a DNS-1035 label) |
//! | `load_balancer` | exactly one of `simple` (`LEAST_CONN`, `ROUND_ROBIN`, `RANDOM`, `PASSTHROUGH`, `LEAST_REQUEST`) or `consistent_hash` |
//! | `consistent_hash` | exactly one of `http_header_name` (RFC 7230 token), `http_cookie` (`name` token, optional `path` starting with `/`, optional `ttl`, `"0s"` for a session cookie), `use_source_ip` (`true`), `http_query_parameter_name` (`[A-Za-z0-9._~-]`); optional `minimum_ring_size` 1..=8388608 |
//! | `connection_pool` | at least one of `tcp` (`max_connections`, `connect_timeout`) and `http` (`http1_max_pending_requests`, `http2_max_requests`, `max_requests_per_connection`, `max_retries`), each with at least one key; counts 1..=2147483647 |
//! | `outlier_detection` | `consecutive_5xx_errors`, `consecutive_gateway_errors` (0..=4294967295, 0 turns that check off), `interval`, `base_ejection_time`, `max_ejection_percent` (1..=100); `{}` is Istio's defaults |
//! | `tls` | `mode` (`DISABLE`, `SIMPLE`, `MUTUAL`, `ISTIO_MUTUAL`), `credential_name` (a Secret name; required by `MUTUAL`, allowed with `SIMPLE`), `sni` (not with `DISABLE`) |
//! | `ports` | up to 128 entries `{"port": 1..=65535, ...}` with the keys above (at least one), each port once |
//! | `mtls` | `STRICT`, `PERMISSIVE`, `DISABLE`, `UNSET` |
//!
//! Durations are strings like Istio's: whole numbers with units `h`, `m`, `s`, `ms` in that
//! order (`"10s"`, `"1m30s"`, `"100ms"`), at least 1ms (a cookie `ttl` may be `"0s"`) and at
//! most 8760h. They are written back in one unit, the largest that is exact (`"1m30s"` →
//! `"90s"`). Counts whose zero Istio reads as "unset" start at 1: a zero is refused rather
//! than silently meaning the default. Unknown keys are refused, naming their path, so a typo
//! never goes unnoticed. Values over 64 KiB are refused.
//!
//! # Names
//!
//! [`traffic_name`]: `<beacon-app>-<beacon-model>-traffic-<consumer-app>`, used for both the
//! DestinationRule and the PeerAuthentication of one consumer (they are different kinds).

mod parse;
mod render;
mod tree;
mod wire;

pub use parse::{MAX_PORTS, MAX_TRAFFIC_BYTES, TrafficError, parse_traffic};
pub use render::{
    DESTINATION_RULE_API_VERSION, DESTINATION_RULE_KIND, PEER_AUTHENTICATION_API_VERSION,
    PEER_AUTHENTICATION_KIND, render_destination_rule, render_peer_authentication, service_host,
    traffic_name, workload_selector,
};

use std::fmt;

/// The consumer app-databag key holding a [`TrafficIntent`].
pub const TRAFFIC_KEY: &str = "traffic";
/// The schema version this library writes and reads.
pub const TRAFFIC_VERSION: u64 = 1;

/// A charm's traffic intent for its own Service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrafficIntent {
    /// The Service the intent is for when it is not named after the application (as
    /// `AppPolicy`'s `service`); see [`TrafficIntent::service_or`].
    pub service: Option<String>,
    /// The policy for every port (Istio's `trafficPolicy`).
    pub policy: TrafficPolicy,
    /// Per-port overrides (Istio's `trafficPolicy.portLevelSettings`), in order.
    pub ports: Vec<PortTrafficPolicy>,
    /// The mTLS mode the charm's own workloads accept (a `PeerAuthentication`).
    pub mtls: Option<MtlsMode>,
}

/// The settings of a traffic policy (all optional).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrafficPolicy {
    pub load_balancer: Option<LoadBalancer>,
    pub connection_pool: Option<ConnectionPool>,
    pub outlier_detection: Option<OutlierDetection>,
    pub tls: Option<ClientTls>,
}

impl TrafficIntent {
    /// The Service to render for: [`TrafficIntent::service`], else `app` (Juju names an
    /// application's Service after it).
    pub fn service_or<'a>(&'a self, app: &'a str) -> &'a str {
        self.service.as_deref().unwrap_or(app)
    }
}

impl TrafficPolicy {
    /// Whether no setting is given.
    pub fn is_empty(&self) -> bool {
        self.load_balancer.is_none()
            && self.connection_pool.is_none()
            && self.outlier_detection.is_none()
            && self.tls.is_none()
    }
}

/// Settings for one port of the Service (the Service port, as Istio's `portLevelSettings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortTrafficPolicy {
    pub port: u16,
    pub policy: TrafficPolicy,
}

/// How requests are spread over the Service's endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadBalancer {
    Simple(SimpleLb),
    ConsistentHash(ConsistentHash),
}

/// Istio's `LoadBalancerSettings.SimpleLB` (without `UNSPECIFIED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimpleLb {
    LeastConn,
    RoundRobin,
    Random,
    Passthrough,
    LeastRequest,
}

/// Sticky sessions: Istio's `LoadBalancerSettings.ConsistentHashLB` with a ring hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistentHash {
    pub key: HashKey,
    /// Rendered as `ringHash.minimumRingSize` (the top-level `minimumRingSize` is deprecated).
    pub minimum_ring_size: Option<u32>,
}

/// What the consistent hash is computed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashKey {
    HttpHeaderName(String),
    HttpCookie(HttpCookie),
    UseSourceIp,
    HttpQueryParameterName(String),
}

/// A cookie to hash on; with a `ttl`, the proxy generates it when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCookie {
    pub name: String,
    pub path: Option<String>,
    pub ttl: Option<Duration>,
}

/// Connection limits (Istio's `ConnectionPoolSettings`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionPool {
    pub tcp: Option<TcpSettings>,
    pub http: Option<HttpSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TcpSettings {
    pub max_connections: Option<u32>,
    pub connect_timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpSettings {
    pub http1_max_pending_requests: Option<u32>,
    /// Maximum concurrent requests to the destination.
    pub http2_max_requests: Option<u32>,
    pub max_requests_per_connection: Option<u32>,
    pub max_retries: Option<u32>,
}

/// Ejecting failing endpoints (Istio's `OutlierDetection`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutlierDetection {
    pub consecutive_5xx_errors: Option<u32>,
    pub consecutive_gateway_errors: Option<u32>,
    /// Time between ejection sweeps.
    pub interval: Option<Duration>,
    pub base_ejection_time: Option<Duration>,
    pub max_ejection_percent: Option<u32>,
}

/// TLS towards the Service's endpoints (Istio's `ClientTLSSettings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    pub mode: TlsMode,
    /// A Secret holding the client certificate (required by `MUTUAL`).
    pub credential_name: Option<String>,
    pub sni: Option<String>,
}

/// Istio's `ClientTLSSettings.TLSmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsMode {
    Disable,
    Simple,
    Mutual,
    IstioMutual,
}

/// Istio's `PeerAuthentication.MutualTLS.Mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MtlsMode {
    Unset,
    Disable,
    Permissive,
    Strict,
}

macro_rules! wire_enum {
    ($ty:ident { $($variant:ident => $value:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The value on the wire and in Istio's API.
            pub fn value(self) -> &'static str {
                match self { $($ty::$variant => $value),+ }
            }

            /// Exact, case-sensitive lookup.
            pub fn from_value(s: &str) -> Option<Self> {
                match s { $($value => Some($ty::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.value())
            }
        }
    };
}

wire_enum!(SimpleLb {
    LeastConn => "LEAST_CONN",
    RoundRobin => "ROUND_ROBIN",
    Random => "RANDOM",
    Passthrough => "PASSTHROUGH",
    LeastRequest => "LEAST_REQUEST",
});
wire_enum!(TlsMode {
    Disable => "DISABLE",
    Simple => "SIMPLE",
    Mutual => "MUTUAL",
    IstioMutual => "ISTIO_MUTUAL",
});
wire_enum!(MtlsMode {
    Unset => "UNSET",
    Disable => "DISABLE",
    Permissive => "PERMISSIVE",
    Strict => "STRICT",
});

/// A duration with millisecond precision, as Istio accepts them (`durationpb`, validated to
/// whole milliseconds). Displayed in the largest exact unit: `"90s"`, `"100ms"`, `"2h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    millis: u64,
}

impl Duration {
    /// The longest duration accepted: 8760h (one year).
    pub const MAX: Duration = Duration {
        millis: 8760 * 3_600_000,
    };

    pub const fn from_millis(millis: u64) -> Duration {
        Duration { millis }
    }

    pub const fn from_secs(secs: u64) -> Duration {
        Duration {
            millis: secs * 1000,
        }
    }

    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    /// Parse `"1h"`, `"1m30s"`, `"100ms"`: whole numbers, units `h`, `m`, `s`, `ms` each at
    /// most once and in that order. Range checks are the caller's.
    pub fn parse(s: &str) -> Option<Duration> {
        const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)];
        let mut rest = s;
        let mut next_unit = 0;
        let mut total: u64 = 0;
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 12 {
                return None;
            }
            let n: u64 = rest[..digits].parse().ok()?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let i = UNITS[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
            next_unit = i + 1;
            total = total.checked_add(n.checked_mul(UNITS[i].1)?)?;
        }
        Some(Duration { millis: total })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.millis;
        if m == 0 {
            f.write_str("0s")
        } else if m.is_multiple_of(3_600_000) {
            write!(f, "{}h", m / 3_600_000)
        } else if m.is_multiple_of(60_000) {
            write!(f, "{}m", m / 60_000)
        } else if m.is_multiple_of(1000) {
            write!(f, "{}s", m / 1000)
        } else {
            write!(f, "{m}ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_display_in_the_largest_exact_unit() {
        for (text, millis, shown) in [
            ("10s", 10_000, "10s"),
            ("1m", 60_000, "1m"),
            ("100ms", 100, "100ms"),
            ("1m30s", 90_000, "90s"),
            ("2h", 7_200_000, "2h"),
            ("1h0m0s", 3_600_000, "1h"),
            ("1s500ms", 1500, "1500ms"),
            ("0s", 0, "0s"),
            ("120s", 120_000, "2m"),
        ] {
            let d = Duration::parse(text).expect(text);
            assert_eq!(d.as_millis(), millis, "{text}");
            assert_eq!(d.to_string(), shown, "{text}");
            assert_eq!(Duration::parse(shown), Some(d));
        }
        for bad in [
            "",
            "10",
            "s",
            "1.5s",
            "-1s",
            "1 s",
            "1S",
            "1d",
            "1us",
            "1s1m",
            "1s1s",
            "1ms1s",
            " 1s",
            "1s ",
            "1e3ms",
            "9999999999999h",
            "+1s",
            "1m30",
        ] {
            assert_eq!(Duration::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn enum_values_round_trip() {
        for v in SimpleLb::ALL {
            assert_eq!(SimpleLb::from_value(v.value()), Some(*v));
        }
        for v in TlsMode::ALL {
            assert_eq!(TlsMode::from_value(v.value()), Some(*v));
        }
        for v in MtlsMode::ALL {
            assert_eq!(MtlsMode::from_value(v.value()), Some(*v));
        }
        assert_eq!(SimpleLb::from_value("least_conn"), None);
        assert_eq!(SimpleLb::from_value("UNSPECIFIED"), None);
    }
}

//! Reading a `traffic` value: Python's `json.loads`, then a strict walk that names the path
//! of the first problem. Never panics, whatever the input.

use std::fmt;

use thiserror::Error;

use super::{
    ClientTls, ConnectionPool, ConsistentHash, Duration, HashKey, HttpCookie, HttpSettings,
    LoadBalancer, MtlsMode, OutlierDetection, PortTrafficPolicy, SimpleLb, TRAFFIC_VERSION,
    TcpSettings, TlsMode, TrafficIntent, TrafficPolicy,
};
use crate::model::{Loc, LocPart};
use crate::pyjson::{self, JsonError, PyValue};

/// The largest `traffic` value read, in bytes.
pub const MAX_TRAFFIC_BYTES: usize = 64 * 1024;
/// The most per-port entries.
pub const MAX_PORTS: usize = 128;

const MAX_COUNT: u64 = i32::MAX as u64;
const MAX_RING: u64 = 8_388_608;
const MAX_NAME: usize = 256;

/// Why a `traffic` value is refused. `Display` names the field: `traffic.ports.0.port: ...`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrafficError {
    #[error("traffic is not valid JSON: {0}")]
    InvalidJson(#[from] JsonError),
    #[error("traffic is {size} bytes, more than the {MAX_TRAFFIC_BYTES} accepted")]
    TooLarge { size: usize },
    /// Written by a newer library: refused whole rather than partly understood.
    #[error(
        "traffic version {found} is not supported (this library reads version {TRAFFIC_VERSION})"
    )]
    UnsupportedVersion { found: String },
    #[error("{}: {reason}", field_path(path))]
    Invalid { path: Loc, reason: String },
}

impl TrafficError {
    /// The offending field's location (`None` for whole-value errors).
    pub fn path(&self) -> Option<&Loc> {
        match self {
            TrafficError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// `traffic.<loc>` (or `traffic` for the value itself).
fn field_path(loc: &Loc) -> String {
    if loc.0.is_empty() {
        "traffic".to_owned()
    } else {
        format!("traffic.{loc}")
    }
}

type Res<T> = Result<T, TrafficError>;

fn invalid(loc: &Loc, reason: impl fmt::Display) -> TrafficError {
    TrafficError::Invalid {
        path: loc.clone(),
        reason: reason.to_string(),
    }
}

fn key(loc: &Loc, k: &str) -> Loc {
    let mut v = loc.0.clone();
    v.push(LocPart::Key(k.to_owned()));
    Loc(v)
}

fn index(loc: &Loc, i: usize) -> Loc {
    let mut v = loc.0.clone();
    v.push(LocPart::Index(i));
    Loc(v)
}

fn type_name(v: &PyValue) -> &'static str {
    match v {
        PyValue::Null => "null",
        PyValue::Bool(_) => "a boolean",
        PyValue::Int(_) => "an integer",
        PyValue::Float(_) => "a float",
        PyValue::Str(_) => "a string",
        PyValue::List(_) => "a list",
        PyValue::Dict(_) => "an object",
    }
}

/// A JSON object being read: known keys only; `null` counts as absent.
struct Obj<'a> {
    items: &'a [(String, PyValue)],
    loc: Loc,
}

impl<'a> Obj<'a> {
    fn new(v: &'a PyValue, loc: &Loc, allowed: &[&str]) -> Res<Obj<'a>> {
        let PyValue::Dict(items) = v else {
            return Err(invalid(
                loc,
                format_args!("must be an object, not {}", type_name(v)),
            ));
        };
        if let Some((k, _)) = items.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(invalid(
                &key(loc, k),
                format_args!("unknown key (expected one of: {})", allowed.join(", ")),
            ));
        }
        Ok(Obj {
            items,
            loc: loc.clone(),
        })
    }

    fn get(&self, k: &str) -> Option<&'a PyValue> {
        self.items
            .iter()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v)
            .filter(|v| !matches!(v, PyValue::Null))
    }

    fn at(&self, k: &str) -> Loc {
        key(&self.loc, k)
    }

    fn opt<T>(&self, k: &str, f: impl FnOnce(&PyValue, &Loc) -> Res<T>) -> Res<Option<T>> {
        self.get(k).map(|v| f(v, &self.at(k))).transpose()
    }

    /// Keys present (non-null) among `keys`.
    fn present(&self, keys: &[&'static str]) -> Vec<&'static str> {
        keys.iter()
            .copied()
            .filter(|k| self.get(k).is_some())
            .collect()
    }

    fn none_empty(&self, keys: &[&'static str]) -> Res<()> {
        if self.present(keys).is_empty() {
            return Err(invalid(
                &self.loc,
                format_args!("must set at least one of: {}", keys.join(", ")),
            ));
        }
        Ok(())
    }

    fn exactly_one(&self, keys: &[&'static str]) -> Res<&'static str> {
        match self.present(keys)[..] {
            [one] => Ok(one),
            _ => Err(invalid(
                &self.loc,
                format_args!("must set exactly one of: {}", keys.join(", ")),
            )),
        }
    }
}

fn int_in(v: &PyValue, loc: &Loc, min: u64, max: u64) -> Res<u64> {
    let out_of_range = || invalid(loc, format_args!("must be an integer in {min}..={max}"));
    match v {
        PyValue::Int(s) => {
            let n: u64 = s.parse().map_err(|_| out_of_range())?;
            if (min..=max).contains(&n) {
                Ok(n)
            } else {
                Err(out_of_range())
            }
        }
        other => Err(invalid(
            loc,
            format_args!(
                "must be an integer in {min}..={max}, not {}",
                type_name(other)
            ),
        )),
    }
}

fn u32_in(v: &PyValue, loc: &Loc, min: u64, max: u64) -> Res<u32> {
    // Every caller's max fits a u32.
    int_in(v, loc, min, max).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

fn count(v: &PyValue, loc: &Loc) -> Res<u32> {
    u32_in(v, loc, 1, MAX_COUNT)
}

fn string<'a>(v: &'a PyValue, loc: &Loc) -> Res<&'a str> {
    match v {
        PyValue::Str(s) => Ok(s),
        other => Err(invalid(
            loc,
            format_args!("must be a string, not {}", type_name(other)),
        )),
    }
}

fn enum_value<T: Copy>(v: &PyValue, loc: &Loc, all: &[T], value: fn(T) -> &'static str) -> Res<T> {
    let s = string(v, loc)?;
    all.iter().copied().find(|x| value(*x) == s).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|x| value(*x)).collect();
        invalid(loc, format_args!("must be one of: {}", names.join(", ")))
    })
}

fn duration(v: &PyValue, loc: &Loc, min_millis: u64) -> Res<Duration> {
    let s = string(v, loc)?;
    let d = Duration::parse(s).ok_or_else(|| {
        invalid(
            loc,
            "must be a duration like \"10s\", \"1m30s\" or \"100ms\" (whole numbers; units h, m, s, ms in that order)",
        )
    })?;
    let min = Duration::from_millis(min_millis);
    if d < min || d > Duration::MAX {
        return Err(invalid(
            loc,
            format_args!("must be between {min} and {}", Duration::MAX),
        ));
    }
    Ok(d)
}

/// RFC 7230 `token` characters (header and cookie names).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn checked_str(
    v: &PyValue,
    loc: &Loc,
    max: usize,
    what: &str,
    ok: impl Fn(&str) -> bool,
) -> Res<String> {
    let s = string(v, loc)?;
    if s.is_empty() || s.len() > max || !ok(s) {
        return Err(invalid(
            loc,
            format_args!("must be {what}, 1 to {max} characters"),
        ));
    }
    Ok(s.to_owned())
}

fn token(v: &PyValue, loc: &Loc) -> Res<String> {
    checked_str(v, loc, MAX_NAME, "an HTTP token (RFC 7230)", |s| {
        s.bytes().all(is_tchar)
    })
}

/// A DNS-1035 label (Service names).
fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// A DNS-1123 subdomain (Secret names, SNI).
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

fn subdomain(v: &PyValue, loc: &Loc) -> Res<String> {
    checked_str(
        v,
        loc,
        253,
        "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')",
        is_dns_subdomain,
    )
}

fn consistent_hash(v: &PyValue, loc: &Loc) -> Res<ConsistentHash> {
    const KEYS: [&str; 4] = [
        "http_header_name",
        "http_cookie",
        "use_source_ip",
        "http_query_parameter_name",
    ];
    let o = Obj::new(
        v,
        loc,
        &[
            "http_header_name",
            "http_cookie",
            "use_source_ip",
            "http_query_parameter_name",
            "minimum_ring_size",
        ],
    )?;
    let which = o.exactly_one(&KEYS)?;
    let at = o.at(which);
    let value = o.get(which).unwrap_or(&PyValue::Null);
    let key = match which {
        "http_header_name" => HashKey::HttpHeaderName(token(value, &at)?),
        "http_cookie" => {
            let c = Obj::new(value, &at, &["name", "path", "ttl"])?;
            let name = match c.get("name") {
                Some(n) => token(n, &c.at("name"))?,
                None => return Err(invalid(&c.at("name"), "missing (the cookie's name)")),
            };
            HashKey::HttpCookie(HttpCookie {
                name,
                path: c.opt("path", |v, l| {
                    checked_str(
                        v,
                        l,
                        1024,
                        "a cookie path starting with '/' (visible ASCII, no ';')",
                        |s| {
                            s.starts_with('/')
                                && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b';')
                        },
                    )
                })?,
                ttl: c.opt("ttl", |v, l| duration(v, l, 0))?,
            })
        }
        "use_source_ip" => match value {
            PyValue::Bool(true) => HashKey::UseSourceIp,
            _ => {
                return Err(invalid(
                    &at,
                    "must be true (to hash on something else, give that key instead)",
                ));
            }
        },
        _ => HashKey::HttpQueryParameterName(checked_str(
            value,
            &at,
            MAX_NAME,
            "a query parameter name ([A-Za-z0-9._~-])",
            |s| {
                s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            },
        )?),
    };
    Ok(ConsistentHash {
        key,
        minimum_ring_size: o.opt("minimum_ring_size", |v, l| u32_in(v, l, 1, MAX_RING))?,
    })
}

fn load_balancer(v: &PyValue, loc: &Loc) -> Res<LoadBalancer> {
    let o = Obj::new(v, loc, &["simple", "consistent_hash"])?;
    let which = o.exactly_one(&["simple", "consistent_hash"])?;
    let value = o.get(which).unwrap_or(&PyValue::Null);
    Ok(if which == "simple" {
        LoadBalancer::Simple(enum_value(
            value,
            &o.at(which),
            SimpleLb::ALL,
            SimpleLb::value,
        )?)
    } else {
        LoadBalancer::ConsistentHash(consistent_hash(value, &o.at(which))?)
    })
}

fn connection_pool(v: &PyValue, loc: &Loc) -> Res<ConnectionPool> {
    let o = Obj::new(v, loc, &["tcp", "http"])?;
    o.none_empty(&["tcp", "http"])?;
    Ok(ConnectionPool {
        tcp: o.opt("tcp", |v, l| {
            const KEYS: [&str; 2] = ["max_connections", "connect_timeout"];
            let t = Obj::new(v, l, &KEYS)?;
            t.none_empty(&KEYS)?;
            Ok(TcpSettings {
                max_connections: t.opt("max_connections", count)?,
                connect_timeout: t.opt("connect_timeout", |v, l| duration(v, l, 1))?,
            })
        })?,
        http: o.opt("http", |v, l| {
            const KEYS: [&str; 4] = [
                "http1_max_pending_requests",
                "http2_max_requests",
                "max_requests_per_connection",
                "max_retries",
            ];
            let h = Obj::new(v, l, &KEYS)?;
            h.none_empty(&KEYS)?;
            Ok(HttpSettings {
                http1_max_pending_requests: h.opt("http1_max_pending_requests", count)?,
                http2_max_requests: h.opt("http2_max_requests", count)?,
                max_requests_per_connection: h.opt("max_requests_per_connection", count)?,
                max_retries: h.opt("max_retries", count)?,
            })
        })?,
    })
}

fn outlier_detection(v: &PyValue, loc: &Loc) -> Res<OutlierDetection> {
    let o = Obj::new(
        v,
        loc,
        &[
            "consecutive_5xx_errors",
            "consecutive_gateway_errors",
            "interval",
            "base_ejection_time",
            "max_ejection_percent",
        ],
    )?;
    let errors = |v: &PyValue, l: &Loc| u32_in(v, l, 0, u64::from(u32::MAX));
    Ok(OutlierDetection {
        consecutive_5xx_errors: o.opt("consecutive_5xx_errors", errors)?,
        consecutive_gateway_errors: o.opt("consecutive_gateway_errors", errors)?,
        interval: o.opt("interval", |v, l| duration(v, l, 1))?,
        base_ejection_time: o.opt("base_ejection_time", |v, l| duration(v, l, 1))?,
        max_ejection_percent: o.opt("max_ejection_percent", |v, l| u32_in(v, l, 1, 100))?,
    })
}

fn tls(v: &PyValue, loc: &Loc) -> Res<ClientTls> {
    let o = Obj::new(v, loc, &["mode", "credential_name", "sni"])?;
    let mode = match o.get("mode") {
        Some(m) => enum_value(m, &o.at("mode"), TlsMode::ALL, TlsMode::value)?,
        None => return Err(invalid(&o.at("mode"), "missing (the TLS mode)")),
    };
    let credential_name = o.opt("credential_name", subdomain)?;
    let sni = o.opt("sni", subdomain)?;
    match (mode, &credential_name) {
        (TlsMode::Mutual, None) => {
            return Err(invalid(
                &o.at("credential_name"),
                "required with mode MUTUAL (the Secret holding the client certificate)",
            ));
        }
        (TlsMode::Disable | TlsMode::IstioMutual, Some(_)) => {
            return Err(invalid(
                &o.at("credential_name"),
                format_args!("not allowed with mode {mode} (only SIMPLE or MUTUAL)"),
            ));
        }
        _ => {}
    }
    if mode == TlsMode::Disable && sni.is_some() {
        return Err(invalid(&o.at("sni"), "not allowed with mode DISABLE"));
    }
    Ok(ClientTls {
        mode,
        credential_name,
        sni,
    })
}

const POLICY_KEYS: [&str; 4] = [
    "load_balancer",
    "connection_pool",
    "outlier_detection",
    "tls",
];

fn policy(o: &Obj<'_>) -> Res<TrafficPolicy> {
    Ok(TrafficPolicy {
        load_balancer: o.opt("load_balancer", load_balancer)?,
        connection_pool: o.opt("connection_pool", connection_pool)?,
        outlier_detection: o.opt("outlier_detection", outlier_detection)?,
        tls: o.opt("tls", tls)?,
    })
}

fn ports(v: &PyValue, loc: &Loc) -> Res<Vec<PortTrafficPolicy>> {
    let PyValue::List(items) = v else {
        return Err(invalid(
            loc,
            format_args!("must be a list, not {}", type_name(v)),
        ));
    };
    if items.len() > MAX_PORTS {
        return Err(invalid(loc, format_args!("at most {MAX_PORTS} entries")));
    }
    let mut out: Vec<PortTrafficPolicy> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = index(loc, i);
        let mut allowed = vec!["port"];
        allowed.extend(POLICY_KEYS);
        let o = Obj::new(item, &at, &allowed)?;
        let port = match o.get("port") {
            Some(p) => u16::try_from(int_in(p, &o.at("port"), 1, 65535)?).unwrap_or(u16::MAX),
            None => return Err(invalid(&o.at("port"), "missing (the Service port)")),
        };
        if out.iter().any(|p| p.port == port) {
            return Err(invalid(
                &o.at("port"),
                format_args!("port {port} is listed more than once"),
            ));
        }
        o.none_empty(&POLICY_KEYS)?;
        out.push(PortTrafficPolicy {
            port,
            policy: policy(&o)?,
        });
    }
    Ok(out)
}

impl TrafficIntent {
    /// Read a `traffic` databag value (strict; see the module docs for the schema).
    pub fn from_json(text: &str) -> Result<TrafficIntent, TrafficError> {
        if text.len() > MAX_TRAFFIC_BYTES {
            return Err(TrafficError::TooLarge { size: text.len() });
        }
        TrafficIntent::from_py(&pyjson::loads(text)?)
    }

    /// Read an already decoded value (`json.loads` result).
    pub fn from_py(v: &PyValue) -> Result<TrafficIntent, TrafficError> {
        let root = Loc::default();
        let PyValue::Dict(items) = v else {
            return Err(invalid(
                &root,
                format_args!("must be a JSON object, not {}", type_name(v)),
            ));
        };
        // The version first: a newer schema's keys are not "unknown", they are newer.
        let version_loc = key(&root, "version");
        match items.iter().find(|(k, _)| k == "version").map(|(_, v)| v) {
            None | Some(PyValue::Null) => {
                return Err(invalid(
                    &version_loc,
                    format_args!("missing (the schema version, {TRAFFIC_VERSION})"),
                ));
            }
            Some(PyValue::Int(n)) if *n == TRAFFIC_VERSION.to_string() => {}
            Some(PyValue::Int(n)) => {
                return Err(TrafficError::UnsupportedVersion { found: n.clone() });
            }
            Some(other) => {
                return Err(invalid(
                    &version_loc,
                    format_args!("must be an integer, not {}", type_name(other)),
                ));
            }
        }
        let mut allowed = vec!["version", "service"];
        allowed.extend(POLICY_KEYS);
        allowed.extend(["ports", "mtls"]);
        let o = Obj::new(v, &root, &allowed)?;
        Ok(TrafficIntent {
            service: o.opt("service", |v, l| {
                checked_str(
                    v,
                    l,
                    63,
                    "a Service name (DNS-1035 label: lowercase letters, digits and '-', starting with a letter)",
                    is_dns_label,
                )
            })?,
            policy: policy(&o)?,
            ports: o.opt("ports", ports)?.unwrap_or_default(),
            mtls: o.opt("mtls", |v, l| {
                enum_value(v, l, MtlsMode::ALL, MtlsMode::value)
            })?,
        })
    }

    /// Whether this intent is what [`TrafficIntent::from_json`] accepts (for intents built
    /// in code: the reason names the first offending field).
    pub fn validate(&self) -> Result<(), TrafficError> {
        TrafficIntent::from_json(&self.to_json()).and_then(|back| {
            if back == *self {
                Ok(())
            } else {
                Err(invalid(
                    &Loc::default(),
                    "does not survive its own encoding",
                ))
            }
        })
    }
}

/// The `traffic` entry of a consumer's app databag: `Ok(None)` when the key is absent (or
/// empty), else the intent or why it is refused.
pub fn parse_traffic(value: Option<&str>) -> Result<Option<TrafficIntent>, TrafficError> {
    match value {
        None | Some("") => Ok(None),
        Some(s) => TrafficIntent::from_json(s).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        TrafficIntent::from_json(text).expect_err(text).to_string()
    }

    #[test]
    fn the_version_is_required_and_checked_first() {
        assert_eq!(
            err("{}"),
            "traffic.version: missing (the schema version, 1)"
        );
        assert_eq!(
            err(r#"{"version": 2, "shiny_new_thing": {}}"#),
            "traffic version 2 is not supported (this library reads version 1)"
        );
        assert_eq!(
            err(r#"{"version": "1"}"#),
            "traffic.version: must be an integer, not a string"
        );
        assert_eq!(err("[]"), "traffic: must be a JSON object, not a list");
        assert!(err("{").starts_with("traffic is not valid JSON"));
        assert_eq!(
            TrafficIntent::from_json(r#"{"version": 1}"#),
            Ok(TrafficIntent::default())
        );
    }

    #[test]
    fn errors_name_the_field_path() {
        assert_eq!(
            err(
                r#"{"version": 1, "ports": [{"port": 80, "tls": {"mode": "ISTIO_MUTUAL"}}, {"port": 81, "connection_pool": {"tcp": {"max_connections": 0}}}]}"#
            ),
            "traffic.ports.1.connection_pool.tcp.max_connections: must be an integer in 1..=2147483647"
        );
        assert_eq!(
            err(r#"{"version": 1, "load_balancer": {"simple": "BOGUS"}}"#),
            "traffic.load_balancer.simple: must be one of: LEAST_CONN, ROUND_ROBIN, RANDOM, PASSTHROUGH, LEAST_REQUEST"
        );
        assert_eq!(
            err(r#"{"version": 1, "outlier_detection": {"intervall": "1s"}}"#),
            "traffic.outlier_detection.intervall: unknown key (expected one of: consecutive_5xx_errors, consecutive_gateway_errors, interval, base_ejection_time, max_ejection_percent)"
        );
        assert_eq!(
            err(r#"{"version": 1, "outlier_detection": {"interval": "0ms"}}"#),
            "traffic.outlier_detection.interval: must be between 1ms and 8760h"
        );
        assert_eq!(
            err(r#"{"version": 1, "ports": [{"port": 80}]}"#),
            "traffic.ports.0: must set at least one of: load_balancer, connection_pool, outlier_detection, tls"
        );
    }

    #[test]
    fn parse_traffic_treats_absent_and_empty_as_no_intent() {
        assert_eq!(parse_traffic(None), Ok(None));
        assert_eq!(parse_traffic(Some("")), Ok(None));
        assert!(parse_traffic(Some("null")).is_err());
        let big = format!(
            r#"{{"version": 1, "x": "{}"}}"#,
            "a".repeat(MAX_TRAFFIC_BYTES)
        );
        assert!(matches!(
            parse_traffic(Some(&big)),
            Err(TrafficError::TooLarge { .. })
        ));
    }
}

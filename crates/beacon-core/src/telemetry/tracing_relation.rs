//! `charm-tracing` (interface `tracing`, requirer side), as `ops.tracing.Tracing(self,
//! tracing_relation_name="charm-tracing")` drives the `tempo_coordinator_k8s.v0.tracing` lib.
//!
//! # Requirer app databag (leader only)
//!
//! `TracingEndpointRequirer(protocols=["otlp_http"])` runs `request_protocols` in its
//! constructor, so on **every hook** where the unit is leader it **clears** its app databag on
//! every `charm-tracing` relation and writes [`requirer_app_databag`]: the single key
//! `receivers` = `["otlp_http"]`. Errors writing it (relation already gone) are logged, not fatal.
//!
//! # Destination
//!
//! `ops.tracing` recomputes the destination on `start`, `upgrade-charm`, and
//! `charm-tracing-relation-changed`/`-broken`; computing it on every hook gives the same result.
//! It is [`destination`] of the remote application's databag: no relation, or no usable
//! `otlp_http` receiver, means no destination.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The one protocol the charm asks for: `ops.tracing` exports spans over OTLP/HTTP.
const PROTOCOL: &str = "otlp_http";

/// The requirer's app databag on `charm-tracing`: exactly `{"receivers": "[\"otlp_http\"]"}`.
pub fn requirer_app_databag() -> BTreeMap<String, String> {
    BTreeMap::from([("receivers".to_owned(), format!("[\"{PROTOCOL}\"]"))])
}

/// The provider's `receivers` entries (`TracingProviderAppData`).
#[derive(Debug, Deserialize)]
struct Receiver {
    protocol: Protocol,
    url: String,
}

#[derive(Debug, Deserialize)]
struct Protocol {
    name: String,
    // Validated (as pydantic does) but not otherwise used.
    #[serde(rename = "type")]
    _transport: TransportType,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TransportType {
    Http,
    Grpc,
}

/// The OTLP/HTTP traces URL (`<url>/v1/traces`) from the tracing provider's app databag, or
/// `None` when there is no usable `otlp_http` receiver. `remote_app_data` is `None` when there is
/// no `charm-tracing` relation (or no remote app). Bad data yields `None` and a line in
/// `warnings` (for the caller to log), so a misbehaving provider never fails a hook.
pub fn destination(
    remote_app_data: Option<&BTreeMap<String, String>>,
    warnings: &mut Vec<String>,
) -> Option<String> {
    // No receivers yet: the provider has not published them.
    let raw = remote_app_data?.get("receivers")?;
    // The whole databag must validate, as the Python lib's `is_ready()` requires.
    let receivers: Vec<Receiver> = match serde_json::from_str(raw) {
        Ok(receivers) => receivers,
        Err(e) => {
            warnings.push(format!(
                "charm-tracing: invalid receivers in provider databag: {e}"
            ));
            return None;
        }
    };
    let mut matching = receivers.iter().filter(|r| r.protocol.name == PROTOCOL);
    let Some(receiver) = matching.next() else {
        warnings.push(format!(
            "charm-tracing: no receiver found with protocol='{PROTOCOL}'"
        ));
        return None;
    };
    if matching.next().is_some() {
        warnings.push(format!(
            "charm-tracing: too many receivers with protocol='{PROTOCOL}'; using first one"
        ));
    }
    let base = receiver.url.as_str();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        warnings.push(format!(
            "charm-tracing: the base_url={base} must be an HTTP or an HTTPS URL"
        ));
        return None;
    }
    Some(format!("{}/v1/traces", base.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(receivers: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("receivers".to_owned(), receivers.to_owned())])
    }

    #[test]
    fn requirer_writes_exactly_the_python_string() {
        let bag = requirer_app_databag();
        assert_eq!(bag.len(), 1);
        assert_eq!(bag["receivers"], r#"["otlp_http"]"#);
        // The same bytes as Python's json.dumps(["otlp_http"]).
        assert_eq!(
            bag["receivers"],
            service_mesh::pyjson::dumps(&serde_json::json!(["otlp_http"]))
        );
    }

    #[test]
    fn valid_provider_gives_v1_traces() {
        let bag = provider(
            r#"[{"protocol": {"name": "otlp_grpc", "type": "grpc"}, "url": "tempo:4317"},
                {"protocol": {"name": "otlp_http", "type": "http"}, "url": "http://tempo.example.com:4318"}]"#,
        );
        assert_eq!(
            destination(Some(&bag), &mut Vec::new()).as_deref(),
            Some("http://tempo.example.com:4318/v1/traces")
        );
        let slash = provider(
            r#"[{"protocol": {"name": "otlp_http", "type": "http"}, "url": "https://t:4318/"}]"#,
        );
        assert_eq!(
            destination(Some(&slash), &mut Vec::new()).as_deref(),
            Some("https://t:4318/v1/traces")
        );
    }

    #[test]
    fn no_relation_or_missing_data_gives_none() {
        assert_eq!(destination(None, &mut Vec::new()), None);
        assert_eq!(destination(Some(&BTreeMap::new()), &mut Vec::new()), None);
        assert_eq!(destination(Some(&provider("[]")), &mut Vec::new()), None);
        let only_grpc =
            provider(r#"[{"protocol": {"name": "otlp_grpc", "type": "grpc"}, "url": "t:4317"}]"#);
        assert_eq!(destination(Some(&only_grpc), &mut Vec::new()), None);
    }

    #[test]
    fn garbage_gives_none() {
        for raw in [
            "not json",
            r#"{"receivers": 1}"#,
            r#"[{"protocol": {"name": "otlp_http"}, "url": "http://t"}]"#,
            r#"[{"protocol": {"name": "otlp_http", "type": "carrier-pigeon"}, "url": "http://t"}]"#,
            r#"[{"protocol": {"name": "otlp_http", "type": "http"}, "url": "tempo:4318"}]"#,
        ] {
            assert_eq!(
                destination(Some(&provider(raw)), &mut Vec::new()),
                None,
                "{raw}"
            );
        }
    }
}

//! A small async client for Pebble's HTTP API over the workload container's unix socket,
//! `$CHARM_CONTAINERS_ROOT/<container>/pebble.socket` (root default `/charm/containers`).
//!
//! Endpoints: `GET /v1/system-info`, `POST /v1/layers` (add, with combine),
//! `GET /v1/plan?format=yaml`, `GET /v1/services`, `POST /v1/services` (replan, an async
//! change) and `GET /v1/changes/{id}/wait`. Each request uses a fresh HTTP/1.1 connection.
//!
//! Responses are Pebble's envelope `{"type": "sync"|"async"|"error", "status-code", "status",
//! "result", "change"}`; an `error` envelope becomes [`PebbleError::Api`] with Pebble's
//! `result.message`. A socket that is absent or refuses is [`PebbleError::ConnectionFailed`]
//! (see [`PebbleError::is_connection_error`]) — the "cannot connect yet" case a charm must
//! tolerate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::UnixStream;

/// Where Juju mounts the workload containers' Pebble sockets in the charm container.
pub const DEFAULT_CONTAINERS_ROOT: &str = "/charm/containers";

/// The environment variable that overrides [`DEFAULT_CONTAINERS_ROOT`] (set by the simulator).
pub const CONTAINERS_ROOT_VAR: &str = "CHARM_CONTAINERS_ROOT";

/// How long a plain (non-waiting) request may take before it is abandoned.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Slack added to a change wait's own timeout for the HTTP round trip.
const WAIT_SLACK: Duration = Duration::from_secs(10);

/// The socket path of `container`'s Pebble, honouring `CHARM_CONTAINERS_ROOT`.
pub fn socket_path(container: &str) -> PathBuf {
    containers_root(std::env::var_os(CONTAINERS_ROOT_VAR))
        .join(container)
        .join("pebble.socket")
}

/// The containers root for a value of `CHARM_CONTAINERS_ROOT` (unset or empty: Juju's).
fn containers_root(var: Option<std::ffi::OsString>) -> PathBuf {
    var.filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_CONTAINERS_ROOT), PathBuf::from)
}

/// A Pebble client failure.
#[derive(Debug, thiserror::Error)]
pub enum PebbleError {
    /// The socket is absent or refuses connections: the workload's Pebble is not up (yet).
    #[error("cannot connect to Pebble at {}: {source}", socket.display())]
    ConnectionFailed {
        /// The socket path.
        socket: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange broke after connecting.
    #[error("HTTP error talking to Pebble at {}: {source}", socket.display())]
    Http {
        /// The socket path.
        socket: PathBuf,
        /// The transport error.
        #[source]
        source: hyper::Error,
    },
    /// Pebble did not answer in time.
    #[error("Pebble at {} did not answer {path} within {after:?}", socket.display())]
    Timeout {
        /// The socket path.
        socket: PathBuf,
        /// The request path.
        path: String,
        /// The time waited.
        after: Duration,
    },
    /// Pebble answered with an error envelope.
    #[error("Pebble API error {status_code} {status}: {message}")]
    Api {
        /// The HTTP status code from the envelope.
        status_code: u16,
        /// The status text (`Not Found`, …).
        status: String,
        /// `result.kind`, if any (e.g. `generic-file-error`).
        kind: String,
        /// `result.message`.
        message: String,
    },
    /// The response is not the envelope or result expected.
    #[error("unexpected Pebble response to {path}: {reason} (body {body:?})")]
    Decode {
        /// The request path.
        path: String,
        /// What was wrong.
        reason: String,
        /// The raw body (lossily decoded).
        body: String,
    },
    /// A change finished with an error (e.g. a service failed to start on replan).
    #[error("Pebble change {id} ({kind}) failed: {err}")]
    ChangeFailed {
        /// The change id.
        id: String,
        /// The change kind (`replan`, …).
        kind: String,
        /// The change's `err` text.
        err: String,
    },
    /// Pebble's wait timed out (HTTP 504) before the change was ready.
    #[error("timed out waiting for Pebble change {id} ({timeout:?})")]
    ChangeTimeout {
        /// The change id.
        id: String,
        /// The wait's timeout.
        timeout: Duration,
    },
    /// A layer could not be serialised as YAML.
    #[error("cannot serialise the Pebble layer: {0}")]
    Layer(#[from] serde_yaml_ng::Error),
}

impl PebbleError {
    /// Whether this means "cannot reach Pebble" rather than "Pebble said no".
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            PebbleError::ConnectionFailed { .. }
                | PebbleError::Http { .. }
                | PebbleError::Timeout { .. }
        )
    }
}

/// A service in a layer or plan. Fields are declared in alphabetical order so the YAML
/// matches ops' `Layer.to_yaml()` (PyYAML sorts keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Services to start after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Services to start before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<String>,
    /// The command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Extra environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Group to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `merge` or `replace` (required in a layer).
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<String>,
    /// Services this one requires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// `enabled` or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<String>,
    /// Short description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// User to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Working directory.
    #[serde(
        default,
        rename = "working-dir",
        skip_serializing_if = "Option::is_none"
    )]
    pub working_dir: Option<String>,
    /// Any other service fields Pebble knows (`on-failure`, `backoff-delay`, …), kept as-is.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml_ng::Value>,
}

/// A Pebble layer (fields alphabetical, see [`Service`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Health checks, kept as raw YAML.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, serde_yaml_ng::Value>,
    /// Long description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Log targets, kept as raw YAML.
    #[serde(
        default,
        rename = "log-targets",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub log_targets: BTreeMap<String, serde_yaml_ng::Value>,
    /// Services by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, Service>,
    /// Short summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl Layer {
    /// The layer as YAML, the form `POST /v1/layers` takes.
    pub fn to_yaml(&self) -> Result<String, PebbleError> {
        Ok(serde_yaml_ng::to_string(self)?)
    }
}

/// The combined plan (`GET /v1/plan`): the same shape as a layer.
pub type Plan = Layer;

/// `GET /v1/system-info`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SystemInfo {
    /// Pebble's version.
    pub version: String,
    /// The boot id, if reported.
    #[serde(default, rename = "boot-id")]
    pub boot_id: Option<String>,
}

/// One entry of `GET /v1/services`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceInfo {
    /// Service name.
    pub name: String,
    /// `enabled` / `disabled`.
    #[serde(default)]
    pub startup: String,
    /// `active`, `inactive`, `backoff`, `error`.
    #[serde(default)]
    pub current: String,
}

/// A Pebble change (`GET /v1/changes/{id}[/wait]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Change {
    /// Change id.
    pub id: String,
    /// Kind, e.g. `replan`.
    #[serde(default)]
    pub kind: String,
    /// Summary.
    #[serde(default)]
    pub summary: String,
    /// `Do`, `Doing`, `Done`, `Error`, …
    #[serde(default)]
    pub status: String,
    /// Whether the change has finished.
    #[serde(default)]
    pub ready: bool,
    /// The error, if the change failed.
    #[serde(default)]
    pub err: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "status-code", default)]
    status_code: u16,
    #[serde(default)]
    status: String,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    change: Option<String>,
}

/// A Pebble client for one container's socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// The client for `container`'s Pebble (see [`socket_path`]).
    pub fn for_container(container: &str) -> Client {
        Client::with_socket(socket_path(container))
    }

    /// A client for an explicit socket path.
    pub fn with_socket(socket: impl Into<PathBuf>) -> Client {
        Client {
            socket: socket.into(),
        }
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Bytes), PebbleError> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|source| {
            PebbleError::ConnectionFailed {
                socket: self.socket.clone(),
                source,
            }
        })?;
        let http_err = |source| PebbleError::Http {
            socket: self.socket.clone(),
            source,
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http_err)?;
        // The connection future does the I/O; it ends when the response is read and the
        // sender dropped.
        let driver = tokio::spawn(conn);
        let payload = body.map(Value::to_string).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(path)
            // Go's HTTP server rejects HTTP/1.1 requests without Host.
            .header(header::HOST, "localhost")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| PebbleError::Decode {
                path: path.to_string(),
                reason: format!("cannot build request: {e}"),
                body: String::new(),
            })?;
        let response = sender.send_request(request).await.map_err(http_err)?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(http_err)?
            .to_bytes();
        drop(sender);
        driver.abort();
        Ok((status, bytes))
    }

    /// One request, parsed into Pebble's envelope; error envelopes become
    /// [`PebbleError::Api`].
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        timeout: Duration,
    ) -> Result<Envelope, PebbleError> {
        let exchange = self.exchange(method, path, body.as_ref());
        let (http_status, bytes) =
            tokio::time::timeout(timeout, exchange)
                .await
                .map_err(|_| PebbleError::Timeout {
                    socket: self.socket.clone(),
                    path: path.to_string(),
                    after: timeout,
                })??;
        let envelope: Envelope =
            serde_json::from_slice(&bytes).map_err(|e| PebbleError::Decode {
                path: path.to_string(),
                reason: format!("not a Pebble response envelope (HTTP {http_status}): {e}"),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            })?;
        if envelope.kind == "error" {
            let field = |k: &str| {
                envelope
                    .result
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            return Err(PebbleError::Api {
                status_code: if envelope.status_code == 0 {
                    http_status
                } else {
                    envelope.status_code
                },
                status: envelope.status.clone(),
                kind: field("kind"),
                message: field("message"),
            });
        }
        Ok(envelope)
    }

    fn decode<T: serde::de::DeserializeOwned>(path: &str, result: Value) -> Result<T, PebbleError> {
        serde_json::from_value(result.clone()).map_err(|e| PebbleError::Decode {
            path: path.to_string(),
            reason: e.to_string(),
            body: result.to_string(),
        })
    }

    /// `GET /v1/system-info`
    pub async fn system_info(&self) -> Result<SystemInfo, PebbleError> {
        let path = "/v1/system-info";
        let env = self
            .request(Method::GET, path, None, REQUEST_TIMEOUT)
            .await?;
        Self::decode(path, env.result)
    }

    /// Whether Pebble answers `system-info` (any failure counts as "cannot connect", as in
    /// ops' `Container.can_connect`).
    pub async fn can_connect(&self) -> bool {
        match self.system_info().await {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!(socket = %self.socket.display(), error = %e, "Pebble not reachable");
                false
            }
        }
    }

    /// `POST /v1/layers` `{"action": "add", "combine": combine, "label": label, "format":
    /// "yaml", "layer": <yaml>}`
    pub async fn add_layer(
        &self,
        label: &str,
        layer: &Layer,
        combine: bool,
    ) -> Result<(), PebbleError> {
        let body = json!({
            "action": "add",
            "combine": combine,
            "label": label,
            "format": "yaml",
            "layer": layer.to_yaml()?,
        });
        self.request(Method::POST, "/v1/layers", Some(body), REQUEST_TIMEOUT)
            .await
            .map(drop)
    }

    /// `GET /v1/plan?format=yaml` → the combined plan.
    pub async fn get_plan(&self) -> Result<Plan, PebbleError> {
        let path = "/v1/plan?format=yaml";
        let env = self
            .request(Method::GET, path, None, REQUEST_TIMEOUT)
            .await?;
        let yaml = env.result.as_str().ok_or_else(|| PebbleError::Decode {
            path: path.to_string(),
            reason: "result is not a YAML string".to_string(),
            body: env.result.to_string(),
        })?;
        serde_yaml_ng::from_str::<Option<Plan>>(yaml)
            .map(Option::unwrap_or_default)
            .map_err(|e| PebbleError::Decode {
                path: path.to_string(),
                reason: e.to_string(),
                body: yaml.to_string(),
            })
    }

    /// `GET /v1/services` → every service's startup and current state.
    pub async fn get_services(&self) -> Result<Vec<ServiceInfo>, PebbleError> {
        let path = "/v1/services";
        let env = self
            .request(Method::GET, path, None, REQUEST_TIMEOUT)
            .await?;
        Self::decode(path, env.result)
    }

    /// `POST /v1/services` `{"action": "replan", "services": []}`, then wait up to `timeout`
    /// for the change. A change that ends in error is [`PebbleError::ChangeFailed`].
    pub async fn replan(&self, timeout: Duration) -> Result<Change, PebbleError> {
        let path = "/v1/services";
        let body = json!({"action": "replan", "services": []});
        let env = self
            .request(Method::POST, path, Some(body), REQUEST_TIMEOUT)
            .await?;
        let id = match (env.kind.as_str(), env.change) {
            ("async", Some(id)) => id,
            (kind, _) => {
                return Err(PebbleError::Decode {
                    path: path.to_string(),
                    reason: format!("expected an async response with a change id, got {kind:?}"),
                    body: env.result.to_string(),
                });
            }
        };
        self.wait_change(&id, timeout).await
    }

    /// `GET /v1/changes/{id}/wait?timeout=<t>s` → the finished change, or
    /// [`PebbleError::ChangeFailed`] if it has an error.
    pub async fn wait_change(&self, id: &str, timeout: Duration) -> Result<Change, PebbleError> {
        let path = format!(
            "/v1/changes/{id}/wait?timeout={}.{:03}s",
            timeout.as_secs(),
            timeout.subsec_millis()
        );
        let env = match self
            .request(Method::GET, &path, None, timeout + WAIT_SLACK)
            .await
        {
            Err(PebbleError::Api {
                status_code: 504, ..
            }) => {
                return Err(PebbleError::ChangeTimeout {
                    id: id.to_string(),
                    timeout,
                });
            }
            other => other?,
        };
        let change: Change = Self::decode(&path, env.result)?;
        match change.err.as_deref() {
            Some(err) if !err.is_empty() => Err(PebbleError::ChangeFailed {
                id: change.id,
                kind: change.kind,
                err: err.to_string(),
            }),
            _ => Ok(change),
        }
    }
}

#[cfg(test)]
mod tests;

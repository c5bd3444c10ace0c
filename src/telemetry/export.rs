//! Sending the hook's spans to the `charm-tracing` destination: one OTLP/HTTP JSON POST at the
//! end of the hook, bounded by a short timeout. Like `ops.tracing`, a failure is reported to the
//! caller to log, never a reason to fail the hook; unlike `ops.tracing`, unsent spans are
//! dropped rather than buffered on disk for the next hook.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::spans::{Resource, SpanRecorder, encode};

/// `ops.tracing` gives the collector one second (`EXPORT_TIMEOUT`); so do we.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("invalid tracing destination {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("tracing destination {0} is https, which this charm cannot send to (no TLS client)")]
    HttpsUnsupported(String),
    #[error("could not send spans to {endpoint}: {source}")]
    Send {
        endpoint: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("could not read the response from {endpoint}: {source}")]
    Response {
        endpoint: String,
        #[source]
        source: hyper::Error,
    },
    #[error("tracing collector at {endpoint} did not answer within {timeout:?}")]
    Timeout { endpoint: String, timeout: Duration },
    #[error("tracing collector at {endpoint} rejected our data: HTTP {status}: {body}")]
    Rejected {
        endpoint: String,
        status: u16,
        body: String,
    },
}

/// Drains `recorder` and POSTs its spans to `endpoint` (the `…/v1/traces` URL from
/// [`destination`](super::tracing_relation::destination)). Returns how many spans were sent;
/// nothing is sent when no span was recorded. Drop the hook's root span before calling, or it
/// is not included.
pub async fn flush(
    recorder: &SpanRecorder,
    endpoint: &str,
    resource: &Resource<'_>,
) -> Result<usize, ExportError> {
    let spans = recorder.take();
    if spans.is_empty() {
        return Ok(0);
    }
    post(endpoint, encode(resource, &spans), EXPORT_TIMEOUT).await?;
    Ok(spans.len())
}

/// One `POST endpoint` with `Content-Type: application/json`; any non-2xx answer is an error.
pub async fn post(endpoint: &str, body: Vec<u8>, timeout: Duration) -> Result<(), ExportError> {
    let uri: Uri = endpoint
        .parse()
        .map_err(
            |e: hyper::http::uri::InvalidUri| ExportError::InvalidEndpoint {
                endpoint: endpoint.to_owned(),
                reason: e.to_string(),
            },
        )?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err(ExportError::HttpsUnsupported(endpoint.to_owned())),
        _ => {
            return Err(ExportError::InvalidEndpoint {
                endpoint: endpoint.to_owned(),
                reason: "not an http URL".to_owned(),
            });
        }
    }
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| ExportError::InvalidEndpoint {
            endpoint: endpoint.to_owned(),
            reason: e.to_string(),
        })?;
    let exchange = async {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let response = client
            .request(request)
            .await
            .map_err(|source| ExportError::Send {
                endpoint: endpoint.to_owned(),
                source,
            })?;
        let status = response.status();
        // Read the answer so the collector's complaint can be reported (ops keeps 1000 bytes).
        let answer = response
            .into_body()
            .collect()
            .await
            .map_err(|source| ExportError::Response {
                endpoint: endpoint.to_owned(),
                source,
            })?
            .to_bytes();
        if status.is_success() {
            Ok(())
        } else {
            let shown = answer.get(..1000).unwrap_or(&answer);
            Err(ExportError::Rejected {
                endpoint: endpoint.to_owned(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(shown).into_owned(),
            })
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(ExportError::Timeout {
                endpoint: endpoint.to_owned(),
                timeout,
            })
        })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use hyper::body::Incoming;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Response, StatusCode};
    use hyper_util::rt::TokioIo;
    use serde_json::Value;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    const RESOURCE: Resource<'static> = Resource {
        model: "prod",
        model_uuid: "7b0e1c9e-0000-4000-8000-000000000001",
        unit: "istio-beacon-k8s/0",
        charm_name: "istio-beacon-k8s",
        charm_type: "IstioBeaconCharm",
    };

    /// What the collector saw: method, path, content type, body.
    type Seen = (String, String, Option<String>, Vec<u8>);

    /// A one-connection-at-a-time OTLP collector on 127.0.0.1 answering `status`.
    async fn collector(status: StatusCode) -> (String, mpsc::UnboundedReceiver<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.ok();
        let port = listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map_or(0, |a| a.port());
        let (tx, rx) = mpsc::unbounded_channel();
        let tx = Arc::new(Mutex::new(tx));
        tokio::spawn(async move {
            let Some(listener) = listener else { return };
            while let Ok((stream, _)) = listener.accept().await {
                let tx = Arc::clone(&tx);
                let service = service_fn(move |req: Request<Incoming>| {
                    let tx = Arc::clone(&tx);
                    async move {
                        let method = req.method().to_string();
                        let path = req.uri().path().to_owned();
                        let content_type = req
                            .headers()
                            .get(header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes().to_vec())
                            .unwrap_or_default();
                        if let Ok(tx) = tx.lock() {
                            let _ = tx.send((method, path, content_type, body));
                        }
                        let mut response = Response::new(Full::new(Bytes::from_static(b"nope")));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
        });
        (format!("http://127.0.0.1:{port}/v1/traces"), rx)
    }

    fn recorder_with_one_span() -> SpanRecorder {
        let recorder = SpanRecorder::new();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::with_default(subscriber, || {
            drop(tracing::info_span!("ops.main", hook = "update-status"));
        });
        recorder
    }

    #[tokio::test]
    async fn flush_posts_otlp_json_to_v1_traces() {
        let (endpoint, mut seen) = collector(StatusCode::OK).await;
        let recorder = recorder_with_one_span();

        let sent = flush(&recorder, &endpoint, &RESOURCE).await;
        assert_eq!(sent.ok(), Some(1));

        let (method, path, content_type, body) = seen.recv().await.unwrap_or_default();
        assert_eq!(method, "POST");
        assert_eq!(path, "/v1/traces");
        assert_eq!(content_type.as_deref(), Some("application/json"));
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        let span = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["name"], "ops.main");
        assert_eq!(
            span["attributes"][0],
            serde_json::json!({"key": "hook", "value": {"stringValue": "update-status"}})
        );

        // Drained: a second flush sends nothing.
        assert_eq!(flush(&recorder, &endpoint, &RESOURCE).await.ok(), Some(0));
    }

    #[tokio::test]
    async fn rejection_is_an_error_with_the_status() {
        let (endpoint, _seen) = collector(StatusCode::BAD_REQUEST).await;
        let result = flush(&recorder_with_one_span(), &endpoint, &RESOURCE).await;
        match result {
            Err(ExportError::Rejected { status, body, .. }) => {
                assert_eq!(status, 400);
                assert_eq!(body, "nope");
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn refused_connection_is_an_error_value() {
        // Bind then release a port so nothing listens there.
        let port = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener.local_addr().map_or(0, |a| a.port()),
            Err(_) => 0,
        };
        let endpoint = format!("http://127.0.0.1:{port}/v1/traces");
        let result = flush(&recorder_with_one_span(), &endpoint, &RESOURCE).await;
        assert!(
            matches!(result, Err(ExportError::Send { .. })),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn unusable_destinations_are_error_values() {
        let https = post("https://tempo:4318/v1/traces", Vec::new(), EXPORT_TIMEOUT).await;
        assert!(
            matches!(https, Err(ExportError::HttpsUnsupported(_))),
            "{https:?}"
        );
        let junk = post("not a url", Vec::new(), EXPORT_TIMEOUT).await;
        assert!(
            matches!(junk, Err(ExportError::InvalidEndpoint { .. })),
            "{junk:?}"
        );
        let relative = post("/v1/traces", Vec::new(), EXPORT_TIMEOUT).await;
        assert!(
            matches!(relative, Err(ExportError::InvalidEndpoint { .. })),
            "{relative:?}"
        );
    }
}

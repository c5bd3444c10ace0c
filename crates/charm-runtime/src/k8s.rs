//! Kubernetes access for a charm: a `kube::Client` from the environment whose retries and
//! timeouts are bounded, and write parameters that always carry a field manager (the Python
//! charm's lightkube client sets `field_manager=<app name>` on every write).
//!
//! `kube::Config::infer()` uses `KUBECONFIG` / `~/.kube/config` when present (the simulator
//! writes a kubeconfig and sets `KUBECONFIG`) and the in-cluster service account otherwise
//! (production: the charm pod's trusted service account).
//!
//! # Retries and timeouts
//!
//! kube's default client (kube-client 5, `Config::default_retry = true`) retries a request
//! answered 429, 503 or 504 up to 15 times, waiting 5 ms × 2ⁿ (plus up to twice that in jitter,
//! each wait capped at 1000 s) and honouring any `Retry-After`: about three minutes of waiting
//! at best, and up to eight, inside a single request. It sets no read timeout, a 30 s connect
//! timeout and a 295 s write timeout. A hook that waits that long holds the unit's hook lock, and
//! Juju retries a failed hook anyway. So the client a charm gets here instead:
//!
//! - retries only what [`is_retryable_status`] and [`is_retryable_transport`] accept (the one
//!   definition of "retryable", also behind [`is_retryable`] for callers that decide what to do
//!   with an error);
//! - retries a request at most [`Retry::max_retries`] times, waiting a jittered exponential
//!   back-off capped at [`Retry::max_delay`] (a server's `Retry-After` may lengthen a wait, never
//!   beyond that cap);
//! - spends at most [`Retry::budget`] on waiting in total, across every request of the client
//!   (a charm builds one client per hook, so this is the hook's budget): once it is spent, a
//!   retryable failure is returned at once;
//! - times out connecting after [`CONNECT_TIMEOUT`], and a response or request that stalls for
//!   [`READ_TIMEOUT`] / [`WRITE_TIMEOUT`].
//!
//! Then the error is returned; the charm exits non-zero and Juju runs the hook again later.
//! With [`Retry::HOOK`] a request waits at most 0.5 + 1 + 2 = 3.5 s (5 s when the server asks
//! for longer waits with `Retry-After`), and a hook at most 5 s.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::api::{PatchParams, PostParams};
use kube::client::{Body, ClientBuilder};
use tower::BoxError;
use tower::buffer::BufferLayer;
use tower::retry::{Policy, RetryLayer};

/// Connecting to the API server gives up after this long (kube's default: 30 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Reading a response gives up after it stalls this long (kube's default: never). Counted from
/// when the request was written, not from when a pooled connection went idle.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Writing a request gives up after it stalls this long (kube's default: 295 s).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Building the Kubernetes client failed.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("cannot find Kubernetes configuration: {0}")]
    Config(#[from] kube::config::InferConfigError),
    /// The configuration could not be turned into a client (TLS setup, …).
    #[error("cannot build the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
}

/// Whether an HTTP status means "not done, try again later": 429 Too Many Requests (API
/// priority and fairness, or the server's max-in-flight limit), 503 Service Unavailable (the
/// server or an aggregated API is not ready) and 504 Gateway Timeout (the server gave up on the
/// request in time; the apiserver's own timeout answers 504). The same three kube retries.
pub fn is_retryable_status(code: u16) -> bool {
    matches!(
        StatusCode::from_u16(code),
        Ok(StatusCode::TOO_MANY_REQUESTS
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT)
    )
}

/// Whether a transport error (no HTTP response) is worth another try: only a failure to
/// connect (refused, unreachable, connect timeout), because then the request was never sent.
/// A connection that broke after the request was written is not retried: the server may have
/// acted on it, and a create or a patch must not be sent twice.
pub fn is_retryable_transport(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(hyper_util::client::legacy::Error::is_connect)
        {
            return true;
        }
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// Whether a failed kube request may succeed if the hook runs again: an API error with a
/// [retryable status](is_retryable_status), or a [retryable transport
/// error](is_retryable_transport). The client of [`client`] has already retried such a request
/// within its budget, so a caller seeing one should give up for this hook (exit non-zero, or
/// defer) rather than loop.
pub fn is_retryable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => is_retryable_status(status.code),
        kube::Error::Service(e) => is_retryable_transport(&**e),
        kube::Error::HyperError(e) => is_retryable_transport(e),
        _ => false,
    }
}

/// How the client retries a [retryable](is_retryable_status) failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Retries of one request (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// The ceiling of the first wait; it doubles for each further retry.
    pub initial_delay: Duration,
    /// No single wait is longer, whatever the server's `Retry-After`.
    pub max_delay: Duration,
    /// Total waiting allowed across all requests of one client; a retry whose wait does not
    /// fit in what is left is not made.
    pub budget: Duration,
    /// Wait a random time between half the ceiling and the ceiling ("equal jitter"), so that
    /// units hitting the same overloaded server do not retry in step. Without it, the ceiling.
    pub jitter: bool,
}

impl Retry {
    /// What [`client`] uses: 3 retries, waits of at most 0.5 s, 1 s, 2 s, 5 s per hook.
    pub const HOOK: Retry = Retry {
        max_retries: 3,
        initial_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(2),
        budget: Duration::from_secs(5),
        jitter: true,
    };

    /// No retries at all.
    pub const NONE: Retry = Retry {
        max_retries: 0,
        initial_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        budget: Duration::ZERO,
        jitter: false,
    };

    /// The ceiling of the wait before retry `n` (0-based): `initial_delay × 2ⁿ`, at most
    /// `max_delay`.
    pub fn ceiling(&self, n: u32) -> Duration {
        self.initial_delay
            .checked_mul(2u32.saturating_pow(n))
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The longest one request can wait in total: every wait at its ceiling (or, with
    /// `Retry-After`, at `max_delay`), and never more than the budget.
    pub fn worst_case_wait(&self, honouring_retry_after: bool) -> Duration {
        let sum = (0..self.max_retries)
            .map(|n| {
                if honouring_retry_after {
                    self.max_delay
                } else {
                    self.ceiling(n)
                }
            })
            .fold(Duration::ZERO, Duration::saturating_add);
        sum.min(self.budget)
    }

    /// The wait before retry `n`; `random` is any random number (only used with jitter).
    fn delay(&self, n: u32, retry_after: Option<Duration>, random: u64) -> Duration {
        let ceiling = self.ceiling(n);
        let wait = if self.jitter {
            // ceiling/2 + a uniform share of the other half.
            let half = ceiling / 2;
            #[allow(clippy::cast_precision_loss)] // a fraction in [0, 1) is all that is needed
            let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
            half + half.mul_f64(fraction)
        } else {
            ceiling
        };
        match retry_after {
            Some(asked) => wait.max(asked).min(self.max_delay),
            None => wait,
        }
    }
}

impl Default for Retry {
    fn default() -> Retry {
        Retry::HOOK
    }
}

/// What is left of a client's waiting budget, shared by all its requests.
#[derive(Debug, Clone)]
struct Budget(Arc<Mutex<Duration>>);

impl Budget {
    /// Take `wait` from the budget if it fits.
    fn take(&self, wait: Duration) -> bool {
        let mut left = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match left.checked_sub(wait) {
            Some(rest) => {
                *left = rest;
                true
            }
            None => false,
        }
    }
}

/// The tower retry policy of [`Retry`]; one clone per request (tower's `Retry` clones it for
/// each call), so `retries` counts that request's retries while the budget is shared.
#[derive(Debug, Clone)]
struct RetryPolicy {
    retry: Retry,
    retries: u32,
    budget: Budget,
}

/// A `Retry-After: <seconds>` header.
fn retry_after<B>(response: &Response<B>) -> Option<Duration> {
    let value = response.headers().get(http::header::RETRY_AFTER)?;
    let seconds: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _request: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        let asked = match result {
            Ok(response) if is_retryable_status(response.status().as_u16()) => {
                retry_after(response)
            }
            Err(e) if is_retryable_transport(&**e) => None,
            _ => return None,
        };
        if self.retries >= self.retry.max_retries {
            return None;
        }
        let wait = self.retry.delay(
            self.retries,
            asked,
            RandomState::new().hash_one(self.retries),
        );
        if !self.budget.take(wait) {
            return None;
        }
        self.retries += 1;
        tracing::debug!(retry = self.retries, ?wait, "retrying a Kubernetes request");
        Some(tokio::time::sleep(wait))
    }

    fn clone_request(&mut self, request: &Request<Body>) -> Option<Request<Body>> {
        // A streaming body cannot be replayed; such a request is simply not retried.
        let body = request.body().try_clone()?;
        let mut clone = Request::new(body);
        *clone.method_mut() = request.method().clone();
        *clone.uri_mut() = request.uri().clone();
        *clone.version_mut() = request.version();
        *clone.headers_mut() = request.headers().clone();
        *clone.extensions_mut() = request.extensions().clone();
        Some(clone)
    }
}

/// Set the timeouts of this module on `config` and turn kube's own retrying off.
pub fn bound(config: &mut kube::Config) {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    config.write_timeout = Some(WRITE_TIMEOUT);
    config.default_retry = false;
}

/// A client for `config` with this module's timeouts and `retry` instead of kube's retrying.
/// Must be called within a tokio runtime (the client's buffer runs as a task).
pub fn client_with(mut config: kube::Config, retry: Retry) -> Result<kube::Client, K8sError> {
    bound(&mut config);
    let policy = RetryPolicy {
        retry,
        retries: 0,
        budget: Budget(Arc::new(Mutex::new(retry.budget))),
    };
    Ok(ClientBuilder::try_from(config)?
        // tower's retry needs a service it can clone: the buffer is that handle.
        .with_layer(&BufferLayer::new(1024))
        .with_layer(&RetryLayer::new(policy))
        .build())
}

/// A client from `Config::infer()`, with its default namespace unchanged, bounded timeouts and
/// [`Retry::HOOK`].
pub async fn client() -> Result<kube::Client, K8sError> {
    client_with(kube::Config::infer().await?, Retry::HOOK)
}

/// A client from `Config::infer()` whose default namespace is `namespace` (a charm's model
/// name), as the Python charm creates its lightkube client; bounded as [`client`].
pub async fn client_in_namespace(namespace: &str) -> Result<kube::Client, K8sError> {
    let mut config = kube::Config::infer().await?;
    config.default_namespace = namespace.to_string();
    client_with(config, Retry::HOOK)
}

/// Server-side apply parameters: `fieldManager=<field_manager>`, `force=true`.
pub fn apply_params(field_manager: &str) -> PatchParams {
    PatchParams::apply(field_manager).force()
}

/// Parameters for a non-apply patch (merge / strategic merge / JSON patch) carrying
/// `fieldManager=<field_manager>`.
pub fn patch_params(field_manager: &str) -> PatchParams {
    PatchParams {
        field_manager: Some(field_manager.to_string()),
        ..PatchParams::default()
    }
}

/// Create parameters carrying `fieldManager=<field_manager>`.
pub fn post_params(field_manager: &str) -> PostParams {
    PostParams {
        field_manager: Some(field_manager.to_string()),
        ..PostParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_policy_waits_are_bounded() {
        let r = Retry::HOOK;
        let ms = Duration::from_millis;
        assert_eq!(
            (0..4).map(|n| r.ceiling(n)).collect::<Vec<_>>(),
            [ms(500), ms(1000), ms(2000), ms(2000)]
        );
        assert_eq!(r.worst_case_wait(false), ms(3500));
        assert_eq!(
            r.worst_case_wait(true),
            ms(5000),
            "3 × 2 s, cut to the budget"
        );
        // Whatever the random numbers, each wait is between half its ceiling and the ceiling,
        // a Retry-After never pushes it past max_delay, and the sum stays within the bound.
        let mut seed = 0x1234_5678_u64;
        for _ in 0..10_000 {
            let mut total = Duration::ZERO;
            for n in 0..r.max_retries {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let wait = r.delay(n, None, seed);
                assert!(wait >= r.ceiling(n) / 2 && wait <= r.ceiling(n), "{wait:?}");
                let asked = r.delay(n, Some(Duration::from_secs(60)), seed);
                assert_eq!(asked, r.max_delay);
                total += wait;
            }
            assert!(total <= r.worst_case_wait(false));
        }
        assert_eq!(
            r.delay(0, Some(Duration::from_secs(1)), 0),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn budget_is_taken_only_when_the_wait_fits() {
        let b = Budget(Arc::new(Mutex::new(Duration::from_millis(10))));
        let shared = b.clone();
        assert!(b.take(Duration::from_millis(6)));
        assert!(!shared.take(Duration::from_millis(6)), "4 ms left");
        assert!(shared.take(Duration::from_millis(4)));
        assert!(!b.take(Duration::from_millis(1)));
        assert!(b.take(Duration::ZERO));
    }

    #[test]
    fn retryable_statuses() {
        for code in [429, 503, 504] {
            assert!(is_retryable_status(code), "{code}");
        }
        for code in [200, 400, 401, 403, 404, 409, 410, 422, 500, 502, 0, 999] {
            assert!(!is_retryable_status(code), "{code}");
        }
    }

    #[test]
    fn bound_sets_timeouts_and_turns_kube_retries_off() {
        let mut config = kube::Config::new("http://127.0.0.1:1".parse().expect("uri"));
        assert!(config.default_retry && config.read_timeout.is_none());
        bound(&mut config);
        assert!(!config.default_retry);
        assert_eq!(config.connect_timeout, Some(CONNECT_TIMEOUT));
        assert_eq!(config.read_timeout, Some(READ_TIMEOUT));
        assert_eq!(config.write_timeout, Some(WRITE_TIMEOUT));
        assert!(config.reset_reader_on_write);
    }

    #[test]
    fn apply_params_force_with_field_manager() {
        let p = apply_params("istio-beacon-k8s");
        assert_eq!(p.field_manager.as_deref(), Some("istio-beacon-k8s"));
        assert!(p.force);
        assert!(!p.dry_run);
    }

    #[test]
    fn patch_and_post_params_carry_field_manager_without_force() {
        let p = patch_params("beacon");
        assert_eq!(p.field_manager.as_deref(), Some("beacon"));
        assert!(!p.force, "force is only valid for apply patches");
        let pp = post_params("beacon");
        assert_eq!(pp.field_manager.as_deref(), Some("beacon"));
    }
}

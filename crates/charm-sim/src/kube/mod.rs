//! The simulated Kubernetes API server.
//!
//! A real HTTP/1.1 server on `127.0.0.1:<random>` that the real `kube` client, Python
//! lightkube and kubectl talk to through a generated kubeconfig. It runs on its own thread
//! with its own tokio runtime; every method of [`ApiServer`] is synchronous (the state sits
//! behind a mutex), so the simulator can drive it between hook runs without being async itself.
//!
//! Layout: `http` (connections, routing, faults, recording, discovery), `openapi` (the
//! `/openapi/v3` and `/openapi/v2` documents), `table` (server-side printing), `store` (objects and the verbs), `registry`
//! (built-in kinds and installed CRDs, schema handling), `fields` and
//! `ssa` (managedFields and server-side apply), `patch` (merge, strategic merge, JSON patch),
//! `selector` (label and field selectors), `validate` (names, labels), `status` (error bodies).
//!
//! Behaviour a client can rely on, as a real apiserver: `Status` failure bodies; unknown
//! groups/versions answer the plain-text `404 page not found` page (kube-rs turns it into
//! `Error::Api` with code 404; lightkube raises a bare `httpx.HTTPStatusError`, not `ApiError`,
//! exactly as against a real cluster); a known
//! group/version with an unknown resource answers a JSON `NotFound`. Custom resources are
//! served in every served CRD version, stored once in the storage version, pruned, defaulted
//! and validated (Draft 4 schema plus the hand-coded CEL rules of the shipped CRDs).
//!
//! Simplified, on purpose:
//! - server-side apply: lists are atomic unless `x-kubernetes-list-type: map|set` (CRDs) or a
//!   k8s.io/api merge key (built-ins: containers, env, ports, volumes, volumeMounts, …) says
//!   otherwise; new map-list items are appended; a manager never conflicts with its own
//!   Update entry; client-sent `managedFields` are ignored;
//! - strategic merge: merge keys as above, `$patch: delete|replace` honoured, `$retainKeys`,
//!   `$setElementOrder` and `$deleteFromPrimitiveList` ignored;
//! - `status` of kinds with a status subresource is kept from the stored object on API writes
//!   (objects written through this interface may set it), but `/status` itself is not served;
//! - no built-in defaulting (Service clusterIP, Namespace finalizers/phase …), no watch (405), no
//!   deletecollection, no finalizers/graceful deletion (deletes are immediate; a Namespace
//!   takes its objects with it, a CRD its custom resources), pagination (`limit`, `continue`) walks the
//!   live store rather than one snapshot;
//! - objects are not converted between versions: the same body is served as v1 and v1beta1;
//! - request bodies are JSON or YAML; protobuf and CBOR get 415 (client-go's typed clients send
//!   protobuf: newer kubectl's `create namespace|configmap …`; manifests go as JSON);
//! - built-in kinds have no schema here: their unknown fields are kept (a real server drops
//!   them, refuses them under `fieldValidation=Strict` and in apply patches); for custom
//!   resources, `Strict` is enforced on create and replace but not on merge, strategic or JSON
//!   patches, and `Warn` sends no `Warning` header;
//! - OpenAPI documents list operations and parameters only (no schemas: `kubectl explain` finds
//!   nothing); discovery is the legacy kind only (no aggregated `apidiscovery.k8s.io`
//!   documents; client-go falls back); server-side printing (`as=Table`) for custom resources
//!   only (`table`): built-in kinds answer the plain JSON, and kubectl prints NAME and AGE
//!   itself instead of each kind's own columns.

mod fault;
mod fields;
mod http;
mod openapi;
mod patch;
mod registry;
mod selector;
mod ssa;
mod status;
mod store;
mod table;
mod validate;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use serde_json::Value;

pub use fault::{Fault, FaultError, FaultMatch};

use store::State;

/// What the server holds when it starts.
#[derive(Debug, Clone, Default)]
pub struct ApiServerConfig {
    /// CustomResourceDefinition objects to install (see [`ApiServer::default_crds`]).
    pub crds: Vec<Value>,
    /// Objects that exist before the first request (created as another actor would).
    pub objects: Vec<Value>,
    /// Faults armed from the start.
    pub faults: Vec<Fault>,
}

/// One request as the server saw it, after fault handling.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Percent-decoded path.
    pub path: String,
    /// Percent-decoded query string (without `?`), empty when there is none.
    pub query: String,
    /// Final HTTP status; 0 when the connection was reset without a response.
    pub status: u16,
    #[serde(skip)]
    pub content_type: Option<String>,
    /// The body parsed as JSON (or YAML for apply patches), when it parses.
    #[serde(skip)]
    pub body: Option<Value>,
}

/// Errors of the simulator-side interface (never sent over HTTP).
#[derive(Debug, thiserror::Error)]
pub enum KubeSimError {
    #[error("cannot start the API server: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid fault: {0}")]
    InvalidFault(String),
    #[error("invalid CRD: {0}")]
    InvalidCrd(String),
    #[error("cannot store object: {0}")]
    Rejected(String),
}

/// A running simulated API server; dropping it shuts the server down.
pub struct ApiServer {
    state: Arc<Mutex<State>>,
    port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Installs the CRDs, creates the objects, arms the faults and starts serving on
    /// `127.0.0.1:0`.
    pub fn start(cfg: ApiServerConfig) -> Result<ApiServer, KubeSimError> {
        let mut state = State::new();
        for crd in cfg.crds {
            state.put_as_actor(crd)?;
        }
        for obj in actor_order(cfg.objects) {
            state.put_as_actor(obj)?;
        }
        for f in cfg.faults {
            state.arm_fault(f)?;
        }
        let state = Arc::new(Mutex::new(state));
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("charm-sim-kube".into())
            .spawn(move || runtime.block_on(http::serve(listener, thread_state, rx)))?;
        Ok(ApiServer {
            state,
            port,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Writes a kubeconfig pointing at this server with `namespace` as the default namespace.
    pub fn write_kubeconfig(&self, path: &Path, namespace: &str) -> std::io::Result<()> {
        let doc = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "charm-sim", "cluster": {"server": self.url()}}],
            "users": [{"name": "charm-sim", "user": {"token": "charm-sim"}}],
            "contexts": [{"name": "charm-sim", "context": {
                "cluster": "charm-sim", "user": "charm-sim", "namespace": namespace}}],
            "current-context": "charm-sim",
        });
        let text = serde_yaml_ng::to_string(&doc).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    /// The requests recorded since the last call, in arrival order.
    pub fn take_requests(&self) -> Vec<RecordedRequest> {
        self.lock().take_requests()
    }

    /// Creates or replaces objects as another actor would; a CRD object installs the CRD.
    pub fn apply_objects(&self, objs: Vec<Value>) -> Result<(), KubeSimError> {
        let mut state = self.lock();
        for obj in actor_order(objs) {
            state.put_as_actor(obj)?;
        }
        Ok(())
    }

    /// Deletes one object; `Ok(false)` when it did not exist.
    pub fn delete_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool, KubeSimError> {
        self.lock()
            .delete_as_actor(api_version, kind, namespace, name)
    }

    /// Arms more faults. A fault whose `path_regex` does not compile is logged and skipped.
    pub fn add_faults(&self, faults: Vec<Fault>) {
        let mut state = self.lock();
        for f in faults {
            if let Err(e) = state.arm_fault(f) {
                tracing::warn!("fault skipped: {e}");
            }
        }
    }

    /// Disarms every armed fault, then arms `faults`; nothing changes if one is invalid.
    pub fn replace_faults(&self, faults: Vec<Fault>) -> Result<(), KubeSimError> {
        self.lock().replace_faults(faults)
    }

    /// One object as the server stores it (with server-populated fields), in `api_version`.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.lock().get_as_actor(api_version, kind, namespace, name)
    }

    /// Every object except CustomResourceDefinitions, normalised for comparing runs: sorted
    /// by apiVersion, kind, namespace, name; uid, resourceVersion, generation,
    /// creationTimestamp and managedFields removed; object keys sorted at every level.
    pub fn objects_for_output(&self) -> Vec<Value> {
        self.lock().objects_for_output()
    }

    /// The CRDs the project ships for tests (`crates/charm-sim/crds/`).
    pub fn default_crds() -> Vec<Value> {
        registry::default_crds()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug in this module; the state is still
        // usable (every mutation is completed before the guard drops), so recover it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// CRDs first, then Namespaces, then the rest (stable): what a later object needs exists.
fn actor_order(mut objs: Vec<Value>) -> Vec<Value> {
    objs.sort_by_key(|o| match o.get("kind").and_then(Value::as_str) {
        Some("CustomResourceDefinition") => 0,
        Some("Namespace") => 1,
        _ => 2,
    });
    objs
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

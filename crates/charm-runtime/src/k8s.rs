//! Kubernetes access for a charm: a `kube::Client` from the environment, and write
//! parameters that always carry a field manager (the Python charm's lightkube client sets
//! `field_manager=<app name>` on every write).
//!
//! `kube::Config::infer()` uses `KUBECONFIG` / `~/.kube/config` when present (the simulator
//! writes a kubeconfig and sets `KUBECONFIG`) and the in-cluster service account otherwise
//! (production: the charm pod's trusted service account).

use kube::api::{PatchParams, PostParams};

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

/// A client from `Config::infer()`, with its default namespace unchanged.
pub async fn client() -> Result<kube::Client, K8sError> {
    let config = kube::Config::infer().await?;
    Ok(kube::Client::try_from(config)?)
}

/// A client from `Config::infer()` whose default namespace is `namespace` (a charm's model
/// name), as the Python charm creates its lightkube client.
pub async fn client_in_namespace(namespace: &str) -> Result<kube::Client, K8sError> {
    let mut config = kube::Config::infer().await?;
    config.default_namespace = namespace.to_string();
    Ok(kube::Client::try_from(config)?)
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

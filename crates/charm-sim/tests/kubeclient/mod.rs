//! Shared by the `kube_*` tests: the real `kube` client pointed at a simulated API server
//! through the kubeconfig it writes, as a charm's `Config::infer()` finds it.
#![allow(dead_code)]
use charm_sim::kube::ApiServer;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// The client config, for tests that tune it (e.g. kube's retries).
pub async fn config(server: &ApiServer) -> kube::Config {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, "prod").expect("kubeconfig");
    let kc = Kubeconfig::read_from(&path).expect("kubeconfig parses");
    kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config")
}

pub async fn client(server: &ApiServer) -> kube::Client {
    kube::Client::try_from(config(server).await).expect("client")
}

/// The Status of an API error; anything else fails the test.
pub fn api_err(e: kube::Error) -> Box<kube::core::Status> {
    match e {
        kube::Error::Api(s) => s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

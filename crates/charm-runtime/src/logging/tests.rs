#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use tracing::{debug, error, info, trace, warn};
use tracing_subscriber::Registry;

use super::*;
use crate::testutil::{CallLog, fail, ok, scripted};

/// Run `f` with a thread-local subscriber forwarding to scripted tools.
fn with_layer(level: LevelFilter, f: impl FnOnce()) -> CallLog {
    let (tools, log) = scripted(|_, _| ok(""));
    let subscriber =
        Registry::default().with(JujuLogLayer::new(tools).with_filter(default_filter(level)));
    tracing::subscriber::with_default(subscriber, f);
    log
}

#[test]
fn levels_map_to_juju_levels() {
    let log = with_layer(LevelFilter::TRACE, || {
        error!("e");
        warn!("w");
        info!("i");
        debug!("d");
        trace!("t");
    });
    assert_eq!(
        log.argvs(),
        vec![
            "juju-log --log-level ERROR -- e",
            "juju-log --log-level WARNING -- w",
            "juju-log --log-level INFO -- i",
            "juju-log --log-level DEBUG -- d",
            "juju-log --log-level TRACE -- t",
        ]
    );
}

#[test]
fn default_level_drops_trace() {
    let log = with_layer(DEFAULT_LEVEL, || {
        debug!("kept");
        trace!("dropped");
    });
    assert_eq!(log.argvs(), vec!["juju-log --log-level DEBUG -- kept"]);
}

#[test]
fn level_filter_is_honoured() {
    let log = with_layer(LevelFilter::WARN, || {
        info!("no");
        warn!("yes");
    });
    assert_eq!(log.argvs(), vec!["juju-log --log-level WARNING -- yes"]);
}

#[test]
fn dependency_crates_are_capped_at_warn() {
    let log = with_layer(LevelFilter::DEBUG, || {
        info!(target: "kube_client::client", "request");
        debug!(target: "hyper_util::client", "pool");
        warn!(target: "kube_client::client", "retrying");
        debug!(target: "istio_beacon_k8s::apply", "mine");
    });
    assert_eq!(
        log.argvs(),
        vec![
            "juju-log --log-level WARNING -- retrying",
            "juju-log --log-level DEBUG -- mine",
        ]
    );
}

#[test]
fn fields_are_appended() {
    let log = with_layer(LevelFilter::DEBUG, || {
        info!(unit = "app/0", count = 3, "reconciled");
        info!(only = true);
    });
    let calls = log.calls();
    assert_eq!(calls[0].argv[4], r#"reconciled unit="app/0" count=3"#);
    assert_eq!(calls[1].argv[4], "only=true");
}

/// A runner that logs through `tracing` itself: forwarding must not loop.
#[test]
fn forwarding_does_not_recurse() {
    let (tools, log) = scripted(|argv, _| {
        tracing::warn!("runner saw {}", argv[0]);
        ok("")
    });
    let subscriber = Registry::default()
        .with(JujuLogLayer::new(tools).with_filter(default_filter(LevelFilter::TRACE)));
    tracing::subscriber::with_default(subscriber, || {
        info!("one");
        info!("two");
    });
    assert_eq!(
        log.argvs(),
        vec![
            "juju-log --log-level INFO -- one",
            "juju-log --log-level INFO -- two"
        ]
    );
}

#[test]
fn failing_juju_log_does_not_recurse_or_panic() {
    let (tools, log) = scripted(|_, _| fail(1, "ERROR no context"));
    let subscriber = Registry::default()
        .with(JujuLogLayer::new(tools).with_filter(default_filter(LevelFilter::DEBUG)));
    tracing::subscriber::with_default(subscriber, || error!("x"));
    assert_eq!(log.count("juju-log"), 1);
}

#[test]
fn long_events_are_split() {
    let long = "x".repeat(crate::tools::MAX_LOG_LINE_LEN + 1);
    let log = with_layer(LevelFilter::DEBUG, || info!("{long}"));
    assert_eq!(log.count("juju-log"), 3);
}

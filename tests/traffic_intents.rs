//! Traffic intents and mtls-mode through charm-sim (tests/scenarios/traffic.yaml): the
//! DestinationRules and PeerAuthentications the API server accepts (validated against the
//! real Istio CRDs), changed, pruned, and nothing written when nothing changed.

mod common;

use common::{exit_code, logs, object, objects, run, status, writes};
use serde_json::json;

const DR: &str = "/apis/networking.istio.io/v1/namespaces/prod/destinationrules";
const PA: &str = "/apis/security.istio.io/v1/namespaces/prod/peerauthentications";
const MYDB: &str = "istio-beacon-k8s-prod-traffic-mydb";
const WEB: &str = "istio-beacon-k8s-prod-traffic-web";
const MTLS: &str = "istio-beacon-k8s-prod-mtls";

fn traffic_writes(out: &serde_json::Value, i: usize) -> Vec<String> {
    writes(out, i)
        .into_iter()
        .filter(|w| w.contains("/destinationrules") || w.contains("/peerauthentications"))
        .collect()
}

#[test]
fn intents_are_applied_changed_pruned_and_mtls_mode_toggles() {
    let out = run("traffic");
    for i in 0..7 {
        assert_eq!(exit_code(&out, i), 0, "step {i}");
    }
    // First reconcile: mydb's DestinationRule and PeerAuthentication, web's DestinationRule;
    // bad's intent skipped and counted, its reason logged with relation and app.
    let mut first = traffic_writes(&out, 0);
    first.sort();
    assert_eq!(
        first,
        vec![
            format!("PATCH {DR}/{MYDB}"),
            format!("PATCH {DR}/{WEB}"),
            format!("PATCH {PA}/{MYDB}"),
        ]
    );
    assert_eq!(
        status(&out, 0),
        Some((
            "active".into(),
            "1 traffic intent skipped: invalid consumer data (see juju debug-log)".into()
        ))
    );
    let errors = logs(&out, 0, "ERROR");
    assert!(
        errors
            .iter()
            .any(|l| l.contains("Skipping the traffic intent from service-mesh:5 (bad)")),
        "{errors:?}"
    );
    // web's Service has no waypoint: said.
    let warnings = logs(&out, 0, "WARNING");
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("web (service-mesh:4 (web))") && l.contains("no waypoint handles")),
        "{warnings:?}"
    );
    // A no-op writes nothing.
    assert!(writes(&out, 1).is_empty());
    // mydb changes its load balancing: only its DestinationRule is written again.
    assert_eq!(traffic_writes(&out, 2), vec![format!("PATCH {DR}/{MYDB}")]);
    // mydb drops its intent: both of its objects are deleted.
    let mut dropped = traffic_writes(&out, 3);
    dropped.sort();
    assert_eq!(
        dropped,
        vec![format!("DELETE {DR}/{MYDB}"), format!("DELETE {PA}/{MYDB}")]
    );
    // mtls-mode=strict: one namespace-wide PeerAuthentication; back to "": deleted.
    assert_eq!(traffic_writes(&out, 4), vec![format!("PATCH {PA}/{MTLS}")]);
    assert_eq!(traffic_writes(&out, 5), vec![format!("DELETE {PA}/{MTLS}")]);
    assert!(writes(&out, 6).is_empty());
    // What is left: web's DestinationRule, as rendered.
    assert_eq!(
        objects(&out, "DestinationRule"),
        vec![format!("prod/{WEB}")]
    );
    assert!(objects(&out, "PeerAuthentication").is_empty());
    let web = object(&out, "DestinationRule", "prod", WEB).expect("web's rule");
    assert_eq!(web["spec"]["host"], "web.prod.svc.cluster.local");
    assert_eq!(
        web["spec"]["trafficPolicy"]["outlierDetection"],
        json!({"baseEjectionTime": "30s", "consecutive5xxErrors": 5, "interval": "10s"})
    );
}

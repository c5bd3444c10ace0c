//! Traffic intents (pure): what consumers declared under `traffic` on `service-mesh` (how
//! their own Service is to be reached), and `mtls-mode`, as Istio DestinationRules and
//! PeerAuthentications owned by the beacon (scope [`Scope::Traffic`]).
//!
//! Held to the same rule as policies: a consumer may only shape traffic to its own
//! Service (named after its app) and its own pods, in this model; a cross-model consumer
//! has no Service here and is refused. A bad intent skips that consumer's intent only.

use serde_json::Value;
use service_mesh::LabelMap;
use service_mesh::traffic::{
    MtlsMode, parse_traffic, render_destination_rule, render_peer_authentication, traffic_name,
    workload_selector,
};

use crate::admission::{dns1123_subdomain, is_cross_model};
use crate::kinds::{INSTANCE_LABEL, SCOPE_LABEL, Scope};
use crate::names::Names;
use crate::snapshot::{Origin, Snapshot};

/// What the consumers' intents and `mtls-mode` give.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    /// DestinationRules and PeerAuthentications, with our ownership labels.
    pub objects: Vec<Value>,
    /// The Service each DestinationRule shapes, and who asked: in ambient mode it takes
    /// effect only where a waypoint handles that Service.
    pub services: Vec<(String, Origin)>,
    pub skipped: Vec<TrafficSkip>,
}

/// A consumer's intent that was not rendered, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficSkip {
    pub origin: Origin,
    pub reason: String,
}

impl std::fmt::Display for TrafficSkip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Skipping the traffic intent from {}: {}",
            self.origin, self.reason
        )
    }
}

/// The name of the namespace-wide PeerAuthentication of `mtls-mode`.
pub fn mtls_name(snap: &Snapshot) -> String {
    format!("{}-{}-mtls", snap.app, snap.model)
}

/// Every consumer's intent and `mtls-mode`, rendered.
pub fn traffic(snap: &Snapshot, names: &Names) -> Traffic {
    let labels: LabelMap = vec![
        (INSTANCE_LABEL.to_owned(), names.instance.clone()),
        (SCOPE_LABEL.to_owned(), Scope::Traffic.label().to_owned()),
    ];
    let mut out = Traffic::default();
    for rel in &snap.service_mesh {
        let origin = Origin {
            relation_id: rel.id,
            app: rel.remote_app.clone(),
        };
        match consumer(snap, &rel.remote_app, rel.traffic.as_deref(), &labels) {
            Ok(None) => {}
            Ok(Some((objects, service))) => {
                out.objects.extend(objects);
                if let Some(service) = service {
                    out.services.push((service, origin));
                }
            }
            Err(reason) => out.skipped.push(TrafficSkip { origin, reason }),
        }
    }
    if let Some(mode) = snap.config.mtls_mode {
        out.objects.push(render_peer_authentication(
            mode,
            &snap.model,
            &mtls_name(snap),
            None,
            &labels,
        ));
    }
    out
}

/// One consumer's objects, and the Service its DestinationRule shapes (if it has one).
type Rendered = (Vec<Value>, Option<String>);

/// What one consumer's intent renders, `None` without an intent, or why it is refused.
fn consumer(
    snap: &Snapshot,
    app: &str,
    raw: Option<&str>,
    labels: &LabelMap,
) -> Result<Option<Rendered>, String> {
    let Some(intent) = parse_traffic(raw).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    if is_cross_model(app) {
        return Err(
            "a cross-model consumer's Service is not in this model: traffic intents are for \
             same-model consumers"
                .to_owned(),
        );
    }
    let service = intent.service_or(app);
    if service != app {
        return Err(format!(
            "service {service:?} is not the related application's Service {app:?}"
        ));
    }
    let name = traffic_name(&snap.app, &snap.model, app);
    dns1123_subdomain(&name).map_err(|why| format!("the name {name:?} {why}"))?;
    let mut objects = Vec::new();
    let mut shaped = None;
    if intent.has_traffic_policy() {
        objects.push(render_destination_rule(
            &intent,
            service,
            &snap.model,
            &name,
            labels,
        ));
        shaped = Some(service.to_owned());
    }
    if let Some(mode) = intent.mtls.filter(|m| *m != MtlsMode::Unset) {
        objects.push(render_peer_authentication(
            mode,
            &snap.model,
            &name,
            Some(&workload_selector(app)),
            labels,
        ));
    }
    Ok(Some((objects, shaped)))
}

#[cfg(test)]
mod tests;

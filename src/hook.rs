//! Which work a Juju event asks of the beacon.

use beacon_core::snapshot::{
    CHARM_TRACING, METRICS_ENDPOINT, METRICS_PROXY, PEERS, PROVIDE_CMR_MESH, SERVICE_MESH,
};
use charm_runtime::{Event, HookEvent, RelationKind};

/// What this hook asks of the charm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The holistic reconcile.
    Reconcile,
    /// `service-mesh-relation-created`: only publish the provider databag, as upstream.
    ProviderDataOnly,
    /// `remove`: tear down when the application scales to zero (§4.5).
    Remove,
    /// Nothing to do (install, start, stop, …): upstream leaves the status unknown.
    Ignore,
    /// An action (`actions.yaml`), on any unit.
    Action(String),
}

impl Trigger {
    /// Upstream observes config-changed, pebble-ready, and relation events of its endpoints;
    /// we also reconcile on leader-elected, upgrade-charm and update-status (so a new leader
    /// and drift are handled without waiting for another event) and on every relation event
    /// of our endpoints (including provide-cmr-mesh-relation-broken, which upstream misses).
    pub fn of(event: &Event) -> Trigger {
        let hook = match event {
            Event::Hook(hook) => hook,
            Event::Action { name, .. } => return Trigger::Action(name.clone()),
        };
        match hook {
            HookEvent::ConfigChanged
            | HookEvent::UpgradeCharm
            | HookEvent::UpdateStatus
            | HookEvent::LeaderElected => Trigger::Reconcile,
            HookEvent::PebbleReady { container } if container == METRICS_PROXY => {
                Trigger::Reconcile
            }
            HookEvent::Remove => Trigger::Remove,
            HookEvent::Relation { endpoint, kind } => match (endpoint.as_str(), kind) {
                (SERVICE_MESH, RelationKind::Created) => Trigger::ProviderDataOnly,
                (SERVICE_MESH | PROVIDE_CMR_MESH | METRICS_ENDPOINT | CHARM_TRACING | PEERS, _) => {
                    Trigger::Reconcile
                }
                _ => Trigger::Ignore,
            },
            _ => Trigger::Ignore,
        }
    }
}

#[cfg(test)]
mod tests {
    use charm_runtime::{Event, HookEvent, RelationKind};

    use super::Trigger;

    fn rel(endpoint: &str, kind: RelationKind) -> Event {
        Event::Hook(HookEvent::Relation {
            endpoint: endpoint.into(),
            kind,
        })
    }

    #[test]
    fn status_after_start_is_left_unknown() {
        // start/install do nothing, so no status is set (upstream's scenario test).
        assert_eq!(Trigger::of(&Event::Hook(HookEvent::Start)), Trigger::Ignore);
        assert_eq!(
            Trigger::of(&Event::Hook(HookEvent::Install)),
            Trigger::Ignore
        );
    }

    #[test]
    fn events_map_to_work() {
        for hook in [
            HookEvent::ConfigChanged,
            HookEvent::LeaderElected,
            HookEvent::UpgradeCharm,
            HookEvent::UpdateStatus,
        ] {
            assert_eq!(Trigger::of(&Event::Hook(hook)), Trigger::Reconcile);
        }
        assert_eq!(
            Trigger::of(&rel("service-mesh", RelationKind::Created)),
            Trigger::ProviderDataOnly
        );
        assert_eq!(
            Trigger::of(&rel("service-mesh", RelationKind::Broken)),
            Trigger::Reconcile
        );
        assert_eq!(
            Trigger::of(&rel("provide-cmr-mesh", RelationKind::Broken)),
            Trigger::Reconcile
        );
        assert_eq!(
            Trigger::of(&rel("peers", RelationKind::Departed)),
            Trigger::Reconcile
        );
        assert_eq!(
            Trigger::of(&Event::Hook(HookEvent::Remove)),
            Trigger::Remove
        );
        let ready = HookEvent::PebbleReady {
            container: "metrics-proxy".into(),
        };
        assert_eq!(Trigger::of(&Event::Hook(ready)), Trigger::Reconcile);
    }
}

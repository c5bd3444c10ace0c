//! The unit status a hook sets, from its plan and what the reconcile found (pure).
//!
//! Juju keeps every status change in the status history (`juju show-status-log`), so a
//! status is written only when it changes: a hook whose plan is empty sets none (unless the
//! final status differs from the current one); a hook that works sets Maintenance once,
//! naming its first step, then its final status.

use crate::plan::{Phase, Plan};

/// Maintenance messages shown while a leader reconcile writes, by its first step (§1.4).
pub const MSG_LABELS: &str = "Updating this charm's labels to ensure it is on the mesh";
pub const MSG_WAYPOINT: &str = "Updating the waypoint";
pub const MSG_POLICIES: &str = "Updating AuthorizationPolicies";
/// What a non-leader shows on every reconcile-triggering event.
pub const MSG_BACKUP: &str = "Backup unit; standing by for leader takeover";

/// A unit status to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitStatus {
    Active(String),
    Maintenance(String),
    Waiting(String),
    Blocked(String),
}

/// The Maintenance status a plan shows while it runs: `None` for a plan with nothing to do
/// but relation data (quick, and no Kubernetes or Pebble write that could hang).
pub fn maintenance(plan: &Plan) -> Option<UnitStatus> {
    let first = plan.actions.iter().map(|a| a.phase()).min()?;
    let msg = match first {
        Phase::CharmLabels => MSG_LABELS,
        Phase::Waypoint => MSG_WAYPOINT,
        Phase::Policies => MSG_POLICIES,
        Phase::RelationData => return None,
    };
    Some(UnitStatus::Maintenance(msg.to_owned()))
}

/// Whether the final status must be written: always after a Maintenance status, otherwise
/// only when it is not what the unit shows already (`current`; `None` when unknown).
pub fn needs_write(
    current: Option<&UnitStatus>,
    final_status: &UnitStatus,
    after_maintenance: bool,
) -> bool {
    after_maintenance || current != Some(final_status)
}

/// What a leader reconcile ran into that the operator should see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Consumer policies left out because of bad data.
    pub skipped: usize,
    /// Consumer traffic intents left out because of bad data.
    pub traffic_skipped: usize,
    /// Policies the `mesh-backend` rendered narrower than asked (refused ones are skipped).
    pub narrowed: usize,
    /// `<namespace>/<name>` of the waypoint Deployment when it is not ready yet.
    pub waypoint_unready: Option<String>,
    /// Problems retrying cannot fix (a missing CRD, missing RBAC), first one first.
    pub blocked: Vec<String>,
}

/// The final status: Blocked beats Waiting beats Active; skipped policies are mentioned in
/// whichever applies, so they are never hidden.
pub fn final_status(outcome: &Findings) -> UnitStatus {
    let skipped = match outcome.skipped {
        0 => None,
        1 => Some("1 policy skipped: invalid consumer data (see juju debug-log)".to_owned()),
        n => Some(format!(
            "{n} policies skipped: invalid consumer data (see juju debug-log)"
        )),
    };
    let traffic = match outcome.traffic_skipped {
        0 => None,
        1 => {
            Some("1 traffic intent skipped: invalid consumer data (see juju debug-log)".to_owned())
        }
        n => Some(format!(
            "{n} traffic intents skipped: invalid consumer data (see juju debug-log)"
        )),
    };
    let narrowed = match outcome.narrowed {
        0 => None,
        1 => Some(
            "1 policy narrowed: the mesh cannot express all of it (see juju debug-log)".to_owned(),
        ),
        n => Some(format!(
            "{n} policies narrowed: the mesh cannot express all of them (see juju debug-log)"
        )),
    };
    let parts: Vec<String> = [skipped, traffic, narrowed].into_iter().flatten().collect();
    let skipped = (!parts.is_empty()).then(|| parts.join("; "));
    let with_skipped = |msg: String| match &skipped {
        Some(s) => format!("{msg}; {s}"),
        None => msg,
    };
    if let Some(first) = outcome.blocked.first() {
        return UnitStatus::Blocked(with_skipped(first.clone()));
    }
    if let Some(deployment) = &outcome.waypoint_unready {
        return UnitStatus::Waiting(with_skipped(format!(
            "Waiting for waypoint Deployment {deployment} to become ready"
        )));
    }
    UnitStatus::Active(skipped.unwrap_or_default())
}

/// Whether a waypoint Deployment status counts as ready. Both counts must be present and
/// equal: upstream compared `None == None` as ready, i.e. a Deployment with no status yet.
pub fn deployment_ready(replicas: Option<i64>, ready_replicas: Option<i64>) -> bool {
    matches!((replicas, ready_replicas), (Some(r), Some(ready)) if r == ready)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_reconcile_is_active_with_empty_message() {
        assert_eq!(
            final_status(&Findings::default()),
            UnitStatus::Active(String::new())
        );
    }

    #[test]
    fn skipped_policies_are_counted_in_the_active_message() {
        let one = Findings {
            skipped: 1,
            ..Findings::default()
        };
        assert_eq!(
            final_status(&one),
            UnitStatus::Active(
                "1 policy skipped: invalid consumer data (see juju debug-log)".into()
            )
        );
        let two = Findings {
            skipped: 2,
            ..Findings::default()
        };
        assert_eq!(
            final_status(&two),
            UnitStatus::Active(
                "2 policies skipped: invalid consumer data (see juju debug-log)".into()
            )
        );
    }

    #[test]
    fn skipped_traffic_intents_are_counted_apart() {
        let o = Findings {
            skipped: 2,
            traffic_skipped: 1,
            ..Findings::default()
        };
        assert_eq!(
            final_status(&o),
            UnitStatus::Active(
                "2 policies skipped: invalid consumer data (see juju debug-log); 1 traffic intent skipped: invalid consumer data (see juju debug-log)".into()
            )
        );
    }

    #[test]
    fn unready_waypoint_waits_naming_the_deployment() {
        let o = Findings {
            waypoint_unready: Some("prod/prod-istio-beacon-k8s-waypoint".into()),
            ..Findings::default()
        };
        assert_eq!(
            final_status(&o),
            UnitStatus::Waiting(
                "Waiting for waypoint Deployment prod/prod-istio-beacon-k8s-waypoint to become ready".into()
            )
        );
    }

    #[test]
    fn blocked_wins_over_waiting_and_keeps_the_skip_count() {
        let o = Findings {
            skipped: 2,
            traffic_skipped: 0,
            narrowed: 0,
            waypoint_unready: Some("prod/w".into()),
            blocked: vec![
                "AuthorizationPolicy CRD (security.istio.io/v1) not found: is Istio installed?"
                    .into(),
            ],
        };
        assert_eq!(
            final_status(&o),
            UnitStatus::Blocked(
                "AuthorizationPolicy CRD (security.istio.io/v1) not found: is Istio installed?; 2 policies skipped: invalid consumer data (see juju debug-log)".into()
            )
        );
    }

    #[test]
    fn readiness_needs_both_counts_set_and_equal() {
        assert!(deployment_ready(Some(2), Some(2)));
        assert!(!deployment_ready(Some(2), Some(1)));
        assert!(!deployment_ready(Some(2), None));
        // Upstream's quirk: None == None counted as ready.
        assert!(!deployment_ready(None, None));
    }
}

#[cfg(test)]
mod write_tests {
    use super::*;
    use crate::kinds::{Kind, ObjectKey};
    use crate::plan::Action;

    fn delete(kind: Kind) -> Action {
        Action::Delete(ObjectKey {
            kind,
            namespace: "prod".into(),
            name: "x".into(),
        })
    }

    #[test]
    fn maintenance_names_the_first_step_and_only_for_real_work() {
        assert_eq!(maintenance(&Plan::default()), None);
        let relation_only = Plan {
            actions: vec![Action::SetRelationData {
                endpoint: "service-mesh".into(),
                relation_id: 1,
                app: Default::default(),
                unit: Default::default(),
            }],
            ..Plan::default()
        };
        assert_eq!(maintenance(&relation_only), None);
        let policies_then_waypoint = Plan {
            actions: vec![delete(Kind::AuthorizationPolicy), delete(Kind::Gateway)],
            ..Plan::default()
        };
        assert_eq!(
            maintenance(&policies_then_waypoint),
            Some(UnitStatus::Maintenance(MSG_WAYPOINT.into()))
        );
        let policies = Plan {
            actions: vec![delete(Kind::AuthorizationPolicy)],
            ..Plan::default()
        };
        assert_eq!(
            maintenance(&policies),
            Some(UnitStatus::Maintenance(MSG_POLICIES.into()))
        );
    }

    #[test]
    fn the_final_status_is_written_only_when_it_changes() {
        let active = UnitStatus::Active(String::new());
        let waiting = UnitStatus::Waiting("w".into());
        assert!(!needs_write(Some(&active), &active, false));
        assert!(needs_write(Some(&waiting), &active, false));
        assert!(needs_write(None, &active, false));
        // After Maintenance the unit no longer shows the final status, whatever it was.
        assert!(needs_write(Some(&active), &active, true));
    }

    #[test]
    fn narrowed_policies_have_their_own_count() {
        let findings = Findings {
            skipped: 1,
            narrowed: 2,
            ..Findings::default()
        };
        assert_eq!(
            final_status(&findings),
            UnitStatus::Active(
                "1 policy skipped: invalid consumer data (see juju debug-log); 2 policies narrowed: the mesh cannot express all of them (see juju debug-log)".into()
            )
        );
        let one = Findings {
            narrowed: 1,
            blocked: vec!["x".into()],
            ..Findings::default()
        };
        assert_eq!(
            final_status(&one),
            UnitStatus::Blocked(
                "x; 1 policy narrowed: the mesh cannot express all of it (see juju debug-log)"
                    .into()
            )
        );
    }
}

//! The unit status a hook ends with, from what the reconcile found (pure).

/// Maintenance messages shown while a leader reconciles (§1.4), in order.
pub const MSG_LABELS: &str = "Updating this charm's labels to ensure it is on the mesh";
pub const MSG_WAYPOINT: &str = "Validating waypoint readiness";
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

/// What a leader reconcile ran into that the operator should see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Consumer policies left out because of bad data.
    pub skipped: usize,
    /// `<namespace>/<name>` of the waypoint Deployment when it is not ready yet.
    pub waypoint_unready: Option<String>,
    /// Problems retrying cannot fix (a missing CRD, missing RBAC), first one first.
    pub blocked: Vec<String>,
}

/// The final status: Blocked beats Waiting beats Active; skipped policies are mentioned in
/// whichever applies, so they are never hidden.
pub fn final_status(outcome: &Outcome) -> UnitStatus {
    let skipped = match outcome.skipped {
        0 => None,
        1 => Some("1 policy skipped: invalid consumer data (see juju debug-log)".to_owned()),
        n => Some(format!(
            "{n} policies skipped: invalid consumer data (see juju debug-log)"
        )),
    };
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
            final_status(&Outcome::default()),
            UnitStatus::Active(String::new())
        );
    }

    #[test]
    fn skipped_policies_are_counted_in_the_active_message() {
        let one = Outcome {
            skipped: 1,
            ..Outcome::default()
        };
        assert_eq!(
            final_status(&one),
            UnitStatus::Active(
                "1 policy skipped: invalid consumer data (see juju debug-log)".into()
            )
        );
        let two = Outcome {
            skipped: 2,
            ..Outcome::default()
        };
        assert_eq!(
            final_status(&two),
            UnitStatus::Active(
                "2 policies skipped: invalid consumer data (see juju debug-log)".into()
            )
        );
    }

    #[test]
    fn unready_waypoint_waits_naming_the_deployment() {
        let o = Outcome {
            waypoint_unready: Some("prod/prod-istio-beacon-k8s-waypoint".into()),
            ..Outcome::default()
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
        let o = Outcome {
            skipped: 2,
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

//! The evaluator's answer, and how it reads.

use std::fmt;

use super::policy::NotUnderstood;

/// The decision at one enforcement point (or overall).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed.
    Allow,
    /// Denied (at ztunnel: connection reset; at the waypoint: HTTP 403).
    Deny,
    /// A policy the crate does not understand, a CUSTOM provider, or an attribute the request
    /// did not give (an IP, a JWT) decides.
    Undetermined,
}

/// Where a decision is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnforcementPoint {
    /// The Service's waypoint (its Gateway).
    Waypoint {
        /// The Gateway's namespace.
        namespace: String,
        /// The Gateway's name.
        name: String,
    },
    /// The destination workload's ztunnel.
    Ztunnel {
        /// The workload's namespace.
        namespace: String,
        /// The workload's ServiceAccount.
        service_account: String,
    },
}

impl fmt::Display for EnforcementPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnforcementPoint::Waypoint { namespace, name } => {
                write!(f, "waypoint {namespace}/{name}")
            }
            EnforcementPoint::Ztunnel {
                namespace,
                service_account,
            } => {
                write!(
                    f,
                    "ztunnel (destination {namespace}, service account {service_account})"
                )
            }
        }
    }
}

/// A rule of a policy: `rule` indexes `spec.rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// The policy's namespace.
    pub namespace: String,
    /// The policy's name (istiod's name for a synthetic policy).
    pub name: String,
    /// Index in `spec.rules`.
    pub rule: usize,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} rule {}", self.namespace, self.name, self.rule)
    }
}

/// Why the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No DENY matched and no ALLOW policy applies here.
    NoAllowPolicy,
    /// This ALLOW rule matched (and no DENY did).
    AllowedBy(RuleRef),
    /// This DENY rule matched.
    DeniedBy(RuleRef),
    /// ALLOW policies apply here and none of their rules matched.
    NoAllowMatched,
    /// What could not be decided.
    Undetermined(Vec<String>),
}

/// For a deny by no matching ALLOW: the ALLOW rule that came closest (fewest failed attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closest {
    /// The rule.
    pub rule: RuleRef,
    /// What the rule allows, e.g. `from cluster.local/ns/prod/sa/myapp GET, POST on /api port 8080`.
    pub allows: String,
    /// The attributes that failed, e.g. `method DELETE not in [GET, POST]`.
    pub failed: Vec<String>,
}

/// The decision at one enforcement point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Where.
    pub point: EnforcementPoint,
    /// What.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
    /// The identity this point sees: the client's principal, the waypoint's, or `plaintext`.
    pub peer: String,
    /// What the policies here are about, e.g. `Service mydb` or `workload prod/mydb`.
    pub scope: String,
    /// The ALLOW policies in effect here (`namespace/name`).
    pub allow_policies: Vec<String>,
    /// Set when the verdict is [`Reason::NoAllowMatched`] and some ALLOW rule is in effect here.
    pub closest: Option<Closest>,
    /// Policies and rules that exist but are not in effect here, and why (dry-run, AUDIT,
    /// rules ztunnel drops, rules a TCP waypoint skips).
    pub notes: Vec<String>,
    /// False when an earlier enforcement point already denies the request.
    pub reached: bool,
}

/// The decisions along the request's path, in order (waypoint, then ztunnel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// One per enforcement point on the path, in path order.
    pub decisions: Vec<Decision>,
    /// Policies the crate refused to interpret (whether or not they apply here).
    pub not_understood: Vec<NotUnderstood>,
}

impl Evaluation {
    /// Deny if an enforcement point the request reaches denies it; Allow if all allow;
    /// Undetermined otherwise.
    pub fn verdict(&self) -> Verdict {
        let mut out = Verdict::Allow;
        for d in self.decisions.iter().filter(|d| d.reached) {
            match d.verdict {
                Verdict::Deny => return Verdict::Deny,
                Verdict::Undetermined => out = Verdict::Undetermined,
                Verdict::Allow => {}
            }
        }
        out
    }

    /// The waypoint's decision, when the request goes through one.
    pub fn waypoint(&self) -> Option<&Decision> {
        self.decisions
            .iter()
            .find(|d| matches!(d.point, EnforcementPoint::Waypoint { .. }))
    }

    /// The destination ztunnel's decision.
    pub fn ztunnel(&self) -> Option<&Decision> {
        self.decisions
            .iter()
            .find(|d| matches!(d.point, EnforcementPoint::Ztunnel { .. }))
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.verdict {
            Verdict::Allow => "allowed",
            Verdict::Deny => "denied",
            Verdict::Undetermined => "undetermined",
        };
        write!(f, "{verb} at {} for {}: ", self.point, self.peer)?;
        match &self.reason {
            Reason::NoAllowPolicy => write!(
                f,
                "no ALLOW policy applies to {} and no DENY policy matches",
                self.scope
            )?,
            Reason::AllowedBy(r) => write!(f, "{r} allows it")?,
            Reason::DeniedBy(r) => write!(f, "DENY policy {r} matches")?,
            Reason::NoAllowMatched => {
                let n = self.allow_policies.len();
                let verb = if n == 1 { "applies" } else { "apply" };
                write!(
                    f,
                    "{} {verb} to {} ({}) and none matches",
                    plural(n, "ALLOW policy", "ALLOW policies"),
                    self.scope,
                    self.allow_policies.join(", ")
                )?;
                match &self.closest {
                    Some(c) => write!(
                        f,
                        "; closest: {} allows {}, but {}",
                        c.rule,
                        c.allows,
                        c.failed.join("; ")
                    )?,
                    None => write!(f, "; none of their rules is in effect here")?,
                }
            }
            Reason::Undetermined(why) => write!(f, "{}", why.join("; "))?,
        }
        if !self.notes.is_empty() {
            write!(f, " (note: {})", self.notes.join("; "))?;
        }
        Ok(())
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for d in &self.decisions {
            if !first {
                writeln!(f)?;
            }
            first = false;
            if d.reached {
                write!(f, "{d}")?;
            } else {
                write!(f, "not reached: {}", d.point)?;
            }
        }
        for nu in &self.not_understood {
            write!(f, "\n{nu}")?;
        }
        Ok(())
    }
}

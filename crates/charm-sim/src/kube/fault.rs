//! Injected API faults: the next N matching requests fail in a chosen way.

use serde::de::{self, Deserializer, Visitor};

use super::KubeSimError;

/// `{match: {method, path_regex}, error: 500 | 409 | 429 | timeout | reset, times: N,
/// after: false}`
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Fault {
    #[serde(rename = "match")]
    pub matcher: FaultMatch,
    pub error: FaultError,
    #[serde(default = "one")]
    pub times: u32,
    /// The server performs the request, then fails it this way: the write took effect but
    /// its answer was lost (a reset, a timeout, a 5xx from a proxy). Default: fails before.
    #[serde(default)]
    pub after: bool,
}

fn one() -> u32 {
    1
}

/// Which requests a fault hits; an absent field matches everything.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct FaultMatch {
    /// HTTP method, compared case-insensitively.
    pub method: Option<String>,
    /// Searched (unanchored) in the percent-decoded request path.
    pub path_regex: Option<String>,
}

/// How a matching request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultError {
    /// Answer this HTTP status with a matching `Status` body.
    Status(u16),
    /// Hold the request ~1 s, then answer 504 `Timeout` as the apiserver's own timeout does.
    Timeout,
    /// Close the connection without a response.
    Reset,
}

impl<'de> serde::Deserialize<'de> for FaultError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FaultError;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an HTTP status code (400-599), \"timeout\" or \"reset\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FaultError, E> {
                match u16::try_from(v) {
                    Ok(code @ 400..=599) => Ok(FaultError::Status(code)),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FaultError, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FaultError, E> {
                match v {
                    "timeout" => Ok(FaultError::Timeout),
                    "reset" => Ok(FaultError::Reset),
                    // Scenario files sometimes quote codes: '500'.
                    other => match other.parse::<u64>() {
                        Ok(n) => self.visit_u64(n),
                        Err(_) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                    },
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A fault with its regex compiled and its remaining count.
#[derive(Debug)]
pub(crate) struct ArmedFault {
    method: Option<String>,
    path: Option<regex::Regex>,
    error: FaultError,
    after: bool,
    remaining: u32,
}

/// What a request that triggered a fault gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Injected {
    pub(crate) error: FaultError,
    /// Performed first ([`Fault::after`]).
    pub(crate) after: bool,
}

impl ArmedFault {
    pub(crate) fn new(f: Fault) -> Result<Self, KubeSimError> {
        let path = match &f.matcher.path_regex {
            Some(r) => Some(
                regex::Regex::new(r)
                    .map_err(|e| KubeSimError::InvalidFault(format!("path_regex {r:?}: {e}")))?,
            ),
            None => None,
        };
        Ok(ArmedFault {
            method: f.matcher.method,
            path,
            error: f.error,
            after: f.after,
            remaining: f.times,
        })
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.remaining > 0
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.as_ref().is_none_or(|r| r.is_match(path))
    }
}

/// Consumes one use of the first armed fault matching the request, if any.
pub(crate) fn take_fault(
    faults: &mut Vec<ArmedFault>,
    method: &str,
    path: &str,
) -> Option<Injected> {
    let i = faults.iter().position(|f| f.matches(method, path))?;
    let f = &mut faults[i];
    f.remaining -= 1;
    let hit = Injected {
        error: f.error,
        after: f.after,
    };
    if f.remaining == 0 {
        faults.remove(i);
    }
    Some(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_error_forms() {
        let f: Vec<Fault> = serde_yaml_ng::from_str(
            "- {match: {method: PATCH, path_regex: '.*/x/.*'}, error: 500}\n\
             - {match: {}, error: timeout, times: 2}\n\
             - {match: {}, error: reset}\n\
             - {match: {}, error: '429', after: true}\n",
        )
        .expect("valid test input");
        assert_eq!(f[0].error, FaultError::Status(500));
        assert_eq!(f[0].times, 1);
        assert!(!f[0].after && f[3].after);
        assert_eq!(f[1].error, FaultError::Timeout);
        assert_eq!(f[1].times, 2);
        assert_eq!(f[2].error, FaultError::Reset);
        assert_eq!(f[3].error, FaultError::Status(429));
        assert!(serde_yaml_ng::from_str::<FaultError>("200").is_err());
        assert!(serde_yaml_ng::from_str::<FaultError>("boom").is_err());
    }

    #[test]
    fn faults_are_consumed_in_order() {
        let mut armed = vec![
            ArmedFault::new(Fault {
                matcher: FaultMatch {
                    method: Some("patch".into()),
                    path_regex: Some("/configmaps/".into()),
                },
                error: FaultError::Status(409),
                times: 2,
                after: false,
            })
            .expect("valid regex"),
        ];
        assert_eq!(take_fault(&mut armed, "GET", "/api/v1/configmaps/a"), None);
        assert_eq!(
            take_fault(&mut armed, "PATCH", "/api/v1/namespaces/a/configmaps/b"),
            Some(Injected {
                error: FaultError::Status(409),
                after: false
            })
        );
        assert_eq!(
            take_fault(&mut armed, "PATCH", "/api/v1/namespaces/a/configmaps/b"),
            Some(Injected {
                error: FaultError::Status(409),
                after: false
            })
        );
        assert_eq!(
            take_fault(&mut armed, "PATCH", "/api/v1/namespaces/a/configmaps/b"),
            None
        );
    }
}

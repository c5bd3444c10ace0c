//! `metav1.Status` failure bodies, shaped as a real API server writes them.

use serde_json::{Value, json};

/// One entry of `details.causes`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// An error answered to the client as a `Status` body.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// Boxed: errors travel through every verb's `Result`.
    pub details: Box<Details>,
}

/// `details` of a `Status`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Details {
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    pub causes: Vec<Cause>,
    pub retry_after: Option<u32>,
}

/// What a resource is called in error messages: `configmaps` or `authorizationpolicies.security.istio.io`.
pub(crate) fn qualified(plural: &str, group: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: Box::default(),
        }
    }

    fn with_details(mut self, name: &str, group: &str, kind: &str) -> Self {
        self.details.name = Some(name.to_string());
        self.details.group = Some(group.to_string());
        self.details.kind = Some(kind.to_string());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// `configmaps "x" not found`; `kind` in details is the resource (plural), as upstream.
    pub fn not_found(plural: &str, group: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(plural, group)),
        )
        .with_details(name, group, plural)
    }

    /// Known group/version but an unknown resource.
    pub fn no_resource() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn already_exists(plural: &str, group: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(plural, group)),
        )
        .with_details(name, group, plural)
    }

    /// Optimistic-concurrency failure (stale resourceVersion).
    pub fn stale(plural: &str, group: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                qualified(plural, group)
            ),
        )
        .with_details(name, group, plural)
    }

    /// Server-side apply conflicts.
    pub fn apply_conflict(plural: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let n = causes.len();
        let list: Vec<&str> = causes.iter().map(|c| c.message.as_str()).collect();
        let message = if n == 1 {
            format!("Apply failed with 1 conflict: {}", list.join(""))
        } else {
            format!("Apply failed with {n} conflicts: {}", list.join("\n"))
        };
        let mut e = Self::new(409, "Conflict", message).with_details(name, group, plural);
        e.details.causes = causes;
        e
    }

    /// `Kind "name" is invalid: ...`; `kind` in details is the Kind, as upstream.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let summary: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let summary = if summary.len() == 1 {
            summary.join("")
        } else {
            format!("[{}]", summary.join(", "))
        };
        let prefix = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{prefix} \"{name}\" is invalid: {summary}"),
        )
        .with_details(name, group, kind);
        e.details.causes = causes;
        e
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    pub fn unsupported_media_type(ct: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {ct:?})"
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The error for an injected status code, with the reason a real server pairs with it.
    pub fn injected(code: u16) -> Self {
        let (reason, message) = match code {
            400 => ("BadRequest", "injected fault: bad request"),
            401 => ("Unauthorized", "Unauthorized"),
            403 => ("Forbidden", "injected fault: forbidden"),
            404 => (
                "NotFound",
                "the server could not find the requested resource",
            ),
            405 => ("MethodNotAllowed", "injected fault: method not allowed"),
            409 => (
                "Conflict",
                "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again",
            ),
            410 => ("Expired", "injected fault: expired"),
            415 => (
                "UnsupportedMediaType",
                "injected fault: unsupported media type",
            ),
            422 => ("Invalid", "injected fault: invalid"),
            429 => (
                "TooManyRequests",
                "Too many requests, please try again later.",
            ),
            500 => ("InternalError", "Internal error occurred: injected fault"),
            503 => ("ServiceUnavailable", "injected fault: service unavailable"),
            504 => (
                "Timeout",
                "Timeout: request did not complete within the allotted timeout",
            ),
            _ => ("", "injected fault"),
        };
        let mut e = Self::new(code, reason, message);
        if code == 429 {
            e.details.retry_after = Some(1);
        }
        e
    }

    pub fn timeout() -> Self {
        Self::injected(504)
    }

    /// The `Status` JSON body.
    pub fn body(&self) -> Value {
        let mut details = serde_json::Map::new();
        if let Some(n) = &self.details.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &self.details.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &self.details.kind {
            details.insert("kind".into(), json!(k));
        }
        if !self.details.causes.is_empty() {
            let causes: Vec<Value> = self
                .details
                .causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(s) = self.details.retry_after {
            details.insert("retryAfterSeconds".into(), json!(s));
        }
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": Value::Object(details),
            "code": self.code,
        });
        if self.reason.is_empty()
            && let Some(o) = body.as_object_mut()
        {
            o.remove("reason");
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_message_names_kind_and_group() {
        let c = vec![Cause {
            reason: "FieldValueInvalid".into(),
            message: "Invalid value: \"x\"".into(),
            field: "metadata.name".into(),
        }];
        let e = ApiError::invalid("ConfigMap", "", "X", c.clone());
        assert_eq!(
            e.message,
            "ConfigMap \"X\" is invalid: metadata.name: Invalid value: \"x\""
        );
        let e = ApiError::invalid("AuthorizationPolicy", "security.istio.io", "p", c);
        assert_eq!(
            e.message,
            "AuthorizationPolicy.security.istio.io \"p\" is invalid: metadata.name: Invalid value: \"x\""
        );
        assert_eq!(e.body()["details"]["kind"], "AuthorizationPolicy");
        assert_eq!(e.body()["code"], 422);
    }
}

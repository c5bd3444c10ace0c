//! A validator for exactly the JSON Schema (draft 4) keywords the AuthorizationPolicy CRD
//! schema uses, without dependencies: the fuzz target uses it (the `jsonschema` crate and its
//! dependencies were most of the nightly build time), and `tests/hostile.rs` checks on every
//! body, and on bodies broken on purpose, that its verdict is the `jsonschema` crate's.
//! A keyword, type, format or pattern it does not implement panics: it never passes a value
//! by ignoring part of the schema.

use serde_json::Value;

/// `Err` names the first place `value` breaks `schema`.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    at(schema, value, "")
}

fn at(schema: &Value, v: &Value, path: &str) -> Result<(), String> {
    let Some(s) = schema.as_object() else {
        panic!("schema node at {path:?} is not an object: {schema}");
    };
    let err = |what: String| {
        Err(format!(
            "{}: {what}",
            if path.is_empty() { "/" } else { path }
        ))
    };
    for (keyword, k) in s {
        match keyword.as_str() {
            "description" | "title" | "$schema" => {}
            // Kubernetes extensions: no effect on JSON Schema validation (CEL is checked by hand).
            "x-kubernetes-validations"
            | "x-kubernetes-preserve-unknown-fields"
            | "x-kubernetes-int-or-string" => {}
            "type" => {
                let ok = match k.as_str() {
                    Some("object") => v.is_object(),
                    Some("array") => v.is_array(),
                    Some("string") => v.is_string(),
                    Some("boolean") => v.is_boolean(),
                    Some("number") => v.is_number(),
                    Some("null") => v.is_null(),
                    Some("integer") => {
                        v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
                    }
                    _ => panic!("unsupported type {k} at {path:?}"),
                };
                if !ok {
                    return err(format!("{v} is not of type {k}"));
                }
            }
            "properties" => {
                if let Some(obj) = v.as_object() {
                    for (name, sub) in k.as_object().expect("properties is an object") {
                        if let Some(pv) = obj.get(name) {
                            at(sub, pv, &format!("{path}/{name}"))?;
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(obj) = v.as_object() {
                    let known = s.get("properties").and_then(Value::as_object);
                    for (name, pv) in obj {
                        if known.is_some_and(|p| p.contains_key(name)) {
                            continue;
                        }
                        match k {
                            Value::Bool(true) => {}
                            Value::Bool(false) => {
                                return err(format!("additional property {name:?}"));
                            }
                            sub => at(sub, pv, &format!("{path}/{name}"))?,
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = v.as_array() {
                    assert!(k.is_object(), "tuple items are not supported at {path:?}");
                    for (i, item) in items.iter().enumerate() {
                        at(k, item, &format!("{path}/{i}"))?;
                    }
                }
            }
            "required" => {
                if let Some(obj) = v.as_object() {
                    for name in k.as_array().expect("required is a list") {
                        let name = name.as_str().expect("required names are strings");
                        if !obj.contains_key(name) {
                            return err(format!("{name:?} is required"));
                        }
                    }
                }
            }
            "enum" => {
                if !k.as_array().expect("enum is a list").contains(v) {
                    return err(format!("{v} is not one of {k}"));
                }
            }
            "maxItems" | "minItems" => {
                if let Some(items) = v.as_array() {
                    let n = k.as_u64().expect("a count") as usize;
                    let bad = if keyword == "maxItems" {
                        items.len() > n
                    } else {
                        items.len() < n
                    };
                    if bad {
                        return err(format!("{} items breaks {keyword} {n}", items.len()));
                    }
                }
            }
            "maxLength" | "minLength" => {
                if let Some(text) = v.as_str() {
                    // JSON Schema counts characters (code points), not bytes.
                    let len = text.chars().count();
                    let n = k.as_u64().expect("a length") as usize;
                    let bad = if keyword == "maxLength" {
                        len > n
                    } else {
                        len < n
                    };
                    if bad {
                        return err(format!("length {len} breaks {keyword} {n}"));
                    }
                }
            }
            "maxProperties" => {
                if let Some(obj) = v.as_object() {
                    let n = k.as_u64().expect("a count") as usize;
                    if obj.len() > n {
                        return err(format!("{} properties breaks maxProperties {n}", obj.len()));
                    }
                }
            }
            "pattern" => {
                if let Some(text) = v.as_str() {
                    let pattern = k.as_str().expect("a pattern");
                    if !matches_pattern(pattern, text) {
                        return err(format!("{text:?} does not match {pattern:?}"));
                    }
                }
            }
            "format" => {
                // Only `status` has formats (`date-time`), and a generated object carries no
                // status: any value there is refused rather than half-checked.
                if v.is_string() {
                    return err(format!("format {k} is not implemented"));
                }
            }
            "anyOf" | "oneOf" => {
                let branches = k.as_array().expect("a list of schemas");
                let ok = branches.iter().filter(|b| at(b, v, path).is_ok()).count();
                let bad = if keyword == "anyOf" { ok == 0 } else { ok != 1 };
                if bad {
                    return err(format!("{ok} branches of {keyword} match"));
                }
            }
            "not" => {
                if at(k, v, path).is_ok() {
                    return err("matches a `not` schema".into());
                }
            }
            other => panic!("unsupported keyword {other:?} at {path:?}"),
        }
    }
    Ok(())
}

/// The two patterns of the schema, written out (no regex engine needed).
fn matches_pattern(pattern: &str, s: &str) -> bool {
    let dns_part = |p: &str| {
        let b = p.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && alnum(b[0])
            && alnum(b[b.len() - 1])
            && b.iter().all(|&c| alnum(c) || c == b'-')
    };
    match pattern {
        r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" => {
            s.is_empty() || s.split('.').all(dns_part)
        }
        r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$" => {
            let b = s.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphabetic()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        }
        other => panic!("unsupported pattern {other:?}"),
    }
}

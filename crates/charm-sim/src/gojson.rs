//! JSON exactly as Go's `encoding/json.Marshal` prints a `map[string]interface{}` value, which is
//! what Juju's `--format=json` emits: no spaces, map keys sorted, HTML-sensitive characters and
//! U+2028/U+2029 escaped as `\uXXXX`.
use serde_json::Value;

pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, true);
    out
}

/// Like [`to_string`] but keeps object keys in insertion order, as Go prints a struct (field
/// order). Callers sort the map-typed parts themselves.
pub fn to_string_ordered(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, false);
    out
}

fn write_value(out: &mut String, v: &Value, sort: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, x, sort);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            if sort {
                keys.sort();
            }
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                if let Some(x) = m.get(k) {
                    write_value(out, x, sort);
                }
            }
            out.push('}');
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_go_marshal() {
        let v = json!({"b": [1, "x<y>&z"], "a": {}, "c": [], "d": null, "e": "\u{1}\n"});
        assert_eq!(
            to_string(&v),
            r#"{"a":{},"b":[1,"x\u003cy\u003e\u0026z"],"c":[],"d":null,"e":"\u0001\n"}"#
        );
        assert_eq!(
            to_string_ordered(&json!({"z": 1, "a": 2})),
            r#"{"z":1,"a":2}"#
        );
    }
}

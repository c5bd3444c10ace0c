//! Python's `json` module, byte for byte.
//!
//! Relation databag values are JSON documents written by Python's `json.dumps` (default
//! settings) and read with `json.loads`. [`loads`] accepts what `json.loads` accepts (including
//! `NaN`/`Infinity` and integers of any size) and keeps object key order, so parsing matches
//! the Python reader; [`dumps_value`] and [`dumps`] reproduce `json.dumps` output exactly, so a
//! rewrite with unchanged content produces an identical string (Juju then fires no event).

use std::fmt::Write as _;

use thiserror::Error;

/// A JSON document as `json.loads` would return it.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    Null,
    Bool(bool),
    /// A Python `int`, any size, as a canonical decimal string (`-` sign, no leading zeros).
    Int(String),
    Float(f64),
    Str(String),
    List(Vec<PyValue>),
    /// A Python `dict` in insertion order. A duplicate key keeps its first position and takes
    /// the last value, as Python's dict assignment does.
    Dict(Vec<(String, PyValue)>),
}

/// Why [`loads`] rejected a document; `json.loads` raises for the same inputs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid JSON at byte {offset}: {reason}")]
pub struct JsonError {
    pub offset: usize,
    pub reason: &'static str,
}

/// Python caps `int(str)` at 4300 digits; `json.loads` raises beyond it.
const MAX_INT_DIGITS: usize = 4300;
/// Python raises `RecursionError` on deeply nested documents; refuse them instead of
/// overflowing the stack.
const MAX_DEPTH: usize = 500;

/// Parse `text` like Python's `json.loads(text)`.
///
/// Known divergence: a lone UTF-16 surrogate escape (`"\ud800"`) is rejected, because a Rust
/// `String` cannot hold it (Python would accept it and fail later when hashing the policy).
pub fn loads(text: &str) -> Result<PyValue, JsonError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
    };
    if text.starts_with('\u{feff}') {
        return Err(p.err("unexpected UTF-8 BOM"));
    }
    p.skip_ws();
    let v = p.value()?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.err("extra data"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> JsonError {
        JsonError {
            offset: self.pos,
            reason,
        }
    }

    fn skip_ws(&mut self) {
        // json.loads whitespace is exactly these four bytes.
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<PyValue, JsonError> {
        match self.s.get(self.pos) {
            None => Err(self.err("expecting value")),
            Some(b'"') => Ok(PyValue::Str(self.string()?)),
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'n') if self.eat("null") => Ok(PyValue::Null),
            Some(b't') if self.eat("true") => Ok(PyValue::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(PyValue::Bool(false)),
            Some(b'N') if self.eat("NaN") => Ok(PyValue::Float(f64::NAN)),
            Some(b'I') if self.eat("Infinity") => Ok(PyValue::Float(f64::INFINITY)),
            Some(b'-') if self.eat("-Infinity") => Ok(PyValue::Float(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expecting value")),
        }
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<PyValue, JsonError>,
    ) -> Result<PyValue, JsonError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.s.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?`, as Python's scanner matches numbers.
    fn number(&mut self) -> Result<PyValue, JsonError> {
        let start = self.pos;
        if self.s[self.pos] == b'-' {
            self.pos += 1;
        }
        match self.s.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("expecting value")),
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.s.get(self.pos) == Some(&b'.') {
            let save = self.pos;
            self.pos += 1;
            if self.digits() == 0 {
                self.pos = save;
            } else {
                is_float = true;
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.pos) {
            let save = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.s.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = save;
            } else {
                is_float = true;
            }
        }
        let text = &self.text[start..self.pos];
        if is_float {
            return text
                .parse::<f64>()
                .map(PyValue::Float)
                .map_err(|_| self.err("invalid number"));
        }
        let int_text = &self.text[start..int_end];
        let digits = int_text.trim_start_matches('-');
        if digits.len() > MAX_INT_DIGITS {
            return Err(self.err("integer exceeds the 4300 digit limit"));
        }
        Ok(PyValue::Int(canonical_int(
            int_text.starts_with('-'),
            digits,
        )))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("invalid \\uXXXX escape"))?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return Err(self.err("invalid \\uXXXX escape"));
        }
        let h = std::str::from_utf8(h).map_err(|_| self.err("invalid \\uXXXX escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("invalid \\uXXXX escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&b) = self.s.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.s.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(_) => return Err(self.err("invalid control character in string")),
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let hi = self.hex4()?;
        let cp = if (0xD800..=0xDBFF).contains(&hi) && self.s[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let lo = self.hex4()?;
            if (0xDC00..=0xDFFF).contains(&lo) {
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            } else {
                self.pos = save;
                hi
            }
        } else {
            hi
        };
        char::from_u32(cp).ok_or_else(|| self.err("lone surrogate escape (unsupported)"))
    }

    fn array(&mut self) -> Result<PyValue, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.s.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(PyValue::List(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(PyValue::List(items));
                }
                _ => return Err(self.err("expecting ',' delimiter")),
            }
        }
    }

    fn object(&mut self) -> Result<PyValue, JsonError> {
        self.pos += 1;
        let mut items: Vec<(String, PyValue)> = Vec::new();
        self.skip_ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(PyValue::Dict(items));
        }
        loop {
            self.skip_ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.err("expecting property name enclosed in double quotes"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.s.get(self.pos) != Some(&b':') {
                return Err(self.err("expecting ':' delimiter"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value()?;
            match items.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => items.push((key, value)),
            }
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(PyValue::Dict(items));
                }
                _ => return Err(self.err("expecting ',' delimiter")),
            }
        }
    }
}

/// Canonical decimal text of an integer given its sign and ASCII digits (Python `repr(int)`).
pub(crate) fn canonical_int(negative: bool, digits: &str) -> String {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else if negative {
        format!("-{trimmed}")
    } else {
        trimmed.to_owned()
    }
}

/// `json.dumps` string encoding with `ensure_ascii=True`.
pub(crate) fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

fn write_float(out: &mut String, f: f64) {
    // json.dumps(allow_nan=True) spells the specials this way, otherwise float.__repr__.
    if f.is_nan() {
        out.push_str("NaN");
    } else if f == f64::INFINITY {
        out.push_str("Infinity");
    } else if f == f64::NEG_INFINITY {
        out.push_str("-Infinity");
    } else {
        out.push_str(&python_repr::repr_float(f));
    }
}

fn write_py(out: &mut String, v: &PyValue) {
    match v {
        PyValue::Null => out.push_str("null"),
        PyValue::Bool(true) => out.push_str("true"),
        PyValue::Bool(false) => out.push_str("false"),
        PyValue::Int(i) => out.push_str(i),
        PyValue::Float(f) => write_float(out, *f),
        PyValue::Str(s) => write_json_str(out, s),
        PyValue::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(out, item);
            }
            out.push(']');
        }
        PyValue::Dict(items) => {
            out.push('{');
            for (i, (k, item)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json_str(out, k);
                out.push_str(": ");
                write_py(out, item);
            }
            out.push('}');
        }
    }
}

/// `json.dumps(v)` with default arguments, for a [`PyValue`].
pub fn dumps_value(v: &PyValue) -> String {
    let mut out = String::new();
    write_py(&mut out, v);
    out
}

fn write_serde(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(f) = n.as_f64() {
                write_float(out, f);
            }
        }
        Value::String(s) => write_json_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_serde(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json_str(out, k);
                out.push_str(": ");
                write_serde(out, item);
            }
            out.push('}');
        }
    }
}

/// `json.dumps(v)` with default arguments: `", "`/`": "` separators, `ensure_ascii` escapes
/// (lowercase `\uXXXX`, surrogate pairs beyond the BMP), keys in map order, Python float repr.
pub fn dumps(v: &serde_json::Value) -> String {
    let mut out = String::new();
    write_serde(&mut out, v);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dumps_matches_python_separators_and_escapes() {
        let v = json!({"a": [1, -2, true, null], "é": "tab\there \"q\" \\ \u{1}\u{7f}\u{1F600}"});
        assert_eq!(
            dumps(&v),
            r#"{"a": [1, -2, true, null], "\u00e9": "tab\there \"q\" \\ \u0001\u007f\ud83d\ude00"}"#
        );
        assert_eq!(dumps(&json!({})), "{}");
        assert_eq!(dumps(&json!([])), "[]");
        assert_eq!(dumps(&json!("\u{8}\u{c}\r\n/")), r#""\b\f\r\n/""#);
    }

    #[test]
    fn floats_are_dumped_as_python_repr() {
        assert_eq!(dumps(&json!(2.5e-10)), "2.5e-10");
        assert_eq!(dumps(&json!(1e16)), "1e+16");
    }

    #[test]
    fn loads_keeps_order_big_ints_and_python_literals() {
        let v = loads(r#" {"b": 1, "a": [NaN, -Infinity, 1e400, 123456789012345678901234567890, -0, 1.0], "b": 2} "#)
            .expect("valid");
        let PyValue::Dict(items) = &v else {
            panic!("not a dict: {v:?}")
        };
        assert_eq!(items[0], ("b".to_owned(), PyValue::Int("2".to_owned())));
        let PyValue::List(l) = &items[1].1 else {
            panic!("not a list")
        };
        assert!(matches!(l[0], PyValue::Float(f) if f.is_nan()));
        assert_eq!(l[1], PyValue::Float(f64::NEG_INFINITY));
        assert_eq!(l[2], PyValue::Float(f64::INFINITY));
        assert_eq!(
            l[3],
            PyValue::Int("123456789012345678901234567890".to_owned())
        );
        assert_eq!(l[4], PyValue::Int("0".to_owned()));
        assert_eq!(l[5], PyValue::Float(1.0));
        assert_eq!(
            dumps_value(&v),
            r#"{"b": 2, "a": [NaN, -Infinity, Infinity, 123456789012345678901234567890, 0, 1.0]}"#
        );
    }

    #[test]
    fn loads_rejects_what_python_rejects() {
        for bad in [
            "",
            "[",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "[1] x",
            "{'a': 1}",
            "\"\t\"",
            "\"\\x41\"",
            "\"\\ud800\"",
            "nul",
            "\u{feff}[]",
            "+1",
            "-",
            "[1 2]",
            "{\"a\" 1}",
        ] {
            assert!(loads(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            loads("\"\\ud83d\\ude00\\u00E9\""),
            Ok(PyValue::Str("\u{1F600}é".to_owned()))
        );
        assert_eq!(loads(" \t\r\n[] "), Ok(PyValue::List(vec![])));
    }
}

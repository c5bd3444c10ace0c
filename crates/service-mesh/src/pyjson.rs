//! Python's `json` module, byte for byte.
//!
//! Relation databag values are JSON documents written by Python's `json.dumps` (default
//! settings) and read with `json.loads`. [`loads`] accepts what `json.loads` accepts (including
//! `NaN`/`Infinity` and integers of any size) and keeps object key order, so parsing matches
//! the Python reader; [`dumps_value`] and [`dumps`] reproduce `json.dumps` output exactly, so a
//! rewrite with unchanged content produces an identical string (Juju then fires no event).

use std::io;

use serde_json::ser::{Formatter, Serializer};
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

/// Python's `json.dumps` formatting (default arguments) as a `serde_json` [`Formatter`]: the
/// one place that decides how the text looks.
///
/// - separators `", "` between items and `": "` after a key;
/// - `ensure_ascii`: every character outside `' '..='~'` is escaped, `\"`, `\\`, `\n`,
///   `\r`, `\t`, `\b`, `\f` in their short form, everything else as lowercase `\uXXXX`
///   (a surrogate pair beyond the BMP; DEL is `\u007f`, `/` is not escaped);
/// - floats as Python's `float.__repr__` (`1e+16`, `2.5e-10`), and the specials as
///   `json.dumps(allow_nan=True)` spells them: `NaN`, `Infinity`, `-Infinity`.
///
/// Use it through [`dumps`] / [`dumps_value`], or with
/// `serde_json::Serializer::with_formatter` for any `Serialize` type. (`serde_json`'s own
/// serializer turns a non-finite `f64` into `null` before the formatter sees it; a
/// [`PyValue`] keeps them.)
#[derive(Debug, Clone, Copy, Default)]
pub struct PyFormatter;

impl Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        // Python has only doubles: the f32 is widened, as `float(x)` would be.
        self.write_f64(w, f64::from(value))
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        if value.is_nan() {
            w.write_all(b"NaN")
        } else if value == f64::INFINITY {
            w.write_all(b"Infinity")
        } else if value == f64::NEG_INFINITY {
            w.write_all(b"-Infinity")
        } else {
            w.write_all(python_repr::repr_float(value).as_bytes())
        }
    }

    /// `serde_json` passes the runs between the characters it escapes itself (controls below
    /// U+0020, `"` and `\`, which it writes through `write_char_escape` exactly as Python
    /// does); the rest of `ensure_ascii` happens here.
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if (' '..='~').contains(&c) {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            for unit in c.encode_utf16(&mut [0u16; 2]) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

/// A JSON string as `json.dumps` writes it (the `serde_json` escaper driving [`PyFormatter`]).
fn write_str<W: ?Sized + io::Write>(w: &mut W, s: &str) -> io::Result<()> {
    serde::Serializer::serialize_str(&mut Serializer::with_formatter(w, PyFormatter), s)
        .map_err(io::Error::other)
}

/// Walks a [`PyValue`] through [`PyFormatter`]; the formatter decides every byte.
fn write_value<W: ?Sized + io::Write>(w: &mut W, v: &PyValue) -> io::Result<()> {
    let f = &mut PyFormatter;
    match v {
        PyValue::Null => f.write_null(w),
        PyValue::Bool(b) => f.write_bool(w, *b),
        PyValue::Int(i) => f.write_number_str(w, i),
        PyValue::Float(x) => f.write_f64(w, *x),
        PyValue::Str(s) => write_str(w, s),
        PyValue::List(items) => {
            f.begin_array(w)?;
            for (i, item) in items.iter().enumerate() {
                f.begin_array_value(w, i == 0)?;
                write_value(w, item)?;
                f.end_array_value(w)?;
            }
            f.end_array(w)
        }
        PyValue::Dict(items) => {
            f.begin_object(w)?;
            for (i, (k, item)) in items.iter().enumerate() {
                f.begin_object_key(w, i == 0)?;
                write_str(w, k)?;
                f.end_object_key(w)?;
                f.begin_object_value(w)?;
                write_value(w, item)?;
                f.end_object_value(w)?;
            }
            f.end_object(w)
        }
    }
}

/// Collects what `write` produces. Writing into a `Vec` cannot fail, and [`PyFormatter`] only
/// writes ASCII, so the text is complete.
fn collect(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
    let mut out = Vec::with_capacity(64);
    let _ = write(&mut out);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `json.dumps(v)` with default arguments, for a [`PyValue`] (big ints and `NaN`/`Infinity`
/// included).
pub fn dumps_value(v: &PyValue) -> String {
    collect(|out| write_value(out, v))
}

/// `json.dumps(v)` with default arguments: `", "`/`": "` separators, `ensure_ascii` escapes
/// (lowercase `\uXXXX`, surrogate pairs beyond the BMP), keys in map order, Python float repr.
pub fn dumps(v: &serde_json::Value) -> String {
    collect(|out| {
        serde::Serialize::serialize(v, &mut Serializer::with_formatter(out, PyFormatter))
            .map_err(io::Error::other)
    })
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
    fn both_entry_points_write_the_same_bytes() {
        let text = "a\u{0}\u{1f}\u{7f}é\u{2028}😀\\\"/ z";
        let serde = json!({"k": [text, 1.5, -3, null, false, {}], "é😀": []});
        let py = PyValue::Dict(vec![
            (
                "k".to_owned(),
                PyValue::List(vec![
                    PyValue::Str(text.to_owned()),
                    PyValue::Float(1.5),
                    PyValue::Int("-3".to_owned()),
                    PyValue::Null,
                    PyValue::Bool(false),
                    PyValue::Dict(vec![]),
                ]),
            ),
            ("é😀".to_owned(), PyValue::List(vec![])),
        ]);
        let expected = r#"{"k": ["a\u0000\u001f\u007f\u00e9\u2028\ud83d\ude00\\\"/ z", 1.5, -3, null, false, {}], "\u00e9\ud83d\ude00": []}"#;
        assert_eq!(dumps(&serde), expected);
        assert_eq!(dumps_value(&py), expected);
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

//! Python's `repr()` of a `str`, a `float` and a JSON value, exactly as CPython 3.11 prints it.
//!
//! Python keeps a character as-is in `repr()` iff `str.isprintable()` is true for it, which
//! follows the interpreter's Unicode database; this crate embeds that table as generated from
//! Python 3.11 (Unicode 14.0.0), so quoting, escapes and kept characters all match byte for
//! byte. Two users need that exactness:
//!
//! - `service-mesh`: a policy's name hashes pydantic's `str(MeshPolicy)`, which is built from
//!   `repr()` of each field.
//! - `charm-runtime`: ops passes `str(value)` of non-string action results to `action-set`,
//!   and `str()` of a list or dict is made of `repr()` of its strings.
//!
//! [`repr_json`] and [`str_json`] are Python's `repr()` and `str()` of the object `json.loads`
//! gives for a JSON value (what ops passes to `action-set`). The only dependency is
//! `serde_json`, so either user can have this crate without pulling in the other.

use std::fmt::Write as _;

mod unicode_printable;

use unicode_printable::NON_PRINTABLE;

/// Python's `str.isprintable()` for one character (Python 3.11, Unicode 14.0.0).
pub fn is_printable(c: char) -> bool {
    let cp = u32::from(c);
    // Binary search for the last range starting at or before `cp`.
    let idx = NON_PRINTABLE.partition_point(|&(lo, _)| lo <= cp);
    match idx.checked_sub(1).and_then(|i| NON_PRINTABLE.get(i)) {
        Some(&(_, hi)) => cp > hi,
        None => true,
    }
}

/// Python `repr(s)` of a `str`.
///
/// ```
/// use python_repr::repr_str;
/// assert_eq!(repr_str("it's"), r#""it's""#);
/// assert_eq!(repr_str("a\u{200b}é"), r"'a\u200bé'");
/// ```
pub fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            _ if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(c),
            _ if !c.is_ascii() && is_printable(c) => out.push(c),
            _ => {
                let cp = u32::from(c);
                let _ = if cp <= 0xff {
                    write!(out, "\\x{cp:02x}")
                } else if cp <= 0xffff {
                    write!(out, "\\u{cp:04x}")
                } else {
                    write!(out, "\\U{cp:08x}")
                };
            }
        }
    }
    out.push(quote);
    out
}

/// Python `repr(float)`: shortest round-trip digits, scientific notation when the decimal
/// exponent is below -4 or at least 16.
pub fn repr_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Python's repr.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::from(sign);
    if (-4..16).contains(&exp) {
        let decpt = exp + 1;
        if decpt <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
            out.push_str(&digits);
        } else {
            let decpt = decpt as usize;
            if decpt >= digits.len() {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', decpt - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..decpt]);
                out.push('.');
                out.push_str(&digits[decpt..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    }
    out
}

/// Python `repr()` of the object `json.loads` returns for `value`: `None`, `True`/`False`,
/// integers as they are, floats as [`repr_float`], strings as [`repr_str`], `[a, b]` and
/// `{'k': v}` with `", "` and `": "` (keys in the value's order).
///
/// ```
/// use python_repr::repr_json;
/// let v = serde_json::json!([1, 1e16, "it's", null, true, {"k": [false]}]);
/// assert_eq!(repr_json(&v), r#"[1, 1e+16, "it's", None, True, {'k': [False]}]"#);
/// ```
pub fn repr_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_repr_json(&mut out, value);
    out
}

/// Python `str()` of the object `json.loads` returns for `value`: a string is itself, anything
/// else is its [`repr_json`] (so strings inside a list or dict are quoted). This is what ops
/// sends to `action-set` for a result value.
///
/// ```
/// use python_repr::str_json;
/// assert_eq!(str_json(&serde_json::json!("it's")), "it's");
/// assert_eq!(str_json(&serde_json::json!(["it's"])), r#"["it's"]"#);
/// ```
pub fn str_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => repr_json(other),
    }
}

fn write_repr_json(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&repr_float(f)),
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::String(s) => out.push_str(&repr_str(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&repr_str(k));
                out.push_str(": ");
                write_repr_json(out, item);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_choice_and_escapes_match_python() {
        assert_eq!(repr_str("abc"), "'abc'");
        assert_eq!(repr_str("it's"), "\"it's\"");
        assert_eq!(repr_str("a\"b"), "'a\"b'");
        assert_eq!(repr_str("both ' and \""), "'both \\' and \"'");
        assert_eq!(repr_str("tab\t\n\r\\"), "'tab\\t\\n\\r\\\\'");
        assert_eq!(
            repr_str("\u{0}\u{1f}\u{7f}\u{a0}\u{ad}"),
            "'\\x00\\x1f\\x7f\\xa0\\xad'"
        );
        assert_eq!(repr_str("é😀"), "'é😀'");
        assert_eq!(
            repr_str("\u{200b}\u{2028}\u{e000}"),
            "'\\u200b\\u2028\\ue000'"
        );
        assert_eq!(repr_str("\u{1d173}\u{10ffff}"), "'\\U0001d173\\U0010ffff'");
        assert_eq!(repr_str("\u{3000}x"), "'\\u3000x'");
    }

    #[test]
    fn lookup_agrees_with_every_range_boundary() {
        let char_at = |cp: u32| char::from_u32(cp);
        for &(lo, hi) in NON_PRINTABLE.iter() {
            for cp in [lo, hi] {
                if let Some(c) = char_at(cp) {
                    assert!(!is_printable(c), "U+{cp:04X} is in a non-printable range");
                }
            }
            // The neighbours are printable unless they belong to another range.
            for cp in [lo.wrapping_sub(1), hi + 1] {
                let in_table = NON_PRINTABLE.iter().any(|&(l, h)| (l..=h).contains(&cp));
                if let Some(c) = char_at(cp) {
                    assert_eq!(is_printable(c), !in_table, "U+{cp:04X}");
                }
            }
        }
    }

    #[test]
    fn printable_table_edges() {
        assert!(is_printable(' '));
        assert!(!is_printable('\u{a0}'));
        assert!(is_printable('\u{a1}'));
        assert!(!is_printable('\u{10ffff}'));
        assert!(is_printable('\u{10000}'));
        // U+0378 is unassigned in Unicode 14 (category Cn).
        assert!(!is_printable('\u{378}'));
    }

    #[test]
    fn float_repr_matches_python() {
        for (f, s) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.5, "1.5"),
            (80.0, "80.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.25e-7, "1.25e-07"),
            (1e300, "1e+300"),
            (0.1, "0.1"),
            (123456.789, "123456.789"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(repr_float(f), s, "{f}");
        }
    }

    #[test]
    fn repr_and_str_of_json_values() {
        let v = serde_json::json!([1, 2.5, "a", "it's", "say \"hi\"", "both ' \"", "tab\there\\", "\u{1}", null, true, {"k": [false]}]);
        let expected = r#"[1, 2.5, 'a', "it's", 'say "hi"', 'both \' "', 'tab\there\\', '\x01', None, True, {'k': [False]}]"#;
        assert_eq!(repr_json(&v), expected);
        assert_eq!(str_json(&v), expected);
        assert_eq!(
            str_json(&serde_json::json!("plain\u{200b}")),
            "plain\u{200b}"
        );
        assert_eq!(
            repr_json(&serde_json::json!("plain\u{200b}")),
            r"'plain\u200b'"
        );
        assert_eq!(
            repr_json(
                &serde_json::json!({"\u{e000}\u{a0}": [1e16, 0.00001, 80.0, -7, 18446744073709551615u64]})
            ),
            r"{'\ue000\xa0': [1e+16, 1e-05, 80.0, -7, 18446744073709551615]}"
        );
        assert_eq!(repr_json(&serde_json::json!({})), "{}");
        assert_eq!(repr_json(&serde_json::json!([])), "[]");
    }
}

//! The value matchers of Istio authorization, as each enforcement point applies them.
//!
//! Sources (read, not copied): istiod `pilot/pkg/security/authz/matcher/{string,header,template}.go`
//! and `model/generator.go` (the Envoy side, i.e. the waypoint); ztunnel `src/rbac.rs`
//! (`StringMatch::matches`, `matches_principal`) and istiod
//! `pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go` (`stringToMatch`) for the
//! ztunnel side; Envoy `source/extensions/path/uri_template_lib/uri_template_internal.cc` for the
//! `{*}` / `{**}` path templates.

use std::fmt;
use std::net::IpAddr;

/// Three-valued truth: a request attribute the caller did not give (say the destination IP) makes
/// a match `Unknown` instead of guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    pub(crate) fn from_bool(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }
    pub(crate) fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Unknown,
        }
    }
}

/// Istio's string pattern: `*` (presence: non-empty), `*suffix`, `prefix*`, or exact
/// (the proto comment on `Rule`, `StringMatcherWithPrefix`, ztunnel `stringToMatch`).
pub(crate) fn istio_string_match(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        !value.is_empty()
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        value.ends_with(suffix)
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        value.starts_with(prefix)
    } else {
        pattern == value
    }
}

/// `hosts`: the same patterns, case-insensitive (`HostMatcher`, `ignore_case: true`), against the
/// request's `:authority` as sent (a port in it is part of the value).
pub(crate) fn host_match(pattern: &str, authority: &str) -> bool {
    istio_string_match(
        &pattern.to_ascii_lowercase(),
        &authority.to_ascii_lowercase(),
    )
}

/// The `:path` header without query and fragment: Envoy's `PathMatcher` and the URI template
/// matcher both strip them (`PathUtil::removeQueryAndFragment`).
pub(crate) fn strip_query(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

/// Whether a `paths` entry is a 1.29 path template (`ContainsPathTemplate`).
pub(crate) fn is_path_template(pattern: &str) -> bool {
    pattern.contains("{*}") || pattern.contains("{**}")
}

/// istiod's validation of a path template (`CheckValidPathTemplate`): every `/`-separated segment
/// is `{*}`, `{**}` (last operator only) or a literal of RFC 3986 pchars. `Err` carries istiod's
/// reason; such a policy is refused at admission, so the crate reports it as not understood.
pub(crate) fn validate_path_template(pattern: &str) -> Result<(), String> {
    if !is_path_template(pattern) {
        return Ok(());
    }
    let mut seen_any = false;
    for seg in pattern.trim_matches('/').split('/') {
        if seg == "{*}" || seg == "{**}" {
            if seen_any {
                return Err(format!("{pattern}: {{**}} is not the last operator"));
            }
            seen_any = seg == "{**}";
            continue;
        }
        if seg.contains(['{', '}']) {
            return Err(format!(
                "{pattern}: '{{' or '}}' beyond a supported path template"
            ));
        }
        if seg.is_empty() || !seg.chars().all(|c| is_pchar(c) || c == '=') {
            return Err(format!("{pattern}: segment {seg:?} is not a valid literal"));
        }
    }
    Ok(())
}

/// Envoy's `kLiteral`: the characters a `*` / `**` glob may consume (RFC 3986 pchar without `*`
/// and `=`).
fn is_pchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%!$&'()+,;:@".contains(c)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplatePart {
    Literal(String),
    /// `{*}`: `[pchar]+`, one segment, never empty.
    One,
    /// `{**}`: `[pchar/]*`, any number of segments, possibly empty.
    Any,
}

/// The template as Envoy compiles it: `/` + segments joined by `/` (a trailing `/` is an empty
/// literal segment), full match against the path without query.
fn template_parts(pattern: &str) -> Vec<TemplatePart> {
    let body = pattern.strip_prefix('/').unwrap_or(pattern);
    body.split('/')
        .map(|seg| match seg {
            "{*}" => TemplatePart::One,
            "{**}" => TemplatePart::Any,
            lit => TemplatePart::Literal(lit.to_string()),
        })
        .collect()
}

fn template_match(pattern: &str, path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let parts = template_parts(pattern);
    match_parts(&parts, rest)
}

/// Matches `parts` (joined by `/`) against `s` in full.
fn match_parts(parts: &[TemplatePart], s: &str) -> bool {
    let Some((first, tail)) = parts.split_first() else {
        return s.is_empty();
    };
    // Each candidate length of `first`; the next part starts after a `/` separator.
    let candidates: Vec<usize> = match first {
        TemplatePart::Literal(lit) => {
            if s.starts_with(lit.as_str()) {
                vec![lit.len()]
            } else {
                vec![]
            }
        }
        TemplatePart::One => {
            let n = s.chars().take_while(|c| is_pchar(*c)).count();
            (1..=n).collect()
        }
        TemplatePart::Any => {
            let n = s.chars().take_while(|c| is_pchar(*c) || *c == '/').count();
            (0..=n).collect()
        }
    };
    for len in candidates.into_iter().rev() {
        let after = &s[len..];
        if tail.is_empty() {
            if after.is_empty() {
                return true;
            }
        } else if let Some(next) = after.strip_prefix('/')
            && match_parts(tail, next)
        {
            return true;
        }
    }
    false
}

/// `paths` / `notPaths` at the waypoint: a template, or Istio's string pattern, on the path
/// without query string.
pub(crate) fn path_match(pattern: &str, request_path: &str) -> bool {
    let path = strip_query(request_path);
    if is_path_template(pattern) {
        template_match(pattern, path)
    } else {
        istio_string_match(pattern, path)
    }
}

/// `source.namespace` / `namespaces` at the waypoint (Envoy): the regex
/// `.*/ns/<pattern with * as .*>/.*` in full against the peer's URI SAN
/// (`srcNamespaceGenerator`). `*` anywhere in the pattern is a wildcard here.
pub(crate) fn envoy_namespace_match(pattern: &str, spiffe_uri: &str) -> bool {
    let glob = format!("*/ns/{pattern}/*");
    glob_match(&glob, spiffe_uri)
}

/// Full-string glob where `*` matches any run of characters (including none).
fn glob_match(glob: &str, s: &str) -> bool {
    let g: Vec<char> = glob.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut gi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if gi < g.len() && g[gi] == '*' {
            star = Some((gi, ti));
            gi += 1;
        } else if gi < g.len() && g[gi] == t[ti] {
            gi += 1;
            ti += 1;
        } else if let Some((sg, st)) = star {
            gi = sg + 1;
            ti = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    while gi < g.len() && g[gi] == '*' {
        gi += 1;
    }
    gi == g.len()
}

/// An IP block (`ipBlocks`, `source.ip`, …): a single address or a CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// Parses `203.0.113.4`, `203.0.113.0/24`, `2001:db8::/32`.
    pub fn parse(s: &str) -> Option<IpBlock> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let n: u8 = p.parse().ok()?;
                if n > max {
                    return None;
                }
                n
            }
            None => max,
        };
        Some(IpBlock { addr, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        fn bits(ip: IpAddr) -> (u128, u8) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        }
        let (net, w1) = bits(self.addr);
        let (x, w2) = bits(ip);
        if w1 != w2 {
            return false;
        }
        if self.prefix == 0 {
            return true;
        }
        let shift = u32::from(w1 - self.prefix);
        (net >> shift) == (x >> shift)
    }
}

impl fmt::Display for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// Go's `strconv.ParseBool`, which istiod applies to the `istio.io/dry-run` annotation; a value
/// it rejects counts as `false` (the policy is enforced).
pub(crate) fn go_parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

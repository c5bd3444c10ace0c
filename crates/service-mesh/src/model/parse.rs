//! Parsing the way pydantic v2 validates: lax exactly where pydantic is (numeric strings and
//! integral floats as ports, `true` as 1, unknown keys ignored, missing keys defaulted) and
//! strict where it is (no coercion to `str`, case-sensitive enums, `null` inside lists
//! rejected). Errors report the pydantic error type and location of the *first* error pydantic
//! would report.

use std::fmt;

use thiserror::Error;

use super::{
    CmrData, Endpoint, LabelMap, MeshPolicy, MeshType, Method, PolicyTargetType, Port,
    ProviderAppData,
};
use crate::pyjson::{self, JsonError, PyValue};

/// One step of a pydantic error location (`('endpoints', 0, 'ports', 1)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocPart {
    Key(String),
    Index(usize),
}

/// Renders like pydantic's error loc joined with dots: `endpoints.0.ports.1`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loc(pub Vec<LocPart>);

impl Loc {
    fn with(&self, part: LocPart) -> Loc {
        let mut v = self.0.clone();
        v.push(part);
        Loc(v)
    }

    fn key(&self, k: &str) -> Loc {
        self.with(LocPart::Key(k.to_owned()))
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match part {
                LocPart::Key(k) => f.write_str(k)?,
                LocPart::Index(n) => write!(f, "{n}")?,
            }
        }
        Ok(())
    }
}

/// A pydantic field-level error type (the `type` of the first entry of `errors()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    Missing,
    StringType,
    IntType,
    IntParsing,
    IntFromFloat,
    IntParsingSize,
    FiniteNumber,
    Enum,
    ListType,
    DictType,
    ModelType,
}

impl FieldErrorKind {
    /// pydantic's error type name.
    pub fn pydantic_type(self) -> &'static str {
        match self {
            FieldErrorKind::Missing => "missing",
            FieldErrorKind::StringType => "string_type",
            FieldErrorKind::IntType => "int_type",
            FieldErrorKind::IntParsing => "int_parsing",
            FieldErrorKind::IntFromFloat => "int_from_float",
            FieldErrorKind::IntParsingSize => "int_parsing_size",
            FieldErrorKind::FiniteNumber => "finite_number",
            FieldErrorKind::Enum => "enum",
            FieldErrorKind::ListType => "list_type",
            FieldErrorKind::DictType => "dict_type",
            FieldErrorKind::ModelType => "model_type",
        }
    }
}

impl fmt::Display for FieldErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.pydantic_type())
    }
}

/// A violated cross-field rule of `MeshPolicy._validate`. `Display` is the upstream text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RuleViolation {
    #[error(
        "Bad policy configuration. Neither target_app_name nor target_service specified for MeshPolicy with target_type {0}"
    )]
    NoTarget(PolicyTargetType),
    #[error(
        "Bad policy configuration. MeshPolicy with target_type {0} does not support target_selector_labels."
    )]
    SelectorLabelsNotSupported(PolicyTargetType),
    #[error(
        "Bad policy configuration. MeshPolicy with target_type {0} cannot specify both target_app_name and target_selector_labels."
    )]
    AppNameAndSelectorLabels(PolicyTargetType),
    #[error(
        "Bad policy configuration. MeshPolicy with target_type {0} does not support target_service."
    )]
    ServiceNotSupported(PolicyTargetType),
}

/// A field has a wrong type or value: the first entry of pydantic's `errors()`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{loc}: {kind}")]
pub struct FieldError {
    pub loc: Loc,
    pub kind: FieldErrorKind,
}

/// Why one `policies` element is not a valid `MeshPolicy` (pydantic `ValidationError`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// A field has a wrong type or value (first error in pydantic's order).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The model validator rejected the combination of fields.
    #[error("Value error, {0}")]
    Rule(#[from] RuleViolation),
}

fn ferr(loc: Loc, kind: FieldErrorKind) -> FieldError {
    FieldError { loc, kind }
}

/// The `policies` value as a whole is unusable (Python's `json.loads` or iteration fails).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DatabagError {
    #[error("policies is not valid JSON: {0}")]
    InvalidJson(#[from] JsonError),
    #[error("policies is not a JSON list")]
    NotAList,
}

type FieldResult<T> = Result<T, FieldError>;

fn dict_get<'a>(items: &'a [(String, PyValue)], key: &str) -> Option<&'a PyValue> {
    items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn parse_str(v: &PyValue, loc: &Loc) -> FieldResult<String> {
    match v {
        PyValue::Str(s) => Ok(s.clone()),
        _ => Err(ferr(loc.clone(), FieldErrorKind::StringType)),
    }
}

fn required<'a>(items: &'a [(String, PyValue)], key: &str, loc: &Loc) -> FieldResult<&'a PyValue> {
    dict_get(items, key).ok_or_else(|| ferr(loc.key(key), FieldErrorKind::Missing))
}

/// `T | None` with default `None`: absent and `null` both give `None`.
fn optional<T>(
    items: &[(String, PyValue)],
    key: &str,
    loc: &Loc,
    parse: impl FnOnce(&PyValue, &Loc) -> FieldResult<T>,
) -> FieldResult<Option<T>> {
    match dict_get(items, key) {
        None | Some(PyValue::Null) => Ok(None),
        Some(v) => parse(v, &loc.key(key)).map(Some),
    }
}

fn parse_list<T>(
    v: &PyValue,
    loc: &Loc,
    item: impl Fn(&PyValue, &Loc) -> FieldResult<T>,
) -> FieldResult<Vec<T>> {
    let PyValue::List(items) = v else {
        return Err(ferr(loc.clone(), FieldErrorKind::ListType));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| item(x, &loc.with(LocPart::Index(i))))
        .collect()
}

/// pydantic's lax `str → int`: surrounding Unicode whitespace, a sign, ASCII digits with
/// single `_` between digits, and an optional all-zero fraction (`"80.0"`) are accepted.
fn parse_int_str(raw: &str) -> Result<String, FieldErrorKind> {
    let s = raw.trim();
    let s = match s.split_once('.') {
        Some((int_part, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int_part,
        Some(_) => return Err(FieldErrorKind::IntParsing),
        None => s,
    };
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let well_formed = !body.is_empty()
        && !body.starts_with('_')
        && !body.ends_with('_')
        && !body.contains("__")
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !well_formed {
        return Err(FieldErrorKind::IntParsing);
    }
    let digits: String = body.chars().filter(|c| *c != '_').collect();
    // Python's int/str conversion limit.
    if digits.len() > 4300 {
        return Err(FieldErrorKind::IntParsingSize);
    }
    Ok(pyjson::canonical_int(negative, &digits))
}

/// pydantic's lax `int`.
fn parse_int(v: &PyValue, loc: &Loc) -> FieldResult<Port> {
    let err = |kind| ferr(loc.clone(), kind);
    match v {
        PyValue::Int(i) => Ok(Port(i.clone())),
        PyValue::Bool(b) => Ok(Port(if *b { "1" } else { "0" }.to_owned())),
        PyValue::Float(f) if !f.is_finite() => Err(err(FieldErrorKind::FiniteNumber)),
        PyValue::Float(f) if f.fract() != 0.0 => Err(err(FieldErrorKind::IntFromFloat)),
        // pydantic only converts floats that fit an i64 (strictly inside ±2^63).
        PyValue::Float(f) if *f > -9.223_372_036_854_776e18 && *f < 9.223_372_036_854_776e18 => {
            #[allow(clippy::cast_possible_truncation)] // integral and in range, checked above
            let i = *f as i64;
            Ok(Port(i.to_string()))
        }
        PyValue::Float(_) => Err(err(FieldErrorKind::IntParsingSize)),
        PyValue::Str(s) => parse_int_str(s).map(Port).map_err(err),
        PyValue::Null | PyValue::List(_) | PyValue::Dict(_) => Err(err(FieldErrorKind::IntType)),
    }
}

fn parse_method(v: &PyValue, loc: &Loc) -> FieldResult<Method> {
    match v {
        PyValue::Str(s) => Method::from_value(s),
        _ => None,
    }
    .ok_or_else(|| ferr(loc.clone(), FieldErrorKind::Enum))
}

fn parse_label_map(v: &PyValue, loc: &Loc) -> FieldResult<LabelMap> {
    let PyValue::Dict(items) = v else {
        return Err(ferr(loc.clone(), FieldErrorKind::DictType));
    };
    items
        .iter()
        .map(|(k, x)| Ok((k.clone(), parse_str(x, &loc.key(k))?)))
        .collect()
}

impl Endpoint {
    fn from_py(v: &PyValue, loc: &Loc) -> FieldResult<Endpoint> {
        let PyValue::Dict(items) = v else {
            return Err(ferr(loc.clone(), FieldErrorKind::ModelType));
        };
        Ok(Endpoint {
            hosts: optional(items, "hosts", loc, |v, l| parse_list(v, l, parse_str))?,
            ports: optional(items, "ports", loc, |v, l| parse_list(v, l, parse_int))?,
            methods: optional(items, "methods", loc, |v, l| parse_list(v, l, parse_method))?,
            paths: optional(items, "paths", loc, |v, l| parse_list(v, l, parse_str))?,
        })
    }
}

fn truthy(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.is_empty())
}

impl MeshPolicy {
    /// `MeshPolicy.model_validate(v)` on a value from `json.loads`: every historic consumer
    /// format is accepted (missing optional keys default, unknown keys are ignored).
    pub fn from_py(v: &PyValue) -> Result<MeshPolicy, PolicyError> {
        let policy = Self::fields_from_py(v)?;
        policy.validate()?;
        Ok(policy)
    }

    /// Field validation, in field order so the first error is the one pydantic lists first.
    fn fields_from_py(v: &PyValue) -> FieldResult<MeshPolicy> {
        let root = Loc::default();
        let PyValue::Dict(items) = v else {
            return Err(ferr(root, FieldErrorKind::ModelType));
        };
        let req_str = |key: &str| parse_str(required(items, key, &root)?, &root.key(key));
        Ok(MeshPolicy {
            source_namespace: req_str("source_namespace")?,
            source_app_name: req_str("source_app_name")?,
            target_namespace: req_str("target_namespace")?,
            target_app_name: optional(items, "target_app_name", &root, parse_str)?,
            target_selector_labels: optional(
                items,
                "target_selector_labels",
                &root,
                parse_label_map,
            )?,
            target_service: optional(items, "target_service", &root, parse_str)?,
            target_type: match dict_get(items, "target_type") {
                None => PolicyTargetType::App,
                Some(PyValue::Str(s)) => PolicyTargetType::from_value(s)
                    .ok_or_else(|| ferr(root.key("target_type"), FieldErrorKind::Enum))?,
                Some(_) => return Err(ferr(root.key("target_type"), FieldErrorKind::Enum)),
            },
            endpoints: match dict_get(items, "endpoints") {
                None => Vec::new(),
                Some(v) => parse_list(v, &root.key("endpoints"), Endpoint::from_py)?,
            },
        })
    }

    /// Parse one `policies` element from JSON text.
    pub fn from_json(text: &str) -> Result<MeshPolicy, PolicyParseError> {
        Ok(MeshPolicy::from_py(&pyjson::loads(text)?)?)
    }

    /// The model validator (`MeshPolicy._validate`): cross-field rules, truthiness as Python.
    pub fn validate(&self) -> Result<(), RuleViolation> {
        let labels = self
            .target_selector_labels
            .as_ref()
            .is_some_and(|l| !l.is_empty());
        match self.target_type {
            PolicyTargetType::App => {
                if !truthy(&self.target_app_name) && !truthy(&self.target_service) {
                    return Err(RuleViolation::NoTarget(self.target_type));
                }
                if labels {
                    return Err(RuleViolation::SelectorLabelsNotSupported(self.target_type));
                }
            }
            PolicyTargetType::Unit => {
                if truthy(&self.target_app_name) && labels {
                    return Err(RuleViolation::AppNameAndSelectorLabels(self.target_type));
                }
                if truthy(&self.target_service) {
                    return Err(RuleViolation::ServiceNotSupported(self.target_type));
                }
            }
        }
        Ok(())
    }
}

/// Either layer of failure when parsing a single policy from text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyParseError {
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// Parse a consumer's `policies` databag value into one result per element, so that one bad
/// policy can be skipped without losing the others. (Python's `mesh_info` lets the first bad
/// element crash the whole reconcile.)
pub fn parse_policies(text: &str) -> Result<Vec<Result<MeshPolicy, PolicyError>>, DatabagError> {
    match pyjson::loads(text)? {
        PyValue::List(items) => Ok(items.iter().map(MeshPolicy::from_py).collect()),
        _ => Err(DatabagError::NotAList),
    }
}

/// Why a `cmr_data` value was not usable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CmrDataError {
    /// Python raises `JSONDecodeError` here (uncaught: the hook fails).
    #[error("cmr_data is not valid JSON: {0}")]
    InvalidJson(#[from] JsonError),
    /// Python logs the `ValidationError` and skips the relation.
    #[error("invalid cmr_data: {0}")]
    Invalid(#[from] FieldError),
}

impl CmrData {
    /// `CMRData.model_validate(json.loads(text))`; extra keys ignored.
    pub fn parse(text: &str) -> Result<CmrData, CmrDataError> {
        let v = pyjson::loads(text)?;
        let root = Loc::default();
        let PyValue::Dict(items) = &v else {
            return Err(ferr(root, FieldErrorKind::ModelType).into());
        };
        let get = |key: &str| parse_str(required(items, key, &root)?, &root.key(key));
        Ok(CmrData {
            app_name: get("app_name")?,
            juju_model_name: get("juju_model_name")?,
        })
    }
}

/// Why a consumer could not read the provider's databag.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProviderDataError {
    #[error("value of {key} is not valid JSON: {source}")]
    InvalidJson { key: String, source: JsonError },
    #[error("invalid provider data: {0}")]
    Invalid(#[from] FieldError),
}

impl ProviderAppData {
    /// Read the provider app databag as the consumer library does: empty → `None`; otherwise
    /// `json.loads` every value (any key), then require `labels` and `mesh_type`.
    pub fn parse<'a>(
        databag: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Option<ProviderAppData>, ProviderDataError> {
        let mut items = Vec::new();
        for (k, v) in databag {
            let value = pyjson::loads(v).map_err(|source| ProviderDataError::InvalidJson {
                key: k.to_owned(),
                source,
            })?;
            items.push((k.to_owned(), value));
        }
        if items.is_empty() {
            return Ok(None);
        }
        let root = Loc::default();
        let labels = match dict_get(&items, "labels") {
            None => return Err(ferr(root.key("labels"), FieldErrorKind::Missing).into()),
            Some(v) => parse_label_map(v, &root.key("labels"))?,
        };
        let mesh_type = match dict_get(&items, "mesh_type") {
            None => return Err(ferr(root.key("mesh_type"), FieldErrorKind::Missing).into()),
            Some(PyValue::Str(s)) => MeshType::from_value(s)
                .ok_or_else(|| ferr(root.key("mesh_type"), FieldErrorKind::Enum))?,
            Some(_) => return Err(ferr(root.key("mesh_type"), FieldErrorKind::Enum).into()),
        };
        Ok(Some(ProviderAppData { labels, mesh_type }))
    }
}

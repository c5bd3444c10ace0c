//! The `service_mesh` data types, parsed the way pydantic v2 validates them.
//!
//! Parsing is lax exactly where pydantic is (numeric strings and integral floats as ports,
//! `true` as 1, unknown keys ignored, missing keys defaulted) and strict where it is (no
//! coercion to `str`, case-sensitive enums, `null` inside lists rejected). Errors report the
//! pydantic error type and location of the *first* error pydantic would report.
//!
//! In three parts: the types, the pydantic-style parsing (lenient coercion, first-error
//! reporting, the model validator), and the wire formats (databag encodings, pydantic's
//! `str()`). Everything is re-exported here.

mod parse;
mod types;
mod wire;

pub use self::parse::{
    CmrDataError, DatabagError, FieldError, FieldErrorKind, Loc, LocPart, PolicyError,
    PolicyParseError, ProviderDataError, RuleViolation, parse_policies,
};
pub use self::types::{
    CmrData, Endpoint, LabelMap, MeshPolicy, MeshType, Method, PolicyTargetType, Port,
    ProviderAppData,
};
pub use self::wire::dump_policies;

//! The Juju hook context, read from the environment Juju builds for every hook and action
//! (juju-contract.md §1.3), and the typed [`Event`] taken from `JUJU_DISPATCH_PATH`.
//!
//! Validation follows ops' `JujuContext.from_environ`: a few variables are required in every
//! context, and each event family requires its own (a relation hook needs `JUJU_RELATION`,
//! `JUJU_RELATION_ID` and `JUJU_REMOTE_APP`, …). As in ops, "required" means *present*:
//! `JUJU_REMOTE_UNIT` is legitimately empty in a `relation-changed` caused by an app-bag change.
//! Optional variables that are empty read as `None`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

/// Why the environment is not a valid Juju hook context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A variable required in every hook context is absent.
    #[error("missing required environment variable {var}")]
    Missing {
        /// The variable's name.
        var: &'static str,
    },
    /// A variable required by this particular event is absent.
    #[error("missing environment variable {var}, required for {event}")]
    MissingForEvent {
        /// The variable's name.
        var: &'static str,
        /// The event (`hooks/...` or `actions/...`) that needs it.
        event: String,
    },
    /// A variable is present but its value cannot be used.
    #[error("environment variable {var} has malformed value {value:?}: {problem}")]
    Malformed {
        /// The variable's name.
        var: &'static str,
        /// The value as found (lossily decoded if it was not UTF-8).
        value: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// Every variable this module reads; only these are decoded (and must be UTF-8).
const KNOWN_VARS: &[&str] = &[
    "JUJU_DISPATCH_PATH",
    "JUJU_HOOK_NAME",
    "JUJU_CHARM_DIR",
    "CHARM_DIR",
    "JUJU_UNIT_NAME",
    "JUJU_MODEL_NAME",
    "JUJU_MODEL_UUID",
    "JUJU_VERSION",
    "JUJU_CONTEXT_ID",
    "JUJU_AGENT_SOCKET_ADDRESS",
    "JUJU_AGENT_SOCKET_NETWORK",
    "JUJU_API_ADDRESSES",
    "JUJU_MACHINE_ID",
    "JUJU_PRINCIPAL_UNIT",
    "JUJU_AVAILABILITY_ZONE",
    "CLOUD_API_VERSION",
    "JUJU_CHARM_HTTP_PROXY",
    "JUJU_CHARM_HTTPS_PROXY",
    "JUJU_CHARM_FTP_PROXY",
    "JUJU_CHARM_NO_PROXY",
    "JUJU_RELATION",
    "JUJU_RELATION_ID",
    "JUJU_REMOTE_APP",
    "JUJU_REMOTE_UNIT",
    "JUJU_DEPARTING_UNIT",
    "JUJU_ACTION_NAME",
    "JUJU_ACTION_UUID",
    "JUJU_ACTION_TAG",
    "JUJU_WORKLOAD_NAME",
    "JUJU_NOTICE_ID",
    "JUJU_NOTICE_TYPE",
    "JUJU_NOTICE_KEY",
    "JUJU_PEBBLE_CHECK_NAME",
    "JUJU_SECRET_ID",
    "JUJU_SECRET_LABEL",
    "JUJU_SECRET_REVISION",
    "JUJU_STORAGE_ID",
    "JUJU_STORAGE_LOCATION",
    "JUJU_STORAGE_KIND",
    "JUJU_TARGET_BASE",
    "JUJU_METER_STATUS",
    "JUJU_METER_INFO",
    "JUJU_TRACE_ID",
    "JUJU_SPAN_ID",
    "JUJU_TRACE_FLAGS",
    "JUJU_DEBUG",
    "JUJU_DEBUG_AT",
];

/// What happens to a relation in a `<endpoint>-relation-<kind>` hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationKind {
    /// `-relation-created`
    Created,
    /// `-relation-joined`
    Joined,
    /// `-relation-changed`
    Changed,
    /// `-relation-departed`
    Departed,
    /// `-relation-broken`
    Broken,
}

impl RelationKind {
    const ALL: [(RelationKind, &'static str); 5] = [
        (RelationKind::Created, "created"),
        (RelationKind::Joined, "joined"),
        (RelationKind::Changed, "changed"),
        (RelationKind::Departed, "departed"),
        (RelationKind::Broken, "broken"),
    ];
}

/// A hook, as named by the last component of `JUJU_DISPATCH_PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookEvent {
    /// `install`
    Install,
    /// `start`
    Start,
    /// `stop`
    Stop,
    /// `remove`
    Remove,
    /// `config-changed`
    ConfigChanged,
    /// `upgrade-charm`
    UpgradeCharm,
    /// `update-status`
    UpdateStatus,
    /// `leader-elected`
    LeaderElected,
    /// `leader-settings-changed`
    LeaderSettingsChanged,
    /// `<endpoint>-relation-<kind>`
    Relation {
        /// The endpoint name (may contain dashes).
        endpoint: String,
        /// Which relation hook.
        kind: RelationKind,
    },
    /// `<container>-pebble-ready`
    PebbleReady {
        /// The workload container.
        container: String,
    },
    /// `<container>-pebble-custom-notice`
    PebbleCustomNotice {
        /// The workload container.
        container: String,
    },
    /// `<container>-pebble-check-failed`
    PebbleCheckFailed {
        /// The workload container.
        container: String,
    },
    /// `<container>-pebble-check-recovered`
    PebbleCheckRecovered {
        /// The workload container.
        container: String,
    },
    /// `<storage>-storage-attached`
    StorageAttached {
        /// The storage name.
        storage: String,
    },
    /// `<storage>-storage-detaching`
    StorageDetaching {
        /// The storage name.
        storage: String,
    },
    /// `secret-changed`
    SecretChanged,
    /// `secret-rotate`
    SecretRotate,
    /// `secret-remove`
    SecretRemove,
    /// `secret-expired`
    SecretExpired,
    /// `collect-metrics`
    CollectMetrics,
    /// Any other hook name (e.g. `pre-series-upgrade`), kept verbatim.
    Other(String),
}

/// The event being dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `hooks/<hook>`
    Hook(HookEvent),
    /// `actions/<name>`
    Action {
        /// The action name.
        name: String,
        /// `JUJU_ACTION_UUID` (an integer id in Juju 3+, kept as text).
        id: String,
    },
}

impl Event {
    /// The relation endpoint and kind, if this is a relation hook.
    pub fn relation(&self) -> Option<(&str, RelationKind)> {
        match self {
            Event::Hook(HookEvent::Relation { endpoint, kind }) => Some((endpoint, *kind)),
            _ => None,
        }
    }
}

/// A parsed Juju agent version, compared numerically (`3.10.0 > 3.9.1`).
///
/// Grammar as in ops' `JujuVersion`: `major.minor[.patch | -tagpatch][.build]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JujuVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version (0 if absent).
    pub patch: u32,
    /// Pre-release tag such as `beta` (`3.6-beta2`), empty for releases.
    pub tag: String,
    /// Build number (0 if absent).
    pub build: u32,
}

impl JujuVersion {
    /// Parse a version string such as `3.6.4`, `3.6-beta2` or `2.9.44.1`.
    pub fn parse(s: &str) -> Option<JujuVersion> {
        let number = |t: &str| -> Option<u32> {
            (!t.is_empty() && t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse().ok())
                .flatten()
        };
        let (major, rest) = s.split_once('.')?;
        let major = number(major)?;
        // minor ends at the first '.' or '-'
        let end = rest.find(['.', '-']).unwrap_or(rest.len());
        let minor = number(&rest[..end])?;
        let mut rest = &rest[end..];
        let (mut patch, mut tag, mut build) = (0, String::new(), 0);
        if let Some(r) = rest.strip_prefix('-') {
            let letters = r.bytes().take_while(u8::is_ascii_lowercase).count();
            if letters == 0 {
                return None;
            }
            tag = r[..letters].to_string();
            let r = &r[letters..];
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            patch = number(&r[..digits])?;
            rest = &r[digits..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            patch = number(&r[..digits])?;
            rest = &r[digits..];
        }
        if let Some(r) = rest.strip_prefix('.') {
            build = number(r)?;
            rest = "";
        }
        rest.is_empty().then_some(JujuVersion {
            major,
            minor,
            patch,
            tag,
            build,
        })
    }

    /// Whether this Juju is at least `major.minor.patch` (a tagged pre-release of that
    /// version counts as older than the release).
    pub fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        let mine = (self.major, self.minor, self.patch, self.tag.is_empty());
        mine >= (major, minor, patch, true)
    }
}

impl fmt::Display for JujuVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.tag.is_empty() {
            write!(f, ".{}", self.patch)?;
        } else {
            write!(f, "-{}{}", self.tag, self.patch)?;
        }
        if self.build != 0 {
            write!(f, ".{}", self.build)?;
        }
        Ok(())
    }
}

/// A storage instance id such as `data/0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageId {
    /// The storage name (`data`).
    pub name: String,
    /// The instance index (`0`).
    pub index: u32,
}

/// The charm proxy settings (`JUJU_CHARM_*_PROXY`), `None` when empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// `JUJU_CHARM_HTTP_PROXY`
    pub http: Option<String>,
    /// `JUJU_CHARM_HTTPS_PROXY`
    pub https: Option<String>,
    /// `JUJU_CHARM_FTP_PROXY`
    pub ftp: Option<String>,
    /// `JUJU_CHARM_NO_PROXY`
    pub no_proxy: Option<String>,
}

/// Trace propagation set by newer Juju when tracing is active.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// `JUJU_TRACE_ID`
    pub trace_id: Option<String>,
    /// `JUJU_SPAN_ID`
    pub span_id: Option<String>,
    /// `JUJU_TRACE_FLAGS`
    pub trace_flags: Option<String>,
}

/// The typed hook context. Build with [`JujuContext::from_env`] (production) or
/// [`JujuContext::from_vars`] (tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JujuContext {
    /// The event from `JUJU_DISPATCH_PATH`.
    pub event: Event,
    /// `JUJU_DISPATCH_PATH`, e.g. `hooks/db-relation-changed` or `actions/backup`.
    pub dispatch_path: String,
    /// `JUJU_HOOK_NAME` (empty for actions; ops ignores it and so does [`Self::event`]).
    pub hook_name: String,
    /// `JUJU_CHARM_DIR`, falling back to the legacy `CHARM_DIR`.
    pub charm_dir: Option<PathBuf>,
    /// `JUJU_UNIT_NAME`, e.g. `myapp/0`.
    pub unit_name: String,
    /// The application: the part of the unit name before `/`.
    pub app_name: String,
    /// `JUJU_MODEL_NAME` (the namespace on Kubernetes).
    pub model_name: String,
    /// `JUJU_MODEL_UUID`
    pub model_uuid: String,
    /// `JUJU_VERSION`, parsed.
    pub version: JujuVersion,
    /// `JUJU_CONTEXT_ID` (opaque; the tools need it in their environment).
    pub context_id: Option<String>,
    /// `JUJU_AGENT_SOCKET_ADDRESS`
    pub agent_socket_address: Option<String>,
    /// `JUJU_AGENT_SOCKET_NETWORK`
    pub agent_socket_network: Option<String>,
    /// `JUJU_API_ADDRESSES`, split on whitespace.
    pub api_addresses: Vec<String>,
    /// `JUJU_MACHINE_ID` (empty on Kubernetes, hence `None`).
    pub machine_id: Option<String>,
    /// `JUJU_PRINCIPAL_UNIT` for subordinates.
    pub principal_unit: Option<String>,
    /// `JUJU_AVAILABILITY_ZONE`
    pub availability_zone: Option<String>,
    /// `CLOUD_API_VERSION`
    pub cloud_api_version: Option<String>,
    /// The `JUJU_CHARM_*_PROXY` settings.
    pub proxy: ProxySettings,
    /// `JUJU_RELATION`: the endpoint of a relation hook.
    pub relation_name: Option<String>,
    /// The integer after the last `:` of `JUJU_RELATION_ID` (`db:7` → 7).
    pub relation_id: Option<u64>,
    /// `JUJU_REMOTE_APP`
    pub remote_app: Option<String>,
    /// `JUJU_REMOTE_UNIT` (`None` for created/broken and app-bag changes).
    pub remote_unit: Option<String>,
    /// `JUJU_DEPARTING_UNIT`
    pub departing_unit: Option<String>,
    /// `JUJU_ACTION_NAME`
    pub action_name: Option<String>,
    /// `JUJU_ACTION_UUID`
    pub action_uuid: Option<String>,
    /// `JUJU_ACTION_TAG`, e.g. `action-17`.
    pub action_tag: Option<String>,
    /// `JUJU_WORKLOAD_NAME`: the container of a Pebble event.
    pub workload_name: Option<String>,
    /// `JUJU_NOTICE_ID`
    pub notice_id: Option<String>,
    /// `JUJU_NOTICE_TYPE`
    pub notice_type: Option<String>,
    /// `JUJU_NOTICE_KEY`
    pub notice_key: Option<String>,
    /// `JUJU_PEBBLE_CHECK_NAME`
    pub pebble_check_name: Option<String>,
    /// `JUJU_SECRET_ID`
    pub secret_id: Option<String>,
    /// `JUJU_SECRET_LABEL`
    pub secret_label: Option<String>,
    /// `JUJU_SECRET_REVISION`
    pub secret_revision: Option<u64>,
    /// `JUJU_STORAGE_ID`, parsed.
    pub storage_id: Option<StorageId>,
    /// `JUJU_STORAGE_LOCATION`
    pub storage_location: Option<PathBuf>,
    /// `JUJU_STORAGE_KIND` (`filesystem` / `block`).
    pub storage_kind: Option<String>,
    /// `JUJU_TARGET_BASE` (pre-series-upgrade)
    pub target_base: Option<String>,
    /// `JUJU_METER_STATUS` (meter-status-changed, deprecated)
    pub meter_status: Option<String>,
    /// `JUJU_METER_INFO` (meter-status-changed, deprecated)
    pub meter_info: Option<String>,
    /// `JUJU_TRACE_ID`, `JUJU_SPAN_ID`, `JUJU_TRACE_FLAGS`.
    pub trace: TraceContext,
    /// `JUJU_DEBUG` is present (a debug-hooks session).
    pub debug: bool,
    /// `JUJU_DEBUG_AT`, split on commas.
    pub debug_at: Vec<String>,
}

/// Raw variables, remembering presence separately from emptiness.
struct Vars(HashMap<String, String>);

impl Vars {
    fn raw(&self, var: &str) -> Option<&str> {
        self.0.get(var).map(String::as_str)
    }

    /// Present and non-empty, else `None` (ops' `env.get(X) or None`).
    fn opt(&self, var: &str) -> Option<String> {
        self.raw(var).filter(|v| !v.is_empty()).map(str::to_string)
    }

    fn required(&self, var: &'static str) -> Result<&str, ContextError> {
        self.raw(var).ok_or(ContextError::Missing { var })
    }

    fn require_for(&self, vars: &[&'static str], event: &str) -> Result<(), ContextError> {
        match vars.iter().find(|v| self.raw(v).is_none()) {
            Some(var) => Err(ContextError::MissingForEvent {
                var,
                event: event.to_string(),
            }),
            None => Ok(()),
        }
    }
}

fn malformed(var: &'static str, value: &str, problem: impl Into<String>) -> ContextError {
    ContextError::Malformed {
        var,
        value: value.to_string(),
        problem: problem.into(),
    }
}

fn parse_u64(var: &'static str, value: &str) -> Result<u64, ContextError> {
    value
        .parse()
        .map_err(|_| malformed(var, value, "expected a non-negative integer"))
}

/// Parse `JUJU_RELATION_ID`: `endpoint:id` (or a bare id, as very old Juju sent).
fn parse_relation_id(value: &str) -> Result<u64, ContextError> {
    let id = value.rsplit(':').next().unwrap_or(value);
    id.parse().map_err(|_| {
        malformed(
            "JUJU_RELATION_ID",
            value,
            "expected <endpoint>:<integer id>",
        )
    })
}

/// The event family decides which extra variables are required.
enum Family {
    Plain(HookEvent),
    Relation(RelationKind, String),
    Pebble(&'static str, String),
    Storage(bool, String),
    Secret(HookEvent),
}

fn classify(hook: &str) -> Family {
    let plain = match hook {
        "install" => Some(HookEvent::Install),
        "start" => Some(HookEvent::Start),
        "stop" => Some(HookEvent::Stop),
        "remove" => Some(HookEvent::Remove),
        "config-changed" => Some(HookEvent::ConfigChanged),
        "upgrade-charm" => Some(HookEvent::UpgradeCharm),
        "update-status" => Some(HookEvent::UpdateStatus),
        "leader-elected" => Some(HookEvent::LeaderElected),
        "leader-settings-changed" => Some(HookEvent::LeaderSettingsChanged),
        "collect-metrics" => Some(HookEvent::CollectMetrics),
        _ => None,
    };
    if let Some(e) = plain {
        return Family::Plain(e);
    }
    let secret = match hook {
        "secret-changed" => Some(HookEvent::SecretChanged),
        "secret-rotate" => Some(HookEvent::SecretRotate),
        "secret-remove" => Some(HookEvent::SecretRemove),
        "secret-expired" => Some(HookEvent::SecretExpired),
        _ => None,
    };
    if let Some(e) = secret {
        return Family::Secret(e);
    }
    for (kind, word) in RelationKind::ALL {
        if let Some(prefix) = hook.strip_suffix(&format!("-relation-{word}")) {
            return Family::Relation(kind, prefix.to_string());
        }
    }
    for suffix in [
        "-pebble-ready",
        "-pebble-custom-notice",
        "-pebble-check-failed",
        "-pebble-check-recovered",
    ] {
        if let Some(prefix) = hook.strip_suffix(suffix) {
            return Family::Pebble(suffix, prefix.to_string());
        }
    }
    if let Some(prefix) = hook.strip_suffix("-storage-attached") {
        return Family::Storage(true, prefix.to_string());
    }
    if let Some(prefix) = hook.strip_suffix("-storage-detaching") {
        return Family::Storage(false, prefix.to_string());
    }
    Family::Plain(HookEvent::Other(hook.to_string()))
}

/// Prefer the name Juju tells us (names may contain dashes) when it matches the hook name.
fn name_from(explicit: Option<&str>, hook: &str, suffix: &str, fallback: String) -> String {
    match explicit {
        Some(name) if !name.is_empty() && hook == format!("{name}{suffix}") => name.to_string(),
        _ => fallback,
    }
}

fn parse_storage_id(value: &str) -> Result<StorageId, ContextError> {
    let bad = || malformed("JUJU_STORAGE_ID", value, "expected <storage-name>/<index>");
    let (name, index) = value.rsplit_once('/').ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    Ok(StorageId {
        name: name.to_string(),
        index: index.parse().map_err(|_| bad())?,
    })
}

fn hook_event(vars: &Vars, hook: &str, path: &str) -> Result<HookEvent, ContextError> {
    Ok(match classify(hook) {
        Family::Plain(e) => e,
        Family::Secret(e) => {
            vars.require_for(&["JUJU_SECRET_ID"], path)?;
            if matches!(e, HookEvent::SecretRemove | HookEvent::SecretExpired) {
                vars.require_for(&["JUJU_SECRET_REVISION"], path)?;
            }
            e
        }
        Family::Relation(kind, prefix) => {
            vars.require_for(
                &["JUJU_RELATION", "JUJU_RELATION_ID", "JUJU_REMOTE_APP"],
                path,
            )?;
            if matches!(
                kind,
                RelationKind::Joined | RelationKind::Changed | RelationKind::Departed
            ) {
                vars.require_for(&["JUJU_REMOTE_UNIT"], path)?;
            }
            if kind == RelationKind::Departed {
                vars.require_for(&["JUJU_DEPARTING_UNIT"], path)?;
            }
            let word = RelationKind::ALL
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or("", |(_, w)| w);
            let suffix = format!("-relation-{word}");
            let endpoint = name_from(vars.raw("JUJU_RELATION"), hook, &suffix, prefix);
            HookEvent::Relation { endpoint, kind }
        }
        Family::Pebble(suffix, prefix) => {
            let needed: &[&'static str] = match suffix {
                "-pebble-custom-notice" => &[
                    "JUJU_WORKLOAD_NAME",
                    "JUJU_NOTICE_ID",
                    "JUJU_NOTICE_KEY",
                    "JUJU_NOTICE_TYPE",
                ],
                "-pebble-check-failed" | "-pebble-check-recovered" => {
                    &["JUJU_WORKLOAD_NAME", "JUJU_PEBBLE_CHECK_NAME"]
                }
                _ => &["JUJU_WORKLOAD_NAME"],
            };
            vars.require_for(needed, path)?;
            let container = name_from(vars.raw("JUJU_WORKLOAD_NAME"), hook, suffix, prefix);
            match suffix {
                "-pebble-custom-notice" => HookEvent::PebbleCustomNotice { container },
                "-pebble-check-failed" => HookEvent::PebbleCheckFailed { container },
                "-pebble-check-recovered" => HookEvent::PebbleCheckRecovered { container },
                _ => HookEvent::PebbleReady { container },
            }
        }
        Family::Storage(attached, prefix) => {
            vars.require_for(&["JUJU_STORAGE_ID"], path)?;
            let suffix = if attached {
                "-storage-attached"
            } else {
                "-storage-detaching"
            };
            let id = vars.opt("JUJU_STORAGE_ID").map(|v| parse_storage_id(&v));
            let name = match id {
                Some(id) => Some(id?.name),
                None => None,
            };
            let storage = name_from(name.as_deref(), hook, suffix, prefix);
            if attached {
                HookEvent::StorageAttached { storage }
            } else {
                HookEvent::StorageDetaching { storage }
            }
        }
    })
}

fn event_from(vars: &Vars, path: &str) -> Result<Event, ContextError> {
    let bad = || {
        malformed(
            "JUJU_DISPATCH_PATH",
            path,
            "expected hooks/<hook> or actions/<action>",
        )
    };
    let (location, name) = path.split_once('/').ok_or_else(bad)?;
    if name.is_empty() || name.contains('/') {
        return Err(bad());
    }
    match location {
        "hooks" => Ok(Event::Hook(hook_event(vars, name, path)?)),
        "actions" => {
            vars.require_for(&["JUJU_ACTION_NAME", "JUJU_ACTION_UUID"], path)?;
            let env_name = vars.raw("JUJU_ACTION_NAME").unwrap_or_default();
            if env_name != name {
                return Err(malformed(
                    "JUJU_ACTION_NAME",
                    env_name,
                    format!("does not match JUJU_DISPATCH_PATH {path:?}"),
                ));
            }
            Ok(Event::Action {
                name: name.to_string(),
                id: vars.raw("JUJU_ACTION_UUID").unwrap_or_default().to_string(),
            })
        }
        _ => Err(bad()),
    }
}

impl JujuContext {
    /// Read the context from this process's environment.
    pub fn from_env() -> Result<JujuContext, ContextError> {
        let mut vars = Vec::new();
        for &var in KNOWN_VARS {
            if let Some(value) = std::env::var_os(var) {
                vars.push((var, utf8(var, value)?));
            }
        }
        JujuContext::from_vars(vars)
    }

    /// Build the context from explicit variables (what tests use). Unknown variables are
    /// ignored.
    pub fn from_vars<I, K, V>(vars: I) -> Result<JujuContext, ContextError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = Vars(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        let dispatch_path = vars.required("JUJU_DISPATCH_PATH")?.to_string();
        let model_name = vars.required("JUJU_MODEL_NAME")?.to_string();
        let model_uuid = vars.required("JUJU_MODEL_UUID")?.to_string();
        let unit_name = vars.required("JUJU_UNIT_NAME")?.to_string();
        // Juju's meter-status-changed is the one hook without JUJU_VERSION; ops reads it as
        // 0.0.0 there rather than failing the hook.
        let version_raw = match vars.required("JUJU_VERSION") {
            Err(_) if dispatch_path == "hooks/meter-status-changed" => "0.0.0",
            other => other?,
        };
        let version = JujuVersion::parse(version_raw).ok_or_else(|| {
            malformed(
                "JUJU_VERSION",
                version_raw,
                "expected <major>.<minor>.<patch>",
            )
        })?;
        let app_name = match unit_name.split_once('/') {
            Some((app, n)) if !app.is_empty() && n.parse::<u32>().is_ok() => app.to_string(),
            _ => {
                return Err(malformed(
                    "JUJU_UNIT_NAME",
                    &unit_name,
                    "expected <application>/<number>",
                ));
            }
        };
        if model_name.is_empty() {
            return Err(malformed("JUJU_MODEL_NAME", "", "must not be empty"));
        }

        let event = event_from(&vars, &dispatch_path)?;

        let relation_id = match vars.opt("JUJU_RELATION_ID") {
            Some(v) => Some(parse_relation_id(&v)?),
            None => None,
        };
        if event.relation().is_some() && vars.opt("JUJU_RELATION").is_none() {
            return Err(malformed(
                "JUJU_RELATION",
                "",
                "must name the endpoint in a relation hook",
            ));
        }
        if event.relation().is_some() && relation_id.is_none() {
            return Err(malformed(
                "JUJU_RELATION_ID",
                "",
                "expected <endpoint>:<integer id>",
            ));
        }
        let secret_revision = match vars.opt("JUJU_SECRET_REVISION") {
            Some(v) => Some(parse_u64("JUJU_SECRET_REVISION", &v)?),
            None => None,
        };
        let storage_id = match vars.opt("JUJU_STORAGE_ID") {
            Some(v) => Some(parse_storage_id(&v)?),
            None => None,
        };

        Ok(JujuContext {
            event,
            hook_name: vars.raw("JUJU_HOOK_NAME").unwrap_or_default().to_string(),
            charm_dir: vars
                .opt("JUJU_CHARM_DIR")
                .or_else(|| vars.opt("CHARM_DIR"))
                .map(PathBuf::from),
            app_name,
            version,
            context_id: vars.opt("JUJU_CONTEXT_ID"),
            agent_socket_address: vars.opt("JUJU_AGENT_SOCKET_ADDRESS"),
            agent_socket_network: vars.opt("JUJU_AGENT_SOCKET_NETWORK"),
            api_addresses: vars
                .raw("JUJU_API_ADDRESSES")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            machine_id: vars.opt("JUJU_MACHINE_ID"),
            principal_unit: vars.opt("JUJU_PRINCIPAL_UNIT"),
            availability_zone: vars.opt("JUJU_AVAILABILITY_ZONE"),
            cloud_api_version: vars.opt("CLOUD_API_VERSION"),
            proxy: ProxySettings {
                http: vars.opt("JUJU_CHARM_HTTP_PROXY"),
                https: vars.opt("JUJU_CHARM_HTTPS_PROXY"),
                ftp: vars.opt("JUJU_CHARM_FTP_PROXY"),
                no_proxy: vars.opt("JUJU_CHARM_NO_PROXY"),
            },
            relation_name: vars.opt("JUJU_RELATION"),
            relation_id,
            remote_app: vars.opt("JUJU_REMOTE_APP"),
            remote_unit: vars.opt("JUJU_REMOTE_UNIT"),
            departing_unit: vars.opt("JUJU_DEPARTING_UNIT"),
            action_name: vars.opt("JUJU_ACTION_NAME"),
            action_uuid: vars.opt("JUJU_ACTION_UUID"),
            action_tag: vars.opt("JUJU_ACTION_TAG"),
            workload_name: vars.opt("JUJU_WORKLOAD_NAME"),
            notice_id: vars.opt("JUJU_NOTICE_ID"),
            notice_type: vars.opt("JUJU_NOTICE_TYPE"),
            notice_key: vars.opt("JUJU_NOTICE_KEY"),
            pebble_check_name: vars.opt("JUJU_PEBBLE_CHECK_NAME"),
            secret_id: vars.opt("JUJU_SECRET_ID"),
            secret_label: vars.opt("JUJU_SECRET_LABEL"),
            secret_revision,
            storage_id,
            storage_location: vars.opt("JUJU_STORAGE_LOCATION").map(PathBuf::from),
            storage_kind: vars.opt("JUJU_STORAGE_KIND"),
            target_base: vars.opt("JUJU_TARGET_BASE"),
            meter_status: vars.opt("JUJU_METER_STATUS"),
            meter_info: vars.opt("JUJU_METER_INFO"),
            trace: TraceContext {
                trace_id: vars.opt("JUJU_TRACE_ID"),
                span_id: vars.opt("JUJU_SPAN_ID"),
                trace_flags: vars.opt("JUJU_TRACE_FLAGS"),
            },
            debug: vars.raw("JUJU_DEBUG").is_some(),
            debug_at: vars
                .raw("JUJU_DEBUG_AT")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            dispatch_path,
            unit_name,
            model_name,
            model_uuid,
        })
    }

    /// Whether this is an action rather than a hook.
    pub fn is_action(&self) -> bool {
        matches!(self.event, Event::Action { .. })
    }

    /// The relation of a relation hook as the tools address it (`JUJU_RELATION` and the id of
    /// `JUJU_RELATION_ID`).
    pub fn relation_ref(&self) -> Option<crate::tools::RelationRef> {
        match (&self.relation_name, self.relation_id) {
            (Some(endpoint), Some(id)) => {
                Some(crate::tools::RelationRef::new(endpoint.clone(), id))
            }
            _ => None,
        }
    }

    /// The id of the relation being broken, if this is a `-relation-broken` hook.
    pub fn broken_relation_id(&self) -> Option<u64> {
        match self.event.relation() {
            Some((_, RelationKind::Broken)) => self.relation_id,
            _ => None,
        }
    }
}

fn utf8(var: &'static str, value: OsString) -> Result<String, ContextError> {
    value.into_string().map_err(|raw| ContextError::Malformed {
        var,
        value: raw.to_string_lossy().into_owned(),
        problem: "not valid UTF-8".to_string(),
    })
}

#[cfg(test)]
mod tests;

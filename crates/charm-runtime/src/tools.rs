//! A typed client for Juju's hook tools (juju-contract.md §2).
//!
//! Every method runs one tool with exactly the argv ops (3.9, `ops.hookcmds`) sends: read
//! tools always get `--format=json`, relations are named `-r <endpoint>:<id>`, relation and
//! state data go as a JSON object on stdin (`--file -`), and free text follows `--` so it may
//! start with a dash. A non-zero exit becomes a [`ToolError`], classified from stderr the
//! way ops does.
//!
//! The process is started through a [`ToolRunner`], so tests can script the tools.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A relation databag: string keys to string values.
pub type Databag = BTreeMap<String, String>;

/// ops splits `juju-log` messages longer than this many characters (argv limit).
pub const MAX_LOG_LINE_LEN: usize = 131_071;

/// What a tool process returned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolOutput {
    /// Exit status; -1 if the process was killed by a signal.
    pub code: i32,
    /// Standard output (lossily decoded as UTF-8).
    pub stdout: String,
    /// Standard error (lossily decoded as UTF-8).
    pub stderr: String,
}

/// Runs one hook-tool process: `argv[0]` is the tool name (looked up on `PATH`), `stdin`
/// is written to the process's standard input when given.
pub trait ToolRunner: Send + Sync {
    /// Run the tool to completion.
    fn run(&self, argv: &[String], stdin: Option<&str>) -> std::io::Result<ToolOutput>;
}

/// POSIX's `PIPE_BUF` on Linux: a write of at most this many bytes into an empty pipe never
/// blocks.
const PIPE_BUF: usize = 4096;

/// The production [`ToolRunner`]: `std::process::Command`, inheriting the hook environment
/// (the tools need `JUJU_CONTEXT_ID` and `JUJU_AGENT_SOCKET_ADDRESS`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessRunner;

impl ToolRunner for ProcessRunner {
    fn run(&self, argv: &[String], stdin: Option<&str>) -> std::io::Result<ToolOutput> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty argv"))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // A large relation-set payload is written from a thread, so that it cannot deadlock
        // against a tool that fills its stdout/stderr pipe before reading. Up to PIPE_BUF
        // bytes always fit in an empty pipe (a pipe holds at least one page), so those are
        // written here: a big reconcile runs a thousand small relation-sets.
        let mut written = Ok(());
        let writer = match (stdin, child.stdin.take()) {
            (Some(input), Some(mut pipe)) if input.len() <= PIPE_BUF => {
                written = pipe.write_all(input.as_bytes());
                None
            }
            (Some(input), Some(mut pipe)) => {
                let input = input.to_string();
                Some(std::thread::spawn(move || pipe.write_all(input.as_bytes())))
            }
            _ => None,
        };
        let output = child.wait_with_output()?;
        if let Some(writer) = writer {
            written = writer
                .join()
                .map_err(|_| std::io::Error::other("stdin writer thread panicked"))?;
        }
        match written {
            // A tool that fails before reading its input closes the pipe; its exit status and
            // stderr say what went wrong, so a broken pipe is not an error here.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e),
            _ => {}
        }
        Ok(ToolOutput {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// A hook-tool failure.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The relation id is unknown or gone (`relation not found`).
    #[error("{tool}: relation not found: {stderr}")]
    RelationNotFound {
        /// The tool that failed.
        tool: &'static str,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// Juju refused access (`permission denied`), e.g. a non-leader reading its own app bag
    /// of a non-peer relation.
    #[error("{tool}: permission denied: {stderr}")]
    PermissionDenied {
        /// The tool that failed.
        tool: &'static str,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// A non-leader wrote an application databag (`cannot write relation settings`).
    #[error("{tool}: cannot write relation settings: {stderr}")]
    CannotWriteRelationSettings {
        /// The tool that failed.
        tool: &'static str,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// A leader-only operation by a non-leader (`this unit is not the leader`).
    #[error("{tool}: this unit is not the leader: {stderr}")]
    NotLeader {
        /// The tool that failed.
        tool: &'static str,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// An action tool outside an action (`not running an action`).
    #[error("{tool}: not running an action: {stderr}")]
    NotRunningAction {
        /// The tool that failed.
        tool: &'static str,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// Any other non-zero exit.
    #[error("{tool} exited with status {code}: {stderr}")]
    Failed {
        /// The tool that failed.
        tool: &'static str,
        /// Its exit status (-1 for a signal).
        code: i32,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// The tool could not be started (not on `PATH`, …).
    #[error("cannot run {tool}: {source}")]
    Spawn {
        /// The tool.
        tool: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The tool succeeded but printed something that is not the expected JSON.
    #[error("cannot decode the output of {tool} ({output:?}): {source}")]
    Decode {
        /// The tool.
        tool: &'static str,
        /// Its raw stdout.
        output: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The arguments cannot be expressed to the tool (checked before running it).
    #[error("{tool}: invalid input: {reason}")]
    InvalidInput {
        /// The tool.
        tool: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl ToolError {
    /// The tool this error came from.
    pub fn tool(&self) -> &'static str {
        match self {
            ToolError::RelationNotFound { tool, .. }
            | ToolError::PermissionDenied { tool, .. }
            | ToolError::CannotWriteRelationSettings { tool, .. }
            | ToolError::NotLeader { tool, .. }
            | ToolError::NotRunningAction { tool, .. }
            | ToolError::Failed { tool, .. }
            | ToolError::Spawn { tool, .. }
            | ToolError::Decode { tool, .. }
            | ToolError::InvalidInput { tool, .. } => tool,
        }
    }
}

/// Tools whose "relation not found" means the relation is gone (as ops' `_relation_is_gone`).
const RELATION_TOOLS: &[&str] = &[
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "relation-model-get",
    "network-get",
];

/// `relation (\d+ )?not found`, as Juju words it ("relation 42 not found" from network-get).
fn says_relation_not_found(lower: &str) -> bool {
    lower.match_indices("relation ").any(|(i, m)| {
        let rest = &lower[i + m.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let rest = if digits > 0 {
            match rest[digits..].strip_prefix(' ') {
                Some(r) => r,
                None => return false,
            }
        } else {
            rest
        };
        rest.starts_with("not found")
    }) || lower.contains("unknown relation id")
}

fn classify(tool: &'static str, code: i32, stderr: &str) -> ToolError {
    let stderr = stderr.trim().to_string();
    let lower = stderr.to_lowercase();
    if RELATION_TOOLS.contains(&tool) && says_relation_not_found(&lower) {
        ToolError::RelationNotFound { tool, stderr }
    } else if lower.contains("cannot write relation settings") {
        ToolError::CannotWriteRelationSettings { tool, stderr }
    } else if lower.contains("not the leader") {
        ToolError::NotLeader { tool, stderr }
    } else if lower.contains("permission denied") || lower.contains("access denied") {
        ToolError::PermissionDenied { tool, stderr }
    } else if lower.contains("not running an action") {
        ToolError::NotRunningAction { tool, stderr }
    } else {
        ToolError::Failed { tool, code, stderr }
    }
}

/// A relation as the tools address it: `-r <endpoint>:<id>`, as ops sends it (Juju uses the
/// id after the last `:`; ops includes the endpoint so that Juju can check it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationRef {
    /// The local endpoint name.
    pub endpoint: String,
    /// The relation id.
    pub id: u64,
}

impl RelationRef {
    /// A reference to relation `id` on `endpoint`.
    pub fn new(endpoint: impl Into<String>, id: u64) -> RelationRef {
        RelationRef {
            endpoint: endpoint.into(),
            id,
        }
    }
}

impl fmt::Display for RelationRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.endpoint, self.id)
    }
}

/// A status a charm may set (`error` and `unknown` are Juju's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusName {
    /// `active`
    Active,
    /// `blocked`
    Blocked,
    /// `waiting`
    Waiting,
    /// `maintenance`
    Maintenance,
}

impl StatusName {
    /// The word `status-set` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusName::Active => "active",
            StatusName::Blocked => "blocked",
            StatusName::Waiting => "waiting",
            StatusName::Maintenance => "maintenance",
        }
    }
}

/// `juju-log` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogLevel {
    /// `ERROR`
    Error,
    /// `WARNING`
    Warning,
    /// `INFO`
    Info,
    /// `DEBUG`
    Debug,
    /// `TRACE`
    Trace,
}

impl LogLevel {
    /// The word `juju-log --log-level` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "ERROR",
            LogLevel::Warning => "WARNING",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
            LogLevel::Trace => "TRACE",
        }
    }
}

/// One unit's (or the application's) status from `status-get`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StatusInfo {
    /// `active`, `blocked`, `waiting`, `maintenance`, `error` or `unknown`.
    pub status: String,
    /// The message (may be empty).
    #[serde(default)]
    pub message: String,
    /// `status-data`
    #[serde(default, rename = "status-data")]
    pub data: Map<String, Value>,
}

/// `status-get --application=true`: the application status and its units'.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AppStatusInfo {
    /// The application's own status.
    #[serde(flatten)]
    pub status: StatusInfo,
    /// Per-unit statuses.
    #[serde(default)]
    pub units: BTreeMap<String, StatusInfo>,
}

#[derive(Deserialize)]
struct AppStatusEnvelope {
    #[serde(rename = "application-status")]
    application_status: AppStatusInfo,
}

/// One entry of `goal-state`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Goal {
    /// e.g. `active`, `waiting`, `dying`.
    pub status: String,
    /// When the status last changed (UTC timestamp text as Juju prints it).
    #[serde(default)]
    pub since: String,
}

/// `goal-state`: the units and relations the model should have.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct GoalState {
    /// This application's units.
    #[serde(default)]
    pub units: BTreeMap<String, Goal>,
    /// Per endpoint: remote app and unit names to their goals.
    #[serde(default)]
    pub relations: BTreeMap<String, BTreeMap<String, Goal>>,
}

/// One address of a network interface (`network-get`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NetworkAddress {
    /// The hostname, often empty.
    #[serde(default)]
    pub hostname: String,
    /// The IP address.
    #[serde(default)]
    pub value: String,
    /// The CIDR of its subnet.
    #[serde(default)]
    pub cidr: String,
}

/// One bound interface (`network-get`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BindAddress {
    /// MAC address (may be empty).
    #[serde(default, rename = "mac-address")]
    pub mac_address: String,
    /// Interface name.
    #[serde(default, rename = "interface-name")]
    pub interface_name: String,
    /// Its addresses.
    #[serde(default)]
    pub addresses: Vec<NetworkAddress>,
}

/// `network-get` for one binding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Network {
    /// Bound interfaces.
    #[serde(default, rename = "bind-addresses")]
    pub bind_addresses: Vec<BindAddress>,
    /// Egress subnets (CIDRs).
    #[serde(default, rename = "egress-subnets")]
    pub egress_subnets: Vec<String>,
    /// Ingress addresses.
    #[serde(default, rename = "ingress-addresses")]
    pub ingress_addresses: Vec<String>,
}

/// A port protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `tcp`
    Tcp,
    /// `udp`
    Udp,
    /// `icmp` (no port number)
    Icmp,
}

/// A port or port range as `open-port`/`opened-ports` write it: `8080/tcp`,
/// `1000-2000/udp`, `icmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    /// The protocol.
    pub protocol: Protocol,
    /// The (first) port; `None` for ICMP.
    pub port: Option<u16>,
    /// The last port of a range.
    pub to_port: Option<u16>,
}

impl Port {
    /// One TCP port.
    pub fn tcp(port: u16) -> Port {
        Port {
            protocol: Protocol::Tcp,
            port: Some(port),
            to_port: None,
        }
    }

    /// One UDP port.
    pub fn udp(port: u16) -> Port {
        Port {
            protocol: Protocol::Udp,
            port: Some(port),
            to_port: None,
        }
    }

    /// ICMP.
    pub fn icmp() -> Port {
        Port {
            protocol: Protocol::Icmp,
            port: None,
            to_port: None,
        }
    }

    /// Parse one entry of `opened-ports` (`icmp`, `80/tcp`, `8000-8999/udp`; a bare `80`
    /// is TCP).
    pub fn parse(text: &str) -> Option<Port> {
        if text == "icmp" {
            return Some(Port::icmp());
        }
        let (range, protocol) = match text.split_once('/') {
            Some((range, "tcp")) => (range, Protocol::Tcp),
            Some((range, "udp")) => (range, Protocol::Udp),
            Some(_) => return None,
            None => (text, Protocol::Tcp),
        };
        let (port, to_port) = match range.split_once('-') {
            Some((a, b)) => (a.parse().ok()?, Some(b.parse().ok()?)),
            None => (range.parse().ok()?, None),
        };
        Some(Port {
            protocol,
            port: Some(port),
            to_port,
        })
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        };
        match (self.port, self.to_port) {
            (Some(p), Some(to)) => write!(f, "{p}-{to}/{protocol}"),
            (Some(p), None) => write!(f, "{p}/{protocol}"),
            (None, _) => f.write_str(protocol),
        }
    }
}

/// Split a log message the way ops' `log_split` does: messages longer than `max_len`
/// characters are announced and cut into `max_len`-character chunks; an empty message
/// yields nothing.
pub fn log_split(message: &str, max_len: usize) -> Vec<String> {
    let max_len = max_len.max(1);
    let mut out = Vec::new();
    if message.chars().count() > max_len {
        out.push(format!(
            "Log string greater than {max_len}. Splitting into multiple chunks: "
        ));
    }
    let chars: Vec<char> = message.chars().collect();
    out.extend(chars.chunks(max_len).map(|c| c.iter().collect::<String>()));
    out
}

/// Flatten nested objects into dotted keys, as ops' `format_result_dict`.
fn flatten_results(
    prefix: Option<&str>,
    input: &Map<String, Value>,
    out: &mut Vec<(String, String)>,
) -> Result<(), ToolError> {
    for (key, value) in input {
        let key = match prefix {
            Some(p) => format!("{p}.{key}"),
            None => key.clone(),
        };
        match value {
            Value::Object(inner) => flatten_results(Some(&key), inner, out)?,
            _ if out.iter().any(|(k, _)| *k == key) => {
                return Err(ToolError::InvalidInput {
                    tool: "action-set",
                    reason: format!("duplicate key {key:?} after flattening"),
                });
            }
            // ops sends `str(value)`.
            other => out.push((key, python_repr::str_json(other))),
        }
    }
    Ok(())
}

/// The hook-tool client. Cheap to clone (the runner is shared).
#[derive(Clone)]
pub struct HookTools {
    runner: Arc<dyn ToolRunner>,
}

impl fmt::Debug for HookTools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookTools").finish_non_exhaustive()
    }
}

fn s(x: impl Into<String>) -> String {
    x.into()
}

impl HookTools {
    /// Tools run as processes found on `PATH` (production).
    pub fn process() -> HookTools {
        HookTools::new(ProcessRunner)
    }

    /// Tools run through any runner (tests script one).
    pub fn new(runner: impl ToolRunner + 'static) -> HookTools {
        HookTools {
            runner: Arc::new(runner),
        }
    }

    /// Run `tool args…`, return stdout on exit 0, a classified error otherwise.
    fn run(
        &self,
        tool: &'static str,
        args: Vec<String>,
        stdin: Option<&str>,
    ) -> Result<String, ToolError> {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push(tool.to_string());
        argv.extend(args);
        let out = self
            .runner
            .run(&argv, stdin)
            .map_err(|source| ToolError::Spawn { tool, source })?;
        if out.code != 0 {
            return Err(classify(tool, out.code, &out.stderr));
        }
        Ok(out.stdout)
    }

    fn run_json<T: DeserializeOwned>(
        &self,
        tool: &'static str,
        args: Vec<String>,
    ) -> Result<T, ToolError> {
        let output = self.run(tool, args, None)?;
        serde_json::from_str(&output).map_err(|source| ToolError::Decode {
            tool,
            output,
            source,
        })
    }

    /// `relation-ids <endpoint> --format=json` → the relation ids, in Juju's order.
    pub fn relation_ids(&self, endpoint: &str) -> Result<Vec<u64>, ToolError> {
        let tool = "relation-ids";
        let output = self.run(tool, vec![s(endpoint), s("--format=json")], None)?;
        let decode = |source| ToolError::Decode {
            tool,
            output: output.clone(),
            source,
        };
        let ids: Option<Vec<String>> = serde_json::from_str(&output).map_err(decode)?;
        ids.unwrap_or_default()
            .iter()
            .map(|r| {
                let id = r.rsplit(':').next().unwrap_or(r);
                id.parse::<u64>().map_err(|_| ToolError::Decode {
                    tool,
                    output: output.clone(),
                    source: serde::de::Error::custom(format!("bad relation id {r:?}")),
                })
            })
            .collect()
    }

    /// `relation-list --format=json -r <rel>` → the remote units in scope.
    pub fn relation_list(&self, rel: &RelationRef) -> Result<Vec<String>, ToolError> {
        let units: Option<Vec<String>> = self.run_json(
            "relation-list",
            vec![s("--format=json"), s("-r"), rel.to_string()],
        )?;
        Ok(units.unwrap_or_default())
    }

    /// `relation-list --format=json --app -r <rel>` → the remote application (`None` if Juju
    /// reports none).
    pub fn relation_list_app(&self, rel: &RelationRef) -> Result<Option<String>, ToolError> {
        let app: Option<String> = self.run_json(
            "relation-list",
            vec![s("--format=json"), s("--app"), s("-r"), rel.to_string()],
        )?;
        Ok(app.filter(|a| !a.is_empty()))
    }

    /// `relation-get --format=json -r <rel> [--app] - <member>` → the whole bag of a unit, or
    /// of an application with `app = true` (`member` is then the app name).
    pub fn relation_get(
        &self,
        rel: &RelationRef,
        member: &str,
        app: bool,
    ) -> Result<Databag, ToolError> {
        let mut args = vec![s("--format=json"), s("-r"), rel.to_string()];
        if app {
            args.push(s("--app"));
        }
        args.extend([s("-"), s(member)]);
        let bag: Option<Databag> = self.run_json("relation-get", args)?;
        Ok(bag.unwrap_or_default())
    }

    /// `relation-get --format=json -r <rel> [--app] <key> <member>` → one value (`None` if
    /// absent).
    pub fn relation_get_key(
        &self,
        rel: &RelationRef,
        key: &str,
        member: &str,
        app: bool,
    ) -> Result<Option<String>, ToolError> {
        if key == "-" || key.is_empty() {
            return Err(ToolError::InvalidInput {
                tool: "relation-get",
                reason: format!("invalid key {key:?}; use relation_get for the whole bag"),
            });
        }
        let mut args = vec![s("--format=json"), s("-r"), rel.to_string()];
        if app {
            args.push(s("--app"));
        }
        args.extend([s(key), s(member)]);
        self.run_json("relation-get", args)
    }

    /// `relation-set -r <rel> [--app] --file -` with `data` as a JSON object on stdin. Keys
    /// are updated, not replaced; an empty value deletes the key. Nothing is run for an
    /// empty map.
    pub fn relation_set(
        &self,
        rel: &RelationRef,
        data: &Databag,
        app: bool,
    ) -> Result<(), ToolError> {
        if data.is_empty() {
            return Ok(());
        }
        let mut args = vec![s("-r"), rel.to_string()];
        if app {
            args.push(s("--app"));
        }
        args.extend([s("--file"), s("-")]);
        let body = serde_json::to_string(data).map_err(|e| ToolError::InvalidInput {
            tool: "relation-set",
            reason: e.to_string(),
        })?;
        self.run("relation-set", args, Some(&body)).map(drop)
    }

    /// `relation-model-get --format=json -r <rel>` → the remote model's UUID (Juju ≥ 3.6.2).
    pub fn relation_model_get(&self, rel: &RelationRef) -> Result<String, ToolError> {
        #[derive(Deserialize)]
        struct RelationModel {
            uuid: String,
        }
        let m: RelationModel = self.run_json(
            "relation-model-get",
            vec![s("--format=json"), s("-r"), rel.to_string()],
        )?;
        Ok(m.uuid)
    }

    /// `config-get --format=json` → typed config (options that are set or have a default).
    pub fn config_get(&self) -> Result<Map<String, Value>, ToolError> {
        let c: Option<Map<String, Value>> =
            self.run_json("config-get", vec![s("--format=json")])?;
        Ok(c.unwrap_or_default())
    }

    /// `config-get --format=json <key>` → the value, `Value::Null` if unset or unknown.
    pub fn config_get_key(&self, key: &str) -> Result<Value, ToolError> {
        self.run_json("config-get", vec![s("--format=json"), s(key)])
    }

    /// `is-leader --format=json`
    pub fn is_leader(&self) -> Result<bool, ToolError> {
        self.run_json("is-leader", vec![s("--format=json")])
    }

    /// `status-set --application=<True|False> <status> -- <message>`
    pub fn status_set(
        &self,
        status: StatusName,
        message: &str,
        app: bool,
    ) -> Result<(), ToolError> {
        let application = if app { "True" } else { "False" };
        let args = vec![
            format!("--application={application}"),
            s(status.as_str()),
            s("--"),
            s(message),
        ];
        self.run("status-set", args, None).map(drop)
    }

    /// `status-get --include-data --format=json --application=false` → this unit's status.
    pub fn status_get(&self) -> Result<StatusInfo, ToolError> {
        self.run_json(
            "status-get",
            vec![
                s("--include-data"),
                s("--format=json"),
                s("--application=false"),
            ],
        )
    }

    /// `status-get --include-data --format=json --application=true` → the application's
    /// status and its units' (leader only).
    pub fn status_get_app(&self) -> Result<AppStatusInfo, ToolError> {
        let e: AppStatusEnvelope = self.run_json(
            "status-get",
            vec![
                s("--include-data"),
                s("--format=json"),
                s("--application=true"),
            ],
        )?;
        Ok(e.application_status)
    }

    /// `application-version-set -- <version>`
    pub fn application_version_set(&self, version: &str) -> Result<(), ToolError> {
        self.run("application-version-set", vec![s("--"), s(version)], None)
            .map(drop)
    }

    /// `juju-log --log-level <LEVEL> -- <message>`, split as ops does for messages longer
    /// than [`MAX_LOG_LINE_LEN`] characters (one call per chunk; none for an empty message).
    pub fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        for chunk in log_split(message, MAX_LOG_LINE_LEN) {
            let args = vec![s("--log-level"), s(level.as_str()), s("--"), chunk];
            self.run("juju-log", args, None)?;
        }
        Ok(())
    }

    /// `action-get --format=json` → all action parameters.
    pub fn action_get(&self) -> Result<Map<String, Value>, ToolError> {
        let p: Option<Map<String, Value>> =
            self.run_json("action-get", vec![s("--format=json")])?;
        Ok(p.unwrap_or_default())
    }

    /// `action-get --format=json <key>` (dotted keys recurse) → the value or `Value::Null`.
    pub fn action_get_key(&self, key: &str) -> Result<Value, ToolError> {
        self.run_json("action-get", vec![s("--format=json"), s(key)])
    }

    /// `action-set k=v …`: nested objects are flattened to dotted keys and values turned to
    /// text as Python's `str()` does (`True`, `None`, `3`, `[1, 'a']`), as ops sends them.
    pub fn action_set(&self, results: &Map<String, Value>) -> Result<(), ToolError> {
        let mut flat = Vec::new();
        flatten_results(None, results, &mut flat)?;
        let args = flat.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.run("action-set", args, None).map(drop)
    }

    /// `action-log -- <message>`
    pub fn action_log(&self, message: &str) -> Result<(), ToolError> {
        self.run("action-log", vec![s("--"), s(message)], None)
            .map(drop)
    }

    /// `action-fail [-- <message>]`
    pub fn action_fail(&self, message: Option<&str>) -> Result<(), ToolError> {
        let args = match message {
            Some(m) => vec![s("--"), s(m)],
            None => Vec::new(),
        };
        self.run("action-fail", args, None).map(drop)
    }

    /// `goal-state --format=json`
    pub fn goal_state(&self) -> Result<GoalState, ToolError> {
        self.run_json("goal-state", vec![s("--format=json")])
    }

    /// `network-get --format=json [-r <id>] <binding>` (ops passes the bare id here).
    pub fn network_get(
        &self,
        binding: &str,
        relation_id: Option<u64>,
    ) -> Result<Network, ToolError> {
        let mut args = vec![s("--format=json")];
        if let Some(id) = relation_id {
            args.extend([s("-r"), id.to_string()]);
        }
        args.push(s(binding));
        self.run_json("network-get", args)
    }

    /// `state-get --format=json` → the unit's committed server-side state (`null` reads as
    /// empty, as Juju 4 prints it).
    pub fn state_get(&self) -> Result<BTreeMap<String, String>, ToolError> {
        let m: Option<BTreeMap<String, String>> =
            self.run_json("state-get", vec![s("--format=json")])?;
        Ok(m.unwrap_or_default())
    }

    /// `state-get --format=json <key>` → the value; `None` for a missing key (Juju prints `""`
    /// without `--strict`, or `null`).
    pub fn state_get_key(&self, key: &str) -> Result<Option<String>, ToolError> {
        let v: Option<String> = self.run_json("state-get", vec![s("--format=json"), s(key)])?;
        Ok(v.filter(|v| !v.is_empty()))
    }

    /// `state-set --file -` with `data` as a JSON object on stdin. Nothing is run for an
    /// empty map.
    pub fn state_set(&self, data: &BTreeMap<String, String>) -> Result<(), ToolError> {
        if data.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_string(data).map_err(|e| ToolError::InvalidInput {
            tool: "state-set",
            reason: e.to_string(),
        })?;
        self.run("state-set", vec![s("--file"), s("-")], Some(&body))
            .map(drop)
    }

    /// `state-delete <key>`
    pub fn state_delete(&self, key: &str) -> Result<(), ToolError> {
        self.run("state-delete", vec![s(key)], None).map(drop)
    }

    /// `opened-ports --format=json` → the ports this unit has opened (committed state only).
    pub fn opened_ports(&self) -> Result<Vec<Port>, ToolError> {
        let tool = "opened-ports";
        let output = self.run(tool, vec![s("--format=json")], None)?;
        let decode = |source| ToolError::Decode {
            tool,
            output: output.clone(),
            source,
        };
        let entries: Option<Vec<String>> = serde_json::from_str(&output).map_err(decode)?;
        entries
            .unwrap_or_default()
            .iter()
            .map(|e| {
                Port::parse(e)
                    .ok_or_else(|| decode(serde::de::Error::custom(format!("bad port {e:?}"))))
            })
            .collect()
    }

    /// `open-port <port>` (e.g. `open-port 8080/tcp`, `open-port icmp`).
    pub fn open_port(&self, port: &Port) -> Result<(), ToolError> {
        self.run("open-port", vec![port.to_string()], None)
            .map(drop)
    }

    /// `close-port <port>`
    pub fn close_port(&self, port: &Port) -> Result<(), ToolError> {
        self.run("close-port", vec![port.to_string()], None)
            .map(drop)
    }
}

#[cfg(test)]
mod tests;

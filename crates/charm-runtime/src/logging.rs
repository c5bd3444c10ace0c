//! Forward `tracing` events to `juju-log`, and log panics there.
//!
//! Levels map ERROR→`ERROR`, WARN→`WARNING`, INFO→`INFO`, DEBUG→`DEBUG`, TRACE→`TRACE`. The
//! message is the event's `message` followed by its other fields as `key=value`.
//!
//! Each forwarded event is one `juju-log` process, so [`init`] caps chatty dependency crates
//! (kube, hyper, tower, rustls, h2) at WARN whatever the charm's level.
//!
//! Forwarding never recurses: while an event is being forwarded on a thread, events emitted on
//! that thread (say, by a tool runner that logs) are dropped, and a failing `juju-log` is
//! reported on stderr (which Juju records at WARNING) instead of through `tracing`.
//!
//! Every text goes through [`escape`] first, so that no message can make `juju-log` impossible
//! to start: a NUL cannot be put in an argv element at all, so an error that quotes one (from a
//! databag, an API answer, a tool's stderr) would otherwise never reach debug-log. Newlines and
//! tabs are kept (juju-log takes multi-line text, as ops sends tracebacks); any other control
//! character is written `\u{hex}`. [`unescape`] gives the original text back.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::tools::{HookTools, LogLevel};

/// The default level: DEBUG, as ops' root logger (Juju filters further by model config).
pub const DEFAULT_LEVEL: LevelFilter = LevelFilter::DEBUG;

/// Dependency crates whose events are capped at WARN by [`init`].
const NOISY_TARGETS: &[&str] = &[
    "kube",
    "kube_client",
    "kube_runtime",
    "hyper",
    "hyper_util",
    "tower",
    "rustls",
    "h2",
];

/// [`init`] failed: a global subscriber was already set.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the juju-log tracing subscriber: {0}")]
pub struct InitError(#[from] tracing::subscriber::SetGlobalDefaultError);

thread_local! {
    static FORWARDING: Cell<bool> = const { Cell::new(false) };
}

/// Resets the re-entrancy flag even if forwarding panics.
struct ForwardGuard;

impl ForwardGuard {
    fn enter() -> Option<ForwardGuard> {
        FORWARDING.with(|f| (!f.replace(true)).then_some(ForwardGuard))
    }
}

impl Drop for ForwardGuard {
    fn drop(&mut self) {
        FORWARDING.with(|f| f.set(false));
    }
}

/// The juju-log level for a tracing level.
pub fn juju_level(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warning,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

/// A `tracing` layer that sends each event to `juju-log`. Add a filter with
/// [`Layer::with_filter`] (or use [`init`]).
#[derive(Debug, Clone)]
pub struct JujuLogLayer {
    tools: HookTools,
}

impl JujuLogLayer {
    /// A layer logging through `tools`.
    pub fn new(tools: HookTools) -> JujuLogLayer {
        JujuLogLayer { tools }
    }
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// Whether [`escape`] writes `c` as `\u{hex}`: a control character (`char::is_control`, i.e.
/// U+0000–U+001F and U+007F–U+009F) other than newline and tab.
fn is_escaped(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Make `text` safe to pass to `juju-log` as one argv element, unambiguously.
///
/// - a control character other than `\n` and `\t` (NUL, ESC, CR, DEL, U+0085, …) becomes
///   `\u{hex}`, as Rust spells it: lowercase hex without padding (`\u{0}`, `\u{1b}`);
/// - a backslash is doubled only where it would otherwise read as the start of an escape:
///   before another backslash, before an escaped character, and before text of the form
///   `u{hex}`;
/// - everything else (newlines and tabs, `\"` or `\n` as text, any other Unicode) is kept, so
///   an ordinary message is sent unchanged.
///
/// [`unescape`] is its inverse: `unescape(&escape(s)) == s` for every `s`. The result never
/// contains a NUL, so `juju-log` can always be started with it.
pub fn escape(text: &str) -> Cow<'_, str> {
    let changed = |&(i, c): &(usize, char)| is_escaped(c) || (c == '\\' && starts_escape(text, i));
    let Some((first, _)) = text.char_indices().find(changed) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for (i, c) in text[first..].char_indices() {
        if is_escaped(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else if c == '\\' && starts_escape(text, first + i) {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether the backslash at byte `i` of `text` would be read by [`unescape`] as the start of an
/// escape (and so is doubled): it is followed by another backslash, by an escaped character
/// (which becomes `\u{hex}`), or by text that already reads as `u{hex}`.
fn starts_escape(text: &str, i: usize) -> bool {
    let rest = &text[i + 1..];
    rest.starts_with('\\')
        || rest.chars().next().is_some_and(is_escaped)
        || rest.strip_prefix("u{").and_then(parse_code).is_some()
}

/// The text [`escape`] was given: `\\` is one backslash, `\u{hex}` the character with that
/// code, and any other backslash is itself.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('\\') {
            out.push('\\');
            rest = tail;
        } else if let Some((c, tail)) = after.strip_prefix("u{").and_then(parse_code) {
            out.push(c);
            rest = tail;
        } else {
            out.push('\\');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// `hex}` (what follows `\u{`): the character, and the text after the `}`.
fn parse_code(s: &str) -> Option<(char, &str)> {
    let (hex, tail) = s.split_once('}')?;
    if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
    Some((c, tail))
}

/// Send `text` to juju-log at `level`, [`escape`]d; a failure is reported on stderr.
fn send(tools: &HookTools, level: LogLevel, text: &str) {
    if let Err(e) = tools.juju_log(level, &escape(text)) {
        eprintln!("juju-log failed: {e}");
    }
}

/// The text sent to juju-log for an event.
fn render(event: &Event<'_>) -> String {
    let mut v = MessageVisitor::default();
    event.record(&mut v);
    let mut text = v.message;
    if !v.fields.is_empty() {
        if text.is_empty() {
            text = v.fields.trim_start().to_string();
        } else {
            text.push_str(&v.fields);
        }
    }
    text
}

impl<S> Layer<S> for JujuLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(_guard) = ForwardGuard::enter() else {
            return;
        };
        send(
            &self.tools,
            juju_level(event.metadata().level()),
            &render(event),
        );
    }
}

/// The filter [`init`] uses: `level` for everything, dependency crates capped at WARN.
pub fn default_filter(level: LevelFilter) -> Targets {
    NOISY_TARGETS
        .iter()
        .fold(Targets::new().with_default(level), |targets, target| {
            targets.with_target(*target, level.min(LevelFilter::WARN))
        })
}

/// Install the juju-log subscriber as the global default (filtered by
/// [`default_filter`]`(level)`) and the panic hook of [`install_panic_hook`]. Returns nothing
/// to hold: every event is written synchronously, so nothing is lost at exit.
pub fn init(tools: HookTools, level: LevelFilter) -> Result<(), InitError> {
    let subscriber = tracing_subscriber::registry()
        .with(JujuLogLayer::new(tools.clone()).with_filter(default_filter(level)));
    tracing::subscriber::set_global_default(subscriber)?;
    install_panic_hook(tools);
    Ok(())
}

/// Replace the panic hook with one that sends `panicked at <file>:<line>:<col>: <message>` to
/// juju-log at ERROR (and to stderr). The process still unwinds/aborts and exits non-zero, so
/// Juju marks the hook failed and retries it — unless the panic happened in a spawned tokio
/// task, which tokio catches: propagate its `JoinError` to fail the hook.
pub fn install_panic_hook(tools: HookTools) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        let text = match info.location() {
            Some(loc) => format!(
                "Uncaught panic in charm code: panicked at {}:{}:{}: {message}",
                loc.file(),
                loc.line(),
                loc.column()
            ),
            None => format!("Uncaught panic in charm code: {message}"),
        };
        eprintln!("{text}");
        let _guard = ForwardGuard::enter();
        send(&tools, LogLevel::Error, &text);
    }));
}

#[cfg(test)]
mod tests;

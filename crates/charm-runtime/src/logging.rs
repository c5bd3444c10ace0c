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
        let level = juju_level(event.metadata().level());
        if let Err(e) = self.tools.juju_log(level, &render(event)) {
            eprintln!("juju-log failed: {e}");
        }
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
        if let Err(e) = tools.juju_log(LogLevel::Error, &text) {
            eprintln!("juju-log failed: {e}");
        }
    }));
}

#[cfg(test)]
mod tests;

//! `juju-log`, with ops' splitting of long messages.

use super::{HookTools, ToolError, s};

/// ops splits `juju-log` messages longer than this many characters (argv limit).
pub const MAX_LOG_LINE_LEN: usize = 131_071;

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

impl HookTools {
    /// `juju-log --log-level <LEVEL> -- <message>`, split as ops does for messages longer
    /// than [`MAX_LOG_LINE_LEN`] characters (one call per chunk; none for an empty message).
    pub fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        for chunk in log_split(message, MAX_LOG_LINE_LEN) {
            let args = vec![s("--log-level"), s(level.as_str()), s("--"), chunk];
            self.run("juju-log", args, None)?;
        }
        Ok(())
    }
}

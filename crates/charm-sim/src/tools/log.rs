//! juju-log.
use super::args::parse;
use super::{FORMAT, R, Tool, usage};
use crate::flags::flag;
use crate::world::LogEntry;

impl Tool<'_> {
    pub(super) fn juju_log(&mut self, args: &[String]) -> R<String> {
        let p = parse(
            &[
                flag("debug", &["debug"], true),
                flag("log-level", &["l", "log-level"], false),
                FORMAT,
            ],
            args,
        )?;
        if p.args.is_empty() {
            return Err(usage("no message specified"));
        }
        if p.get("format").is_some() {
            self.warnings
                .push_str("--format flag deprecated for command \"juju-log\"\n");
        }
        let mut message = p.args.join(" ");
        // Juju's level parsing (loggo.ParseLevel) is case-insensitive and knows WARN.
        let raw = p.get("log-level").unwrap_or("INFO").to_string();
        let parsed = match raw.to_uppercase().as_str() {
            _ if p.bool("debug") => Some("DEBUG"),
            "TRACE" => Some("TRACE"),
            "DEBUG" => Some("DEBUG"),
            "INFO" => Some("INFO"),
            "WARN" | "WARNING" => Some("WARNING"),
            "ERROR" => Some("ERROR"),
            "CRITICAL" => Some("CRITICAL"),
            _ => None,
        };
        // Juju prefixes messages logged in relation hooks with the relation's `ep:id`.
        let prefix = {
            let ctx = self.ctx()?;
            ctx.relation_id
                .and_then(|id| self.w.relations.get(&id))
                .map(|r| format!("{}:{}: ", r.endpoint, r.id))
        };
        if let Some(prefix) = prefix {
            message = format!("{prefix}{message}");
        }
        let ctx = self.ctx_mut()?;
        let level = match parsed {
            Some(l) => l.to_string(),
            None => {
                ctx.logs.push(LogEntry {
                    level: "WARNING".into(),
                    message: format!("Specified log level of {raw:?} is not valid"),
                });
                "INFO".into()
            }
        };
        ctx.logs.push(LogEntry { level, message });
        Ok(String::new())
    }
}

//! Test helpers: a scripted [`ToolRunner`] that records every call.

use std::sync::{Arc, Mutex, PoisonError};

use crate::tools::{HookTools, ToolOutput, ToolRunner};

/// One recorded tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub argv: Vec<String>,
    pub stdin: Option<String>,
}

/// The calls made so far, shared with the runner.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallLog(Arc<Mutex<Vec<Call>>>);

impl CallLog {
    pub fn calls(&self) -> Vec<Call> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Just the argvs, each joined with spaces (easy to compare).
    pub fn argvs(&self) -> Vec<String> {
        self.calls().iter().map(|c| c.argv.join(" ")).collect()
    }

    /// How many calls ran `tool`.
    pub fn count(&self, tool: &str) -> usize {
        self.calls().iter().filter(|c| c.argv[0] == tool).count()
    }
}

type Responder = dyn Fn(&[String], Option<&str>) -> std::io::Result<ToolOutput> + Send + Sync;

struct Scripted {
    respond: Box<Responder>,
    log: CallLog,
}

impl ToolRunner for Scripted {
    fn run(&self, argv: &[String], stdin: Option<&str>) -> std::io::Result<ToolOutput> {
        self.log
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Call {
                argv: argv.to_vec(),
                stdin: stdin.map(str::to_string),
            });
        (self.respond)(argv, stdin)
    }
}

/// Tools answered by `respond`, plus the log of calls.
pub(crate) fn scripted(
    respond: impl Fn(&[String], Option<&str>) -> std::io::Result<ToolOutput> + Send + Sync + 'static,
) -> (HookTools, CallLog) {
    let log = CallLog::default();
    let tools = HookTools::new(Scripted {
        respond: Box::new(respond),
        log: log.clone(),
    });
    (tools, log)
}

/// Exit 0 with `stdout`.
pub(crate) fn ok(stdout: &str) -> std::io::Result<ToolOutput> {
    Ok(ToolOutput {
        code: 0,
        stdout: stdout.to_string(),
        stderr: String::new(),
    })
}

/// Exit `code` with `stderr`.
pub(crate) fn fail(code: i32, stderr: &str) -> std::io::Result<ToolOutput> {
    Ok(ToolOutput {
        code,
        stdout: String::new(),
        stderr: stderr.to_string(),
    })
}

/// argv as `&str`s.
pub(crate) fn args(argv: &[String]) -> Vec<&str> {
    argv.iter().map(String::as_str).collect()
}

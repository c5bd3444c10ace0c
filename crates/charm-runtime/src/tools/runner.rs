//! Starting a tool process: the [`ToolRunner`] trait (scripted in tests) and the production
//! [`ProcessRunner`].

use std::io::Write;
use std::process::{Command, Stdio};

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
pub(super) const PIPE_BUF: usize = 4096;

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

//! Running a hook process and measuring what the charm itself costs.
//!
//! The figures describe the charm process alone, not the hook tools it starts:
//! - CPU: `utime + stime` of the process (all its threads, none of its children), read from
//!   `/proc/<pid>/stat` while it is a zombie — `waitid(WNOWAIT)` leaves it unreaped so the
//!   kernel's final account can still be read. Resolution is the kernel's clock tick
//!   (usually 10 ms).
//! - Peak RSS: the kernel's high-water mark `VmHWM`. It disappears with the address space at
//!   exit, so it is polled while the process runs; being a high-water mark, any read taken
//!   after the peak is exact.
//!
//! A `dispatch` script that `exec`s the binary keeps the same pid, so this is the charm
//! binary's own account.
use std::io::{self, Read};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};

/// How often the RSS high-water mark is read while the hook runs.
const RSS_POLL: Duration = Duration::from_millis(2);

/// What the charm process used, when the platform could tell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub cpu_ms: f64,
    /// `None` when the process exited before the first poll.
    pub max_rss_kib: Option<u64>,
}

/// Runs `cmd` to completion like [`Command::output`], also measuring the process.
pub fn output_measured(cmd: &mut Command) -> io::Result<(Output, Option<Usage>)> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let pid = Pid::from_child(&child);
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());

    let done = Arc::new(AtomicBool::new(false));
    let hwm = Arc::new(AtomicU64::new(0));
    let poller = {
        let (done, hwm) = (done.clone(), hwm.clone());
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = read_hwm_kib(pid) {
                    hwm.fetch_max(kib, Ordering::Relaxed);
                }
                thread::sleep(RSS_POLL);
            }
        })
    };

    let cpu_ms = wait_unreaped(pid).and_then(|()| read_cpu_ms(pid));
    done.store(true, Ordering::Relaxed);
    let _ = poller.join();
    let status = child.wait()?;
    let output = Output {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    };
    let usage = cpu_ms.map(|cpu_ms| Usage {
        cpu_ms,
        max_rss_kib: Some(hwm.load(Ordering::Relaxed)).filter(|&kib| kib > 0),
    });
    Ok((output, usage))
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

fn join(h: thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    h.join().unwrap_or_default()
}

/// Blocks until the child has exited, leaving it a zombie. `None` if the platform refuses.
fn wait_unreaped(pid: Pid) -> Option<()> {
    loop {
        match waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Ok(_) => return Some(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

/// `utime + stime` of the process in milliseconds, from `/proc/<pid>/stat`.
fn read_cpu_ms(pid: Pid) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())).ok()?;
    let ticks = parse_stat_cpu_ticks(&stat)?;
    let per_second = rustix::param::clock_ticks_per_second();
    (per_second > 0).then(|| ticks as f64 * 1000.0 / per_second as f64)
}

/// Fields 14 (utime) and 15 (stime) of `/proc/<pid>/stat`, counted after the `comm` field,
/// which is parenthesised and may itself contain spaces and parentheses.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // `fields[0]` is field 3 (state), so field N is `fields[N - 3]`.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn read_hwm_kib(pid: Pid) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.as_raw_nonzero())).ok()?;
    parse_hwm_kib(&status)
}

fn parse_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_a_tricky_comm() {
        let stat = "4242 (we ird) (x) S 1 4242 4242 0 -1 4194560 120 0 0 0 37 5 0 0 20 0 1 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(42));
    }

    #[test]
    fn hwm_is_read_in_kib() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_hwm_kib(status), Some(5120));
        assert_eq!(parse_hwm_kib("Name:\tzombie\n"), None);
    }

    #[test]
    fn a_busy_process_is_measured_and_its_output_kept() {
        // A shell that burns CPU in a loop, grows its memory, then prints and exits 3.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "i=0; s=''; while [ $i -lt 20000 ]; do i=$((i+1)); s=\"$s.\"; done; echo out; echo err >&2; exit 3",
        ]);
        let (out, usage) = output_measured(&mut cmd).expect("sh runs");
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        let usage = usage.expect("Linux exposes /proc");
        assert!(usage.cpu_ms > 0.0, "{usage:?}");
        assert!(usage.max_rss_kib.is_some_and(|kib| kib > 0), "{usage:?}");
    }
}

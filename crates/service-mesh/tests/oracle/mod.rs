//! Shared by the differential tests: one Python oracle process (the real `service_mesh`
//! libraries from the project's `.venv`) answering JSON lines, in order.
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Run all `requests` through `script` (a path relative to the repository root) in one
/// process; the answers come back in request order.
pub fn run_oracle(script: &str, requests: &[Value]) -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "Python oracle venv missing at {}: run scripts/setup-python.sh first",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root.join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Python oracle");
    let mut stdin = child.stdin.take().expect("oracle stdin");
    let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
    // Feed from a thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let stdout = child.stdout.take().expect("oracle stdout");
    let answers: Vec<Value> = BufReader::new(stdout)
        .lines()
        .map(|l| serde_json::from_str(&l.expect("oracle output")).expect("oracle JSON"))
        .collect();
    writer
        .join()
        .expect("writer thread")
        .expect("write to the oracle");
    let status = child.wait().expect("oracle exit");
    assert!(status.success(), "oracle failed: {status}");
    answers
}

/// A number from the environment (to explore more seeds or cases), else `default`.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

//! `logging::init` installs process-global state (subscriber, panic hook), so it is tested in
//! its own test binary.
#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use std::sync::{Arc, Mutex};

use charm_runtime::logging;
use charm_runtime::tools::{HookTools, ToolOutput, ToolRunner};

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Vec<String>>>>);

impl ToolRunner for Recorder {
    fn run(&self, argv: &[String], _stdin: Option<&str>) -> std::io::Result<ToolOutput> {
        self.0.lock().unwrap().push(argv.to_vec());
        Ok(ToolOutput::default())
    }
}

#[test]
fn init_forwards_events_and_logs_panics_as_error() {
    let recorder = Recorder::default();
    logging::init(HookTools::new(recorder.clone()), logging::DEFAULT_LEVEL).unwrap();
    assert!(
        logging::init(HookTools::new(recorder.clone()), logging::DEFAULT_LEVEL).is_err(),
        "a second global subscriber is refused"
    );

    tracing::info!("hello from init");
    let result = std::panic::catch_unwind(|| {
        let policies: Vec<u32> = Vec::new();
        if policies.is_empty() {
            panic!("no policies: {}", policies.len());
        }
    });
    // A NUL cannot be in an argv element: the panic text is escaped, not lost.
    let with_nul = std::panic::catch_unwind(|| panic!("bad byte \0 in {}", "data"));
    // Restore the default hook before asserting, so a failure prints normally.
    let _ = std::panic::take_hook();
    assert!(result.is_err());
    assert!(with_nul.is_err());

    let calls = recorder.0.lock().unwrap().clone();
    let info = ["juju-log", "--log-level", "INFO", "--", "hello from init"];
    assert!(
        calls.contains(&info.iter().map(|s| s.to_string()).collect()),
        "{calls:?}"
    );
    let errors: Vec<&Vec<String>> = calls.iter().filter(|c| c[2] == "ERROR").collect();
    assert_eq!(errors.len(), 2, "{calls:?}");
    let panic_log = errors[0];
    assert_eq!(&panic_log[..4], ["juju-log", "--log-level", "ERROR", "--"]);
    let text = &panic_log[4];
    assert!(
        text.starts_with("Uncaught panic in charm code: panicked at "),
        "{text}"
    );
    assert!(
        text.contains("tests/logging_init.rs:"),
        "location in {text}"
    );
    assert!(text.ends_with(": no policies: 0"), "message in {text}");
    let nul_log = errors[1];
    assert!(
        nul_log[4].ends_with(r": bad byte \u{0} in data"),
        "{nul_log:?}"
    );
}

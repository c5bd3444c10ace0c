#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use tracing::{debug, error, info, trace, warn};
use tracing_subscriber::Registry;

use super::*;
use crate::testutil::{CallLog, fail, ok, scripted};

/// Run `f` with a thread-local subscriber forwarding to scripted tools.
fn with_layer(level: LevelFilter, f: impl FnOnce()) -> CallLog {
    let (tools, log) = scripted(|_, _| ok(""));
    let subscriber =
        Registry::default().with(JujuLogLayer::new(tools).with_filter(default_filter(level)));
    tracing::subscriber::with_default(subscriber, f);
    log
}

#[test]
fn levels_map_to_juju_levels() {
    let log = with_layer(LevelFilter::TRACE, || {
        error!("e");
        warn!("w");
        info!("i");
        debug!("d");
        trace!("t");
    });
    assert_eq!(
        log.argvs(),
        vec![
            "juju-log --log-level ERROR -- e",
            "juju-log --log-level WARNING -- w",
            "juju-log --log-level INFO -- i",
            "juju-log --log-level DEBUG -- d",
            "juju-log --log-level TRACE -- t",
        ]
    );
}

#[test]
fn default_level_drops_trace() {
    let log = with_layer(DEFAULT_LEVEL, || {
        debug!("kept");
        trace!("dropped");
    });
    assert_eq!(log.argvs(), vec!["juju-log --log-level DEBUG -- kept"]);
}

#[test]
fn level_filter_is_honoured() {
    let log = with_layer(LevelFilter::WARN, || {
        info!("no");
        warn!("yes");
    });
    assert_eq!(log.argvs(), vec!["juju-log --log-level WARNING -- yes"]);
}

#[test]
fn dependency_crates_are_capped_at_warn() {
    let log = with_layer(LevelFilter::DEBUG, || {
        info!(target: "kube_client::client", "request");
        debug!(target: "hyper_util::client", "pool");
        warn!(target: "kube_client::client", "retrying");
        debug!(target: "istio_beacon_k8s::apply", "mine");
    });
    assert_eq!(
        log.argvs(),
        vec![
            "juju-log --log-level WARNING -- retrying",
            "juju-log --log-level DEBUG -- mine",
        ]
    );
}

#[test]
fn fields_are_appended() {
    let log = with_layer(LevelFilter::DEBUG, || {
        info!(unit = "app/0", count = 3, "reconciled");
        info!(only = true);
    });
    let calls = log.calls();
    assert_eq!(calls[0].argv[4], r#"reconciled unit="app/0" count=3"#);
    assert_eq!(calls[1].argv[4], "only=true");
}

/// A runner that logs through `tracing` itself: forwarding must not loop.
#[test]
fn forwarding_does_not_recurse() {
    let (tools, log) = scripted(|argv, _| {
        tracing::warn!("runner saw {}", argv[0]);
        ok("")
    });
    let subscriber = Registry::default()
        .with(JujuLogLayer::new(tools).with_filter(default_filter(LevelFilter::TRACE)));
    tracing::subscriber::with_default(subscriber, || {
        info!("one");
        info!("two");
    });
    assert_eq!(
        log.argvs(),
        vec![
            "juju-log --log-level INFO -- one",
            "juju-log --log-level INFO -- two"
        ]
    );
}

#[test]
fn failing_juju_log_does_not_recurse_or_panic() {
    let (tools, log) = scripted(|_, _| fail(1, "ERROR no context"));
    let subscriber = Registry::default()
        .with(JujuLogLayer::new(tools).with_filter(default_filter(LevelFilter::DEBUG)));
    tracing::subscriber::with_default(subscriber, || error!("x"));
    assert_eq!(log.count("juju-log"), 1);
}

#[test]
fn long_events_are_split() {
    let long = "x".repeat(crate::tools::MAX_LOG_LINE_LEN + 1);
    let log = with_layer(LevelFilter::DEBUG, || info!("{long}"));
    assert_eq!(log.count("juju-log"), 3);
}

/// Tools that fail as `std::process::Command` does for an argv element with a NUL in it.
fn os_like_tools() -> (HookTools, CallLog) {
    scripted(|argv, _| {
        if argv.iter().any(|a| a.contains('\0')) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "nul byte found in provided data",
            ));
        }
        ok("")
    })
}

#[test]
fn control_characters_are_escaped_so_the_error_is_logged() {
    let (tools, log) = os_like_tools();
    let subscriber = Registry::default()
        .with(JujuLogLayer::new(tools).with_filter(default_filter(LevelFilter::DEBUG)));
    let value = "app\0x\r\u{1b}[31m\u{7f}\u{85}\u{9f} \\ \\0 \\u{0}\nnext\tline é";
    tracing::subscriber::with_default(subscriber, || error!("bad value: {value}"));
    let calls = log.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].argv[..4],
        ["juju-log", "--log-level", "ERROR", "--"]
    );
    let sent = &calls[0].argv[4];
    assert_eq!(
        sent,
        "bad value: app\\u{0}x\\u{d}\\u{1b}[31m\\u{7f}\\u{85}\\u{9f} \\ \\0 \\\\u{0}\nnext\tline é"
    );
    assert_eq!(unescape(sent), format!("bad value: {value}"));
}

#[test]
fn ordinary_text_is_sent_unchanged() {
    for text in [
        "",
        "plain",
        r#"reconciled unit="app/0" error="say \"hi\"""#,
        "multi\nline\twith tabs",
        r"C:\path \n \x41 \u200b \u{ not hex",
        "é😀\u{200b}\u{2028}",
    ] {
        assert!(
            matches!(escape(text), Cow::Borrowed(t) if t == text),
            "{text:?}"
        );
    }
}

/// splitmix64, for reproducible generated strings.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A string made mostly of what makes escaping ambiguous if done wrong: backslashes, `u`, braces,
/// hex digits and control characters, plus some ordinary and arbitrary characters.
fn tricky_string(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "\\", "\\", "u", "{", "}", "0", "1b", "f", "\0", "\u{1}", "\r", "\n", "\t", "\u{1b}",
        "\u{7f}", "\u{85}", "\u{9f}", "a", " ", "é", "😀", "\\u{0}", "\\\\", "u{",
    ];
    let len = rng.below(12);
    (0..len)
        .map(|_| {
            if rng.below(10) == 0 {
                // Any scalar value at all.
                char::from_u32(rng.below(0x11_0000) as u32)
                    .unwrap_or('\u{fffd}')
                    .to_string()
            } else {
                PIECES[rng.below(PIECES.len())].to_string()
            }
        })
        .collect()
}

#[test]
fn escaping_is_reversible_and_never_leaves_a_nul() {
    let mut rng = Rng(0x5eed_1e55);
    let mut escaped_some = 0;
    for _ in 0..50_000 {
        let text = tricky_string(&mut rng);
        let sent = escape(&text);
        assert!(!sent.contains('\0'), "{text:?} -> {sent:?}");
        assert!(
            !sent
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{text:?} -> {sent:?}"
        );
        // unescape ∘ escape = id, so two different texts are never sent the same.
        assert_eq!(unescape(&sent), text, "{sent:?}");
        if matches!(sent, Cow::Owned(_)) {
            escaped_some += 1;
        }
    }
    assert!(escaped_some > 10_000, "the generator exercises escaping");
}

#[test]
fn generated_messages_always_reach_juju_log() {
    let (tools, log) = os_like_tools();
    let subscriber = Registry::default()
        .with(JujuLogLayer::new(tools).with_filter(default_filter(LevelFilter::DEBUG)));
    let mut rng = Rng(7);
    let texts: Vec<String> = (0..500).map(|_| tricky_string(&mut rng)).collect();
    tracing::subscriber::with_default(subscriber, || {
        for t in &texts {
            warn!("{t}");
        }
    });
    let sent: Vec<String> = log.calls().into_iter().map(|c| c.argv[4].clone()).collect();
    // Empty messages are not sent (as ops); every other one is, once, and reads back exactly.
    let expected: Vec<&String> = texts.iter().filter(|t| !t.is_empty()).collect();
    assert_eq!(sent.len(), expected.len());
    for (s, t) in sent.iter().zip(expected) {
        assert_eq!(&unescape(s), t);
    }
}

//! `charm-sim run` as a process: exit codes, one-line errors for bad scenarios, output shape,
//! packed `.charm` input.
#![allow(clippy::unwrap_used)]
mod common;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::{TestCharm, bin, scenario};

/// `charm-sim run --charm <charm> --scenario <scenario>`, to add more flags to.
fn sim_run(charm: &Path, scenario: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(["run", "--charm"])
        .arg(charm)
        .arg("--scenario")
        .arg(scenario);
    cmd
}

fn run_cli(c: &TestCharm, yaml: &str) -> (i32, String, String) {
    let p = c.scenario_path(yaml);
    let out = sim_run(c.dir.path(), &p).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Asserts exit 2, nothing on stdout, exactly one stderr line containing every `needle`.
fn rejects(yaml: &str, needles: &[&str]) {
    let c = TestCharm::new("exit 0");
    let (code, stdout, stderr) = run_cli(&c, yaml);
    assert_eq!(code, 2, "stderr: {stderr}");
    assert_eq!(stdout, "");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{stderr:?} lacks {n:?}");
    }
}

#[test]
fn bad_scenarios_exit_2_with_what_and_where() {
    let rel = "relations:\n  - {id: 3, endpoint: db, remote_app: mydb, remote_units: [mydb/0]}\n";
    rejects(
        &scenario(
            true,
            "relations:\n  - {id: 3, endpoint: nope, remote_app: x}\nsteps: []\n",
        ),
        &["relations[0]", "endpoint \"nope\" not declared"],
    );
    rejects(
        &scenario(
            true,
            "relations:\n  - {id: 3, endpoint: db, remote_app: a}\n  - {id: 3, endpoint: mesh, remote_app: b}\nsteps: []\n",
        ),
        &["relations[1]", "relation id 3 used twice"],
    );
    rejects(
        &scenario(
            true,
            &format!(
                "{rel}steps:\n  - {{hook: db-relation-changed, relation: 3, remote_unit: mydb/5}}\n"
            ),
        ),
        &["steps[0]", "\"mydb/5\" is not in relation 3"],
    );
    rejects(
        &scenario(true, "config: {nosuch: 1}\nsteps: []\n"),
        &["config.nosuch", "not declared"],
    );
    rejects(
        &scenario(true, "config: {port: 'eighty'}\nsteps: []\n"),
        &["scenario.yaml: config.port", "expected an int value"],
    );
    rejects(
        &scenario(true, "steps:\n  - {update: {config: {debug: 3}}}\n"),
        &["steps[0].update.config.debug", "boolean"],
    );
    rejects(
        &scenario(true, "steps: [install, not-a-hook]\n"),
        &["steps[1]", "\"not-a-hook\" is not a hook"],
    );
    rejects(
        &scenario(true, "steps: [secret-changed]\n"),
        &["steps[0]", "does not model"],
    );
    rejects(
        &scenario(true, "steps: [web-pebble-custom-notice]\n"),
        &["steps[0]", "does not model"],
    );
    rejects(
        &scenario(
            true,
            &format!("{rel}steps:\n  - {{update: {{remove_relation: 4}}}}\n"),
        ),
        &["steps[0].update.remove_relation", "relation 4"],
    );
    rejects(
        &scenario(true, "steps:\n  - {action: nope}\n"),
        &["steps[0]", "action \"nope\" not declared"],
    );
    rejects(
        &scenario(true, "containers: {db: {can_connect: true}}\nsteps: []\n"),
        &["containers.db", "not declared"],
    );
    rejects(
        &scenario(
            true,
            "faults: [{match: {method: GET}, error: 200}]\nsteps: []\n",
        ),
        &["faults[0]"],
    );
    rejects(
        &scenario(true, "crds: [missing.yaml]\nsteps: []\n"),
        &["crds[0]", "missing.yaml"],
    );
    rejects(
        "model: {name: p}\nunit: tester\nsteps: []\n",
        &["unit", "<app>/<number>"],
    );
    rejects("model: [\n", &["scenario.yaml"]);
    rejects(
        &scenario(true, "stepz: []\n"),
        &["scenario.yaml", "unknown field `stepz`"],
    );
    // A relation used after broken no longer exists.
    rejects(
        &scenario(
            true,
            &format!(
                "{rel}steps:\n  - {{hook: db-relation-broken, relation: 3}}\n  - {{hook: db-relation-changed, relation: 3}}\n"
            ),
        ),
        &["steps[1]", "relation 3 does not exist"],
    );
}

#[test]
fn output_shape_and_out_file() {
    let c = TestCharm::new(
        "case \"$EV\" in install) status-set active ready; juju-log -- hi;; \
         start) application-version-set 1.2; exit 1;; esac",
    );
    let yaml = scenario(
        false,
        "relations:\n  - {id: 3, endpoint: db, remote_app: mydb, remote_units: [mydb/0]}\nsteps:\n  - install\n  - {update: {leader: true}}\n  - start\n",
    );
    let p = c.scenario_path(&yaml);
    let out_file = c.out.path().join("result.json");
    let status = sim_run(c.dir.path(), &p)
        .arg("--out")
        .arg(&out_file)
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "a failing hook is a result, not an error"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let top: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(top, ["steps", "relations", "kubernetes", "pebble"]);
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "update steps produce no entry");
    let step_keys: Vec<&String> = steps[0].as_object().unwrap().keys().collect();
    assert_eq!(
        step_keys,
        [
            "step",
            "exit_code",
            "unit_status",
            "app_status",
            "logs",
            "api_requests",
            "action",
            "wall_ms",
            "charm_cpu_ms",
            "charm_max_rss_kib",
            "stdout",
            "stderr",
            "relations",
            "workload_version",
            "hook_tools"
        ]
    );
    assert_eq!(steps[0]["step"], "install");
    assert_eq!(
        steps[0]["unit_status"],
        serde_json::json!({"status": "active", "message": "ready"})
    );
    assert_eq!(steps[0]["app_status"], serde_json::Value::Null);
    assert_eq!(
        steps[0]["logs"],
        serde_json::json!([{"level": "INFO", "message": "hi"}])
    );
    assert_eq!(steps[0]["action"], serde_json::Value::Null);
    assert!(steps[0]["wall_ms"].is_f64());
    // The hook is a shell script: its own CPU time may round to 0 ticks, but it is measured;
    // it may exit before its RSS is first polled (then null).
    assert!(steps[0]["charm_cpu_ms"].is_f64());
    assert!(steps[0]["charm_max_rss_kib"].is_u64() || steps[0]["charm_max_rss_kib"].is_null());
    assert_eq!(steps[1]["exit_code"], 1);
    assert_eq!(steps[0]["workload_version"], serde_json::Value::Null);
    // Immediate, like status: kept although the hook failed.
    assert_eq!(steps[1]["workload_version"], "1.2");
    // Every hook-tool process the hook ran, by name.
    assert_eq!(
        steps[0]["hook_tools"],
        serde_json::json!({"juju-log": 1, "status-set": 1})
    );
    assert_eq!(
        steps[1]["hook_tools"],
        serde_json::json!({"application-version-set": 1})
    );
    assert_eq!(
        v["relations"],
        serde_json::json!([{"id": 3, "endpoint": "db", "local_app_data": {},
            "local_unit_data": {"egress-subnets": "192.0.2.0", "ingress-address": "192.0.2.0",
                                "private-address": "192.0.2.0"}}])
    );
    assert_eq!(
        v["kubernetes"],
        serde_json::json!([{"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"labels": {"kubernetes.io/metadata.name": "prod"}, "name": "prod"}}])
    );
    assert_eq!(
        v["pebble"],
        serde_json::json!({"side": {"plan": {}}, "web": {"plan": {}}})
    );
}

#[test]
fn packed_charm_is_unzipped_with_modes() {
    let c = TestCharm::new("status-set active packed");
    let zip_path = c.out.path().join("tester.charm");
    let file = std::fs::File::create(&zip_path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    for name in ["metadata.yaml", "config.yaml", "actions.yaml", "dispatch"] {
        let mode = if name == "dispatch" { 0o755 } else { 0o644 };
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(mode);
        zip.start_file(name, opts).unwrap();
        zip.write_all(&std::fs::read(c.dir.path().join(name)).unwrap())
            .unwrap();
    }
    zip.finish().unwrap();
    let p = c.scenario_path(&scenario(true, "steps: [install]\n"));
    let out = sim_run(&zip_path, &p).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["steps"][0]["exit_code"], 0);
    assert_eq!(v["steps"][0]["unit_status"]["message"], "packed");
}

#[test]
fn missing_charm_exits_2() {
    let c = TestCharm::new("exit 0");
    let p = c.scenario_path(&scenario(true, "steps: []\n"));
    let out = sim_run(Path::new("/nonexistent/charm"), &p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/charm"));
}

#[test]
fn crd_files_resolve_against_the_scenario_dir() {
    let c = TestCharm::new("exit 0");
    let crd = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crds/gateway.networking.k8s.io__v1__Gateway.yaml");
    std::fs::copy(&crd, c.out.path().join("gw.yaml")).unwrap();
    let gateway = "kubernetes:\n  - {apiVersion: v1, kind: Namespace, metadata: {name: prod}}\n  \
                   - {apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, \
                   metadata: {name: gw, namespace: prod}, spec: {gatewayClassName: istio, \
                   listeners: [{name: http, port: 80, protocol: HTTP}]}}\n";
    let yaml = format!(
        "model: {{name: prod}}\nunit: tester/0\n{gateway}crds: [gw.yaml]\nsteps: [install]\n"
    );
    let (code, stdout, stderr) = run_cli(&c, &yaml);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let kinds: Vec<&str> = v["kubernetes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"Gateway"), "{kinds:?}");
    // Without the CRD the same object cannot exist: an inconsistent scenario.
    let yaml =
        format!("model: {{name: prod}}\nunit: tester/0\n{gateway}crds: none\nsteps: [install]\n");
    let (code, _, stderr) = run_cli(&c, &yaml);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("scenario.yaml: kubernetes"), "{stderr}");
}

#[test]
fn library_default_tool_binary_is_the_sibling_jujuc() {
    // This test harness is not charm-sim; the default must find target/<profile>/charm-sim-jujuc.
    let c = TestCharm::new("status-set active \"$(is-leader)\"");
    let p = c.scenario_path(&scenario(true, "steps: [install]\n"));
    let out = charm_sim::run_scenario(c.dir.path(), &p, &charm_sim::RunOptions::default()).unwrap();
    let st = out.steps[0].unit_status.as_ref().unwrap();
    assert_eq!(st.message, "True");
}

#[test]
fn non_executable_dispatch_is_a_bad_charm() {
    use std::os::unix::fs::PermissionsExt;
    let c = TestCharm::new("exit 0");
    let dispatch = c.dir.path().join("dispatch");
    std::fs::set_permissions(&dispatch, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, stderr) = run_cli(&c, &scenario(true, "steps: [install]\n"));
    assert_eq!(code, 2);
    assert!(stderr.contains("dispatch is not executable"), "{stderr}");
}

#[test]
fn a_dispatch_that_cannot_start_fails_the_hook_not_the_run() {
    let c = TestCharm::new("exit 0");
    // Executable but not a valid program (no shebang, not ELF): exec fails with ENOEXEC.
    common::write_exec(&c.dir.path().join("dispatch"), "\u{7f}garbage");
    let (code, stdout, stderr) = run_cli(&c, &scenario(true, "steps: [install, start]\n"));
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["steps"][0]["exit_code"], 126);
    assert!(
        v["steps"][0]["stderr"]
            .as_str()
            .unwrap()
            .starts_with("cannot run ")
    );
    assert_eq!(v["steps"][1]["exit_code"], 126);
}

#[test]
fn without_dispatch_explicit_hooks_run_and_missing_ones_are_no_ops() {
    let c = TestCharm::new("exit 0");
    std::fs::remove_file(c.dir.path().join("dispatch")).unwrap();
    std::fs::create_dir(c.dir.path().join("hooks")).unwrap();
    common::write_exec(
        &c.dir.path().join("hooks/install"),
        "#!/bin/sh\nstatus-set active \"$JUJU_DISPATCH_PATH\"\n",
    );
    let p = c.scenario_path(&scenario(
        true,
        "steps: [install, start, {action: do-it}]\n",
    ));
    let out = charm_sim::run_scenario(
        c.dir.path(),
        &p,
        &charm_sim::RunOptions {
            tool_binary: Some(common::jujuc()),
        },
    )
    .unwrap();
    assert_eq!(
        out.steps[0].unit_status.as_ref().unwrap().message,
        "hooks/install"
    );
    assert_eq!(out.steps[1].exit_code, 0);
    let action = out.steps[2].action.as_ref().unwrap();
    assert_eq!(
        action.failed.as_deref(),
        Some("action not implemented on unit \"tester/0\"")
    );
}

#[test]
fn files_a_charm_writes_in_its_dir_last_for_one_run_only() {
    // Each run is one unit's life: a file written by one hook is there for the next hook
    // of the run, but the next run starts from the charm as given.
    let c = TestCharm::new(
        "if [ -e remembered ]; then status-set active seen; else touch remembered; status-set active fresh; fi",
    );
    let p = c.scenario_path(&scenario(true, "steps: [install, start]\n"));
    let opts = charm_sim::RunOptions {
        tool_binary: Some(common::jujuc()),
    };
    for _ in 0..2 {
        let out = charm_sim::run_scenario(c.dir.path(), &p, &opts).unwrap();
        let messages: Vec<&str> = out
            .steps
            .iter()
            .map(|s| s.unit_status.as_ref().unwrap().message.as_str())
            .collect();
        assert_eq!(messages, ["fresh", "seen"]);
    }
    assert!(!c.dir.path().join("remembered").exists());
}

#[test]
fn tool_client_flag_replaces_the_sibling_jujuc() {
    let c = TestCharm::new("status-set active \"$(is-leader)\"");
    let p = c.scenario_path(&scenario(true, "steps: [install]\n"));
    // A client that logs each call, then is the real one under the tool's name.
    let client = c.out.path().join("logging-client");
    let log = c.out.path().join("calls.log");
    common::write_exec(
        &client,
        &format!(
            "#!/bin/bash\necho \"${{0##*/}}\" >> {}\nexec -a \"$0\" {} \"$@\"\n",
            log.display(),
            common::jujuc().display()
        ),
    );
    let out = sim_run(c.dir.path(), &p)
        .arg("--tool-client")
        .arg(&client)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["steps"][0]["unit_status"]["message"], "True");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        ["is-leader", "status-set"]
    );
}

/// Writes `path` with Python's `json.dumps` (its default `ensure_ascii`: every character outside
/// the BMP becomes a surrogate-pair escape such as `\ud83d\ude00`): a scenario whose remote unit
/// `mydb/0` and remote app `mydb` both wrote `key: value` on relation 3.
fn python_json_dumps_scenario(path: &Path, value: &str) {
    const SCRIPT: &str = r#"
import json, sys
path, value = sys.argv[1], sys.argv[2]
scenario = {
    "model": {"name": "prod", "uuid": "7b0e1c9e-0000-4000-8000-000000000001"},
    "unit": "tester/0",
    "leader": True,
    "kubernetes": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}],
    "relations": [{"id": 3, "endpoint": "db", "remote_app": "mydb", "remote_units": ["mydb/0"],
                   "remote_app_data": {"key": value},
                   "remote_units_data": {"mydb/0": {"key": value}}}],
    "steps": [{"hook": "db-relation-changed", "relation": 3, "remote_unit": "mydb/0"}],
}
with open(path, "w") as f:
    f.write(json.dumps(scenario, indent=1))
"#;
    let status = Command::new("python3")
        .env("PYTHONUTF8", "1")
        .args(["-c", SCRIPT])
        .arg(path)
        .arg(value)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn json_scenarios_from_python_keep_characters_outside_the_bmp() {
    // Emoji (a flag is two of them), a musical symbol, a CJK extension B ideograph, and
    // quotes, a backslash, a tab and an accent around them.
    let value = "emoji \u{1F600} clef \u{1D11E} cjk \u{2070E} flag \u{1F1EB}\u{1F1F7} \
                 \u{e9} \"q\" \\ tab\tend";
    let c = TestCharm::new(
        "case \"$EV\" in db-relation-changed)\n\
         r unit relation-get -r 3 key mydb/0\n\
         r app relation-get -r 3 --app key mydb\n\
         r json relation-get -r 3 --format=json key mydb/0\n\
         relation-set -r 3 echo=\"$(relation-get -r 3 key mydb/0)\";;\n\
         esac",
    );
    // Read as JSON for its name, and for its text under any other name.
    for name in ["scenario.json", "scenario.yaml"] {
        let p = c.out.path().join(name);
        python_json_dumps_scenario(&p, value);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.is_ascii(), "json.dumps escapes everything: {text}");
        assert!(text.contains(r"\ud83d\ude00"), "{text}");
        assert!(text.contains(r"\ud841\udf0e"), "{text}");

        let out = sim_run(c.dir.path(), &p).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["steps"][0]["exit_code"], 0, "{name}: {}", v["steps"][0]);

        // Byte-exact through the hook-tool protocol, unit and app bags alike.
        let recorded = |label: &str| {
            std::fs::read(
                c.out
                    .path()
                    .join(format!("db-relation-changed.{label}.out")),
            )
            .unwrap()
        };
        let line = format!("{value}\n").into_bytes();
        assert_eq!(recorded("unit"), line, "{name}");
        assert_eq!(recorded("app"), line, "{name}");
        let as_json: String = serde_json::from_slice(&recorded("json")).unwrap();
        assert_eq!(as_json, value, "{name}");
        // And back out: written with relation-set, committed, in the run's output.
        assert_eq!(
            v["relations"][0]["local_unit_data"]["echo"], value,
            "{name}"
        );
    }
}

#[test]
fn json_is_told_from_yaml_by_name_or_by_text() {
    // A YAML flow mapping starts with `{` too, but is no JSON: still read as YAML.
    let c = TestCharm::new("exit 0");
    let (code, _, stderr) = run_cli(
        &c,
        "{model: {name: prod}, unit: tester/0, leader: true,\n \
         kubernetes: [{apiVersion: v1, kind: Namespace, metadata: {name: prod}}], steps: [install]}\n",
    );
    assert_eq!(code, 0, "{stderr}");
    // A `.json` file is JSON: YAML in it is an error naming the file.
    let p = c.out.path().join("scenario.json");
    std::fs::write(&p, scenario(true, "steps: [install]\n")).unwrap();
    let out = sim_run(c.dir.path(), &p).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("scenario.json: "), "{stderr}");
    // JSON errors say where, as YAML ones do.
    std::fs::write(
        &p,
        r#"{"model": {"name": "prod"}, "unit": "tester/0", "stepz": []}"#,
    )
    .unwrap();
    let out = sim_run(c.dir.path(), &p).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown field `stepz`"), "{stderr}");
    assert!(stderr.contains("line 1 column"), "{stderr}");
}

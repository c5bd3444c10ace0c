//! The layout promises of docs/architecture.md, checked: the core depends on nothing that
//! does I/O, and neither the core nor the binary has a cycle among its modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn the_core_reaches_no_io_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "beacon-core",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).expect("utf-8");
    let crates: BTreeSet<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains("service-mesh"), "{crates:?}");
    for io in [
        "kube",
        "kube-client",
        "k8s-openapi",
        "tokio",
        "hyper",
        "charm-runtime",
        "tracing",
        "reqwest",
        "mio",
    ] {
        assert!(
            !crates.contains(io),
            "beacon-core depends on {io}: {crates:?}"
        );
    }
}

/// Top-level module → the top-level modules its non-test code names as `crate::<m>`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    files(src, &mut paths);
    let re = regex::Regex::new(r"crate::([a-z_]+)").expect("regex");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in paths {
        let rel = path.strip_prefix(src).expect("under src");
        let stem = |p: &Path| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_owned()
        };
        let first = rel.components().next().expect("a component");
        let module = stem(Path::new(first.as_os_str()));
        let file = stem(&path);
        if ["lib", "main"].contains(&module.as_str())
            || file == "tests"
            || file.ends_with("_tests")
            || file == "fixtures"
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read source");
        // Test modules sit at the end of a file.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let deps = graph.entry(module.clone()).or_default();
        for cap in re.captures_iter(code) {
            if cap[1] != *module {
                deps.insert(cap[1].to_owned());
            }
        }
    }
    graph
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_cycles_in_the_core_or_the_binary() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src");
    for src in [core, bin] {
        let graph = module_graph(&src);
        assert!(graph.len() > 5, "{}: {graph:?}", src.display());
        assert_eq!(cycle(&graph), None, "{}: {graph:?}", src.display());
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

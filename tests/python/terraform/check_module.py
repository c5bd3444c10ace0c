"""Checks the Terraform module in terraform/ against the charm it deploys.

Terraform is not installed here, so the module is parsed with python-hcl2 and held to
metadata.yaml, config.yaml and its own README:

- versions.tf: a terraform required_version; the juju provider from juju/juju, ">= 1.0";
- main.tf: one juju_application, trust = true, model_uuid (provider >= 1.0) from
  var.model_uuid, the charm named as in metadata.yaml;
- variables.tf: every variable has a type and a description, the expected inputs exist
  with the expected types, each is used by main.tf, the channel default passes its own rule;
- outputs.tf: app_name; provides / requires name exactly metadata.yaml's provides /
  requires endpoints (keys: names with _ for -), endpoints names both; no peer endpoint;
- README.md: its inputs table is variables.tf (name, type, default, required), its outputs
  table is outputs.tf, its config table is config.yaml (option, type, default) both ways,
  and its HCL usage example parses and uses only inputs and outputs that exist.

Usage: check_module.py [ROOT]  (ROOT holds metadata.yaml, config.yaml and terraform/;
default: the repository). Exits 1 listing every mismatch, 0 printing a summary.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

try:
    import hcl2
    import yaml
except ImportError as e:  # pragma: no cover - the message is the point
    sys.exit(f"check_module.py: {e}: create .venv with scripts/setup-python.sh")

OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, with_comments=False, explicit_blocks=False
)

# Inputs the module must have, with their Terraform types.
EXPECTED_VARIABLES = {
    "app_name": "string",
    "channel": "string",
    "config": "map(string)",
    "constraints": "string",
    "model_uuid": "string",
    "revision": "number",
    "storage_directives": "map(string)",
    "units": "number",
}

errors: list[str] = []


def fail(msg: str) -> None:
    errors.append(msg)


def expr(value: object) -> str:
    """An HCL expression as python-hcl2 serialises it, without the ${...} wrapper."""
    s = str(value)
    if s.startswith("${") and s.endswith("}"):
        return s[2:-1]
    return s


def parse_hcl(path: Path) -> dict:
    try:
        with path.open() as f:
            return hcl2.load(f, serialization_options=OPTIONS)
    except Exception as e:  # noqa: BLE001 - any parse failure is a finding
        fail(f"{path}: does not parse as HCL: {e}")
        return {}


def blocks(doc: dict, kind: str) -> dict:
    """{label: body} of the labelled blocks of one kind (variable, output, module)."""
    out: dict = {}
    for item in doc.get(kind, []):
        for label, body in item.items():
            if label in out:
                fail(f"{kind} {label!r} is declared twice")
            out[label] = body
    return out


def load_module(tf_dir: Path) -> dict:
    merged: dict = {}
    files = sorted(tf_dir.glob("*.tf"))
    if not files:
        fail(f"{tf_dir}: no .tf files")
    for path in files:
        for kind, items in parse_hcl(path).items():
            merged.setdefault(kind, []).extend(items)
    return merged


def endpoint_key(name: str) -> str:
    return name.replace("-", "_")


def check_versions(module: dict) -> None:
    terraform = module.get("terraform", [])
    if not terraform:
        fail("versions.tf: no terraform block")
        return
    tf = terraform[0]
    if not tf.get("required_version"):
        fail("versions.tf: terraform.required_version is not set")
    providers = (tf.get("required_providers") or [{}])[0]
    juju = providers.get("juju")
    if not juju:
        fail("versions.tf: required_providers has no juju")
        return
    if juju.get("source") != "juju/juju":
        fail(f"versions.tf: juju provider source is {juju.get('source')!r}, not 'juju/juju'")
    if juju.get("version") != ">= 1.0":
        fail(f"versions.tf: juju provider version is {juju.get('version')!r}, not '>= 1.0'")


def check_application(module: dict, metadata: dict, variables: dict) -> None:
    apps = [
        (name, body)
        for item in module.get("resource", [])
        for rtype, named in item.items()
        if rtype == "juju_application"
        for name, body in named.items()
    ]
    if len(apps) != 1:
        fail(f"main.tf: expected one juju_application, found {len(apps)}")
        return
    name, app = apps[0]
    where = f"juju_application.{name}"
    if app.get("trust") is not True:
        fail(f"{where}: trust must be true (the charm needs --trust), is {app.get('trust')!r}")
    if "model" in app:
        fail(f"{where}: `model` is the provider < 1.0 argument; >= 1.0 takes model_uuid")
    if expr(app.get("model_uuid")) != "var.model_uuid":
        fail(f"{where}: model_uuid must be var.model_uuid, is {app.get('model_uuid')!r}")
    charm = (app.get("charm") or [{}])[0]
    if charm.get("name") != metadata["name"]:
        fail(f"{where}: charm name {charm.get('name')!r} is not {metadata['name']!r}")
    wired = {
        "name": "var.app_name",
        "config": "var.config",
        "constraints": "var.constraints",
        "storage_directives": "var.storage_directives",
        "units": "var.units",
    }
    for attr, want in wired.items():
        if expr(app.get(attr)) != want:
            fail(f"{where}: {attr} must be {want}, is {app.get(attr)!r}")
    for attr in ("channel", "revision"):
        if expr(charm.get(attr)) != f"var.{attr}":
            fail(f"{where}: charm.{attr} must be var.{attr}, is {charm.get(attr)!r}")
    used = set(re.findall(r"\bvar\.([A-Za-z0-9_]+)", json.dumps(app)))
    for unused in sorted(set(variables) - used):
        fail(f"variables.tf: variable {unused!r} is not used by {where}")
    for unknown in sorted(used - set(variables)):
        fail(f"{where}: uses var.{unknown}, which variables.tf does not declare")


def check_variables(variables: dict) -> None:
    for name, body in variables.items():
        if not body.get("type"):
            fail(f"variables.tf: variable {name!r} has no type")
        if not str(body.get("description") or "").strip():
            fail(f"variables.tf: variable {name!r} has no description")
    for name, want in EXPECTED_VARIABLES.items():
        if name not in variables:
            fail(f"variables.tf: variable {name!r} is missing")
        elif expr(variables[name].get("type")) != want:
            fail(
                f"variables.tf: variable {name!r} has type "
                f"{expr(variables[name].get('type'))!r}, not {want!r}"
            )
    for name in ("revision",):
        body = variables.get(name, {})
        if "default" not in body or body["default"] is not None:
            fail(f"variables.tf: variable {name!r} must default to null")
    channel = variables.get("channel", {})
    for rule in channel.get("validation", []):
        m = re.fullmatch(r'startswith\(var\.channel, "([^"]*)"\)', expr(rule.get("condition")))
        if m and "default" in channel and not str(channel["default"]).startswith(m.group(1)):
            fail(f"variables.tf: channel default {channel['default']!r} fails its own rule")


def output_map(outputs: dict, name: str) -> dict | None:
    if name not in outputs:
        fail(f"outputs.tf: output {name!r} is missing")
        return None
    value = outputs[name].get("value")
    if not isinstance(value, dict):
        fail(f"outputs.tf: output {name!r} must be a literal map of endpoint names")
        return None
    return value


def check_endpoint_map(label: str, got: dict, want: set[str]) -> None:
    values = list(got.values())
    for endpoint in sorted(want - set(values)):
        fail(f"outputs.tf: endpoint {endpoint!r} of metadata.yaml has no entry in output {label!r}")
    for endpoint in sorted(set(values) - want):
        fail(f"outputs.tf: output {label!r} names {endpoint!r}, not a {label} endpoint in metadata.yaml")
    for key, endpoint in got.items():
        if key != endpoint_key(str(endpoint)):
            fail(f"outputs.tf: output {label!r}: key {key!r} for {endpoint!r} should be {endpoint_key(str(endpoint))!r}")
    if len(values) != len(set(values)):
        fail(f"outputs.tf: output {label!r} names an endpoint twice")


def check_outputs(outputs: dict, metadata: dict) -> None:
    provides = set(metadata.get("provides") or {})
    requires = set(metadata.get("requires") or {})
    peers = set(metadata.get("peers") or {})
    if "app_name" not in outputs:
        fail("outputs.tf: output 'app_name' is missing")
    elif "juju_application." not in str(outputs["app_name"].get("value")):
        fail("outputs.tf: output 'app_name' must come from the juju_application")
    for name, body in outputs.items():
        if not str(body.get("description") or "").strip():
            fail(f"outputs.tf: output {name!r} has no description")
    for label, want in (("provides", provides), ("requires", requires)):
        got = output_map(outputs, label)
        if got is not None:
            check_endpoint_map(label, got, want)
    got = output_map(outputs, "endpoints")
    if got is not None:
        check_endpoint_map("endpoints", got, provides | requires)
    for name, body in outputs.items():
        value = body.get("value")
        if isinstance(value, dict):
            for peer in sorted(peers & set(map(str, value.values()))):
                fail(f"outputs.tf: output {name!r} names peer endpoint {peer!r} (peers are left out)")


def md_table(text: str, heading: str) -> list[list[str]]:
    """Rows (cells stripped) of the first table after a `## heading` line."""
    lines = text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if re.fullmatch(rf"#+\s+{re.escape(heading)}\s*", l))
    except StopIteration:
        fail(f"README.md: no section {heading!r}")
        return []
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows:
            break
    if len(rows) < 2:
        fail(f"README.md: section {heading!r} has no table")
        return []
    return rows[2:]  # header and separator


def unquote(cell: str) -> str:
    return cell[1:-1] if len(cell) >= 2 and cell[0] == cell[-1] == "`" else cell


def hcl_literal(value: object) -> str:
    """A variable default as the README writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value)


def yaml_default(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def check_readme(readme: str, variables: dict, outputs: dict, config: dict) -> None:
    # Inputs
    seen = set()
    for row in md_table(readme, "Inputs"):
        if len(row) != 5:
            fail(f"README.md: inputs row {row!r} does not have 5 cells")
            continue
        name, _desc, typ, default, required = (unquote(c) for c in row)
        seen.add(name)
        body = variables.get(name)
        if body is None:
            fail(f"README.md: input {name!r} is not a variable in variables.tf")
            continue
        if typ != expr(body.get("type")):
            fail(f"README.md: input {name!r} has type {typ!r}, variables.tf {expr(body.get('type'))!r}")
        has_default = "default" in body
        want_default = hcl_literal(body["default"]) if has_default else "n/a"
        if default != want_default:
            fail(f"README.md: input {name!r} default {default!r}, variables.tf {want_default!r}")
        if required != ("no" if has_default else "yes"):
            fail(f"README.md: input {name!r} required {required!r}, variables.tf says {'no' if has_default else 'yes'}")
    for name in sorted(set(variables) - seen):
        fail(f"README.md: variable {name!r} is missing from the inputs table")
    # Outputs
    seen = set()
    for row in md_table(readme, "Outputs"):
        name = unquote(row[0])
        seen.add(name)
        if name not in outputs:
            fail(f"README.md: output {name!r} is not in outputs.tf")
    for name in sorted(set(outputs) - seen):
        fail(f"README.md: output {name!r} is missing from the outputs table")
    # Charm configuration, both ways
    options = config.get("options") or {}
    seen = set()
    for row in md_table(readme, "Charm configuration"):
        if len(row) < 3:
            fail(f"README.md: config row {row!r} has fewer than 3 cells")
            continue
        key, typ, default = unquote(row[0]), row[1], unquote(row[2])
        seen.add(key)
        opt = options.get(key)
        if opt is None:
            fail(f"README.md: config option {key!r} is not in config.yaml")
            continue
        if typ != opt.get("type"):
            fail(f"README.md: config option {key!r} has type {typ!r}, config.yaml {opt.get('type')!r}")
        if default != yaml_default(opt.get("default")):
            fail(f"README.md: config option {key!r} default {default!r}, config.yaml {yaml_default(opt.get('default'))!r}")
    for key in sorted(set(options) - seen):
        fail(f"README.md: config.yaml option {key!r} is missing from the config table")
    check_usage(readme, variables, outputs, set(options))


def check_usage(readme: str, variables: dict, outputs: dict, options: set[str]) -> None:
    snippets = re.findall(r"```hcl\n(.*?)```", readme, flags=re.S)
    if not snippets:
        fail("README.md: no ```hcl usage example")
        return
    for snippet in snippets:
        try:
            doc = hcl2.loads(snippet, serialization_options=OPTIONS)
        except Exception as e:  # noqa: BLE001
            fail(f"README.md: the usage example does not parse as HCL: {e}")
            continue
        modules = blocks(doc, "module")
        if not modules:
            fail("README.md: the usage example has no module block")
        meta = {"source", "version", "providers", "depends_on", "count", "for_each"}
        for mod_name, body in modules.items():
            for arg in sorted(set(body) - meta - set(variables)):
                fail(f"README.md: module {mod_name!r} sets {arg!r}, not an input of the module")
            for var, vbody in variables.items():
                if "default" not in vbody and var not in body:
                    fail(f"README.md: module {mod_name!r} omits required input {var!r}")
            for key in sorted(set(body.get("config") or {}) - options):
                fail(f"README.md: module {mod_name!r} config key {key!r} is not in config.yaml")
            refs = re.findall(rf"\bmodule\.{re.escape(mod_name)}\.([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?", snippet)
            if not refs:
                fail(f"README.md: the usage example uses no output of module {mod_name!r}")
            for out, key in refs:
                if out not in outputs:
                    fail(f"README.md: module.{mod_name}.{out} is not an output")
                elif key:
                    value = outputs[out].get("value")
                    if not isinstance(value, dict) or key not in value:
                        fail(f"README.md: module.{mod_name}.{out}.{key} is not in output {out!r}")
        if "juju_integration" not in json.dumps(doc.get("resource", [])):
            fail("README.md: the usage example has no juju_integration")


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3]
    tf_dir = root / "terraform"
    metadata = yaml.safe_load((root / "metadata.yaml").read_text())
    config = yaml.safe_load((root / "config.yaml").read_text())
    module = load_module(tf_dir)
    variables = blocks(module, "variable")
    outputs = blocks(module, "output")
    check_versions(module)
    check_variables(variables)
    check_application(module, metadata, variables)
    check_outputs(outputs, metadata)
    readme = tf_dir / "README.md"
    if readme.is_file():
        check_readme(readme.read_text(), variables, outputs, config)
    else:
        fail(f"{readme}: missing")
    if errors:
        print(f"terraform module check: {len(errors)} problem(s) in {tf_dir}:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    endpoints = sorted(set(metadata.get("provides") or {}) | set(metadata.get("requires") or {}))
    print(
        f"terraform module OK: {len(variables)} inputs, {len(outputs)} outputs, "
        f"endpoints {', '.join(endpoints)} (peers left out), "
        f"{len(config.get('options') or {})} config options documented"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

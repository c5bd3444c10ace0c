#!/usr/bin/env python3
"""Writes the seed corpus of the `consumer_databags` fuzz target (format: README.md) from real
databags: every scenario of tests/scenarios/*.yaml that has consumer relations, the policies of
the contract vectors (crates/service-mesh/tests/contract_vectors.rs), and a few hand-made
cross-model cases. Run from anywhere; needs PyYAML. The output is committed."""

import hashlib
import json
import pathlib
import re

import yaml

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parents[2]
OUT = FUZZ / "seeds" / "consumer_databags"
SEP, VAL = b"\xff", b"\xfe"
KINDS = {"service-mesh": b"m", "provide-cmr-mesh": b"c", "metrics-endpoint": b"p"}


def seed(relations, manage=True, on_mesh=False, namespaces=()):
    """relations: (endpoint, remote app, value or None)."""
    flags = (0 if manage else 1) | (2 if on_mesh else 0)
    parts = [bytes([flags, 0]), ",".join(namespaces).encode()]
    for endpoint, app, value in relations:
        part = KINDS[endpoint] + app.encode()
        if value is not None:
            part += VAL + value.encode()
        parts.append(part)
    return SEP.join(parts)


def scenarios():
    for path in sorted((ROOT / "tests" / "scenarios").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        config = doc.get("config") or {}
        rels = []
        for r in doc.get("relations", []):
            endpoint = r.get("endpoint")
            if endpoint not in KINDS:
                continue
            data = r.get("remote_app_data") or {}
            key = {"service-mesh": "policies", "provide-cmr-mesh": "cmr_data"}.get(endpoint)
            rels.append((endpoint, r["remote_app"], data.get(key) if key else "10.1.2.3"))
        if not any(e != "metrics-endpoint" for e, _, _ in rels):
            continue
        namespaces = [n.strip() for n in str(config.get("cross-model-namespaces", "")).split(",") if n.strip()]
        yield path.stem, seed(
            rels,
            manage=config.get("manage-authorization-policies", True),
            on_mesh=config.get("model-on-mesh", False),
            namespaces=namespaces,
        )


def contract_vectors():
    text = (ROOT / "crates" / "service-mesh" / "tests" / "contract_vectors.rs").read_text()
    for i, literal in enumerate(re.findall(r'r#"(.*?)"#', text, re.S)):
        if "source_namespace" not in literal or "{extra}" in literal or "{ports}" in literal:
            continue
        literal = literal.replace("{{", "{").replace("}}", "}")
        try:
            value = json.loads(literal)
        except ValueError:
            continue
        policies = value if isinstance(value, list) else [value]
        # As the consumer that the policies target (their target_app_name), in their model.
        target = next((p.get("target_app_name") for p in policies if p.get("target_app_name")), "mydb")
        yield f"contract-{i}", seed([("service-mesh", target, json.dumps(policies))])


def cross_model():
    remote = "remote-0123456789abcdef0123456789abcdef"
    policy = {"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "team",
              "target_app_name": "svc", "target_type": "app", "endpoints": [{"ports": [80]}]}
    unit = {"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "team",
            "target_selector_labels": {"app.kubernetes.io/name": "svc", "tier": "db"},
            "target_type": "unit", "endpoints": [{"ports": [5432]}]}
    cmr = json.dumps({"app_name": "svc", "juju_model_name": "team"})
    yield "cross-model-cmr", seed(
        [("service-mesh", remote, json.dumps([policy, unit])), ("provide-cmr-mesh", remote, cmr),
         ("metrics-endpoint", remote, "10.1.2.3")], namespaces=["team"])
    yield "cross-model-no-cmr", seed([("service-mesh", remote, json.dumps([policy]))],
                                     namespaces=["team", "prod"])


def traffic():
    """A traffic intent (crates/service-mesh/src/traffic), next to the worked example's policies."""
    intent = {"version": 1, "load_balancer": {"simple": "LEAST_REQUEST"},
              "connection_pool": {"tcp": {"max_connections": 100, "connect_timeout": "5s"}},
              "outlier_detection": {"consecutive_5xx_errors": 5, "interval": "10s"},
              "tls": {"mode": "ISTIO_MUTUAL"}, "ports": [{"port": 8080, "load_balancer": {"simple": "RANDOM"}}],
              "mtls": "STRICT"}
    policies = json.dumps([{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod",
                            "target_app_name": "mydb", "target_type": "app", "endpoints": [{"ports": [8080]}]}])
    data = seed([("service-mesh", "mydb", policies)])
    # mtls-mode strict (control byte 0, bits 3-5 = 4), and a `t` relation carrying the intent.
    data = bytes([4 << 3]) + data[1:] + SEP + b"tmydb" + VAL + json.dumps(intent).encode()
    yield "traffic-intent", data


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    seen = set()
    for name, data in [*scenarios(), *contract_vectors(), *cross_model(), *traffic()]:
        digest = hashlib.sha1(data).hexdigest()[:12]
        if digest in seen:
            continue
        seen.add(digest)
        (OUT / f"{name}-{digest}").write_bytes(data)
    print(f"{len(seen)} seeds in {OUT}")


if __name__ == "__main__":
    main()

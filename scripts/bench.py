#!/usr/bin/env python3
"""Benchmark (not a test): the beacon played through charm-sim at scale.

For each size N it generates a model with N consumer apps on `service-mesh`, each asking
for 10 AuthorizationPolicies, and plays four hooks:
- `config-changed` on a new unit: the first reconcile, cold (every relation is read and
  written for the first time, every policy is created);
- `config-changed` after `juju config manage-authorization-policies=false`: every policy is
  deleted;
- `config-changed` after setting it back to true: every policy is created again, by a unit
  that already knows its relations (the first reconcile of a running beacon);
- `update-status`: a no-op reconcile, nothing changed.
Then the two read-only actions: `show-policies` (every consumer's policies and their state)
and `check-access` (a denied L7 request to consumer0, evaluated against every policy).
It reports per hook: wall time, the charm process's own CPU time (without the hook tools it
spawned), its peak RSS, how many hook-tool processes it ran (and how many of them were
status-set), and the API requests by verb. Figures are printed, never asserted.

usage: scripts/bench.py --charm-sim BIN --charm DIR [--sizes 1,100,1000] [--repeat 3]
                       [--tool-client PATH] [--traffic] [--backend NAME]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

MODEL = "prod"
APP = "istio-beacon-k8s"
WAYPOINT = f"{MODEL}-{APP}-waypoint"


HOOKS = (
    "first reconcile, new unit",
    "all policies deleted",
    "first reconcile, running unit",
    "no-op reconcile",
    "action show-policies",
    "action check-access",
)


def consumer_policies(consumer: str, l7: bool = True) -> str:
    """The `policies` value one consumer writes: 10 app policies from 10 clients (with
    methods and paths, or with ports only: what every mesh backend can say exactly)."""
    policies = [
        {
            "source_namespace": MODEL,
            "source_app_name": f"{consumer}-client{k}",
            "target_namespace": MODEL,
            "target_app_name": consumer,
            "target_selector_labels": None,
            "target_service": None,
            "target_type": "app",
            "endpoints": [
                {
                    "hosts": None,
                    "ports": [8000 + k],
                    "methods": ["GET", "POST"] if l7 else None,
                    "paths": ["/api"] if l7 else None,
                }
            ],
        }
        for k in range(10)
    ]
    # The consumer library writes with Python json.dumps defaults; so do we here (key order
    # and spacing; None is null).
    return json.dumps(policies)


# A traffic intent (the `traffic` key) as service_mesh::traffic writes it.
TRAFFIC = json.dumps(
    {
        "version": 1,
        "load_balancer": {"simple": "LEAST_REQUEST"},
        "connection_pool": {"tcp": {"max_connections": 100}},
        "mtls": "STRICT",
    }
)


def scenario(n: int, traffic: bool = False, backend: str = "istio") -> dict:
    relations = [{"id": 1, "endpoint": "peers", "remote_units": []}]
    for i in range(n):
        app = f"consumer{i}"
        relations.append(
            {
                "id": 100 + i,
                "endpoint": "service-mesh",
                "remote_app": app,
                "remote_units": [f"{app}/0"],
                "remote_app_data": {"policies": consumer_policies(app, backend == "istio")}
                | ({"traffic": TRAFFIC} if traffic else {}),
            }
        )
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MODEL}},
        # What check-access looks at: consumer0's Service on the waypoint and its pod.
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "consumer0",
                "namespace": MODEL,
                "labels": {"istio.io/use-waypoint": WAYPOINT},
            },
            "spec": {
                "selector": {"app.kubernetes.io/name": "consumer0"},
                "ports": [{"port": 8000 + k} for k in range(10)],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "consumer0-0",
                "namespace": MODEL,
                "labels": {"app.kubernetes.io/name": "consumer0"},
            },
            "spec": {
                "serviceAccountName": "consumer0",
                "containers": [{"name": "c", "image": "c"}],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": APP, "namespace": MODEL},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
                "serviceName": f"{APP}-endpoints",
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": APP}},
                    "spec": {"containers": [{"name": "charm", "image": "charm-base"}]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": APP, "namespace": MODEL},
            "spec": {"selector": {"app.kubernetes.io/name": APP}, "ports": [{"port": 65535}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": WAYPOINT, "namespace": MODEL},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": WAYPOINT}},
                "template": {
                    "metadata": {"labels": {"gateway.networking.k8s.io/gateway-name": WAYPOINT}},
                    "spec": {"containers": [{"name": "istio-proxy", "image": "proxyv2"}]},
                },
            },
            "status": {"replicas": 1, "readyReplicas": 1},
        },
    ]
    return {
        "model": {"name": MODEL, "uuid": "7b0e1c9e-0000-4000-8000-000000000001"},
        "unit": f"{APP}/0",
        "leader": True,
        "config": {"mesh-backend": backend},
        "planned_units": 1,
        "relations": relations,
        "containers": {"metrics-proxy": {"can_connect": True}},
        "kubernetes": objects,
        "crds": "default",
        "steps": [
            "config-changed",
            {"update": {"config": {"manage-authorization-policies": False}}},
            "config-changed",
            {"update": {"config": {"manage-authorization-policies": True}}},
            "config-changed",
            "update-status",
            {"action": "show-policies", "params": {}},
            {
                "action": "check-access",
                "params": {
                    "source": "consumer0-client3",
                    "target": "consumer0",
                    "port": 8003,
                    "method": "DELETE",
                    "path": "/api",
                },
            },
        ],
    }


def run_once(
    charm_sim: list[str],
    charm: str,
    n: int,
    workdir: Path,
    traffic: bool = False,
    backend: str = "istio",
) -> list[dict]:
    scen = workdir / f"bench-{n}.json"
    out = workdir / f"bench-{n}-out.json"
    scen.write_text(json.dumps(scenario(n, traffic, backend)))
    subprocess.run(
        [*charm_sim, "--charm", charm, "--scenario", str(scen), "--out", str(out)],
        check=True,
    )
    result = json.loads(out.read_text())
    policies = sum(1 for o in result["kubernetes"] if o.get("kind") == "AuthorizationPolicy")
    if backend == "istio" and policies < 10 * n:
        sys.exit(f"{n} consumers: {policies} AuthorizationPolicies at the end, not {10 * n}")
    rules = sum(1 for o in result["kubernetes"] if o.get("kind") == "DestinationRule")
    if traffic and rules != n:
        sys.exit(f"{n} consumers: {rules} DestinationRules at the end, not {n}")
    rows = []
    for label, step in zip(HOOKS, result["steps"], strict=True):
        if step["exit_code"] != 0:
            sys.exit(f"{n} consumers, {label}: hook exited {step['exit_code']}")
        if step["action"] and step["action"]["failed"]:
            sys.exit(f"{n} consumers, {label}: {step['action']['failed']}")
        verbs = Counter(r["method"] for r in step["api_requests"])
        rows.append(
            {
                "label": label,
                "wall_ms": step["wall_ms"],
                "cpu_ms": step["charm_cpu_ms"],
                "rss_mib": step["charm_max_rss_kib"] / 1024,
                "verbs": verbs,
                "status": step["unit_status"],
                # charm-sim counts every hook-tool process (status-set among them).
                "tools": sum(step.get("hook_tools", {}).values()),
                "status_sets": step.get("hook_tools", {}).get("status-set", 0),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--charm-sim", required=True)
    ap.add_argument("--charm", required=True)
    ap.add_argument("--sizes", default="1,100,1000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tool-client", help="charm-sim's --tool-client (default: its sibling)")
    ap.add_argument(
        "--backend",
        default="istio",
        help="config mesh-backend: istio, smi, consul or linkerd",
    )
    ap.add_argument(
        "--traffic",
        action="store_true",
        help="every consumer also declares a traffic intent (a DestinationRule and a "
        "PeerAuthentication each)",
    )
    args = ap.parse_args()
    charm_sim = [args.charm_sim, "run"]
    if args.tool_client:
        charm_sim += ["--tool-client", args.tool_client]
    print(f"hook tools: {args.tool_client or 'the charm-sim-jujuc beside charm-sim'}")

    print(
        f"{'consumers':>9} {'policies':>8}  {'hook':<29} {'wall ms':>9} {'charm CPU ms':>12} "
        f"{'peak RSS MiB':>12} {'hook tools':>10} {'status-set':>10}  API requests by verb"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            runs = [
                run_once(charm_sim, args.charm, n, Path(tmp), args.traffic, args.backend)
                for _ in range(args.repeat)
            ]
            for i, label in enumerate(HOOKS):
                samples = [r[i] for r in runs]
                verbs = samples[0]["verbs"]
                print(
                    f"{n:>9} {10 * n:>8}  {label:<29} "
                    f"{statistics.median(s['wall_ms'] for s in samples):>9.1f} "
                    f"{statistics.median(s['cpu_ms'] for s in samples):>12.1f} "
                    f"{max(s['rss_mib'] for s in samples):>12.1f} "
                    f"{samples[0]['tools']:>10} {samples[0]['status_sets']:>10}  "
                    + " ".join(f"{v}={c}" for v, c in sorted(verbs.items()))
                )
    print(f"(median of {args.repeat} runs; peak RSS is the maximum over runs)")


if __name__ == "__main__":
    main()

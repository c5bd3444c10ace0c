#!/usr/bin/env python3
"""Plays a charm-sim scenario (JSON on stdin) against a Python consumer charm built on the
real charmlibs-interfaces-service-mesh library, with ops.testing, and prints what it
committed: every relation's local app databag after the last step, and the labels the
library last reconciled onto the workload (Kubernetes calls are recorded, not made).

The charm declares exactly what examples/service-mesh-tester declares (the same metadata
and config files are loaded), so the Rust tester under charm-sim must commit the same
bytes. Used by examples/service-mesh-tester/tests/python_differential.rs.

Usage: python_tester.py <charm project dir> < scenario.json
"""

import dataclasses
import json
import sys
from pathlib import Path

import ops
import yaml
from charmlibs.interfaces import service_mesh as sm_pkg
from charmlibs.interfaces.service_mesh import (
    AppPolicy,
    Endpoint,
    Method,
    ServiceMeshConsumer,
    UnitPolicy,
)
from ops import testing

# What the library would do to Kubernetes, recorded: the labels last reconciled (which the
# library also stores as json.dumps in its ConfigMap) and whether it deleted the ConfigMap.
K8S = {"labels": None, "configmap_deleted": False}


def _record_labels(client, app_name, namespace, label_configmap_name, labels):
    K8S["labels"] = dict(labels)
    K8S["configmap_deleted"] = False


def _record_delete(self):
    K8S["configmap_deleted"] = True


sm_pkg._service_mesh.reconcile_charm_labels = _record_labels
ServiceMeshConsumer._delete_label_configmap = _record_delete
ServiceMeshConsumer.lightkube_client = property(lambda self: None)

PORTS = [8080, 8081]


class PyConsumer(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        policies = [
            AppPolicy(
                relation="inbound",
                endpoints=[Endpoint(ports=PORTS, methods=[Method.get, Method.post], paths=["/foo", "/bar/"])],
            ),
            UnitPolicy(relation="inbound-unit", ports=PORTS),
        ]
        if self.config["peer-communication"]:
            policies.append(UnitPolicy(relation="peers", ports=PORTS))
        self.mesh = ServiceMeshConsumer(
            self, policies=policies, auto_join=bool(self.config["auto-join-mesh"])
        )
        framework.observe(self.on.config_changed, self._on_config_changed)

    def _on_config_changed(self, _):
        if self.unit.is_leader():
            self.mesh.update_service_mesh()


def make_relation(spec, meta, unit_id):
    endpoint = spec["endpoint"]
    if endpoint in meta.get("peers", {}):
        peers = {int(u.split("/")[1]): {} for u in spec.get("remote_units", [])}
        return testing.PeerRelation(
            endpoint, id=spec["id"], peers_data=peers,
            local_app_data=spec.get("local_app_data", {}),
        )
    units = {int(u.split("/")[1]): spec.get("remote_units_data", {}).get(u, {})
             for u in spec.get("remote_units", [])}
    return testing.Relation(
        endpoint,
        id=spec["id"],
        remote_app_name=spec["remote_app"],
        remote_app_data=spec.get("remote_app_data", {}),
        remote_units_data=units,
        local_app_data=spec.get("local_app_data", {}),
    )


def main():
    project = Path(sys.argv[1])
    meta = yaml.safe_load((project / "metadata.yaml").read_text())
    config = yaml.safe_load((project / "config.yaml").read_text())
    sc = json.load(sys.stdin)
    app, unit_id = sc["unit"].split("/")
    ctx = testing.Context(PyConsumer, meta=meta, config=config, app_name=app, unit_id=int(unit_id))
    rels = {r["id"]: make_relation(r, meta, int(unit_id)) for r in sc.get("relations", [])}
    state = testing.State(
        leader=sc.get("leader", False),
        config=sc.get("config", {}),
        relations=list(rels.values()),
        containers=[testing.Container("echo-server", can_connect=True)],
        model=testing.Model(name=sc["model"]["name"], uuid=sc["model"]["uuid"]),
    )
    for step in sc["steps"]:
        if isinstance(step, dict) and "update" in step:
            u = step["update"]
            if "config" in u:
                cfg = dict(state.config)
                cfg.update(u["config"])
                state = _replace(state, config=cfg)
            if "leader" in u:
                state = _replace(state, leader=u["leader"])
            if "add_relation" in u:
                rel = make_relation(u["add_relation"], meta, int(unit_id))
                state = _replace(state, relations=[*state.relations, rel])
            continue
        hook = step if isinstance(step, str) else step["hook"]
        rel = None
        if isinstance(step, dict) and "relation" in step:
            rel = next(r for r in state.relations if r.id == step["relation"])
        state = ctx.run(event_for(ctx, hook, rel), state)
        if hook.endswith("-relation-broken"):
            state = _replace(state, relations=[r for r in state.relations if r.id != rel.id])
    out = {
        "relations": {str(r.id): dict(r.local_app_data) for r in state.relations},
        "record": None if K8S["labels"] is None else json.dumps(K8S["labels"]),
        "configmap_deleted": K8S["configmap_deleted"],
    }
    print(json.dumps(out))


def _replace(state, **changes):
    return dataclasses.replace(state, **changes)


def event_for(ctx, hook, rel):
    for kind in ("created", "joined", "changed", "departed", "broken"):
        if hook.endswith(f"-relation-{kind}"):
            return getattr(ctx.on, f"relation_{kind}")(rel)
    simple = {
        "config-changed": ctx.on.config_changed,
        "leader-elected": ctx.on.leader_elected,
        "upgrade-charm": ctx.on.upgrade_charm,
        "install": ctx.on.install,
        "start": ctx.on.start,
        "update-status": ctx.on.update_status,
    }
    return simple[hook]()


if __name__ == "__main__":
    main()

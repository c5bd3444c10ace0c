#!/usr/bin/env python3
"""Differential-test oracle for the Rust ServiceMeshConsumer: the real Python library
(charmlibs-interfaces-service-mesh), driven over JSON lines (one request per stdin line, one
answer per stdout line), so a whole batch runs in one interpreter.

Requests ("kind"):
- "build": {"relations": [[endpoint, app], ...], "cmr": [[app, cmr_data | null], ...],
  "target_app", "target_namespace", "policies": [{"type": "app"|"unit"|"policy", "relation",
  "endpoints" | "ports", "service"}]} -> the `policies` value the consumer writes
  (get_data_from_cmr_relation + build_mesh_policies + json.dumps of model_dump). Python raises
  on a non-JSON cmr_data; then "crashed" is true and "policies" is computed without those
  relations (what the Rust library, which skips them, must produce).
- "provider_parse": {"policies": text} -> ServiceMeshProvider.mesh_info over a relation
  carrying `text`, re-dumped ("error" if it rejects it).
- "provider_parse_bag": {"databag": {k: v}} -> ServiceMeshProvider.mesh_info over a relation
  whose consumer app databag is exactly `databag` (any keys), re-dumped ("error" if it
  rejects it).
- "cmr_send": {"app", "model"} -> the `cmr_data` value the requirer writes.
- "provider_write": {"labels": [[k, v], ...]} -> the provider app databag.
- "consumer_read": {"databag": {k: v}} -> what ServiceMeshConsumer.labels()/mesh_type() give
  ("error" when Python rejects the databag).

Used by crates/service-mesh/tests/consumer_differential.rs.
"""

import json
import logging
import sys
import types
import warnings

import pydantic
from charmlibs.interfaces.service_mesh import (
    AppPolicy,
    CMRData,
    Endpoint,
    MeshType,
    Policy,
    ServiceMeshConsumer,
    ServiceMeshProvider,
    UnitPolicy,
    build_mesh_policies,
    get_data_from_cmr_relation,
)

logging.disable(logging.CRITICAL)
warnings.simplefilter("ignore", DeprecationWarning)


class App:
    """Stands in for ops.Application: hashable, with a name."""

    def __init__(self, name):
        self.name = name


class Rel:
    """Stands in for ops.Relation: what build_mesh_policies/get_data_from_cmr_relation use."""

    def __init__(self, endpoint, app, remote_data=None):
        self.name = endpoint
        self.app = App(app)
        self.data = {self.app: remote_data or {}}


def declared(p):
    if p["type"] == "unit":
        return UnitPolicy(relation=p["relation"], ports=p["ports"])
    cls = AppPolicy if p["type"] == "app" else Policy
    return cls(
        relation=p["relation"],
        endpoints=[Endpoint(**e) for e in p["endpoints"]],
        service=p["service"],
    )


def build(req, cmr_entries):
    mapping = {}
    for endpoint, app in req["relations"]:
        mapping.setdefault(endpoint, []).append(Rel(endpoint, app))
    cmr_rels = [
        Rel("provide-cmr-mesh", app, {} if data is None else {"cmr_data": data})
        for app, data in cmr_entries
    ]
    policies = [declared(p) for p in req["policies"]]
    relation_mapping = {p["relation"]: mapping.get(p["relation"], []) for p in req["policies"]}
    mesh = build_mesh_policies(
        relation_mapping=relation_mapping,
        target_app_name=req["target_app"],
        target_namespace=req["target_namespace"],
        policies=policies,
        cmr_application_data=get_data_from_cmr_relation(cmr_rels),
    )
    return json.dumps([p.model_dump() for p in mesh])


def is_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def handle(req):
    kind = req["kind"]
    if kind == "build":
        try:
            return {"policies": build(req, req["cmr"]), "crashed": False}
        except json.JSONDecodeError:
            kept = [(a, d) for a, d in req["cmr"] if d is None or is_json(d)]
            return {"policies": build(req, kept), "crashed": True}
    if kind == "provider_parse":
        rel = Rel("service-mesh", "consumer", {"policies": req["policies"]})
        fake = types.SimpleNamespace(
            _charm=types.SimpleNamespace(model=types.SimpleNamespace(relations={"service-mesh": [rel]})),
            _relation_name="service-mesh",
        )
        try:
            infos = ServiceMeshProvider.mesh_info(fake)
        except (ValueError, pydantic.ValidationError) as e:
            return {"error": type(e).__name__}
        return {"policies": json.dumps([p.model_dump() for p in infos])}
    if kind == "provider_parse_bag":
        rel = Rel("service-mesh", "consumer", dict(req["databag"]))
        fake = types.SimpleNamespace(
            _charm=types.SimpleNamespace(model=types.SimpleNamespace(relations={"service-mesh": [rel]})),
            _relation_name="service-mesh",
        )
        try:
            infos = ServiceMeshProvider.mesh_info(fake)
        except (ValueError, pydantic.ValidationError) as e:
            return {"error": type(e).__name__}
        return {"policies": json.dumps([p.model_dump() for p in infos])}
    if kind == "cmr_send":
        return {"cmr_data": json.dumps(CMRData(app_name=req["app"], juju_model_name=req["model"]).model_dump())}
    if kind == "provider_write":
        app = App("beacon")
        rel = types.SimpleNamespace(data={app: {}})
        fake = types.SimpleNamespace(
            _charm=types.SimpleNamespace(
                unit=types.SimpleNamespace(is_leader=lambda: True),
                app=app,
                model=types.SimpleNamespace(relations={"service-mesh": [rel]}),
            ),
            _relation_name="service-mesh",
            _labels=dict(req["labels"]),
            _mesh_type=MeshType.istio,
        )
        ServiceMeshProvider.update_relations(fake)
        return {"databag": rel.data[app]}
    if kind == "consumer_read":
        rel = Rel("service-mesh", "beacon", req["databag"])
        fake = types.SimpleNamespace(_relation=rel)
        try:
            data = ServiceMeshConsumer._get_app_data(fake)
        except (ValueError, pydantic.ValidationError) as e:
            return {"error": type(e).__name__}
        if data is None:
            return {"labels": [], "mesh_type": None}
        return {"labels": list(data.labels.items()), "mesh_type": data.mesh_type.value}
    raise ValueError(f"unknown kind {kind}")


def main():
    for line in sys.stdin:
        req = json.loads(line)
        out = handle(req)
        out["id"] = req["id"]
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

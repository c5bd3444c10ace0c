#!/usr/bin/env python3
"""Differential-test oracle: the real Python service_mesh code, driven over JSON lines.

Reads one JSON request per stdin line and writes one JSON answer per line, so a whole batch of
cases runs in a single interpreter. Each request has an "id" and a "kind":

- "policies": {"databag", "beacon_app", "beacon_model"} — what the beacon does with a consumer's
  `policies` value (ServiceMeshProvider.mesh_info, element by element, then the istio builder
  and the name function), plus the value a consumer would write back for the valid elements.
- "label": {"model", "app", "prefix", "suffix", "separator", "max_length"} — charm_kubernetes_label.
- "cmr": {"text"} — get_data_from_cmr_relation's parse of one `cmr_data` value.
- "provider_read": {"databag": {k: v}} — the consumer's parse of the provider app databag.
- "provider_write": {"labels": [[k, v], ...]} — the provider's databag values.
- "repr": {"text"} — repr(str) and json.dumps(str).
- "json": {"text"} — json.dumps(json.loads(text)).

Used by crates/service-mesh/tests/differential.rs.
"""

import json
import logging
import sys

import pydantic
from canonical_service_mesh.utils import charm_kubernetes_label
from canonical_service_mesh.utils.istio._policy_builder import (
    _generate_network_policy_name,
    build_policy_resources_istio,
)
from charmlibs.interfaces.service_mesh import (
    CMRData,
    MeshPolicy,
    MeshType,
    ServiceMeshProviderAppData,
)

# The builder logs an error for refused unit policies; keep stdout/stderr quiet.
logging.disable(logging.CRITICAL)


def first_error(e: pydantic.ValidationError) -> dict:
    err = e.errors()[0]
    out = {"type": err["type"], "loc": ".".join(str(p) for p in err["loc"])}
    if err["type"] == "value_error":
        out["msg"] = err["msg"].removeprefix("Value error, ")
    return out


def policies_case(req: dict) -> dict:
    try:
        data = json.loads(req["databag"])
    except (ValueError, RecursionError):
        return {"databag_error": "invalid_json"}
    if not isinstance(data, list):
        return {"databag_error": "not_list"}
    elements = []
    valid = []
    for item in data:
        try:
            policy = MeshPolicy.model_validate(item)
        except pydantic.ValidationError as e:
            elements.append({"error": first_error(e)})
            continue
        valid.append(policy)
        [resource] = build_policy_resources_istio(req["beacon_app"], req["beacon_model"], [policy])
        body = None
        if resource is not None:
            body = json.dumps(
                {
                    "apiVersion": "security.istio.io/v1",
                    "kind": "AuthorizationPolicy",
                    **resource.to_dict(),
                }
            )
        elements.append(
            {
                "str": str(policy),
                "name": _generate_network_policy_name(
                    req["beacon_app"], req["beacon_model"], policy
                ),
                "body": body,
            }
        )
    return {
        "elements": elements,
        "redump": json.dumps([p.model_dump() for p in valid]),
    }


def label_case(req: dict) -> dict:
    try:
        return {
            "label": charm_kubernetes_label(
                model_name=req["model"],
                app_name=req["app"],
                prefix=req["prefix"],
                suffix=req["suffix"],
                max_length=req["max_length"],
                separator=req["separator"],
            )
        }
    except ValueError as e:
        return {"error": str(e)}


def cmr_case(req: dict) -> dict:
    try:
        raw = json.loads(req["text"])
    except (ValueError, RecursionError):
        return {"error": "invalid_json"}
    try:
        data = CMRData.model_validate(raw)
    except pydantic.ValidationError as e:
        return {"error": "invalid", "first": first_error(e)}
    return {"json": json.dumps(data.model_dump())}


def provider_read_case(req: dict) -> dict:
    raw = req["databag"]
    if len(raw) == 0:
        return {"none": True}
    try:
        loaded = {k: json.loads(v) for k, v in raw.items()}
    except (ValueError, RecursionError):
        return {"error": "invalid_json"}
    try:
        data = ServiceMeshProviderAppData.model_validate(loaded)
    except pydantic.ValidationError as e:
        return {"error": "invalid", "first": first_error(e)}
    return {"labels": list(data.labels.items()), "mesh_type": data.mesh_type.value}


def provider_write_case(req: dict) -> dict:
    data = ServiceMeshProviderAppData(
        labels=dict(req["labels"]), mesh_type=MeshType.istio
    ).model_dump(mode="json", by_alias=True, exclude_defaults=True, round_trip=True)
    return {"databag": [[k, json.dumps(v)] for k, v in data.items()]}


def repr_case(req: dict) -> dict:
    return {"repr": repr(req["text"]), "json": json.dumps(req["text"])}


def json_case(req: dict) -> dict:
    try:
        return {"json": json.dumps(json.loads(req["text"]))}
    except (ValueError, RecursionError):
        return {"error": "invalid_json"}


HANDLERS = {
    "policies": policies_case,
    "label": label_case,
    "cmr": cmr_case,
    "provider_read": provider_read_case,
    "provider_write": provider_write_case,
    "repr": repr_case,
    "json": json_case,
}


def main() -> None:
    for line in sys.stdin:
        req = json.loads(line)
        answer = HANDLERS[req["kind"]](req)
        answer["id"] = req["id"]
        sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""ops 3.9's `JujuContext.from_environ` on environments given as JSON lines on stdin.

Driven by tests/ops_context.rs. For each environment prints one JSON line: either
{"error": <the variable ops names as missing>} or the fields both implementations share.
"""

import json
import sys

from ops.jujucontext import JujuContext

PREFIX = "Missing required environment variable: "

for line in sys.stdin:
    env = json.loads(line)
    try:
        ctx = JujuContext.from_environ(env)
    except ValueError as e:
        message = str(e)
        assert message.startswith(PREFIX), message
        print(json.dumps({"error": message[len(PREFIX):]}))
        continue
    print(
        json.dumps(
            {
                "relation_name": ctx.relation_name,
                "relation_id": ctx.relation_id,
                "remote_app": ctx.remote_app_name,
                "remote_unit": ctx.remote_unit_name,
                "departing_unit": ctx.relation_departing_unit_name,
                "action_name": ctx.action_name,
                "action_uuid": ctx.action_uuid,
                "workload_name": ctx.workload_name,
                "notice_id": ctx.notice_id,
                "notice_type": ctx.notice_type,
                "notice_key": ctx.notice_key,
                "pebble_check_name": ctx.pebble_check_name,
                "secret_id": ctx.secret_id,
                "secret_label": ctx.secret_label,
                "secret_revision": ctx.secret_revision,
                "storage": [ctx.storage_name, ctx.storage_index] if ctx.storage_name else None,
                "machine_id": ctx.machine_id,
                "availability_zone": ctx.availability_zone,
                "principal_unit": ctx.principal_unit,
                "model_name": ctx.model_name,
                "model_uuid": ctx.model_uuid,
                "unit_name": ctx.unit_name,
                "version": str(ctx.version),
                "debug": ctx.debug,
                "debug_at": sorted(ctx.debug_at),
            }
        )
    )

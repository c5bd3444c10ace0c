"""Record the argv and stdin that ops 3.9's `ops.hookcmds` sends for a fixed list of calls.

Driven by tests/ops_argv.rs: prints one JSON object {label: {"argv": [...], "stdin": ...}}
plus "log_split" (ops' own juju-log splitting). The tools are not run: `run` is replaced by
a recorder that answers with canned JSON.
"""

import json

import ops.hookcmds._action as action
import ops.hookcmds._other as other
import ops.hookcmds._port as port
import ops.hookcmds._relation as relation
import ops.hookcmds._state as state
import ops.hookcmds._status as status
from ops.model import _ModelBackend

CANNED = {
    "relation-ids": '["db:7"]',
    "relation-list": '["pg/0"]',
    "relation-get": "{}",
    "relation-model-get": '{"uuid": "x"}',
    "config-get": "{}",
    "is-leader": "true",
    "status-get": '{"status": "active", "message": "", "status-data": {}}',
    "goal-state": '{"units": {}, "relations": {}}',
    "network-get": '{"bind-addresses": [], "egress-subnets": [], "ingress-addresses": []}',
    "state-get": "{}",
    "action-get": "{}",
    "opened-ports": '["8080/tcp"]',
}

calls = []


def fake_run(*args, input=None, redacted_cmd=None):
    calls.append({"argv": list(args), "stdin": input})
    tool = args[0]
    if tool == "status-get" and "--application=true" in args:
        return '{"application-status": {"status": "active", "message": "", "status-data": {}, "units": {}}}'
    if tool == "relation-list" and "--app" in args:
        return '"pg"'
    return CANNED.get(tool, "")


for module in (action, other, port, relation, state, status):
    module.run = fake_run

out = {}


def record(label, fn):
    calls.clear()
    fn()
    out[label] = calls[-1]


record("relation_ids", lambda: relation.relation_ids("service-mesh"))
record("relation_list", lambda: relation.relation_list(7, endpoint="db"))
record("relation_list_app", lambda: relation.relation_list(7, endpoint="db", app=True))
record("relation_get_unit", lambda: relation.relation_get(7, endpoint="db", unit="pg/0"))
record("relation_get_app", lambda: relation.relation_get(7, endpoint="db", unit="pg", app=True))
record("relation_get_key", lambda: relation.relation_get(7, endpoint="db", key="host", unit="pg/0"))
record(
    "relation_get_app_key",
    lambda: relation.relation_get(7, endpoint="db", key="host", unit="pg", app=True),
)
record("relation_set_app", lambda: relation.relation_set({"a": "1", "b": ""}, 7, endpoint="db", app=True))
record("relation_set_unit", lambda: relation.relation_set({"k": "v"}, 7, endpoint="db"))
record("relation_model_get", lambda: relation.relation_model_get(7, endpoint="db"))
record("config_get", lambda: other.config_get())
record("config_get_key", lambda: other.config_get("port"))
record("is_leader", lambda: other.is_leader())
# ops' model backend passes message='' by default.
record("status_set_unit", lambda: status.status_set("active", "", app=False))
record("status_set_app", lambda: status.status_set("blocked", "-x needs care", app=True))
record("status_get_unit", lambda: status.status_get(app=False))
record("status_get_app", lambda: status.status_get(app=True))
record("application_version_set", lambda: other.app_version_set("-1.2"))
record("juju_log", lambda: other.juju_log("-hi", level="WARNING"))
record("action_get", lambda: action.action_get())
record("action_get_key", lambda: action.action_get("a.b"))
record(
    "action_set",
    lambda: action.action_set(
        {
            "a": {"b": 1, "c": True},
            "l": [1, "x's", "\u200b\xa0", 1e16, 1e-05, 0.5],
            "n": None,
            "s": "t",
        }
    ),
)
record("action_log", lambda: action.action_log("half way"))
record("action_fail", lambda: action.action_fail("why"))
record("action_fail_none", lambda: action.action_fail(None))
record("goal_state", lambda: other.goal_state())
record("network_get_rel", lambda: other.network_get("db", relation_id=7))
record("network_get", lambda: other.network_get("juju-info"))
record("state_get", lambda: state.state_get(None))
record("state_get_key", lambda: state.state_get("k"))
record("state_set", lambda: state.state_set({"k": "v"}))
record("state_delete", lambda: state.state_delete("k"))
record("opened_ports", lambda: port.opened_ports())
record("open_port", lambda: port.open_port("tcp", 9000))
record("open_port_icmp", lambda: port.open_port("icmp"))
record("close_port_range", lambda: port.close_port("udp", 1000, to_port=2000))

out["log_split"] = list(_ModelBackend.log_split("abcdefghijk", max_len=4)) + list(
    _ModelBackend.log_split("é" * 9, max_len=3)
)
print(json.dumps(out))

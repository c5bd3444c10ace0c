"""Calls ops.hookcmds (ops' own argv and output parsing) against the hook tools on PATH and
records each result, or each hookcmds.Error's exit code and stderr, as JSON."""

import dataclasses
import datetime
import json
import os
import pathlib

from ops import hookcmds as h

EVENT = os.environ['JUJU_DISPATCH_PATH'].split('/')[-1]
RESULTS: dict = {}


def plain(value):
    """Makes hookcmds' dataclasses and other values JSON-friendly."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime.datetime, pathlib.Path)) or hasattr(value, 'exploded'):
        return str(value)
    return value


def rec(name, fn, *args, **kwargs):
    try:
        RESULTS[name] = {'ok': plain(fn(*args, **kwargs))}
    except h.Error as e:
        RESULTS[name] = {'rc': e.returncode, 'stderr': e.stderr}


if EVENT == 'install':
    rec('is_leader', h.is_leader)
    rec('config', h.config_get)
    rec('config_port', h.config_get, 'port')
    rec('relation_ids', h.relation_ids, 'db')
    rec('relation_list', h.relation_list, 3)
    rec('relation_list_ep', h.relation_list, 3, endpoint='db')
    rec('relation_list_app', h.relation_list, 3, app=True)
    rec('relation_get_unit', h.relation_get, 3, unit='mydb/0')
    rec('relation_get_key', h.relation_get, 3, key='host', unit='mydb/0')
    rec('relation_get_remote_app', h.relation_get, 3, unit='mydb', app=True)
    rec('relation_set_app', h.relation_set, {'a': 'b', 'n': '1'}, 3, app=True)
    rec('relation_set_unit', h.relation_set, {'u': 'v'}, 3, endpoint='db')
    rec('relation_get_own_app', h.relation_get, 3, unit='probe', app=True)
    rec('relation_get_bad', h.relation_get, 99, unit='mydb/0')
    rec('relation_model', h.relation_model_get, 3)
    rec('status_set', h.status_set, 'active', 'probing')
    rec('status_set_app', h.status_set, 'waiting', '-dash message', app=True)
    rec('status_get', h.status_get)
    rec('status_get_app', h.status_get, app=True)
    rec('version', h.app_version_set, '1.2.3')
    rec('log', h.juju_log, '-starts with a dash', level='WARNING')
    rec('goal', h.goal_state)
    rec('network', h.network_get, 'metrics')
    rec('network_rel', h.network_get, 'db', relation_id=3)
    rec('network_bad', h.network_get, 'nosuch')
    rec('state_set', h.state_set, {'k': 'v'})
    rec('state_get_same_hook', h.state_get, None)
    rec('open_port', h.open_port, 'tcp', 8080)
    rec('open_range', h.open_port, 'udp', 1000, to_port=2000)
    rec('opened_same_hook', h.opened_ports)
    rec('action_get_outside', h.action_get)
elif EVENT == 'start':
    rec('is_leader', h.is_leader)
    rec('state_get', h.state_get, None)
    rec('state_get_key', h.state_get, 'k')
    rec('opened', h.opened_ports)
    rec('opened_ep', h.opened_ports, endpoints=True)
    rec('close_port', h.close_port, 'tcp', 8080)
    rec('relation_get_own_app', h.relation_get, 3, unit='probe', app=True)
    rec('relation_set_app', h.relation_set, {'x': 'y'}, 3, app=True)
    rec('status_set_app', h.status_set, 'active', app=True)
    rec('peer_app', h.relation_get, 1, unit='probe', app=True)
elif EVENT == 'db-relation-changed':
    rec('relation_get_implicit', h.relation_get)
    rec('relation_get_app_implicit', h.relation_get, app=True)
    rec('relation_list_implicit', h.relation_list)
elif EVENT == 'probe':
    rec('action_get', h.action_get)
    rec('action_get_key', h.action_get, 'target')
    rec('action_set', h.action_set, {'out': {'nested': 'deep'}, 'top': 'x'})
    rec('action_set_reserved', h.action_set, {'stdout': 'x'})
    rec('action_log', h.action_log, 'working')
    rec('action_fail', h.action_fail, 'gave up')

# The simulator runs a copy of the charm; the test says where results go.
out = pathlib.Path((pathlib.Path(os.environ['JUJU_CHARM_DIR']) / 'results_dir').read_text())
out.mkdir(exist_ok=True)
(out / f'{EVENT}.json').write_text(json.dumps(RESULTS, indent=1, sort_keys=True))

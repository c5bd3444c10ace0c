"""Differential test: the same ops charm, the same states, run (a) by charm-sim through its
real dispatch and hook tools and (b) by ops' own testing framework (ops.testing / Scenario).
Databags, statuses, charm log lines, action results and the Pebble plan must agree step by
step. Where Juju and ops.testing legitimately differ, the difference is asserted explicitly."""

import dataclasses
import re
import sys

import pytest
import yaml
from conftest import HERE, make_charm, run_sim
from ops import testing

CHARM_SRC = HERE / 'charm'
sys.path.insert(0, str(CHARM_SRC / 'src'))
from charm import FidelityCharm  # noqa: E402

META = yaml.safe_load((CHARM_SRC / 'metadata.yaml').read_text())
CONFIG = yaml.safe_load((CHARM_SRC / 'config.yaml').read_text())
ACTIONS = yaml.safe_load((CHARM_SRC / 'actions.yaml').read_text())
MODEL = {'name': 'prod', 'uuid': '7b0e1c9e-0000-4000-8000-000000000001'}

DB_UNITS = {'mydb/0': {'host': 'h0'}, 'mydb/1': {'host': 'h1'}}
PEER_UNITS = {'fidelity/1': {'x': '1'}}

# (kind, name, args) — one list drives both runners.
STEPS = [
    ('hook', 'install', {}),
    ('hook', 'config-changed', {}),
    ('hook', 'db-relation-changed', {'remote_unit': 'mydb/0'}),
    ('update', 'relation', {'remote_app_data': {'policies': '["a", "b"]'}}),
    ('hook', 'db-relation-changed', {}),
    ('hook', 'peers-relation-changed', {'remote_unit': 'fidelity/1'}),
    ('update', 'config', {'greeting': 'hi', 'port': 9000}),
    ('hook', 'config-changed', {}),
    ('hook', 'web-pebble-ready', {}),
    ('update', 'config', {'fail-db': True}),
    ('hook', 'db-relation-changed', {'remote_unit': 'mydb/1'}),
    ('update', 'config', {'fail-db': None}),
    ('action', 'report', {'verbose': True}),
    ('action', 'report', {'fail': True}),
    ('hook', 'db-relation-departed', {'departing_unit': 'mydb/1'}),
    ('hook', 'db-relation-broken', {}),
]
APP_CHANGE_STEP = 3  # index among hook/action steps of the app-data relation-changed


def sim_scenario(leader: bool) -> dict:
    steps = []
    for kind, name, args in STEPS:
        if kind == 'hook':
            rel = {'relation': 3} if name.startswith('db-') else {}
            rel = {'relation': 1} if name.startswith('peers-') else rel
            steps.append({'hook': name, **rel, **args})
        elif kind == 'update' and name == 'relation':
            steps.append({'update': {'relation': 3, **args}})
        elif kind == 'update':
            steps.append({'update': {'config': args}})
        else:
            steps.append({'action': name, 'params': args})
    return {
        'model': MODEL,
        'unit': 'fidelity/0',
        'leader': leader,
        'relations': [
            {'id': 3, 'endpoint': 'db', 'remote_app': 'mydb', 'remote_units': list(DB_UNITS),
             'remote_units_data': DB_UNITS, 'remote_app_data': {'policies': '[]'}},
            {'id': 1, 'endpoint': 'peers', 'remote_units': list(PEER_UNITS),
             'remote_units_data': PEER_UNITS},
        ],
        'crds': 'none',
        'steps': steps,
    }


def unit_id(name: str) -> int:
    return int(name.split('/')[1])


def status_pair(status) -> tuple[str, str]:
    if status is None:  # charm-sim: not set yet
        return ('unknown', '')
    if isinstance(status, dict):
        return (status['status'], status['message'])
    return (status.name, status.message)


PREFIX = re.compile(r'^(db|peers):\d+: ')


def charm_logs(lines, relation_hook: bool) -> list[tuple[str, str]]:
    """The charm's own log lines; charm-sim's carry Juju's `<endpoint>:<id>: ` prefix in
    relation hooks, which is checked and removed."""
    out = []
    for level, message in lines:
        if relation_hook and PREFIX.match(message):
            message = PREFIX.sub('', message, count=1)
        if 'fidelity: ' in message:
            out.append((level, message))
    return out


def run_ops_testing(leader: bool):
    ctx = testing.Context(FidelityCharm, meta=META, config=CONFIG, actions=ACTIONS,
                          app_name='fidelity', unit_id=0, juju_version='3.6.4')
    db = testing.Relation('db', id=3, remote_app_name='mydb',
                          remote_app_data={'policies': '[]'},
                          remote_units_data={unit_id(u): d for u, d in DB_UNITS.items()})
    peers = testing.PeerRelation('peers', id=1,
                                 peers_data={unit_id(u): d for u, d in PEER_UNITS.items()})
    state = testing.State(leader=leader, relations={db, peers},
                          containers={testing.Container('web', can_connect=True)},
                          model=testing.Model(name=MODEL['name'], uuid=MODEL['uuid']))
    results = []
    for kind, name, args in STEPS:
        if kind == 'update' and name == 'relation':
            rel = dataclasses.replace(state.get_relation(3), **args)
            others = {r for r in state.relations if r.id != 3}
            state = dataclasses.replace(state, relations=others | {rel})
            continue
        if kind == 'update':
            config = dict(state.config)
            for k, v in args.items():
                if v is None:
                    config.pop(k, None)
                else:
                    config[k] = v
            state = dataclasses.replace(state, config=config)
            continue
        if kind == 'action':
            # Juju fills in declared defaults (action-get shows them); ops.testing does not.
            defaults = {k: v['default'] for k, v in ACTIONS[name]['params'].items()}
            event = ctx.on.action(name, params={**defaults, **args})
        elif name.startswith('db-') or name.startswith('peers-'):
            rel = state.get_relation(3 if name.startswith('db-') else 1)
            kw = {}
            if 'remote_unit' in args:
                kw['remote_unit'] = unit_id(args['remote_unit'])
            if 'departing_unit' in args:
                kw['remote_unit'] = kw['departing_unit'] = unit_id(args['departing_unit'])
            factory = getattr(ctx.on, 'relation_' + name.rsplit('-', 1)[1])
            event = factory(rel, **kw)
        elif name == 'web-pebble-ready':
            event = ctx.on.pebble_ready(state.get_container('web'))
        else:
            event = getattr(ctx.on, name.replace('-', '_'))()
        n_logs = len(ctx.juju_log)
        failed = None
        ok = True
        try:
            state = ctx.run(event, state)
        except testing.ActionFailed as e:
            failed = e.message
            state = e.state
        except testing.errors.UncaughtCharmError:
            ok = False  # the hook raised: Juju discards its changes; keep the old state
        results.append({
            'ok': ok,
            'unit_status': status_pair(state.unit_status),
            'app_status': status_pair(state.app_status),
            'logs': [(line.level, line.message) for line in ctx.juju_log[n_logs:]],
            'bags': {r.id: (dict(r.local_app_data), dict(r.local_unit_data))
                     for r in state.relations},
            'action': (dict(ctx.action_results or {}), failed) if kind == 'action' else None,
        })
    return results, state


@pytest.mark.parametrize('leader', [True, False], ids=['leader', 'non-leader'])
def test_charm_sim_matches_ops_testing(leader, tmp_path):
    charm = make_charm(tmp_path, CHARM_SRC, 'src/charm.py')
    sim = run_sim(charm, sim_scenario(leader), tmp_path)
    expected, final_state = run_ops_testing(leader)
    hooks = [s for s in STEPS if s[0] != 'update']
    assert len(sim['steps']) == len(expected) == len(hooks)

    for i, (got, want, (kind, name, _)) in enumerate(zip(sim['steps'], expected, hooks)):
        where = f'step {i} ({name})'
        assert got['step'] == name, where
        assert (got['exit_code'] == 0) == want['ok'], f"{where}: {got['stderr']}"
        relation_hook = '-relation-' in name
        got_logs = charm_logs([(l['level'], l['message']) for l in got['logs']], relation_hook)
        want_logs = charm_logs(want['logs'], False)
        if i == APP_CHANGE_STEP:
            # Juju runs an app-data relation-changed with an empty JUJU_REMOTE_UNIT; ops.testing
            # cannot express that and picks the first remote unit (it warns about it).
            want_logs = [(lv, m.replace('unit=mydb/0', 'unit=None')) for lv, m in want_logs]
        assert got_logs == want_logs, where
        if relation_hook:
            charm_lines = [l['message'] for l in got['logs'] if 'fidelity: ' in l['message']]
            assert all(PREFIX.match(m) for m in charm_lines), where
        got_bags = {r['id']: (r['local_app_data'], r['local_unit_data']) for r in got['relations']}
        for rid, bags in got_bags.items():
            assert bags == want['bags'][rid], f'{where}: relation {rid}'
        if name.endswith('-relation-broken'):
            # Juju drops the relation after -broken; ops.testing keeps it in the output state.
            assert 3 not in got_bags and 3 in want['bags']
        else:
            assert set(got_bags) == set(want['bags']), where
        if want['ok']:
            assert status_pair(got['unit_status']) == want['unit_status'], where
            assert status_pair(got['app_status']) == want['app_status'], where
        else:
            # Juju keeps a status set before the failure (status-set is immediate);
            # ops.testing raises and returns no state at all.
            assert status_pair(got['unit_status']) == ('blocked', 'about to fail'), where
        if kind == 'action':
            results, failed = want['action']
            assert (got['action']['results'], got['action']['failed']) == (results, failed), where
            assert got['action']['logs'] == ['reporting'], where
        else:
            assert got['action'] is None, where

    assert i == len(hooks) - 1
    assert sim['pebble']['web']['plan'] == final_state.get_container('web').plan.to_dict()
    assert sim['pebble']['web']['plan']['services']['web']['command'] == 'serve --port 9000'

"""ops.hookcmds (the argv shapes and output parsing ops itself ships) against charm-sim's hook
tools, inside real hooks."""

import json

from conftest import HERE, make_charm, run_sim

SCENARIO = {
    'model': {'name': 'prod', 'uuid': '7b0e1c9e-0000-4000-8000-000000000001'},
    'unit': 'probe/0',
    'leader': True,
    'planned_units': 2,
    'config': {'name': 'x'},
    'relations': [
        {'id': 3, 'endpoint': 'db', 'remote_app': 'mydb', 'remote_units': ['mydb/0'],
         'remote_units_data': {'mydb/0': {'host': 'h0'}}, 'remote_app_data': {'p': 'q'}},
        {'id': 1, 'endpoint': 'peers', 'remote_units': ['probe/1'],
         'local_app_data': {'shared': 'yes'}},
    ],
    'crds': 'none',
    'steps': [
        'install',
        {'update': {'leader': False}},
        'start',
        {'hook': 'db-relation-changed', 'relation': 3, 'remote_unit': 'mydb/0'},
        {'action': 'probe'},
    ],
}


def ok(results, name):
    assert 'ok' in results[name], f'{name}: {results[name]}'
    return results[name]['ok']


def err(results, name):
    assert 'rc' in results[name], f'{name}: {results[name]}'
    return results[name]['rc'], results[name]['stderr']


def test_hookcmds_against_charm_sim(tmp_path):
    charm = make_charm(tmp_path, HERE / 'hookcmds_charm', 'probe.py')
    (charm / 'results_dir').write_text(str(tmp_path / 'results'))
    out = run_sim(charm, SCENARIO, tmp_path)
    assert [s['exit_code'] for s in out['steps']] == [0, 0, 0, 0]
    res = {p.stem: json.loads(p.read_text()) for p in (tmp_path / 'results').glob('*.json')}

    r = res['install']
    assert ok(r, 'is_leader') is True
    assert ok(r, 'config') == {'name': 'x', 'port': 8080, 'ratio': 1.5, 'verbose': True}
    assert ok(r, 'config_port') == 8080
    assert ok(r, 'relation_ids') == ['db:3']
    assert ok(r, 'relation_list') == ['mydb/0']
    assert ok(r, 'relation_list_ep') == ['mydb/0']
    assert ok(r, 'relation_list_app') == 'mydb'
    assert ok(r, 'relation_get_unit') == {'host': 'h0'}
    assert ok(r, 'relation_get_key') == 'h0'
    assert ok(r, 'relation_get_remote_app') == {'p': 'q'}
    assert ok(r, 'relation_set_app') is None
    assert ok(r, 'relation_get_own_app') == {'a': 'b', 'n': '1'}
    assert err(r, 'relation_get_bad') == (
        2, 'ERROR invalid value "99" for option -r: relation not found\n')
    assert ok(r, 'relation_model') == {'uuid': '7b0e1c9e-0000-4000-8000-000000000001'}
    status = ok(r, 'status_get')
    assert (status['status'], status['message']) == ('active', 'probing')
    app_status = ok(r, 'status_get_app')
    assert (app_status['status'], app_status['message']) == ('waiting', '-dash message')
    # Juju nests `units` inside `application-status` (jujuc status-get.go, and charm-sim's
    # raw output is checked byte for byte in crates/charm-sim/tests/tools.rs); ops.hookcmds
    # 3.9.0 looks for a top-level `units` key, so it always parses an empty dict.
    assert app_status['units'] == {}
    goal = ok(r, 'goal')
    assert sorted(goal['units']) == ['probe/0', 'probe/1']
    assert 'mydb/0' in goal['relations']['db']
    net = ok(r, 'network')
    assert net['ingress_addresses'] == ['192.0.2.0']
    assert net['bind_addresses'][0]['interface_name'] == 'eth0'
    assert ok(r, 'network_rel')['egress_subnets'] == ['192.0.2.0/24']
    assert err(r, 'network_bad') == (1, 'ERROR no network config found for binding "nosuch"\n')
    assert ok(r, 'state_get_same_hook') == {}
    assert ok(r, 'opened_same_hook') == []
    assert err(r, 'action_get_outside') == (1, 'ERROR not running an action\n')

    r = res['start']
    assert ok(r, 'is_leader') is False
    assert ok(r, 'state_get') == {'k': 'v'}
    assert ok(r, 'state_get_key') == 'v'
    ports = ok(r, 'opened')
    assert [(p['protocol'], p['port'], p['to_port']) for p in ports] == [
        ('tcp', 8080, None), ('udp', 1000, 2000)]
    assert [p['endpoints'] for p in ok(r, 'opened_ep')] == [['*'], ['*']]
    assert err(r, 'relation_get_own_app') == (1, 'ERROR permission denied\n')
    assert err(r, 'relation_set_app') == (1, 'ERROR cannot write relation settings\n')
    assert err(r, 'status_set_app') == (1, 'ERROR this unit is not the leader\n')
    assert ok(r, 'peer_app') == {'shared': 'yes'}

    r = res['db-relation-changed']
    assert ok(r, 'relation_get_implicit') == {'host': 'h0'}
    assert ok(r, 'relation_get_app_implicit') == {'p': 'q'}
    assert ok(r, 'relation_list_implicit') == ['mydb/0']

    r = res['probe']
    assert ok(r, 'action_get') == {'target': 's3'}
    assert ok(r, 'action_get_key') == 's3'
    assert err(r, 'action_set_reserved') == (2, 'ERROR cannot set reserved action key "stdout"\n')
    action = out['steps'][3]['action']
    assert action == {'results': {'out': {'nested': 'deep'}, 'top': 'x'},
                      'failed': 'gave up', 'logs': ['working']}

    install = out['steps'][0]
    assert {'level': 'WARNING', 'message': '-starts with a dash'} in install['logs']
    db = next(rel for rel in out['relations'] if rel['id'] == 3)
    assert db['local_app_data'] == {'a': 'b', 'n': '1'}
    assert db['local_unit_data']['u'] == 'v'

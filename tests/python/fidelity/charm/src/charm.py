#!/usr/bin/env python3
"""A small ops charm run both by charm-sim (through its real dispatch) and by ops.testing."""

import json
import logging
import os

import ops

logger = logging.getLogger(__name__)

# ops hardcodes Juju's /charm/containers/<name>/pebble.socket; charm-sim serves the sockets
# under $CHARM_CONTAINERS_ROOT, so relocate the path when running under it.
_ROOT = os.environ.get('CHARM_CONTAINERS_ROOT')
if _ROOT:
    _orig_get_pebble = ops.model._ModelBackend.get_pebble

    def _get_pebble(self, socket_path):
        return _orig_get_pebble(self, socket_path.replace('/charm/containers', _ROOT, 1))

    ops.model._ModelBackend.get_pebble = _get_pebble


class FidelityCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        observe = self.framework.observe
        observe(self.on.install, self._on_install)
        observe(self.on.config_changed, self._on_config_changed)
        observe(self.on.db_relation_changed, self._on_db_changed)
        observe(self.on.db_relation_departed, self._on_db_departed)
        observe(self.on.db_relation_broken, self._on_db_broken)
        observe(self.on.peers_relation_changed, self._on_peers_changed)
        observe(self.on.web_pebble_ready, self._on_web_ready)
        observe(self.on.report_action, self._on_report)

    def _on_install(self, _event):
        self.unit.status = ops.MaintenanceStatus('installing')
        logger.info('fidelity: install leader=%s', self.unit.is_leader())

    def _on_config_changed(self, _event):
        greeting = self.config['greeting']
        port = self.config['port']
        logger.info('fidelity: config greeting=%s port=%s debug=%s', greeting, port,
                    self.config['debug'])
        if self.unit.is_leader():
            self.app.status = ops.ActiveStatus(f'leader says {greeting}')
        self.unit.status = ops.ActiveStatus(f'port {port}')

    def _on_db_changed(self, event: ops.RelationChangedEvent):
        rel = event.relation
        remote = rel.data[rel.app]
        mine = rel.data[self.unit]
        mine['seen-policies'] = remote.get('policies', '')
        if event.unit is not None:
            mine['remote-host'] = rel.data[event.unit].get('host', '')
        mine['units'] = ','.join(sorted(u.name for u in rel.units))
        if self.unit.is_leader():
            policies = json.loads(remote.get('policies', '[]'))
            rel.data[self.app]['policies-count'] = str(len(policies))
            rel.data[self.app]['leader'] = self.unit.name
        else:
            try:
                rel.data[self.app]['leader'] = self.unit.name
            except ops.RelationDataError as e:
                logger.warning('fidelity: forbidden write refused: %s', type(e).__name__)
        logger.info('fidelity: db changed app=%s unit=%s', rel.app.name,
                    event.unit.name if event.unit else None)
        self.unit.status = ops.ActiveStatus('db ok')
        if self.config['fail-db']:
            self.unit.status = ops.BlockedStatus('about to fail')
            raise RuntimeError('fail-db is set')

    def _on_db_departed(self, event: ops.RelationDepartedEvent):
        departing = event.departing_unit.name if event.departing_unit else ''
        event.relation.data[self.unit]['departed'] = departing
        logger.info('fidelity: departed %s', departing)

    def _on_db_broken(self, _event):
        logger.info('fidelity: db broken')
        if self.unit.is_leader():
            self.app.status = ops.BlockedStatus('no db')
        self.unit.status = ops.WaitingStatus('waiting for db')

    def _on_peers_changed(self, event: ops.RelationChangedEvent):
        rel = event.relation
        rel.data[self.unit]['hello'] = self.unit.name
        if self.unit.is_leader():
            rel.data[self.app]['leader'] = self.unit.name
        else:
            logger.info('fidelity: peer leader is %s', rel.data[self.app].get('leader'))
        logger.info('fidelity: peers %s', ','.join(sorted(u.name for u in rel.units)))

    def _on_web_ready(self, event: ops.PebbleReadyEvent):
        layer = {
            'summary': 'web layer',
            'services': {
                'web': {
                    'override': 'replace',
                    'summary': 'web server',
                    'command': f"serve --port {self.config['port']}",
                    'startup': 'enabled',
                    'environment': {'GREETING': self.config['greeting']},
                }
            },
        }
        event.workload.add_layer('web', layer, combine=True)
        event.workload.replan()
        logger.info('fidelity: web planned')
        self.unit.status = ops.ActiveStatus('web ready')

    def _on_report(self, event: ops.ActionEvent):
        event.log('reporting')
        self.unit.status = ops.ActiveStatus('reported')
        if event.params['fail']:
            event.fail('asked to fail')
            return
        results = {'unit': self.unit.name, 'leader': str(self.unit.is_leader())}
        if event.params['verbose']:
            results['config'] = {'port': str(self.config['port'])}
        event.set_results(results)


if __name__ == '__main__':
    ops.main(FidelityCharm)

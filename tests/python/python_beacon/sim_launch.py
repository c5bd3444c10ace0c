"""Runs the unchanged src/charm.py as `__main__`, as `python3 ./src/charm.py` would.

The one thing it changes is where ops looks for Pebble: ops hard-codes Juju's mount point
`/charm/containers/<name>/pebble.socket`, while charm-sim serves each container's socket
under `$CHARM_CONTAINERS_ROOT/<name>/pebble.socket` (the same relocation as
tests/python/fidelity/charm). Not upstream code; see SOURCES.md.
"""

import os
import runpy
import sys

import ops.model

_ROOT = os.environ.get("CHARM_CONTAINERS_ROOT")
if _ROOT:
    _get_pebble = ops.model._ModelBackend.get_pebble

    def _relocated(self, socket_path):
        return _get_pebble(self, socket_path.replace("/charm/containers", _ROOT, 1))

    ops.model._ModelBackend.get_pebble = _relocated

_CHARM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src", "charm.py")
sys.argv[0] = _CHARM
sys.path[0] = os.path.dirname(_CHARM)  # as when the script itself is run
runpy.run_path(_CHARM, run_name="__main__")

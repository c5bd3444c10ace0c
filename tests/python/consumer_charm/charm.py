#!/usr/bin/env python3
"""The contract's worked consumer (beacon-contract.md §2.2) on the real library.

The library writes `policies` on service-mesh-relation-created (and on the other events it
observes). On service-mesh-relation-changed it labels the app's StatefulSet and Service
(auto_join) and this charm parses the beacon's data again through `labels()` and
`mesh_type()`, so a databag the library cannot parse fails the hook.
"""

import json

import ops
from charmlibs.interfaces.service_mesh import (
    AppPolicy,
    Endpoint,
    Method,
    ServiceMeshConsumer,
    UnitPolicy,
)


class ConsumerCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.mesh = ServiceMeshConsumer(
            self,
            policies=[
                AppPolicy(
                    relation="database",
                    endpoints=[
                        Endpoint(
                            ports=[5432, 8080],
                            methods=[Method.get, Method.post],
                            paths=["/api", "/health"],
                        )
                    ],
                ),
                UnitPolicy(relation="metrics-endpoint", ports=[9090]),
            ],
        )
        framework.observe(self.on["service-mesh"].relation_changed, self._on_mesh_changed)

    def _on_mesh_changed(self, _event: ops.RelationChangedEvent):
        mesh_type = self.mesh.mesh_type()
        labels = json.dumps(self.mesh.labels(), sort_keys=True)
        kind = mesh_type.value if mesh_type is not None else None
        self.unit.status = ops.ActiveStatus(f"mesh_type={kind} labels={labels}")


if __name__ == "__main__":
    ops.main(ConsumerCharm)

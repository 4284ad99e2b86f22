"""
NodeRestriction admission: a kubelet may change only its own Node and only
pods bound to it, and may create only mirror pods.
"""

from __future__ import annotations

from ..auth.node import node_name
from ..machinery.errors import StatusError
from ..registry.attributes import CREATE, DELETE, UPDATE, Attributes

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def _forbidden(resource: str, name: str, message: str) -> StatusError:
    return StatusError(403, "Forbidden", f'{resource} "{name}" is forbidden: {message}',
                       {"name": name, "kind": resource})


class NodeRestriction:
    async def admit(self, attributes: Attributes) -> None:
        node = node_name(attributes.user_info)
        info = attributes.resource
        if node is None or info.group != "" or attributes.operation not in (CREATE, UPDATE, DELETE):
            return
        operation, obj, old = attributes.operation, attributes.object, attributes.old_object
        name = attributes.name
        if info.resource == "nodes":
            if name != node:
                raise _forbidden("nodes", name, f'node "{node}" is not allowed to modify node "{name}"')
        elif info.resource == "pods":
            pod = old if operation == DELETE else obj
            bound = (pod.get("spec") or {}).get("nodeName")
            if operation == CREATE:
                annotations = (obj.get("metadata") or {}).get("annotations") or {}
                if MIRROR_ANNOTATION not in annotations:
                    raise _forbidden("pods", name, f"pod does not have \"{MIRROR_ANNOTATION}\" annotation, "
                                                   f"node \"{node}\" can only create mirror pods")
                if bound != node:
                    raise _forbidden("pods", name, f'node "{node}" can only create pods with spec.nodeName set '
                                                   f"to itself")
            elif bound != node:
                verb = "delete" if operation == DELETE else "update"
                raise _forbidden("pods", name, f'node "{node}" can only {verb} pods with spec.nodeName set to '
                                               f"itself")

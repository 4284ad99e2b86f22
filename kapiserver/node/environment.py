"""A container's environment as upstream's kubelet builds it (``makeEnvironmentVariables``).

The order of the rules:

1. ``envFrom`` sources in their order (ConfigMap ``data``, Secret ``data``), each key with the source's prefix;
   a key that is not a valid variable name is skipped; a missing source is an error unless it is optional.
2. ``env`` in its order, later entries replacing earlier ones: a non-empty ``value`` has its ``$(VAR)``
   references expanded from the variables declared so far, then the service variables; else ``valueFrom``
   is resolved (fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef; a missing ConfigMap, Secret or key
   is an error unless optional, when the variable is left out).
3. The service variables of every Service of the pod's namespace with a cluster IP (only when
   ``enableServiceLinks`` is not false) and of the master service ``kubernetes`` of ``default`` (always),
   where not already declared.

An error is a :class:`ContainerConfigError`: the container waits with reason ``CreateContainerConfigError``
and the error as message, as upstream's does, until its sources exist.

Everything here is pure: what the apiserver holds comes in a :class:`Sources`, read by the node agent.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Dict, List, Optional, Tuple

from ..machinery.quantity import parse_quantity

CONFIG_ERROR_REASON = "CreateContainerConfigError"
MASTER_NAMESPACE = "default"
MASTER_SERVICES = ("kubernetes",)
_VAR_REF = re.compile(r"\$\(([^)]*)\)|\$\$")
# upstream's IsEnvVarName: a C identifier extended by '.', '-' (no leading digit).
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class ContainerConfigError(Exception):
    """A container's configuration cannot be built yet: the message is upstream's (``configmap "x" not
    found``), for the container's ``waiting`` state with reason ``CreateContainerConfigError``."""

    reason = CONFIG_ERROR_REASON

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass
class Sources:
    """What a pod's environment and volumes read from the apiserver, as last read by the node agent.

    ``config_maps``/``secrets`` map a name to the object (None: it was looked for and does not exist; a name
    absent from the map was not looked for, which counts as missing too).  ``services`` are the Services of
    the pod's namespace and the master service.  ``master`` is where the ``kubernetes`` Service really leads
    (the apiserver's address and port), used in its variables in place of the cluster IP, which no proxy on
    this host routes.  ``allocatable`` is the Node's, the default for a resourceFieldRef without a limit."""

    config_maps: Dict[str, Optional[dict]] = field(default_factory=dict)
    secrets: Dict[str, Optional[dict]] = field(default_factory=dict)
    services: List[dict] = field(default_factory=list)
    master: Optional[Tuple[str, int]] = None
    allocatable: Dict[str, str] = field(default_factory=dict)

    def config_map(self, namespace: str, name: str, optional: bool) -> Optional[dict]:
        obj = self.config_maps.get(name)
        if obj is None and not optional:
            raise ContainerConfigError(f'configmap "{name}" not found')
        return obj

    def secret(self, namespace: str, name: str, optional: bool) -> Optional[dict]:
        obj = self.secrets.get(name)
        if obj is None and not optional:
            raise ContainerConfigError(f'secret "{name}" not found')
        return obj


def secret_bytes(secret: dict) -> Dict[str, bytes]:
    """A Secret's data, decoded (stringData is folded into data by the apiserver)."""
    import base64
    out = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value or "")
        except (ValueError, TypeError):
            out[key] = b""
    return out


def _text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


def expand(text: str, *mappings: Dict[str, str]) -> str:
    """``$(VAR)`` references expanded from the first mapping that has VAR; ``$$`` is a literal ``$``; an
    unknown reference stays as written (upstream's expansion.Expand)."""
    def one(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        for mapping in mappings:
            if name in mapping:
                return mapping[name]
        return match.group(0)
    return _VAR_REF.sub(one, text)


# -- the downward API --------------------------------------------------------------------------------
def format_map(values: Dict[str, str]) -> str:
    """Labels or annotations as the downward API gives them: sorted ``key="value"`` lines (Go's %q)."""
    return "\n".join(f"{key}={json.dumps(str(values[key]), ensure_ascii=False)}" for key in sorted(values))


def field_value(pod: dict, path: str, host_ips: List[str], pod_ips: List[str]) -> str:
    """A fieldRef's value (upstream's podFieldSelectorRuntimeValue and ExtractFieldPathAsString)."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": metadata.get("name", ""), "metadata.namespace": metadata.get("namespace", "default"),
        "metadata.uid": metadata.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": host_ips[0] if host_ips else "", "status.hostIPs": ",".join(host_ips),
        "status.podIP": pod_ips[0] if pod_ips else "", "status.podIPs": ",".join(pod_ips),
    }
    if path in simple:
        return simple[path] or ""
    if path in ("metadata.labels", "metadata.annotations"):
        return format_map(metadata.get(path.split(".")[1]) or {})
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
    if match:
        return str((metadata.get(match.group(1)) or {}).get(match.group(2), ""))
    raise ContainerConfigError(f"unsupported fieldPath: {path}")


def resource_value(ref: dict, container: dict, allocatable: Dict[str, str]) -> str:
    """A resourceFieldRef's value: the container's limit (the node's allocatable where none is set, as
    upstream's defaultPodLimitsForDownwardAPI) or request, divided by the divisor and rounded up."""
    resource = ref.get("resource", "")
    resources = container.get("resources") or {}
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage") and \
            not name.startswith("hugepages-"):
        raise ContainerConfigError(f"unsupported container resource : {resource}")
    values = resources.get(kind) or {}
    amount = parse_quantity(values.get(name)) if name in values else None
    if amount is None and kind == "limits":
        amount = parse_quantity(allocatable.get(name, "0"))
    amount = amount or Fraction(0)
    divisor = parse_quantity(ref.get("divisor") or "1") or Fraction(1)
    if name == "cpu":
        # upstream divides millicores, rounding the amount up to a millicore first.
        millis = math.ceil(amount * 1000)
        divisor_millis = max(math.ceil(divisor * 1000), 1)
        return str(math.ceil(Fraction(millis, divisor_millis)))
    return str(math.ceil(amount / divisor))


def _container(pod: dict, name: str) -> Optional[dict]:
    spec = pod.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []) + \
            (spec.get("ephemeralContainers") or []):
        if container.get("name") == name:
            return container
    return None


# -- service links ------------------------------------------------------------------------------------
def _env_name(name: str) -> str:
    return name.replace("-", "_").upper()


def service_variables(service: dict, master: Optional[Tuple[str, int]] = None) -> Dict[str, str]:
    """One Service's variables (upstream's envvars.FromServices): ``<SVC>_SERVICE_HOST``/``_SERVICE_PORT``
    (and ``_SERVICE_PORT_<NAME>`` per named port), and Docker's link variables.  ``master`` replaces the
    cluster IP and the first port's number by a reachable address (the master service here)."""
    spec = service.get("spec") or {}
    host = spec.get("clusterIP") or ""
    ports = spec.get("ports") or []
    if master is not None:
        host = master[0]
        ports = [dict(ports[0] if ports else {}, port=master[1])] + [dict(p) for p in ports[1:]]
    prefix = _env_name(service["metadata"]["name"])
    out = {f"{prefix}_SERVICE_HOST": host}
    if not ports:
        return out
    out[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
    for port in ports:
        if port.get("name"):
            out[f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port.get("port"))
    address = f"[{host}]" if ":" in host else host
    for index, port in enumerate(ports):
        protocol = (port.get("protocol") or "TCP")
        url = f"{protocol.lower()}://{address}:{port.get('port')}"
        if index == 0:
            out[f"{prefix}_PORT"] = url
        each = f"{prefix}_PORT_{port.get('port')}_{protocol.upper()}"
        out.update({each: url, f"{each}_PROTO": protocol.lower(), f"{each}_PORT": str(port.get("port")),
                    f"{each}_ADDR": host})
    return out


def _has_cluster_ip(service: dict) -> bool:
    ip = (service.get("spec") or {}).get("clusterIP")
    return bool(ip) and ip != "None"


def service_environment(namespace: str, enable_links: bool, sources: Sources) -> Dict[str, str]:
    """The service variables a pod of ``namespace`` gets (upstream's getServiceEnvVarMap): the master
    services of ``default`` always, the namespace's own Services when links are on (a Service of the pod's
    namespace with a master service's name wins)."""
    chosen: Dict[str, dict] = {}
    for service in sources.services:
        if not _has_cluster_ip(service):
            continue
        meta = service.get("metadata") or {}
        name = meta.get("name", "")
        if meta.get("namespace") == MASTER_NAMESPACE and name in MASTER_SERVICES:
            chosen.setdefault(name, service)
        elif meta.get("namespace") == namespace and enable_links:
            chosen[name] = service
    out: Dict[str, str] = {}
    for name, service in chosen.items():
        master = sources.master if service["metadata"].get("namespace") == MASTER_NAMESPACE and \
            name in MASTER_SERVICES else None
        out.update(service_variables(service, master))
    return out


def skipped_keys_message(kind: str, source: str, keys: List[str]) -> str:
    """The kubelet's InvalidEnvironmentVariableNames message for the keys of one envFrom source."""
    return (f"Keys [{', '.join(keys)}] from the EnvFrom {kind} {source} were skipped since they are considered "
            f"invalid environment variable names.")


# -- the whole environment ------------------------------------------------------------------------------
def _key_ref(source: dict, namespace: str, sources: "Sources") -> Optional[str]:
    """The value a configMapKeyRef or secretKeyRef names; None when an optional source or key is missing."""
    secret = source.get("configMapKeyRef") is None
    ref = source["secretKeyRef"] if secret else source["configMapKeyRef"]
    optional = bool(ref.get("optional"))
    obj = (sources.secret if secret else sources.config_map)(namespace, ref.get("name", ""), optional)
    if obj is None:
        return None
    data = secret_bytes(obj) if secret else obj.get("data") or {}
    if ref.get("key") not in data:
        if optional:
            return None
        raise ContainerConfigError(f"couldn't find key {ref.get('key')} in {'Secret' if secret else 'ConfigMap'} "
                                   f"{namespace}/{ref.get('name')}")
    return _text(data[ref["key"]]) if secret else data[ref["key"]]


def container_environment(pod: dict, container: dict, sources: Sources, base: Dict[str, str],
                          host_ips: List[str], pod_ips: List[str],
                          skipped: Optional[List[Tuple[str, str, List[str]]]] = None) -> Dict[str, str]:
    """The environment the container's process gets: ``base`` (PATH, HOSTNAME and what the node adds)
    under the variables the pod declares and its service variables.  Raises ContainerConfigError.

    ``skipped``, when given, gets one (source kind "configMap" or "secret", "namespace/name", sorted keys)
    for each envFrom source some of whose keys were left out as invalid names (what the kubelet reports in
    its InvalidEnvironmentVariableNames event: :func:`skipped_keys_message`)."""
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace", "default")
    spec = pod.get("spec") or {}
    services = service_environment(namespace, spec.get("enableServiceLinks") is not False, sources)
    declared: Dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        if source.get("configMapRef") is not None:
            ref, kind = source["configMapRef"], "configMap"
            obj = sources.config_map(namespace, ref.get("name", ""), bool(ref.get("optional")))
            data = dict((obj or {}).get("data") or {})
        elif source.get("secretRef") is not None:
            ref, kind = source["secretRef"], "secret"
            obj = sources.secret(namespace, ref.get("name", ""), bool(ref.get("optional")))
            data = {k: _text(v) for k, v in secret_bytes(obj or {}).items()}
        else:
            continue
        invalid = []
        for key, value in data.items():
            if _ENV_NAME.match(prefix + key):
                declared[prefix + key] = value
            else:
                invalid.append(prefix + key)
        if invalid and skipped is not None:
            skipped.append((kind, f"{namespace}/{ref.get('name', '')}", sorted(invalid)))
    for item in container.get("env") or []:
        name = item.get("name", "")
        value = item.get("value") or ""
        source = item.get("valueFrom")
        if value:
            value = expand(value, declared, services)
        elif source:
            if source.get("fieldRef") is not None:
                value = field_value(pod, source["fieldRef"].get("fieldPath", ""), host_ips, pod_ips)
            elif source.get("resourceFieldRef") is not None:
                ref = source["resourceFieldRef"]
                target = _container(pod, ref.get("containerName")) if ref.get("containerName") else container
                value = resource_value(ref, target or container, sources.allocatable)
            elif source.get("configMapKeyRef") is not None or source.get("secretKeyRef") is not None:
                value = _key_ref(source, namespace, sources)
                if value is None:
                    continue
        declared[name] = value
    env = dict(base)
    env.update(services)
    env.update(declared)
    return env

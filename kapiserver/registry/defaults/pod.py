"""Defaults of the pod spec and what it embeds: containers, probes, volumes (core/v1).

``pod_spec`` is SetDefaults_PodSpec plus the generated per-field defaults, applied
to Pods and to every pod template; ``pod`` adds what only a Pod gets (requests
from limits, enableServiceLinks, host-network ports).
"""

from __future__ import annotations

import re

from ...machinery.qos import pod_qos_class  # noqa: F401 (the registry's name for it)
from ...machinery.quantity import canonical_quantity, canonical_resource_list
from ._util import child, empty, items, set_if_empty, set_if_nil, sub, template_metadata

DEFAULT_MODE = 0o644      # 420: secret, configMap, downwardAPI and projected volumes
TOKEN_EXPIRATION = 3600   # serviceAccountToken projections

# The image reference grammar (distribution/reference), to find the tag as the kubelet does.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$")


def image_tag(image: str) -> str:
    """The tag the kubelet pulls: "latest" when neither tag nor digest is given, "" for a
    digest-only or unparsable reference."""
    match = _REFERENCE.match(image if isinstance(image, str) else "")
    if not match:
        return ""
    name = (match.group("domain") + "/" if match.group("domain") else "") + match.group("path")
    if len(name) > 255:
        return ""
    if match.group("tag"):
        return match.group("tag")
    return "" if match.group("digest") else "latest"


def container(c: dict) -> None:
    """SetDefaults_Container and the generated defaults of one container's fields."""
    if empty(c.get("imagePullPolicy")):
        c["imagePullPolicy"] = "Always" if image_tag(c.get("image", "")) == "latest" else "IfNotPresent"
    set_if_empty(c, "terminationMessagePath", "/dev/termination-log")
    set_if_empty(c, "terminationMessagePolicy", "File")
    for port in items(c, "ports"):
        set_if_empty(port, "protocol", "TCP")
    for env in items(c, "env"):
        field_ref = child(child(env, "valueFrom"), "fieldRef")
        if field_ref is not None:
            object_field_selector(field_ref)
    # ResourceRequirements is a non-pointer struct: Go always writes it.
    resources = sub(c, "resources")
    canonical_resource_list(resources, "limits")
    canonical_resource_list(resources, "requests")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        p = child(c, name)
        if p is not None:
            probe(p)
    lifecycle = child(c, "lifecycle")
    if lifecycle is not None:
        for hook in ("postStart", "preStop"):
            http_get = child(child(lifecycle, hook), "httpGet")
            if http_get is not None:
                http_get_action(http_get)


def probe(p: dict) -> None:
    set_if_empty(p, "timeoutSeconds", 1)
    set_if_empty(p, "periodSeconds", 10)
    set_if_empty(p, "successThreshold", 1)
    set_if_empty(p, "failureThreshold", 3)
    http_get = child(p, "httpGet")
    if http_get is not None:
        http_get_action(http_get)
    grpc = child(p, "grpc")
    if grpc is not None:
        set_if_nil(grpc, "service", "")


def http_get_action(action: dict) -> None:
    set_if_empty(action, "path", "/")
    set_if_empty(action, "scheme", "HTTP")


def object_field_selector(selector: dict) -> None:
    set_if_empty(selector, "apiVersion", "v1")


_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs",
    "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
    "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
    "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral",
    "image",
)


def host_path(source: dict) -> None:
    set_if_nil(source, "type", "")


def iscsi(source: dict) -> None:
    set_if_empty(source, "iscsiInterface", "default")


def rbd(source: dict) -> None:
    set_if_empty(source, "pool", "rbd")
    set_if_empty(source, "user", "admin")
    set_if_empty(source, "keyring", "/etc/ceph/keyring")


def azure_disk(source: dict) -> None:
    set_if_nil(source, "cachingMode", "ReadWrite")
    set_if_nil(source, "kind", "Shared")
    set_if_nil(source, "fsType", "ext4")
    set_if_nil(source, "readOnly", False)


def scale_io(source: dict) -> None:
    set_if_empty(source, "storageMode", "ThinProvisioned")
    set_if_empty(source, "fsType", "xfs")


def volume(v: dict) -> None:
    """SetDefaults_Volume (no source means an emptyDir) and each source's defaults."""
    if all(v.get(name) is None for name in _VOLUME_SOURCES):
        v["emptyDir"] = {}
    empty_dir = child(v, "emptyDir")
    if empty_dir is not None and empty_dir.get("sizeLimit") is not None:
        empty_dir["sizeLimit"] = canonical_quantity(empty_dir["sizeLimit"])
    simple = {"hostPath": host_path, "iscsi": iscsi, "rbd": rbd, "azureDisk": azure_disk,
              "scaleIO": scale_io}
    for name, fn in simple.items():
        source = child(v, name)
        if source is not None:
            fn(source)
    for name in ("secret", "configMap"):
        source = child(v, name)
        if source is not None:
            set_if_nil(source, "defaultMode", DEFAULT_MODE)
    downward = child(v, "downwardAPI")
    if downward is not None:
        set_if_nil(downward, "defaultMode", DEFAULT_MODE)
        _downward_items(downward)
    projected = child(v, "projected")
    if projected is not None:
        set_if_nil(projected, "defaultMode", DEFAULT_MODE)
        for source in items(projected, "sources"):
            nested = child(source, "downwardAPI")
            if nested is not None:
                _downward_items(nested)
            token = child(source, "serviceAccountToken")
            if token is not None:
                set_if_nil(token, "expirationSeconds", TOKEN_EXPIRATION)
    claim_template = child(child(v, "ephemeral"), "volumeClaimTemplate")
    if claim_template is not None:
        template_metadata(claim_template)
        pvc_spec(sub(claim_template, "spec"))


def _downward_items(source: dict) -> None:
    for item in items(source, "items"):
        field_ref = child(item, "fieldRef")
        if field_ref is not None:
            object_field_selector(field_ref)


def pvc_spec(spec: dict) -> None:
    """SetDefaults_PersistentVolumeClaimSpec."""
    set_if_nil(spec, "volumeMode", "Filesystem")
    resources = sub(spec, "resources")
    canonical_resource_list(resources, "limits")
    canonical_resource_list(resources, "requests")


def pod_spec(spec: dict) -> None:
    """SetDefaults_PodSpec and the nested defaults, as for any pod template."""
    set_if_empty(spec, "dnsPolicy", "ClusterFirst")
    set_if_empty(spec, "restartPolicy", "Always")
    set_if_nil(spec, "securityContext", {})
    set_if_nil(spec, "terminationGracePeriodSeconds", 30)
    set_if_empty(spec, "schedulerName", "default-scheduler")
    for v in items(spec, "volumes"):
        volume(v)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in items(spec, key):
            container(c)
    canonical_resource_list(spec, "overhead")


def pod_template(template: dict) -> None:
    """A PodTemplateSpec: its metadata always serialises, its spec gets pod-spec defaults."""
    template_metadata(template)
    pod_spec(sub(template, "spec"))


def _requests_from_limits(c: dict) -> None:
    resources = sub(c, "resources")
    limits = resources.get("limits")
    if isinstance(limits, dict) and limits:
        requests = sub(resources, "requests")
        for name, quantity in limits.items():
            requests.setdefault(name, quantity)


def _host_network_ports(containers: list[dict]) -> None:
    for c in containers:
        for port in items(c, "ports"):
            if empty(port.get("hostPort")):
                port["hostPort"] = port.get("containerPort")


def pod(obj: dict) -> None:
    """SetObjectDefaults_Pod: SetDefaults_Pod, then the pod spec's."""
    spec = sub(obj, "spec")
    for key in ("containers", "initContainers"):
        for c in items(spec, key):
            _requests_from_limits(c)
    set_if_nil(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        _host_network_ports(items(spec, "containers"))
        _host_network_ports(items(spec, "initContainers"))
    pod_spec(spec)



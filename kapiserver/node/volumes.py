"""A pod's volumes as files, as upstream's kubelet writes them.

Each volume is a directory ``<pod dir>/volumes/<name>``.  configMap, secret, downwardAPI and projected
volumes hold a payload (path → bytes and mode) written by :func:`write_atomically`, upstream's AtomicWriter
scheme: the files go to a new hidden timestamped directory, the ``..data`` symlink is switched to it with a
rename, and each top-level user-visible name is a symlink into ``..data``; a reader sees the old set of
files or the new one, never a mixture.  The payload is written again (only when it changed) on every resync,
so a changed ConfigMap or Secret reaches running pods.  emptyDir (and every other kind) is an empty
directory; an emptyDir of medium Memory is a tmpfs where the agent runs as root.

Rules as upstream's volume plugins have them: ``defaultMode`` 0644, an item's ``mode`` over it; ``items``
select and rename keys, a missing key is an error unless the source is optional; a missing ConfigMap or
Secret is an error (``configmap "x" not found``) unless optional, when the volume is empty (or the source
contributes nothing).  A projected ``serviceAccountToken`` is a TokenRequest for the pod's service account
bound to the pod (:class:`TokenManager`), renewed once 80 % of its life has passed.

Building payloads is pure; :func:`write_atomically` does blocking file I/O and runs in a thread.
"""

from __future__ import annotations

import datetime
import os
import posixpath
import shutil
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

from .environment import ContainerConfigError, Sources, field_value, resource_value, secret_bytes

DEFAULT_MODE = 0o644
DATA_DIR = "..data"
_DATA_TMP = "..data_tmp"
TOKEN_REFRESH_FRACTION = 0.8          # upstream's token manager renews after 80 % of the token's life
TOKEN_MAX_AGE = 24 * 3600             # ... or after a day, whichever comes first
Payload = Dict[str, Tuple[bytes, int]]


class VolumeError(Exception):
    """A volume cannot be set up yet; the message is upstream's FailedMount message."""


def _fail(volume: str, why: str) -> VolumeError:
    return VolumeError(f'MountVolume.SetUp failed for volume "{volume}" : {why}')


def _mode(value, default: int) -> int:
    return value if isinstance(value, int) and 0 <= value <= 0o777 else default


def _keyed(volume: str, data: Dict[str, bytes], items, default_mode: int, optional: bool, what: str) -> Payload:
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    out = {}
    for item in items:
        key = item.get("key")
        if key not in data:
            if optional:
                continue
            raise _fail(volume, f"configmap references non-existent config key: {key}" if what == "configmap"
                        else f"references non-existent secret key: {key}")
        out[item.get("path") or key] = (data[key], _mode(item.get("mode"), default_mode))
    return out


def _config_map_data(obj: dict) -> Dict[str, bytes]:
    import base64
    data = {k: (v or "").encode() for k, v in (obj.get("data") or {}).items()}
    for key, value in (obj.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value or "")
    return data


def _downward(volume: str, pod: dict, items, default_mode: int, allocatable, host_ips, pod_ips) -> Payload:
    out = {}
    for item in items or []:
        try:
            if item.get("fieldRef") is not None:
                value = field_value(pod, item["fieldRef"].get("fieldPath", ""), host_ips, pod_ips)
            elif item.get("resourceFieldRef") is not None:
                ref = item["resourceFieldRef"]
                containers = ((pod.get("spec") or {}).get("containers") or []) + \
                    ((pod.get("spec") or {}).get("initContainers") or [])
                container = next((c for c in containers if c.get("name") == ref.get("containerName")), None)
                if container is None:
                    raise ContainerConfigError(f"container {ref.get('containerName')} not found")
                value = resource_value(ref, container, allocatable)
            else:
                continue
        except ContainerConfigError as e:
            raise _fail(volume, e.message) from None
        out[item.get("path", "")] = (value.encode(), _mode(item.get("mode"), default_mode))
    return out


def volume_payload(volume: dict, pod: dict, sources: Sources, tokens: Dict[tuple, str],
                   host_ips: List[str], pod_ips: List[str]) -> Optional[Payload]:
    """The files of one volume, or None for a volume that is a plain directory (emptyDir and the rest).
    ``tokens`` holds the projected service-account tokens by :func:`token_key` (None: the apiserver issues
    none, and the file is left out); a token missing from it is an error."""
    name = volume.get("name", "")
    for field, name_field, kind, objects, data in (
            ("configMap", "name", "configmap", sources.config_maps, _config_map_data),
            ("secret", "secretName", "secret", sources.secrets, secret_bytes)):
        source = volume.get(field)
        if source is None:
            continue
        optional = bool(source.get("optional"))
        obj = objects.get(source.get(name_field, ""))
        if obj is None:
            if optional:
                return {}
            raise _fail(name, f'{kind} "{source.get(name_field, "")}" not found')
        return _keyed(name, data(obj), source.get("items"), _mode(source.get("defaultMode"), DEFAULT_MODE),
                      optional, kind)
    if volume.get("downwardAPI") is not None:
        source = volume["downwardAPI"]
        return _downward(name, pod, source.get("items"), _mode(source.get("defaultMode"), DEFAULT_MODE),
                         sources.allocatable, host_ips, pod_ips)
    if volume.get("projected") is not None:
        return _projected(volume, pod, sources, tokens, host_ips, pod_ips)
    return None


def _projected(volume: dict, pod: dict, sources: Sources, tokens, host_ips, pod_ips) -> Payload:
    name = volume.get("name", "")
    projected = volume["projected"]
    default_mode = _mode(projected.get("defaultMode"), DEFAULT_MODE)
    out: Payload = {}
    for source in projected.get("sources") or []:
        if source.get("configMap") is not None:
            ref = source["configMap"]
            optional = bool(ref.get("optional"))
            obj = sources.config_maps.get(ref.get("name", ""))
            if obj is None:
                if optional:
                    continue
                raise _fail(name, f'configmap "{ref.get("name", "")}" not found')
            out.update(_keyed(name, _config_map_data(obj), ref.get("items"), default_mode, optional, "configmap"))
        elif source.get("secret") is not None:
            ref = source["secret"]
            optional = bool(ref.get("optional"))
            obj = sources.secrets.get(ref.get("name", ""))
            if obj is None:
                if optional:
                    continue
                raise _fail(name, f'secret "{ref.get("name", "")}" not found')
            out.update(_keyed(name, secret_bytes(obj), ref.get("items"), default_mode, optional, "secret"))
        elif source.get("downwardAPI") is not None:
            out.update(_downward(name, pod, source["downwardAPI"].get("items"), default_mode,
                                 sources.allocatable, host_ips, pod_ips))
        elif source.get("serviceAccountToken") is not None:
            ref = source["serviceAccountToken"]
            key = token_key(pod, ref)
            if key not in tokens:
                raise _fail(name, f'failed to fetch token: serviceaccounts "{_account(pod)}" token not available')
            if tokens[key] is not None:       # None: the apiserver issues no tokens (no signing key)
                out[ref.get("path", "token")] = (tokens[key].encode(), default_mode)
        # clusterTrustBundle (beta, off by default in 1.32) is not supported.
    return out


def validate_path(path: str) -> bool:
    """A payload path upstream's AtomicWriter accepts: relative, no '..' element, not starting with '..'."""
    if not path or path.startswith("/") or path.startswith(".."):
        return False
    return all(part not in ("..", "") for part in path.split("/"))


# -- writing ---------------------------------------------------------------------------------------
def _current(target: str, data_dir: Optional[str], payload: Payload) -> bool:
    """Whether the files ``..data`` points at are exactly ``payload``."""
    if data_dir is None:
        return False
    base = os.path.join(target, data_dir)
    found = set()
    for root, _dirs, files in os.walk(base):
        for file in files:
            found.add(os.path.relpath(os.path.join(root, file), base))
    if found != set(payload):
        return False
    for path, (content, mode) in payload.items():
        full = os.path.join(base, path)
        try:
            if os.stat(full).st_mode & 0o777 != mode:
                return False
            with open(full, "rb") as f:
                if f.read() != content:
                    return False
        except OSError:
            return False
    return True


def write_atomically(target: str, payload: Payload, now: Optional[float] = None) -> bool:
    """Make ``target`` hold exactly ``payload`` (upstream's AtomicWriter); False when it already did.
    Blocking: call it in a thread."""
    payload = {posixpath.normpath(p): v for p, v in payload.items() if validate_path(posixpath.normpath(p))}
    os.makedirs(target, exist_ok=True)
    link = os.path.join(target, DATA_DIR)
    old = os.readlink(link) if os.path.islink(link) else None
    if _current(target, old, payload):
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime(time.time() if now is None else now))
    fresh = tempfile.mkdtemp(prefix=stamp, dir=target)
    os.chmod(fresh, 0o755)
    for path, (content, mode) in payload.items():
        full = os.path.join(fresh, path)
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        with open(full, "wb") as f:
            f.write(content)
        os.chmod(full, mode)
    temporary = os.path.join(target, _DATA_TMP)
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(os.path.basename(fresh), temporary)
    os.rename(temporary, link)
    visible = {path.split("/", 1)[0] for path in payload}
    for name in visible:
        entry = os.path.join(target, name)
        wanted = os.path.join(DATA_DIR, name)
        if os.path.islink(entry) and os.readlink(entry) == wanted:
            continue
        if os.path.isdir(entry) and not os.path.islink(entry):
            shutil.rmtree(entry)
        elif os.path.lexists(entry):
            os.unlink(entry)
        os.symlink(wanted, entry)
    for name in os.listdir(target):
        if name.startswith("..") or name in visible:
            continue
        entry = os.path.join(target, name)
        if os.path.islink(entry) or os.path.isfile(entry):
            os.unlink(entry)
        elif os.path.isdir(entry):
            shutil.rmtree(entry)
    for name in os.listdir(target):
        if name.startswith("..") and name not in (DATA_DIR, os.path.basename(fresh)) and \
                os.path.isdir(os.path.join(target, name)) and not os.path.islink(os.path.join(target, name)):
            shutil.rmtree(os.path.join(target, name), ignore_errors=True)
    return True


# -- emptyDir on tmpfs ---------------------------------------------------------------------------------
def memory_backed(volume: dict) -> bool:
    return (volume.get("emptyDir") or {}).get("medium") == "Memory"


def mount_tmpfs(target: str, size_limit=None) -> bool:
    """A tmpfs at ``target`` (an emptyDir of medium Memory), sized by its sizeLimit; False when it cannot be
    mounted (not root), and the volume stays a plain directory.  Blocking."""
    import subprocess
    from ..machinery.quantity import parse_quantity
    os.makedirs(target, exist_ok=True)
    if os.path.ismount(target):
        return True
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    options = "mode=0777"
    size = parse_quantity(size_limit) if size_limit else None
    if size:
        options += f",size={int(size)}"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", target], capture_output=True)
    return done.returncode == 0


def unmount_all(volumes_dir: str) -> None:
    """Unmount the tmpfs volumes under a pod's volumes directory (the pod is gone).  Blocking."""
    import subprocess
    try:
        names = os.listdir(volumes_dir)
    except OSError:
        return
    for name in names:
        target = os.path.join(volumes_dir, name)
        if os.path.ismount(target):
            subprocess.run(["umount", "-l", target], capture_output=True)


# -- service-account tokens --------------------------------------------------------------------------
def _account(pod: dict) -> str:
    return (pod.get("spec") or {}).get("serviceAccountName") or "default"


def token_key(pod: dict, ref: dict) -> tuple:
    """What identifies a projected token: the pod, its account, the audience and the lifetime asked."""
    meta = pod.get("metadata") or {}
    return (meta.get("namespace", "default"), _account(pod), meta.get("name", ""), meta.get("uid", ""),
            ref.get("audience") or "", int(ref.get("expirationSeconds") or 3600))


def token_requests(pod: dict) -> List[tuple]:
    """The token keys the pod's projected volumes need."""
    keys = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("serviceAccountToken") is not None:
                keys.append(token_key(pod, source["serviceAccountToken"]))
    return keys


def _parse_time(value: str) -> float:
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class TokenManager:
    """Bound service-account tokens from the TokenRequest API, kept until 80 % of their life (or a day) has
    passed, as upstream's kubelet token manager does.  ``request`` is a coroutine function taking
    (namespace, account, TokenRequest body) and returning the answered TokenRequest."""

    def __init__(self, request: Callable, seconds: Callable[[], float]):
        self.request = request
        self.seconds = seconds
        self.cache: Dict[tuple, Tuple[str, float, float]] = {}     # key → (token, issued, expires)

    def fresh(self, key: tuple) -> bool:
        entry = self.cache.get(key)
        if entry is None:
            return False
        _token, issued, expires = entry
        now = self.seconds()
        return now < issued + TOKEN_REFRESH_FRACTION * (expires - issued) and now < issued + TOKEN_MAX_AGE

    async def token(self, key: tuple) -> str:
        if self.fresh(key):
            return self.cache[key][0]
        namespace, account, pod_name, pod_uid, audience, seconds = key
        spec = {"expirationSeconds": seconds,
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod_name, "uid": pod_uid}}
        if audience:
            spec["audiences"] = [audience]
        try:
            answer = await self.request(namespace, account, {
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        except Exception:
            # As upstream's kubelet: a failed renewal keeps serving the cached token until it expires.
            entry = self.cache.get(key)
            if entry is not None and self.seconds() < entry[2]:
                return entry[0]
            raise
        status = answer.get("status") or {}
        expires = _parse_time(status["expirationTimestamp"])
        lifetime = (answer.get("spec") or {}).get("expirationSeconds") or seconds
        self.cache[key] = (status["token"], expires - lifetime, expires)
        return status["token"]

    def forget(self, uid: str) -> None:
        """Drop the tokens of the pod ``uid`` (it is gone)."""
        self.cache = {key: value for key, value in self.cache.items() if key[3] != uid}

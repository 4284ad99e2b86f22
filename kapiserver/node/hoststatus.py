"""What a kubelet reports of its host: capacity and allocatable (cpu, memory from /proc/meminfo,
ephemeral-storage from statvfs of the root directory, 110 pods), the pressure conditions from real figures
against upstream's default hard eviction thresholds (memory.available<100Mi, nodefs.available<10%,
nodefs.inodesFree<5%; pid.available<5% of pid_max, upstream having no default for it), and a pod's QoS class.

Readings of /proc are a few small files: cheap enough for the reactor thread every 10 s."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional

from ..machinery.qos import pod_qos_class as qos_class  # noqa: F401 (what the agent reports)

MEMORY_EVICTION_BYTES = 100 * 2 ** 20
NODEFS_AVAILABLE_FRACTION = 0.10
NODEFS_INODES_FRACTION = 0.05
PID_AVAILABLE_FRACTION = 0.05
MAX_PODS = 110


@dataclass
class HostFigures:
    cpus: int
    memory_total: int          # bytes
    memory_available: int
    disk_total: int
    disk_available: int
    inodes_total: int
    inodes_free: int
    pid_max: int
    pids: int


def meminfo() -> Dict[str, int]:
    """/proc/meminfo in bytes (a count where the kernel gives no unit)."""
    out = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts:
                    out[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    except (OSError, ValueError):
        pass
    return out


def read_int(path: str, default):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def _process_count() -> int:
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        return 0


def read_host(root: str = "/") -> HostFigures:
    memory = meminfo()
    total = memory.get("MemTotal", 4 * 2 ** 30)
    available = memory.get("MemAvailable", memory.get("MemFree", total))
    try:
        fs = os.statvfs(root)
        disk_total, disk_available = fs.f_blocks * fs.f_frsize, fs.f_bavail * fs.f_frsize
        inodes_total, inodes_free = fs.f_files, fs.f_favail
    except OSError:
        disk_total = disk_available = 10 * 2 ** 30
        inodes_total = inodes_free = 0
    return HostFigures(cpus=os.cpu_count() or 1, memory_total=total, memory_available=available,
                       disk_total=disk_total, disk_available=disk_available, inodes_total=inodes_total,
                       inodes_free=inodes_free, pid_max=read_int("/proc/sys/kernel/pid_max", 32768),
                       pids=_process_count())


def capacity(figures: HostFigures) -> Dict[str, str]:
    return {"cpu": str(figures.cpus), "memory": f"{figures.memory_total // 1024}Ki",
            "ephemeral-storage": f"{figures.disk_total // 1024}Ki", "pods": str(MAX_PODS),
            "hugepages-1Gi": "0", "hugepages-2Mi": "0"}


def allocatable(figures: HostFigures) -> Dict[str, str]:
    """Capacity less the hard eviction thresholds, as upstream's kubelet computes with no reservations."""
    out = capacity(figures)
    out["memory"] = f"{max(0, figures.memory_total - MEMORY_EVICTION_BYTES) // 1024}Ki"
    out["ephemeral-storage"] = str(int(figures.disk_total * (1 - NODEFS_AVAILABLE_FRACTION)))
    return out


def pressures(figures: HostFigures) -> Dict[str, bool]:
    disk = figures.disk_total > 0 and figures.disk_available < figures.disk_total * NODEFS_AVAILABLE_FRACTION
    inodes = figures.inodes_total > 0 and figures.inodes_free < figures.inodes_total * NODEFS_INODES_FRACTION
    return {"MemoryPressure": figures.memory_available < MEMORY_EVICTION_BYTES,
            "DiskPressure": disk or inodes,
            "PIDPressure": figures.pid_max - figures.pids < figures.pid_max * PID_AVAILABLE_FRACTION}


_WORDS = {  # condition: (reason, message) when False, then when True
    "MemoryPressure": (("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                       ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available")),
    "DiskPressure": (("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                     ("KubeletHasDiskPressure", "kubelet has disk pressure")),
    "PIDPressure": (("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    ("KubeletHasInsufficientPID", "kubelet has insufficient PID available")),
}


def conditions(pressure: Dict[str, bool], heartbeat: str, previous: Optional[List[dict]] = None) -> List[dict]:
    """The node's conditions, the pressures as given and Ready True; each keeps its lastTransitionTime from
    `previous` unless its status changed."""
    before = {c.get("type"): c for c in previous or []}

    def cond(kind, status, reason, message):
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status and \
            old.get("lastTransitionTime") else heartbeat
        return {"type": kind, "status": status, "lastHeartbeatTime": heartbeat, "lastTransitionTime": since,
                "reason": reason, "message": message}
    out = []
    for kind in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        reason, message = _WORDS[kind][bool(pressure.get(kind))]
        out.append(cond(kind, "True" if pressure.get(kind) else "False", reason, message))
    out.append(cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"))
    return out



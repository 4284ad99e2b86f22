"""The kubelet's resource figures for `kubectl top` and metrics-server: /stats/summary (stats/v1alpha1) and
/metrics/resource (Prometheus text), for the node and for each pod's containers, read from /proc.

A container is its process and everything in its session (it runs under setsid): the cpu time (utime +
stime) and resident memory of those processes.  rssBytes and workingSetBytes are both the resident set (a
process has no cgroup of its own here).  usageNanoCores is the rate since the previous reading, on the second
reading onwards, as cadvisor's."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from twisted.internet.defer import Deferred

from ..machinery import meta
from ..pool import in_pool
from .hoststatus import meminfo, read_int

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _sessions() -> Dict[int, Tuple[int, int]]:
    """session id: (cpu nanoseconds, resident bytes) summed over its processes."""
    out: Dict[int, List[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2:].split()
        try:
            session, utime, stime, rss = int(fields[3]), int(fields[11]), int(fields[12]), int(fields[21])
        except (IndexError, ValueError):
            continue
        totals = out.setdefault(session, [0, 0])
        totals[0] += (utime + stime) * 1_000_000_000 // _TICKS
        totals[1] += rss * _PAGE
    return {k: (v[0], v[1]) for k, v in out.items()}


def _node_cpu_nanoseconds() -> int:
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
        busy = sum(int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4))   # all but idle and iowait
        return busy * 1_000_000_000 // _TICKS
    except (OSError, ValueError):
        return 0


@dataclass(frozen=True)
class HostSample:
    sessions: Dict[int, Tuple[int, int]]
    memory: Dict[str, int]
    fs: Optional[os.statvfs_result]
    node_cpu: int
    boot_time: float
    pid_max: Optional[int]


def host_sample(state_dir: str) -> HostSample:
    try:
        fs = os.statvfs(state_dir)
    except OSError:
        fs = None
    return HostSample(_sessions(), meminfo(), fs, _node_cpu_nanoseconds(), _boot_time(),
                      read_int("/proc/sys/kernel/pid_max", None))


class Stats:
    """Readings of the node and of an agent's pods; keeps the previous cpu readings for rates."""

    def __init__(self, agent, clock):
        self.agent = agent
        self.clock = clock
        self._previous: Dict[str, Tuple[float, int]] = {}

    def _cpu(self, key: str, now: float, total: int, stamp: str) -> dict:
        out = {"time": stamp, "usageCoreNanoSeconds": total}
        before = self._previous.get(key)
        if before is not None and now > before[0] and total >= before[1]:
            out["usageNanoCores"] = int((total - before[1]) / (now - before[0]))
        self._previous[key] = (now, total)
        return out

    def sample(self) -> Deferred:
        """What /proc and statvfs tell now (a HostSample), read in the reactor's thread pool: a scan of every
        process is no work for the reactor thread."""
        state_dir = self.agent.state_dir
        return in_pool(self.clock, host_sample, state_dir)

    def summary(self, sample: "HostSample") -> dict:
        now = self.clock.seconds()
        stamp = meta.rfc3339(now)
        sessions, memory, fs = sample.sessions, sample.memory, sample.fs
        total, available = memory.get("MemTotal", 0), memory.get("MemAvailable", memory.get("MemFree", 0))
        working = max(0, total - available)
        if fs is not None:
            disk = {"time": stamp, "availableBytes": fs.f_bavail * fs.f_frsize,
                    "capacityBytes": fs.f_blocks * fs.f_frsize,
                    "usedBytes": (fs.f_blocks - fs.f_bfree) * fs.f_frsize, "inodesFree": fs.f_favail,
                    "inodes": fs.f_files, "inodesUsed": fs.f_files - fs.f_ffree}
        else:
            disk = {"time": stamp}
        node = {"nodeName": self.agent.node_name, "systemContainers": [],
                "startTime": meta.rfc3339(sample.boot_time),
                "cpu": self._cpu("", now, sample.node_cpu, stamp),
                "memory": {"time": stamp, "availableBytes": available, "usageBytes": max(0, total - memory.get(
                    "MemFree", 0)), "workingSetBytes": working, "rssBytes": working, "pageFaults": 0,
                    "majorPageFaults": 0},
                "fs": disk, "runtime": {"imageFs": disk},
                "rlimit": {"time": stamp, "maxpid": sample.pid_max, "curproc": len(sessions)}}
        pods = []
        seen = {""}
        for worker in list(self.agent.workers.values()):
            containers = []
            pod_cpu = pod_memory = 0
            for container in worker.containers:
                pid = getattr(container.transport, "pid", None) if container.transport is not None else None
                if pid is None or "running" not in container.state:
                    continue
                cpu, rss = sessions.get(pid, (0, 0))
                key = f"{worker.uid}/{container.name}/{container.restart_count}"
                seen.add(key)
                pod_cpu += cpu
                pod_memory += rss
                containers.append({
                    "name": container.name, "startTime": container.state["running"].get("startedAt", stamp),
                    "cpu": self._cpu(key, now, cpu, stamp),
                    "memory": {"time": stamp, "workingSetBytes": rss, "rssBytes": rss, "usageBytes": rss,
                               "pageFaults": 0, "majorPageFaults": 0},
                    "rootfs": {"time": stamp}, "logs": {"time": stamp}})
            if not containers:
                continue
            seen.add(worker.uid)
            pods.append({"podRef": {"name": worker.name, "namespace": worker.namespace, "uid": worker.uid},
                         "startTime": worker.start_time, "containers": containers,
                         "cpu": self._cpu(worker.uid, now, pod_cpu, stamp),
                         "memory": {"time": stamp, "workingSetBytes": pod_memory, "rssBytes": pod_memory,
                                    "usageBytes": pod_memory, "pageFaults": 0, "majorPageFaults": 0},
                         "volume": [], "ephemeral-storage": {"time": stamp}})
        for key in [k for k in self._previous if k not in seen]:
            del self._previous[key]
        return {"node": node, "pods": pods}

    def resource_metrics(self, sample: "HostSample") -> str:
        """/metrics/resource: the summary's cpu and memory as the kubelet's resource metrics collector."""
        summary = self.summary(sample)
        millis = int(self.clock.seconds() * 1000)
        lines: List[str] = []

        def family(name, kind, text, samples):
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value, stamped in samples:
                label = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}" if labels else ""
                lines.append(f"{name}{label} {_number(value)}" + (f" {millis}" if stamped else ""))
        node = summary["node"]
        containers = [(pod, c) for pod in summary["pods"] for c in pod["containers"]]

        def clabels(pod, c):
            return (("container", c["name"]), ("namespace", pod["podRef"]["namespace"]),
                    ("pod", pod["podRef"]["name"]))

        def plabels(pod):
            return (("namespace", pod["podRef"]["namespace"]), ("pod", pod["podRef"]["name"]))
        family("container_cpu_usage_seconds_total", "counter",
               "[STABLE] Cumulative cpu time consumed by the container in core-seconds",
               [(clabels(p, c), c["cpu"]["usageCoreNanoSeconds"] / 1e9, True) for p, c in containers])
        family("container_memory_working_set_bytes", "gauge",
               "[STABLE] Current working set of the container in bytes",
               [(clabels(p, c), c["memory"]["workingSetBytes"], True) for p, c in containers])
        family("container_start_time_seconds", "gauge",
               "[STABLE] Start time of the container since unix epoch in seconds",
               [(clabels(p, c), meta.parse_time(c["startTime"]), False) for p, c in containers])
        family("node_cpu_usage_seconds_total", "counter",
               "[STABLE] Cumulative cpu time consumed by the node in core-seconds",
               [((), node["cpu"]["usageCoreNanoSeconds"] / 1e9, True)])
        family("node_memory_working_set_bytes", "gauge", "[STABLE] Current working set of the node in bytes",
               [((), node["memory"]["workingSetBytes"], True)])
        family("pod_cpu_usage_seconds_total", "counter",
               "[STABLE] Cumulative cpu time consumed by the pod in core-seconds",
               [(plabels(p), p["cpu"]["usageCoreNanoSeconds"] / 1e9, True) for p in summary["pods"]])
        family("pod_memory_working_set_bytes", "gauge", "[STABLE] Current working set of the pod in bytes",
               [(plabels(p), p["memory"]["workingSetBytes"], True) for p in summary["pods"]])
        family("resource_scrape_error", "gauge",
               "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise", [((), 0, False)])
        family("scrape_error", "gauge", "[ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting "
                                        "container metrics, 0 otherwise", [((), 0, False)])
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value) -> str:
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _boot_time() -> float:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0.0

"""The default profile's plugins whose work is done outside the plugin list (the queue sorts and holds
gated pods, the scheduler binds and preempts), or not done here (NodeVolumeLimits: no CSI volume counts).
They are listed so that a KubeSchedulerConfiguration naming them is understood: upstream's
--write-config-to output lists them all, and the documented way to turn preemption off is
``postFilter: {disabled: [{name: DefaultPreemption}]}``."""

from __future__ import annotations


class _Marker:
    name = ""
    events: frozenset = frozenset()

    def __repr__(self) -> str:
        return f"{self.name}()"


class PrioritySort(_Marker):
    name = "PrioritySort"


class SchedulingGates(_Marker):
    name = "SchedulingGates"


class NodeVolumeLimits(_Marker):
    name = "NodeVolumeLimits"


class DefaultBinder(_Marker):
    name = "DefaultBinder"


class DefaultPreemption(_Marker):
    """While its ``post_filter`` is set (a profile may turn it off), a pod no node fits may preempt."""

    name = "DefaultPreemption"
    post_filter = True


def preemption_enabled(plugins) -> bool:
    return any(p.name == DefaultPreemption.name and getattr(p, "post_filter", None) for p in plugins)

"""
The cyclic garbage collector's settings for a long-running server process (the entry points of the apiserver and
of the daemons twistd runs: the controller manager, the scheduler, the node agent).

CPython's defaults (a young collection every 700 net allocations of container objects) suit short scripts.
In an apiserver under load (1,000 nodes heartbeating, pods churning) they gave about one full collection every
two seconds, 50-240 ms each, during which the reactor serves nothing: about 9% of the process's CPU and the
tail of every request's latency (measured with bench/stallwatch.py under bench/density_bench.py).  So:

- young collections every YOUNG_THRESHOLD allocations, which makes every older collection as much rarer
  (each generation is collected after so many collections of the one below it);
- once the server is ready, what its start allocated (modules, schemas, the bootstrap objects) is frozen:
  kept out of every later collection, since it lives as long as the process.

Reference cycles are still collected; they just wait longer.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def apply(service) -> None:
    """Set the thresholds now and freeze what exists once ``service.ready`` (a Deferred) fires."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    ready = getattr(service, "ready", None)
    if ready is not None:
        ready.addCallback(_freeze)


def serving(make_service):
    """A tap's ``make_service`` as twistd's: the service it makes, with this policy applied (in the daemon's own
    process; a test that builds a service in its process keeps CPython's defaults there)."""
    def make(options, *args, **kwargs):
        service = make_service(options, *args, **kwargs)
        apply(service)
        return service
    return make


def _freeze(result):
    gc.collect()        # what the start left as garbage is freed, not frozen
    gc.freeze()
    return result

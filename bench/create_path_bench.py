"""
The create path in-process, run by hand (never by the tests):

    python bench/create_path_bench.py [--creates 2000] [--rounds 5] [--profile]

A Registry with watch caches and the default admission chain on the in-memory store (no HTTP, no disk),
one field-selected and one unfiltered watch on ConfigMaps (as the embedded controllers keep), then
ConfigMap creates with generateName one after another; prints the process CPU microseconds per create of
each round and the least (each create's body is a deep copy of one dict: about 10 us of that).  With
--profile, one round under cProfile instead.  Run it from another checkout to measure that one.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import os
import pstats
import sys
import time

sys.path.insert(0, os.getcwd())

from twisted.internet import reactor  # noqa: E402

from kapiserver.admission.chain import build_chain  # noqa: E402
from kapiserver.machinery import codec  # noqa: E402
from kapiserver.machinery.selectors import parse_field_selector  # noqa: E402
from kapiserver.registry.options import ListOptions, WriteOptions  # noqa: E402
from kapiserver.registry.registry import Registry  # noqa: E402
from kapiserver.storage.memory import MemoryStorage  # noqa: E402
from tests.controllers.conftest import run, run_until  # noqa: E402

BODY = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "c-", "labels": {"app": "wb"}},
        "data": {"key": "x" * 64}}


class JSONEvents:
    """A JSON watch's encoding, as the HTTP watch writes it."""

    key = "json"

    def event(self, event_type: str, obj: dict) -> bytes:
        return self.event_encoded(event_type, codec.dumps(obj))

    def event_encoded(self, event_type: str, encoded: bytes) -> bytes:
        return b'{"type":"' + event_type.encode() + b'","object":' + encoded + b"}\n"

    def bookmark(self, revision: int, end: bool) -> bytes:
        return b""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    registry = Registry(MemoryStorage(reactor), reactor, watch_cache=True)
    registry.admission = build_chain(registry)
    run(registry.store("", "v1", "namespaces").create(
        None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "wb"}}))
    configmaps = registry.store("", "v1", "configmaps")
    run_until(lambda: configmaps.reads.cache.ready, 10)
    delivered = []
    for selector in ("metadata.name=kube-root-ca.crt", ""):
        options = ListOptions(field_selector=parse_field_selector(selector) if selector else None,
                              resource_version="1")
        run(configmaps.watch(None, options, JSONEvents(), lambda w: delivered.extend(w.take())))

    def creates(n: int) -> None:
        async def go():
            for _ in range(n):
                await configmaps.create("wb", copy.deepcopy(BODY), WriteOptions())
        run(go(), 300)
    creates(200)
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        creates(args.creates)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(60)
        return
    rounds = []
    for _ in range(args.rounds):
        started = time.process_time()
        creates(args.creates)
        rounds.append((time.process_time() - started) / args.creates * 1e6)
    print("CPU us per create:", " ".join(f"{r:.1f}" for r in rounds), f"least {min(rounds):.1f}")


if __name__ == "__main__":
    main()

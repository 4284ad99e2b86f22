"""
Where a Twisted process's reactor stalls, run by hand (never by the tests):

    STALLWATCH_OUT=stalls.txt python bench/stallwatch.py kapiserver --insecure-port=8080 ...

Runs the module named first (``python -m`` style) with the reactor's two kinds of turn timed: I/O
(``_doReadOrWrite``: a request read, a response written) and ``runUntilCurrent`` (timers, Deferreds fired
from threads).  A thread samples the main thread's stack every 5 ms while a turn has run longer than
STALLWATCH_THRESHOLD seconds (default 0.05), so the report says what the reactor was doing while every
other request waited: a histogram of turn lengths, then the stacks seen in long turns, most sampled first,
and the innermost kapiserver function of each sample; and the cyclic garbage collector's pauses by
generation.  The report is rewritten every 10 s and at exit.

density_bench.py --stalls FILE starts its apiserver this way.
"""

from __future__ import annotations

import atexit
import collections
import gc
import os
import runpy
import sys
import threading
import time

THRESHOLD = float(os.environ.get("STALLWATCH_THRESHOLD", "0.05"))
OUT = os.environ.get("STALLWATCH_OUT", "stalls.txt")
SAMPLE_EVERY = 0.005
BUCKETS = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, float("inf"))


class StallWatch:
    def __init__(self):
        self.since = None
        self.turns = collections.Counter()
        self.seconds = collections.Counter()
        self.stacks = collections.Counter()
        self.leaves = collections.Counter()
        self.main = threading.main_thread().ident
        self.lock = threading.Lock()
        # The cyclic garbage collector's pauses by generation: (count, seconds, longest, over the threshold).
        self.gc = {generation: [0, 0.0, 0.0, 0] for generation in range(3)}
        self._gc_started = 0.0

    def collected(self, phase, info):
        if phase == "start":
            self._gc_started = time.monotonic()
            return
        elapsed = time.monotonic() - self._gc_started
        stats = self.gc[info["generation"]]
        stats[0] += 1
        stats[1] += elapsed
        stats[2] = max(stats[2], elapsed)
        stats[3] += elapsed > THRESHOLD

    def timed(self, method):
        def turn(*args, **kwargs):
            if self.since is not None:      # nested (a turn within a turn): timed by the outer one
                return method(*args, **kwargs)
            self.since = started = time.monotonic()
            try:
                return method(*args, **kwargs)
            finally:
                self.since = None
                elapsed = time.monotonic() - started
                bucket = next(b for b in BUCKETS if elapsed <= b)
                self.turns[bucket] += 1
                self.seconds[bucket] += elapsed
        return turn

    def sample(self):
        last_write = time.monotonic()
        while True:
            time.sleep(SAMPLE_EVERY)
            since = self.since
            now = time.monotonic()
            if since is not None and now - since > THRESHOLD:
                frame = sys._current_frames().get(self.main)
                stack, leaf = [], None
                while frame is not None:
                    code = frame.f_code
                    name = f"{os.path.basename(code.co_filename)}:{code.co_name}"
                    stack.append(name)
                    if leaf is None and "kapiserver" in code.co_filename:
                        leaf = f"{code.co_filename.split('kapiserver/', 1)[-1]}:{code.co_name}"
                    frame = frame.f_back
                with self.lock:
                    self.stacks[";".join(reversed(stack[:40]))] += 1
                    self.leaves[leaf or stack[0]] += 1
            if now - last_write > 10:
                self.write()
                last_write = now

    def write(self):
        with self.lock:
            stacks, leaves = self.stacks.most_common(25), self.leaves.most_common(40)
            total = sum(self.leaves.values())
        lines = ["reactor turns by length (count, seconds):"]
        for bucket in BUCKETS:
            lines.append(f"  <= {bucket:>5} s: {self.turns[bucket]:>9} {self.seconds[bucket]:10.2f}")
        lines.append("\ngarbage collections by generation (count, seconds, longest, longer than the threshold):")
        for generation, (count, seconds, longest, over) in self.gc.items():
            lines.append(f"  {generation}: {count:>9} {seconds:10.2f} {longest:8.3f} {over:>6}")
        lines.append("  tracked objects now: " + ", ".join(f"generation {g} {len(gc.get_objects(g))}" for g in range(3))
                     + f", frozen {gc.get_freeze_count()}")
        lines.append(f"\nsamples in turns longer than {THRESHOLD} s: {total} (every {SAMPLE_EVERY * 1000:.0f} ms)")
        lines.append("\ninnermost kapiserver function:")
        lines += [f"  {count:>7} {count / max(total, 1):6.1%} {leaf}" for leaf, count in leaves]
        lines.append("\nstacks (outermost first):")
        lines += [f"  {count:>7} {stack}" for stack, count in stacks]
        with open(OUT + ".tmp", "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(OUT + ".tmp", OUT)


def main():
    watch = StallWatch()
    from twisted.internet import epollreactor
    epollreactor.install()
    from twisted.internet import reactor
    reactor._doReadOrWrite = watch.timed(reactor._doReadOrWrite)
    reactor.runUntilCurrent = watch.timed(reactor.runUntilCurrent)
    threading.Thread(target=watch.sample, daemon=True, name="stallwatch").start()
    gc.callbacks.append(watch.collected)
    atexit.register(watch.write)
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

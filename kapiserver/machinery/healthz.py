"""The answers of k8s.io/apiserver's health endpoints (pkg/server/healthz), without I/O: the apiserver's /healthz,
/livez and /readyz and the daemons' secure ports build their answers here and write them their own way.

A root path runs its checks in order.  ``?exclude=<name>`` (repeatable) skips a check ("[+]<name> excluded: ok");
names that match none add a "warn: some health checks cannot be excluded: no matches for ..." line.  All passing:
200 "ok", or with ``?verbose`` (a value or none) the lines and "<path> check passed".  One failing: a 500 with the
lines whatever the query, the failing ones "[-]<name> failed: reason withheld" (the reasons are for the log),
and "<path> check failed".  A check's own path answers "ok", or a 500 "internal server error: <reason>"."""

from __future__ import annotations

from typing import List, Optional, Tuple
from urllib.parse import parse_qsl

from twisted.logger import Logger

from .gojson import go_quote

log = Logger()
CONTENT_TYPE = b"text/plain; charset=utf-8"


def _quoted(names) -> str:
    return ",".join(go_quote(name) for name in names)


class RootAnswer:
    """One request to a root path: ask ``excludes(name)`` before running a check, ``record`` what it gave, then
    ``answer()``, which logs the reasons a failing answer withholds."""

    def __init__(self, kind: str, query: str):
        self.kind = kind
        params = parse_qsl(query, keep_blank_values=True)
        self._unmatched = {value for key, value in params if key == "exclude"}
        self._verbose = any(key == "verbose" for key, _ in params)
        self._lines: List[str] = []
        self.failed: List[str] = []
        self.failures: List[str] = []

    def excludes(self, name: str) -> bool:
        """Whether the query excludes check ``name`` (then it is not to be run)."""
        if name not in self._unmatched:
            return False
        self._unmatched.discard(name)
        self._lines.append(f"[+]{name} excluded: ok")
        return True

    def record(self, name: str, reason: Optional[str]) -> None:
        """Check ``name`` passed (``reason`` None) or failed for ``reason``."""
        if reason is None:
            self._lines.append(f"[+]{name} ok")
            return
        self._lines.append(f"[-]{name} failed: reason withheld")
        self.failures.append(f"[-]{name} failed: {reason}")
        self.failed.append(name)

    def answer(self) -> Tuple[int, str]:
        lines = list(self._lines)
        if self._unmatched:
            lines.append(f"warn: some health checks cannot be excluded: no matches for "
                         f"{_quoted(sorted(self._unmatched))}")
        body = "".join(line + "\n" for line in lines)
        if self.failed:
            log.info("{names} check failed: {kind}\n{reasons}", names=",".join(self.failed), kind=self.kind,
                     reasons="\n".join(self.failures))
            return 500, f"{body}{self.kind} check failed\n"
        if not self._verbose:
            return 200, "ok"
        return 200, f"{body}{self.kind} check passed\n"


def check_answer(reason: Optional[str]) -> Tuple[int, str, bool]:
    """A check's own path: (code, body, whether the answer carries X-Content-Type-Options: nosniff)."""
    if reason is None:
        return 200, "ok", False
    return 500, f"internal server error: {reason}\n", True

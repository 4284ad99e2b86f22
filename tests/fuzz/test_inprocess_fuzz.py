"""The in-process fuzzer (tests/fuzz/inprocess.py) for a few seconds on a fixed seed: mutated creates, updates,
status updates and patches of every built-in kind and of custom resources never answer a 500 nor log an error.
KAPI_FUZZ_ROUNDS=200 KAPI_FUZZ_SEED=7 explore further (or ``python -m tests.fuzz.inprocess``)."""

from __future__ import annotations

import os

from .inprocess import Fuzzer


def test_mutated_writes_of_every_kind_never_answer_500():
    fuzzer = Fuzzer(int(os.environ.get("KAPI_FUZZ_SEED", "1")))
    findings = fuzzer.run(int(os.environ.get("KAPI_FUZZ_ROUNDS", "6")))
    assert fuzzer.requests > 300
    assert not findings, "\n\n".join(str(finding) for finding in findings[:5])

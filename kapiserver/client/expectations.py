"""client-go's controller expectations: a controller that has asked for N creations (or deletions) does not act
on its informer's cache for that owner until it has seen them, or five minutes have passed, so that it never
creates twice from a cache that is behind its own writes."""

from __future__ import annotations

from typing import Dict, Iterable, Optional, Set

EXPECTATIONS_TIMEOUT = 300.0


class _Expectee:
    __slots__ = ("add", "delete", "timestamp")

    def __init__(self, add: int, delete: int, timestamp: float):
        self.add = add
        self.delete = delete
        self.timestamp = timestamp

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    def __init__(self, clock=None, timeout: float = EXPECTATIONS_TIMEOUT):
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.timeout = timeout
        self._store: Dict[str, _Expectee] = {}

    def get(self, key: str) -> Optional[_Expectee]:
        return self._store.get(key)

    def satisfied_expectations(self, key: str) -> bool:
        """True when there is nothing left to wait for: no record, all seen, or the record has expired."""
        exp = self._store.get(key)
        if exp is None:
            return True
        if exp.fulfilled():
            return True
        return self.clock.seconds() - exp.timestamp > self.timeout

    def set_expectations(self, key: str, add: int, dele: int) -> None:
        self._store[key] = _Expectee(add, dele, self.clock.seconds())

    def expect_creations(self, key: str, adds: int) -> None:
        self.set_expectations(key, adds, 0)

    def expect_deletions(self, key: str, dels: int) -> None:
        self.set_expectations(key, 0, dels)

    def lower_expectations(self, key: str, add: int, dele: int) -> None:
        exp = self._store.get(key)
        if exp is not None:
            exp.add -= add
            exp.delete -= dele

    def raise_expectations(self, key: str, add: int, dele: int) -> None:
        exp = self._store.get(key)
        if exp is not None:
            exp.add += add
            exp.delete += dele

    def creation_observed(self, key: str) -> None:
        self.lower_expectations(key, 1, 0)

    def deletion_observed(self, key: str) -> None:
        self.lower_expectations(key, 0, 1)

    def delete_expectations(self, key: str) -> None:
        self._store.pop(key, None)


class UIDTrackingControllerExpectations(ControllerExpectations):
    """Deletions tracked by pod UID, so that a deletion seen twice (an update with deletionTimestamp, then the
    delete) counts once."""

    def __init__(self, clock=None, timeout: float = EXPECTATIONS_TIMEOUT):
        super().__init__(clock, timeout)
        self._uids: Dict[str, Set[str]] = {}

    def get_uids(self, key: str) -> Set[str]:
        return self._uids.get(key, set())

    def expect_deletions_uids(self, key: str, uids: Iterable[str]) -> None:
        uids = set(uids)
        self._uids[key] = uids
        self.expect_deletions(key, len(uids))

    def deletion_observed_uid(self, key: str, uid: str) -> None:
        uids = self._uids.get(key)
        if uids is not None and uid in uids:
            uids.discard(uid)
            self.lower_expectations(key, 0, 1)

    def delete_expectations(self, key: str) -> None:
        super().delete_expectations(key)
        self._uids.pop(key, None)

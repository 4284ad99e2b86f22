"""
A watch on a store this process holds (memory, SQLite): it replays the history after its revision, then
hears each write as the store hands it out.  The backends share this bookkeeping; each says how far its
live writes have been handed out (``_live_revision``).  The remote backend's client keeps its watches with
it too: its watch replays until the server's watch says it has caught up.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

from twisted.logger import Logger

from .interface import Compacted, Event, ProgressSink, WatchSink, check_bytes

log = Logger()


class LocalWatcher:
    """One watch: replaying until ``replaying`` drops, then live; ``last`` is the newest revision its sink
    has seen (or skipped)."""

    def __init__(self, storage: Any, prefix: bytes, after_revision: int, sink: WatchSink,
                 on_progress: Optional[ProgressSink] = None):
        self._storage = storage
        self.prefix = prefix
        self.last = after_revision
        self.sink = sink
        self.on_progress = on_progress
        self.replaying = True
        self.cancelled = False

    def _live_revision(self) -> int:
        """The revision up to which the store has handed every write to its live watchers."""
        raise NotImplementedError

    @property
    def progress_revision(self) -> int:
        """Once replayed, every write the store acknowledged has reached this watcher."""
        if self.replaying or self.cancelled:
            return self.last
        return max(self.last, self._live_revision())

    def replayed(self) -> None:
        """The replay has caught up: from now on the watcher is live.  Whoever waits on its progress hears
        that every acknowledged write has reached it (writes elsewhere during the replay moved the store's
        revision past the last event this watch was given)."""
        self.replaying = False
        if self.on_progress is not None and not self.cancelled:
            try:
                self.on_progress(self.progress_revision)
            except Exception:
                log.failure("watch progress sink raised")

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._cancelled()
            self._storage._forget(self)

    def _cancelled(self) -> None:
        """What a backend drops when its watch is cancelled."""

    def deliver(self, event: Event) -> None:
        if self.cancelled or event.revision <= self.last:
            return
        self.last = event.revision
        try:
            self.sink(event)
        except Exception:
            log.failure("watch sink raised on {revision}", revision=event.revision)

    def compacted(self, compacted: Compacted) -> None:
        self.cancel()
        try:
            self.sink(compacted)
        except Exception:
            log.failure("watch sink raised on Compacted")


# How many key families a store remembers the watchers of (then it starts again): one a resource in practice.
_FAMILIES_LIMIT = 1024


class LocalWatchStore:
    """The watch entry points the local backends share.  A backend sets ``_watcher_class``, keeps
    ``_watchers`` and ``_closed``, and says in ``_start_replay`` how a new watcher's replay begins."""

    _watcher_class: ClassVar[type[LocalWatcher]]
    _watchers: list
    _closed: bool
    # By key family (see watchers_of): the watchers a key of it may go to, until the watchers change.
    _families: Optional[dict] = None

    def watch(self, prefix: bytes, after_revision: int, sink: WatchSink,
              on_progress: Optional[ProgressSink] = None) -> LocalWatcher:
        """See Storage.watch.  ``on_progress`` is called once, when the replay
        has caught up; from then on the watcher's progress_revision is the
        store's current revision."""
        check_bytes(prefix=prefix)
        w = self._watcher_class(self, prefix, after_revision, sink, on_progress)
        if self._closed:
            w.cancelled = True
            return w
        self._watchers.append(w)
        self._families = None
        self._start_replay(w)
        return w

    def _start_replay(self, w: Any) -> None:
        raise NotImplementedError

    def _forget(self, w: LocalWatcher) -> None:
        try:
            self._watchers.remove(w)
        except ValueError:
            pass
        self._families = None

    def watchers_of(self, key: bytes) -> list:
        """The watchers whose prefix ``key`` starts with, in the order they were made.  Found through the key's
        family, its first three segments (``/registry/configmaps/``): the watchers of a family are picked out of
        all once (a store has a watcher per resource), and only those whose prefix is longer than the family
        (a namespace's, an object's) are checked against the key itself."""
        cut = key.find(b"/", key.find(b"/", 1) + 1) + 1
        if cut <= 0 or cut == len(key):
            return [w for w in self._watchers if key.startswith(w.prefix)]
        family = key[:cut]
        families = self._families
        if families is None or len(families) >= _FAMILIES_LIMIT:
            families = self._families = {}
        found = families.get(family)
        if found is None:
            found = families[family] = tuple(
                (w, len(w.prefix) > cut) for w in self._watchers
                if family.startswith(w.prefix) or w.prefix.startswith(family))
        return [w for w, check in found if not check or key.startswith(w.prefix)]

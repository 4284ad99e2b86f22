"""
Leader election on a coordination.k8s.io/v1 Lease, as client-go's
leaderelection does it, for the controllers that must run once per cluster
when several apiservers share one etcd.

The rules, in client-go's terms:

- A candidate reads the lease.  Absent: it creates it, holding it.  Held by
  someone else: it waits until the record has not changed for
  leaseDurationSeconds *as measured on its own clock from when it first saw
  that record* (so clocks need not agree), then writes itself in.  Empty
  holderIdentity (a released lease): it takes it at once.
- Every write carries the resourceVersion it read, so of two candidates racing
  for one expired lease exactly one succeeds.
- The leader renews every retryPeriod.  It stops leading when it sees another
  holder, or when it has not renewed for renewDeadline (< leaseDuration, so it
  has stopped before anyone else may take over).
- acquireTime is kept while the same holder renews; leaseTransitions counts
  changes of holder.  With ``release_on_cancel`` (client-go's ReleaseOnCancel,
  off as in kube-controller-manager) stopping while leading releases the lease
  (holder cleared, duration 1 s), so another candidate takes over at once.

One addition: on its very first attempt a candidate takes over a lease held by
an earlier process of the same apiserver (``predecessor_prefix``: the holder
begins with this apiserver's id), so a restarted single server runs its
controllers at once instead of waiting out its own old lease.
"""

from __future__ import annotations

import inspect
import random as _random
from typing import Awaitable, Callable, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from ..machinery import meta
from ..machinery.errors import StatusError

log = Logger()

NAMESPACE = "kube-system"
LEASE_DURATION = 15.0
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0
# client-go's JitterFactor for the acquire loop.
JITTER = 1.2
# How long a stop waits for a round in flight, and then for the release to be written.
STOP_TIMEOUT = 2.0


class LeaderElector:
    """Campaigns for ``namespace/name`` as ``identity``; calls ``on_started_leading()``
    (may return an awaitable) on winning and ``on_stopped_leading()`` on losing."""

    def __init__(self, leases, clock, identity: str, name: str, namespace: str = NAMESPACE,
                 lease_duration: float = LEASE_DURATION, renew_deadline: float = RENEW_DEADLINE,
                 retry_period: float = RETRY_PERIOD,
                 on_started_leading: Optional[Callable[[], Optional[Awaitable]]] = None,
                 on_stopped_leading: Optional[Callable[[], None]] = None,
                 predecessor_prefix: str = "", release_on_cancel: bool = False, jitter: float = JITTER,
                 random: Callable[[], float] = _random.random):
        if not identity:
            raise ValueError("leader election requires an identity")
        if lease_duration <= renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if renew_deadline <= jitter * retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        self.leases = leases
        self.clock = clock
        self.identity = identity
        self.name = name
        self.namespace = namespace
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.predecessor_prefix = predecessor_prefix
        self.release_on_cancel = release_on_cancel
        self.jitter = jitter
        self.random = random
        self.leading = False
        # The last lease read or written: its spec, resourceVersion, and when (on our clock) it last changed.
        self.observed_spec: dict = {}
        self._observed_rv = ""
        self._observed_time = 0.0
        self._last_renew = 0.0
        self._first_attempt = True
        self._call = None
        self._deadline = None
        self._inflight: Optional[Deferred] = None
        self._leading_started: Optional[Deferred] = None
        self._running = False

    @property
    def observed_holder(self) -> str:
        return self.observed_spec.get("holderIdentity") or ""

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Campaign: one attempt now (a free lease is taken without waiting), then the loop."""
        self._running = True
        await self._attempt()
        if self._leading_started is not None:
            # Won at once (the lease was free): serve with the controllers already running.
            await _settled(self._leading_started)

    def stop(self) -> Deferred:
        """Stop campaigning; if leading, stop leading (and release the lease with
        ``release_on_cancel``).  Fires when done."""
        self._running = False
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        # A write in flight would make the release's resourceVersion stale: let it land first, but
        # not wait long for one that hangs (storage gone).
        waiter = _settled(self._inflight) if self._inflight is not None else succeed(None)
        waiter.addTimeout(STOP_TIMEOUT, self.clock)
        waiter.addErrback(lambda _: None)

        def finish(_):
            if not self.leading:
                return None
            self._stop_leading()
            if not self.release_on_cancel:
                return None
            d = Deferred.fromCoroutine(self.release())
            d.addTimeout(STOP_TIMEOUT, self.clock)
            d.addErrback(lambda f: log.failure("could not release lease {ns}/{name}", f,
                                               ns=self.namespace, name=self.name))
            return d
        return waiter.addCallback(finish)

    def check(self, max_tolerable_expired_lease: float) -> None:
        """client-go's Check, for a daemon's leaderElection health check: raises when this candidate holds the
        lease by the last record it saw, and that record has not changed (no renewal) for longer than the lease
        duration plus ``max_tolerable_expired_lease`` seconds on this elector's clock; a standby passes."""
        if self.observed_holder != self.identity:
            return
        if self.clock.seconds() - self._observed_time > self.lease_duration + max_tolerable_expired_lease:
            raise RuntimeError(f"failed election to renew leadership on lease {self.name}")

    # -- the loop ------------------------------------------------------------------------
    def _schedule(self, delay: float) -> None:
        if self._running:
            self._call = self.clock.callLater(delay, self._tick)

    def _tick(self) -> None:
        self._call = None
        Deferred.fromCoroutine(self._attempt()).addErrback(
            lambda f: log.failure("leader election round failed", f))

    async def _attempt(self) -> None:
        d = Deferred.fromCoroutine(self._try())
        # A round that storage never answers must not stall the loop (client-go bounds it with a context).
        d.addTimeout(self.renew_deadline, self.clock)
        self._inflight = d
        try:
            acquired = await d
        finally:
            if self._inflight is d:
                self._inflight = None
        if not self._running:
            return
        now = self.clock.seconds()
        if acquired:
            self._last_renew = now
            if not self.leading:
                self._start_leading()
            self._arm_deadline()
            self._schedule(self.retry_period)
            return
        if self.leading:
            holder = self.observed_holder
            if holder and holder != self.identity:
                log.info("Lease {ns}/{name} is now held by {holder}; stopping leading",
                         ns=self.namespace, name=self.name, holder=holder)
                self._stop_leading()
            elif now - self._last_renew >= self.renew_deadline:
                self._deadline_passed()
        if self.leading:
            self._schedule(self.retry_period)
        else:
            self._schedule(self.retry_period * (1 + self.random() * self.jitter))

    def _arm_deadline(self) -> None:
        # Leading ends renewDeadline after the last renewal, even while a round hangs.
        if self._deadline is not None and self._deadline.active():
            self._deadline.reset(self.renew_deadline)
        else:
            self._deadline = self.clock.callLater(self.renew_deadline, self._deadline_passed)

    def _deadline_passed(self) -> None:
        if self.leading:
            log.info("Could not renew lease {ns}/{name} within {deadline}s; stopping leading",
                     ns=self.namespace, name=self.name, deadline=self.renew_deadline)
            self._stop_leading()

    async def _try(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except Exception:
            log.failure("error acquiring or renewing lease {ns}/{name}", ns=self.namespace, name=self.name)
            return False
        finally:
            self._first_attempt = False

    def _start_leading(self) -> None:
        self.leading = True
        log.info("{identity} became leader of {ns}/{name}", identity=self.identity, ns=self.namespace,
                 name=self.name)
        started = None
        if self.on_started_leading is not None:
            started = self.on_started_leading()
        if inspect.iscoroutine(started):
            started = Deferred.fromCoroutine(started)
        d = started if isinstance(started, Deferred) else succeed(None)
        d.addErrback(lambda f: log.failure("starting the leader's controllers failed", f))
        self._leading_started = d

    def _stop_leading(self) -> None:
        self.leading = False
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        started, self._leading_started = self._leading_started, None
        if self.on_stopped_leading is None:
            return
        if started is None or started.called:
            self.on_stopped_leading()
        else:
            # Controllers still starting: stop them once their start is done.
            started.addBoth(lambda _: self.on_stopped_leading())

    # -- one round -----------------------------------------------------------------------
    def _observe(self, lease: dict, now: float) -> None:
        spec = dict(lease.get("spec") or {})
        if spec != self.observed_spec:
            self.observed_spec = spec
            self._observed_time = now
        self._observed_rv = lease["metadata"].get("resourceVersion", "")

    def _held_by_another(self, now: float) -> bool:
        holder = self.observed_holder
        if not holder or holder == self.identity:
            return False
        if self._first_attempt and self.predecessor_prefix and holder.startswith(self.predecessor_prefix):
            return False
        duration = self.observed_spec.get("leaseDurationSeconds") or 0
        return self._observed_time + duration > now

    async def try_acquire_or_renew(self) -> bool:
        """One round: True when this candidate holds the lease afterwards."""
        now = self.clock.seconds()
        stamp = meta.rfc3339_micro(now)
        try:
            lease = await self.leases.get(self.namespace, self.name)
        except StatusError as e:
            if e.code != 404:
                raise
            lease = None
        if lease is None:
            created = {"metadata": {"name": self.name, "namespace": self.namespace},
                       "spec": {"holderIdentity": self.identity,
                                "leaseDurationSeconds": int(self.lease_duration),
                                "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}}
            try:
                created = await self.leases.create(self.namespace, created)
            except StatusError as e:
                if e.code == 409:
                    return False        # another candidate created it first
                raise
            self._observe(created, now)
            return True
        self._observe(lease, now)
        if self._held_by_another(now):
            return False
        old = self.observed_spec
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration)}
        transitions = old.get("leaseTransitions") or 0
        if old.get("holderIdentity") == self.identity:
            spec["acquireTime"] = old.get("acquireTime") or stamp
        else:
            spec["acquireTime"] = stamp
            transitions += 1
        spec["renewTime"] = stamp
        spec["leaseTransitions"] = transitions
        return await self._write(lease, spec, now)

    async def release(self) -> bool:
        """Clear the holder (duration 1 s) so another candidate takes over at once."""
        if self.observed_holder != self.identity or not self._observed_rv:
            return True
        now = self.clock.seconds()
        stamp = meta.rfc3339_micro(now)
        spec = {"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": stamp, "renewTime": stamp,
                "leaseTransitions": self.observed_spec.get("leaseTransitions") or 0}
        lease = {"metadata": {"name": self.name, "namespace": self.namespace,
                              "resourceVersion": self._observed_rv}}
        return await self._write(lease, spec, now)

    async def _write(self, lease: dict, spec: dict, now: float) -> bool:
        rv = lease["metadata"].get("resourceVersion", "")

        def update(old: Optional[dict]) -> dict:
            if old is None:
                raise StatusError(404, "NotFound", "lease is gone")
            old["spec"] = {**(old.get("spec") or {}), **spec}
            old["metadata"]["resourceVersion"] = rv    # optimistic concurrency: fails if it moved on
            return old
        try:
            written, _ = await self.leases.update(self.namespace, self.name, update, allow_create=False)
        except StatusError as e:
            if e.code in (404, 409):
                return False
            raise
        self._observe(written, now)
        return True


def _settled(d: Deferred) -> Deferred:
    """A Deferred firing (with None) once ``d`` has fired, leaving ``d``'s own result alone."""
    waiter = Deferred()

    def fired(result):
        waiter.callback(None)
        return result
    d.addBoth(fired)
    return waiter


class LeaseClient:
    """The Lease reads and writes LeaderElector makes, over the REST client (a daemon's elector).  A write starts
    from the Lease this client last read or wrote (the elector's own round read it), not from another GET; a
    write that conflicts fails, and the elector's next round reads again."""

    def __init__(self, client):
        from .resources import LEASES
        self.client = client
        self.resource = LEASES
        self._last: dict = {}

    async def get(self, namespace: str, name: str) -> dict:
        lease = await self.client.get(self.resource, name, namespace)
        self._last[(namespace, name)] = lease
        return lease

    async def create(self, namespace: str, lease: dict) -> dict:
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", **lease}
        created = await self.client.create(self.resource, body, namespace=namespace)
        self._last[(namespace, created["metadata"]["name"])] = created
        return created

    async def update(self, namespace: str, name: str, update, allow_create: bool = False):
        import copy
        current = self._last.get((namespace, name))
        if current is None:
            current = await self.client.get(self.resource, name, namespace)
        written = await self.client.update(self.resource, update(copy.deepcopy(current)))
        self._last[(namespace, name)] = written
        return written, False


# kube-controller-manager's and kube-scheduler's leader election flags (usage.Options optParameters), upstream's
# names and defaults; ``--leader-elect`` is a boolean parameter, the durations Go durations.
LEADER_ELECTION_DURATIONS = ("leader-elect-lease-duration", "leader-elect-renew-deadline",
                             "leader-elect-retry-period")


def leader_election_parameters(resource_name: str) -> list:
    return [
        ["leader-elect", None, "true",
         "Start a leader election client and gain leadership before executing the main loop."],
        ["leader-elect-lease-duration", None, "15s", "How long non-leaders wait before taking over a lease."],
        ["leader-elect-renew-deadline", None, "10s", "How long the leader tries to renew before it stops leading."],
        ["leader-elect-retry-period", None, "2s", "How long clients wait between tries of acquisition and renewal."],
        ["leader-elect-resource-name", None, resource_name, "The Lease's name."],
        ["leader-elect-resource-namespace", None, "kube-system", "The Lease's namespace."],
    ]


class LeaderElectedDaemon:
    """A daemon's service that runs its work only while it holds its Lease (or at once, with
    ``--leader-elect=false``): subclasses give ``lead()`` (a coroutine starting the work) and ``follow()``
    (stopping it), and the Lease's default name.  Upstream exits when it loses the lease; stopping the work
    and campaigning again is the same to everyone else."""

    lease_name = ""
    component = ""

    def __init__(self, reactor, client, options: dict):
        import socket
        import uuid
        self.reactor = reactor
        self.client = client
        self.options = options
        self.elector: Optional[LeaderElector] = None
        self.identity = f"{socket.gethostname()}_{uuid.uuid4()}"
        self.running = False
        # The leaderElection health check (healthserver.LeaderElectionCheck) a subclass may set: given the
        # elector once it exists, as client-go's LeaderElectionConfig.WatchDog.
        self.watchdog = None

    def startService(self):
        self.running = True
        options = self.options
        if options.get("leader-elect", True):
            self.elector = LeaderElector(
                LeaseClient(self.client), self.reactor, self.identity,
                options.get("leader-elect-resource-name") or self.lease_name,
                namespace=options.get("leader-elect-resource-namespace") or NAMESPACE,
                lease_duration=options.get("leader-elect-lease-duration", LEASE_DURATION),
                renew_deadline=options.get("leader-elect-renew-deadline", RENEW_DEADLINE),
                retry_period=options.get("leader-elect-retry-period", RETRY_PERIOD),
                on_started_leading=self._started, on_stopped_leading=self._stopped)
            if self.watchdog is not None:
                self.watchdog.set_leader_election(self.elector)
            d = Deferred.fromCoroutine(self.elector.start())
        else:
            d = Deferred.fromCoroutine(self._started())
        d.addErrback(lambda f: log.failure("{component} failed to start", f, component=self.component))

    async def _started(self) -> None:
        log.info("{identity} became leader", identity=self.identity)
        await self.lead()

    def _stopped(self) -> None:
        if self.running:
            log.warn("{component}: leader election lost, stopping", component=self.component)
        self.follow()

    def stopService(self):
        self.running = False     # from here the elector's stop is no lost election
        self.follow()
        d = self.elector.stop() if self.elector is not None else None
        self.reactor.callLater(0, self.client.close)
        return d

    async def lead(self) -> None:
        raise NotImplementedError

    def follow(self) -> None:
        raise NotImplementedError

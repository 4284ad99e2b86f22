"""certificatesigningrequest-cleaner-controller: every hour, deletes the CertificateSigningRequests that are done
with, as upstream's pkg/controller/certificates/cleaner: approved and issued, denied or failed for more than an
hour; pending (no condition) for more than a day; or whose issued certificate has expired."""

from __future__ import annotations

from typing import Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..client.resources import CERTIFICATE_SIGNING_REQUESTS
from ..client.rest import APIError
from ..machinery import meta
from .context import ControllerContext
from .csr import certificate_not_after, has_condition

log = Logger()
POLLING_INTERVAL = 3600.0
APPROVED_EXPIRATION = 3600.0
DENIED_EXPIRATION = 3600.0
FAILED_EXPIRATION = 3600.0
PENDING_EXPIRATION = 24 * 3600.0


def _older_than(condition: dict, limit: float, now: float) -> bool:
    """Whether the condition was last updated more than ``limit`` before ``now``; one without a lastUpdateTime
    never is (upstream's isOlderThan of a zero time)."""
    stamp = condition.get("lastUpdateTime")
    return bool(stamp) and meta.parse_time(stamp) + limit < now


def expired(csr: dict, now: float) -> Optional[str]:
    """Why ``csr`` is to be deleted at ``now``, or None."""
    approved = has_condition(csr, "Approved")
    issued = bool((csr.get("status") or {}).get("certificate"))
    if approved is not None and issued and _older_than(approved, APPROVED_EXPIRATION, now):
        return "issued past deadline"
    for kind, limit in (("Denied", DENIED_EXPIRATION), ("Failed", FAILED_EXPIRATION)):
        condition = has_condition(csr, kind)
        if condition is not None and _older_than(condition, limit, now):
            return f"{kind.lower()} past deadline"
    conditions = (csr.get("status") or {}).get("conditions") or []
    if not conditions and meta.parse_time(csr["metadata"]["creationTimestamp"]) + PENDING_EXPIRATION < now:
        return "pending past deadline"
    # Only an approved request's certificate counts: one written without approval waits for the rules above.
    not_after = certificate_not_after(csr)
    if approved is not None and not_after is not None and not_after < now:
        return "issued certificate has expired"
    return None


class CSRCleanerController:
    name = "certificatesigningrequest-cleaner-controller"

    def __init__(self, ctx: ControllerContext):
        self.ctx = ctx
        self.client = ctx.client
        self.clock = ctx.clock
        self.csrs = ctx.informers.informer(CERTIFICATE_SIGNING_REQUESTS)
        self._call = None
        self._stopped = False

    async def run(self) -> None:
        await self.ctx.informers.wait_for_cache_sync(self.csrs)
        self._pass()

    def _pass(self) -> None:
        """One pass over the cache now, the next an hour later (upstream's wait.Until polling)."""
        if self._stopped:
            return
        d = Deferred.fromCoroutine(self.clean())
        d.addErrback(lambda f: log.failure("cleaning CertificateSigningRequests failed", f))
        self._call = self.clock.callLater(POLLING_INTERVAL, self._pass)

    async def clean(self) -> None:
        now = self.clock.seconds()
        for csr in self.csrs.indexer.list():
            if expired(csr, now) is None:
                continue
            try:
                await self.client.delete(CERTIFICATE_SIGNING_REQUESTS, csr["metadata"]["name"],
                                         preconditions={"uid": csr["metadata"]["uid"]})
            except APIError as e:
                if e.code not in (404, 409):
                    raise

    def stop(self) -> None:
        self._stopped = True
        if self._call is not None and self._call.active():
            self._call.cancel()


def start_csr_cleaner_controller(ctx: ControllerContext) -> CSRCleanerController:
    return CSRCleanerController(ctx)

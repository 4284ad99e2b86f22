"""Waiting for the apiserver: GET /readyz through kapiserver.client, as the admin kubeconfig's user (so the
cluster CA and the admin credentials are proven too), until it answers 200, without blocking the reactor."""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater

from ..client.rest import Client

POLL_INTERVAL = 0.25
REQUEST_TIMEOUT = 5.0


async def wait_until_ready(reactor, client: Client, interval: float = POLL_INTERVAL) -> None:
    """Returns once GET /readyz succeeds; polls every `interval` seconds until then (cancel to give up).
    Closes `client`'s connections either way."""
    try:
        while True:
            try:
                d = Deferred.fromCoroutine(client.request("GET", "/readyz"))
                d.addTimeout(REQUEST_TIMEOUT, reactor)
                await d
                return
            except CancelledError:
                raise
            except Exception:      # refused, reset, TLS not ready yet, 500 while starting: still coming up
                pass
            await deferLater(reactor, interval, lambda: None)
    finally:
        client.close()


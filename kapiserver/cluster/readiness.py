"""Waiting for the apiserver: GET /readyz over TLS (the cluster CA trusted) until it answers 200, without
blocking the reactor.  /readyz is public (system:public-info-viewer), so no credentials are presented."""

from __future__ import annotations

from typing import Optional

from twisted.internet import ssl
from twisted.internet.defer import CancelledError
from twisted.internet.task import deferLater
from twisted.web.client import Agent, HTTPConnectionPool, _HTTP11ClientFactory, readBody
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

POLL_INTERVAL = 0.25
REQUEST_TIMEOUT = 5.0


class _QuietFactory(_HTTP11ClientFactory):
    noisy = False       # no "Starting factory" lines, two per poll


class QuietPool(HTTPConnectionPool):
    _factory = _QuietFactory


@implementer(IPolicyForHTTPS)
class TrustCA:
    """TLS to the apiserver, its certificate checked against the cluster CA and the host it was asked for."""

    def __init__(self, ca_pem: bytes):
        self.trust = ssl.Certificate.loadPEM(ca_pem)

    def creatorForNetloc(self, hostname: bytes, port: int):
        return ssl.optionsForClientTLS(hostname.decode("ascii"), trustRoot=self.trust)


async def wait_until_ready(reactor, url: str, ca_pem: bytes, interval: float = POLL_INTERVAL,
                           agent: Optional[Agent] = None) -> None:
    """Returns once GET `url` answers 200; polls every `interval` seconds until then (cancel to give up)."""
    if agent is None:
        agent = Agent(reactor, contextFactory=TrustCA(ca_pem), pool=QuietPool(reactor, persistent=False))
    while True:
        try:
            d = agent.request(b"GET", url.encode("ascii"))
            d.addTimeout(REQUEST_TIMEOUT, reactor)
            response = await d
            await readBody(response)
            if response.code == 200:
                return
        except CancelledError:
            raise
        except Exception:      # refused, reset, TLS not ready yet: the apiserver is still starting
            pass
        await deferLater(reactor, interval, lambda: None)

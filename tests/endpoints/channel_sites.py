"""A site of the API's request and channel classes (QuietSite, RawBodyRequest, LimitedHeadersChannel) serving
one resource over a test transport, on a deterministic clock: what the HTTP-level tests here talk to."""

from __future__ import annotations

from twisted.internet import task
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource

from kapiserver import runtime
from kapiserver.listener import QuietSite


def site_of(resource: Resource, clock=None) -> QuietSite:
    """A site whose every request goes to ``resource`` (the channel's limits in place, not RuntimeLimits)."""
    clock = clock or task.Clock()
    site = QuietSite(Resource(), reactor=clock)
    runtime.wrap_site(site, resource, clock, None, None)
    site.resource = resource
    return site


def connect(site: QuietSite):
    """A new connection to ``site``: its channel and transport (what the test sends goes to the channel)."""
    channel = site.buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    transport.protocol = channel
    return channel, transport

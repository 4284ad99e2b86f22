"""kube-apiserver's --embedded-controllers: the namespace and garbage collector controllers it runs itself, the
same code as kube-controller-manager's, through a loopback listener that only its own token opens."""

from __future__ import annotations

import pytest
from twisted.web.resource import Resource
from twisted.web.test.requesthelper import DummyRequest

from kapiserver.config import ServerConfig
from kapiserver.controllermanager.embedded import LoopbackSite
from kapiserver.flags import OptionError
from kapiserver.listener import QuietSite


class _Privileged(Resource):
    isLeaf = True


def test_loopback_site_serves_only_its_token():
    """A request without the token, or with another, gets 401; with it, the privileged site's resource."""
    privileged_root = _Privileged()
    site = LoopbackSite(QuietSite(privileged_root), token="sekrit")
    for header in (None, "Bearer other", "Bearer sekrit2", "sekrit"):
        request = DummyRequest([b"api"])
        if header:
            request.requestHeaders.addRawHeader(b"authorization", header.encode())
        refused = site.getResourceFor(request)
        assert refused is not privileged_root
        refused.render(request)
        assert request.responseCode == 401
    request = DummyRequest([b"api"])
    request.requestHeaders.addRawHeader(b"authorization", b"Bearer sekrit")
    assert site.getResourceFor(request) is privileged_root


def test_every_site_gets_a_token_of_its_own():
    """Without a token given, each loopback site makes a random one."""
    first, second = LoopbackSite(QuietSite(Resource())), LoopbackSite(QuietSite(Resource()))
    assert first.token != second.token and len(first.token) >= 32


def test_embedded_controllers_flag():
    """Both by default; empty for none; upstream's aliases accepted; anything else refused."""
    assert ServerConfig.from_options({}).embedded_controllers == ("namespace-controller",
                                                                  "garbage-collector-controller")
    assert ServerConfig.from_options({"embedded-controllers": ""}).embedded_controllers == ()
    assert ServerConfig.from_options({"embedded-controllers": "garbagecollector"}).embedded_controllers == \
        ("garbage-collector-controller",)
    with pytest.raises(OptionError):
        ServerConfig.from_options({"embedded-controllers": "deployment-controller"})

"""Impersonation's groups and checks as upstream's WithImpersonation filter (k8s.io/apiserver)."""

import asyncio

from twisted.web.http_headers import Headers

from kapiserver.auth import impersonation
from kapiserver.auth.authz import ALLOW, Decision
from kapiserver.auth.user import UserInfo

ADMIN = UserInfo("admin", groups=["system:authenticated"])


class _Request:
    def __init__(self, headers: dict):
        self.requestHeaders = Headers({k.encode(): [v.encode() for v in vs] for k, vs in headers.items()})


class _Recorder:
    def __init__(self):
        self.asked = []

    async def authorize(self, attributes):
        self.asked.append((attributes.resource, attributes.subresource, attributes.name))
        return Decision(ALLOW)


def _as(headers):
    recorder = _Recorder()
    user = asyncio.run(impersonation.impersonate(_Request(headers), ADMIN, recorder))
    return user, recorder.asked


def test_service_account_groups_only_without_group_headers():
    user, _ = _as({"Impersonate-User": ["system:serviceaccount:ns:robot"]})
    assert user.groups == ["system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"]
    user, asked = _as({"Impersonate-User": ["system:serviceaccount:ns:robot"], "Impersonate-Group": ["devs"]})
    assert user.groups == ["devs", "system:authenticated"]
    assert asked == [("serviceaccounts", "", "robot"), ("groups", "", "devs")]


def test_authenticated_added_unless_either_group_given():
    user, _ = _as({"Impersonate-User": ["bob"], "Impersonate-Group": ["system:unauthenticated"]})
    assert user.groups == ["system:unauthenticated"]
    user, _ = _as({"Impersonate-User": ["bob"], "Impersonate-Group": ["system:authenticated", "devs"]})
    assert user.groups == ["system:authenticated", "devs"]
    user, _ = _as({"Impersonate-User": ["system:anonymous"]})
    assert user.groups == ["system:unauthenticated"]


def test_checks_in_upstream_order():
    """The user, the groups, the extras, then the one uid (the header's first value)."""
    _, asked = _as({"Impersonate-User": ["bob"], "Impersonate-Uid": ["u1"], "Impersonate-Extra-Scopes": ["a"],
                    "Impersonate-Group": ["g"]})
    assert asked == [("users", "", "bob"), ("groups", "", "g"), ("userextras", "scopes", "a"), ("uids", "", "u1")]


class _Authenticator:
    async def authenticate(self, request):
        return ADMIN


def test_the_credentials_are_taken_off_the_request_once_read():
    """As upstream's authentication and impersonation filters delete them: whatever the request is proxied to next
    (a kubelet, a pod, a service, an extension apiserver) never sees the user's token or impersonation headers."""
    from kapiserver.auth.filters import Security
    from kapiserver.endpoints.requestinfo import request_info
    request = _Request({"Authorization": ["Bearer secret"], "Impersonate-User": ["bob"],
                        "Impersonate-Group": ["g"], "Impersonate-Uid": ["u1"], "Impersonate-Extra-Scopes": ["a", "b"],
                        "Accept": ["application/json"]})
    info = request_info("GET", "/api/v1/namespaces/default/pods/p/proxy/", {})
    user = asyncio.run(Security(_Authenticator(), _Recorder()).filter(request, info))
    assert (user.name, user.uid) == ("bob", "u1")
    assert [name for name, _ in request.requestHeaders.getAllRawHeaders()] == [b"Accept"]


def test_a_front_proxys_headers_are_taken_off_the_request_once_read():
    """As upstream's requestheader authenticator clears them: a pod or node the request is proxied to never sees
    the X-Remote-* headers that named the user."""
    from kapiserver.auth import certs
    from kapiserver.auth.authn import RequestHeaders
    ca, ca_key = certs.new_ca("front-proxy-ca")
    cert, _ = certs.sign_certificate(ca, ca_key, "front-proxy", client=True)
    authenticator = RequestHeaders([ca], ["front-proxy"], ["X-Remote-User"], ["X-Remote-Group"], ["X-Remote-Extra-"])
    request = _Request({"X-Remote-User": ["jane"], "X-Remote-Group": ["devs", "ops"],
                        "X-Remote-Extra-Scopes": ["read"], "Accept": ["application/json"]})
    user = authenticator.user(request, cert)
    assert (user.name, user.groups, user.extra) == ("jane", ["devs", "ops"], {"scopes": ["read"]})
    assert [name for name, _ in request.requestHeaders.getAllRawHeaders()] == [b"Accept"]


def test_what_authentication_records_reaches_the_requests_response_and_audit_event():
    """A legacy token's warning and audit annotation, added while the request is authenticated, land on that
    request (recording starts before authentication, not after)."""
    from kapiserver.auth import context
    from kapiserver.auth.filters import Security
    from kapiserver.endpoints.requestinfo import request_info

    class Noting:
        async def authenticate(self, request):
            context.add_warning("use of auto-generated secret-based token")
            context.add_audit_annotation("authentication.k8s.io/legacy-token", "system:serviceaccount:ns:sa")
            return ADMIN
    request = _Request({"Authorization": ["Bearer legacy"]})
    request.responseHeaders = Headers()
    info = request_info("GET", "/api/v1/namespaces", {})
    asyncio.run(Security(Noting(), _Recorder()).filter(request, info))
    assert request.kapi_audit_annotations == {"authentication.k8s.io/legacy-token": "system:serviceaccount:ns:sa"}
    assert request.responseHeaders.getRawHeaders(b"Warning") == [b'299 - "use of auto-generated secret-based token"']


def test_the_insecure_port_takes_credentials_off_the_request_too():
    """Nothing authenticates there, but a token or impersonation header a client sent still never reaches what
    the request is proxied to (a kubelet would take the token for its own authentication)."""
    from kapiserver.auth.filters import insecure
    request = _Request({"Authorization": ["Bearer secret"], "Impersonate-User": ["bob"],
                        "Impersonate-Extra-Scopes": ["a"], "Accept": ["application/json"]})
    request.responseHeaders = Headers()
    insecure(request)
    assert [name for name, _ in request.requestHeaders.getAllRawHeaders()] == [b"Accept"]

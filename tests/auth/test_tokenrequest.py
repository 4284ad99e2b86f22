"""serviceaccounts/token (TokenRequest) as upstream's TokenREST.Create answers it: the request's metadata, the
objects a token is bound to, the claims and the response."""

import asyncio
import copy
import time
from types import SimpleNamespace

import pytest
from twisted.web.http_headers import Headers

from kapiserver.auth import authn, certs, context, jwt
from kapiserver.auth.tokenrequest import token_request
from kapiserver.machinery import errors
from kapiserver.machinery.errors import StatusError

ISSUER = "https://issuer.example"
KEY = certs.new_key()
ACCOUNT = {"metadata": {"name": "robot", "namespace": "ns", "uid": "sa-uid"}}
OBJECTS = {
    ("serviceaccounts", "ns", "robot"): ACCOUNT,
    ("serviceaccounts", "ns", "other"): {"metadata": {"name": "other", "namespace": "ns", "uid": "other-uid"}},
    ("pods", "ns", "web"): {"metadata": {"name": "web", "uid": "pod-uid"},
                            "spec": {"serviceAccountName": "robot", "nodeName": "n1"}},
    ("pods", "ns", "lost"): {"metadata": {"name": "lost", "uid": "lost-uid"},
                             "spec": {"serviceAccountName": "robot", "nodeName": "gone"}},
    ("pods", "ns", "pending"): {"metadata": {"name": "pending", "uid": "pending-uid"},
                                "spec": {"serviceAccountName": "robot"}},
    ("secrets", "ns", "creds"): {"metadata": {"name": "creds", "uid": "secret-uid"}},
    ("nodes", None, "n1"): {"metadata": {"name": "n1", "uid": "node-uid"}},
}


class Store:
    def __init__(self, resource: str):
        self.resource = resource

    async def get(self, namespace, name):
        found = OBJECTS.get((self.resource, namespace, name))
        if found is None:
            raise errors.not_found(errors.GroupResource("", self.resource), name)
        return copy.deepcopy(found)


class Registry:
    def store(self, group, version, resource):
        return Store(resource)


class Request:
    def __init__(self):
        self.responseHeaders = Headers()


def issue(body, name="robot", max_expiration=0, audiences=(ISSUER,)):
    """The TokenRequest answered, the claims of its token, and the request's warnings and audit annotations."""
    sa = authn.ServiceAccountTokens([KEY.public_key()], KEY, [ISSUER], list(audiences),
                                    max_expiration=max_expiration)
    request = Request()

    async def serve():
        context.set_request(request)
        return await token_request(SimpleNamespace(service_accounts=sa), Registry(), "ns", name, body)

    answer = asyncio.run(serve())
    claims = jwt.verify(answer["status"]["token"], [KEY.public_key()])
    warnings = [v.decode() for v in request.responseHeaders.getRawHeaders(b"Warning", [])]
    return answer, claims, warnings, request.kapi_audit_annotations


def refused(body, name="robot") -> StatusError:
    with pytest.raises(StatusError) as raised:
        issue(body, name)
    return raised.value


def bound_to(kind: str, name: str, **ref) -> dict:
    return {"spec": {"boundObjectRef": {"kind": kind, "apiVersion": "v1", "name": name, **ref}}}


def test_a_body_naming_another_service_account_is_invalid():
    error = refused({"metadata": {"name": "other"}})
    assert (error.code, error.reason) == (422, "Invalid")
    assert error.message == ('TokenRequest.authentication.k8s.io "robot" is invalid: metadata.name: '
                             'Invalid value: "other": must match the service account name if specified')
    assert error.details["name"] == "robot" and error.details["kind"] == "TokenRequest"


def test_a_body_in_another_namespace_is_a_bad_request():
    error = refused({"metadata": {"namespace": "elsewhere"}})
    assert (error.code, error.reason) == (400, "BadRequest")
    assert error.message == "the namespace of the provided object does not match the namespace sent on the request"


def test_an_invalid_expiration_names_no_object():
    """ValidateTokenRequest's errors come as Invalid for "" (upstream validates before naming the object)."""
    error = refused({"spec": {"expirationSeconds": 60}})
    assert error.message == ('TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
                             'Invalid value: 60: may not specify a duration less than 10 minutes')
    assert "name" not in error.details


def test_the_response_is_stamped_now_and_keeps_the_request_metadata():
    before = time.time()
    answer, claims, _, _ = issue({"metadata": {"labels": {"a": "b"}, "uid": "wiped"}})
    stamped = answer["metadata"].pop("creationTimestamp")
    assert answer["metadata"] == {"name": "robot", "namespace": "ns", "labels": {"a": "b"}}
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before)) <= stamped
    # TokenRequestSpec.boundObjectRef has no omitempty: an unbound request's answer carries it as null.
    assert answer["spec"] == {"audiences": [ISSUER], "expirationSeconds": 3600, "boundObjectRef": None}
    assert claims["exp"] - claims["iat"] == 3600


def test_a_pod_of_another_service_account_cannot_be_bound():
    error = refused(bound_to("Pod", "web"), name="other")
    assert (error.code, error.reason) == (400, "BadRequest")
    assert error.message == ('cannot bind token for serviceaccount "other" to pod running with different '
                             'serviceaccount name.')


@pytest.mark.parametrize("api_version, kind, shown", [
    ("v1", "ConfigMap", "/v1, Kind=ConfigMap"),
    ("apps/v1", "Pod", "apps/v1, Kind=Pod"),     # only the core group's Pod
    ("a/b/c", "Secrets", "/, Kind=Secrets"),     # an apiVersion that does not parse leaves both out
])
def test_other_kinds_cannot_be_bound(api_version, kind, shown):
    error = refused({"spec": {"boundObjectRef": {"kind": kind, "apiVersion": api_version, "name": "web"}}})
    assert (error.code, error.reason) == (400, "BadRequest")
    assert error.message == f"cannot bind token to object of type {shown}"


def test_a_stale_uid_conflicts_on_the_kind():
    error = refused(bound_to("Pod", "web", uid="old"))
    assert (error.code, error.reason) == (409, "Conflict")
    assert error.message == ('Operation cannot be fulfilled on Pod "web": the UID in the bound object reference (old) '
                             'does not match the UID in record. The object might have been deleted and then recreated')
    assert error.details == {"name": "web", "kind": "Pod"}


@pytest.mark.parametrize("body, bound", [
    (bound_to("Pod", "web"), {"pod": {"name": "web", "uid": "pod-uid"}, "node": {"name": "n1", "uid": "node-uid"}}),
    (bound_to("Pod", "lost"), {"pod": {"name": "lost", "uid": "lost-uid"}, "node": {"name": "gone"}}),
    (bound_to("Pod", "pending"), {"pod": {"name": "pending", "uid": "pending-uid"}}),
    (bound_to("Secret", "creds", uid="secret-uid"), {"secret": {"name": "creds", "uid": "secret-uid"}}),
    (bound_to("Node", "n1"), {"node": {"name": "n1", "uid": "node-uid"}}),
])
def test_the_kubernetes_claim_names_what_the_token_is_bound_to(body, bound):
    """A pod-bound token also names the node the pod runs on (its name alone when there is no such Node)."""
    answer, claims, _, _ = issue(body)
    assert claims["kubernetes.io"] == {"namespace": "ns", "serviceaccount": {"name": "robot", "uid": "sa-uid"},
                                       **bound}
    # The reference comes back as given: upstream does not fill in the uid it found.
    assert answer["spec"]["boundObjectRef"] == body["spec"]["boundObjectRef"]


def test_a_projected_tokens_expiration_is_extended_with_a_warning_time():
    """Pod-bound tokens asked for 3607 s for the API server's audiences live a year, warning after 3607 s."""
    before = int(time.time())
    body = {"spec": {"expirationSeconds": 3607, **bound_to("Pod", "web")["spec"]}}
    answer, claims, _, _ = issue(body)
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607
    assert answer["spec"]["expirationSeconds"] == 3607
    assert answer["status"]["expirationTimestamp"] >= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before + 3607))
    for other in ({"spec": {"expirationSeconds": 3607}},
                  {"spec": {"expirationSeconds": 3607, "audiences": ["vault"], **bound_to("Pod", "web")["spec"]}},
                  {"spec": {"expirationSeconds": 3608, **bound_to("Pod", "web")["spec"]}}):
        _, claims, _, _ = issue(other)
        assert claims["exp"] - claims["iat"] == other["spec"]["expirationSeconds"]
        assert "warnafter" not in claims["kubernetes.io"]


def test_a_shortened_expiration_is_warned_about_and_the_jti_audited():
    answer, claims, warnings, annotations = issue({"spec": {"expirationSeconds": 7200}}, max_expiration=3600)
    assert answer["spec"]["expirationSeconds"] == 3600 and claims["exp"] - claims["iat"] == 3600
    assert warnings == ['299 - "requested expiration of 7200 seconds shortened to 3600 seconds"']
    assert annotations == {"authentication.kubernetes.io/issued-credential-id": f"JTI={claims['jti']}"}

"""certificatesigningrequest-approving-controller in process against upstream 1.32's
pkg/controller/certificates/approver/sarapprove.go: the SubjectAccessReviews it asks, and a recognized request its
reviews refuse being retried (IgnorableError) rather than forgotten."""

from twisted.internet import task

from kapiserver.client.informer import SharedInformerFactory
from kapiserver.client.resources import CERTIFICATE_SIGNING_REQUESTS, SUBJECT_ACCESS_REVIEWS
from kapiserver.client.workqueue import run_workers
from kapiserver.controllermanager.context import ControllerContext
from kapiserver.controllermanager.csr import KUBE_APISERVER_CLIENT_KUBELET
from kapiserver.controllermanager.csrapproving import CSRApprovingController
from tests.controllermanager.test_csr import csr_object, request_pem


class FakeClient:
    """Answers SubjectAccessReviews with ``allowed``; records them and the writes."""

    def __init__(self):
        self.allowed = False
        self.reviews: list = []
        self.writes: list = []

    async def create(self, resource, body, namespace=None, **kwargs):
        assert resource == SUBJECT_ACCESS_REVIEWS
        self.reviews.append(body["spec"])
        return {**body, "status": {"allowed": self.allowed}}

    async def update(self, resource, body, namespace=None, subresource=None, **kwargs):
        assert resource == CERTIFICATE_SIGNING_REQUESTS
        self.writes.append((subresource, body))
        return body


def bootstrap_request(name: str) -> dict:
    csr = csr_object(name, KUBE_APISERVER_CLIENT_KUBELET, request_pem("system:node:n1", ["system:nodes"]),
                     ["digital signature", "client auth"])
    csr["metadata"].update(uid="uid-1", resourceVersion="1")
    csr["spec"].update(username="system:bootstrap:abcdef", uid="u-1", groups=["system:bootstrappers"])
    return csr


def test_a_refused_node_client_request_is_retried_until_its_review_allows_it():
    """A bootstrap node's client request is reviewed for create certificatesigningrequests/nodeclient (version
    "*"); refused, its sync fails as upstream's IgnorableError so the queue retries it, and once the requester
    is granted the retry approves it (AutoApproved)."""
    clock = task.Clock()
    clock.advance(1_700_000_000)
    client = FakeClient()
    controller = CSRApprovingController(ControllerContext(client, SharedInformerFactory(client, clock), clock, {}))
    csr = bootstrap_request("node-csr")
    controller.csrs.indexer.add(csr)
    controller.enqueue(csr)
    workers = run_workers(controller.queue, 1, controller.sync, controller.name)
    try:
        assert [r["resourceAttributes"] for r in client.reviews] == [
            {"group": "certificates.k8s.io", "version": "*", "resource": "certificatesigningrequests",
             "verb": "create", "subresource": "nodeclient"}]
        assert (client.reviews[0]["user"], client.reviews[0]["groups"]) == (
            "system:bootstrap:abcdef", ["system:bootstrappers"])
        assert client.writes == []
        client.allowed = True
        clock.advance(1)        # past the first rate-limited retry
        assert len(client.reviews) == 2
        [(subresource, written)] = client.writes
        approved = written["status"]["conditions"][-1]
        assert (subresource, approved["type"], approved["reason"], approved["message"]) == (
            "approval", "Approved", "AutoApproved",
            "Auto approving kubelet client certificate after SubjectAccessReview.")
    finally:
        controller.queue.shutdown()
    assert workers.called

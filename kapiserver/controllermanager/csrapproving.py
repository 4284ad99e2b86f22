"""certificatesigningrequest-approving-controller: approves kubelet client certificate requests
(kubernetes.io/kube-apiserver-client-kubelet) that a SubjectAccessReview says the requester may make, as
upstream's pkg/controller/certificates/approver (sarapprove): a node renewing its own certificate needs
``create certificatesigningrequests/selfnodeclient``, any other requester (bootstrap tokens)
``create certificatesigningrequests/nodeclient``. Nothing else is approved or denied here."""

from __future__ import annotations

from ..client.cache import split_key
from ..client.resources import CERTIFICATE_SIGNING_REQUESTS, SUBJECT_ACCESS_REVIEWS
from ..machinery import meta
from .context import ControllerContext, QueueController
from .csr import KUBE_APISERVER_CLIENT_KUBELET, common_name, has_condition, parse_request, validate_kubelet_client

# (subresource, message), in the order upstream's recognizers try them.
SELF_NODE_CLIENT = ("selfnodeclient", "Auto approving self kubelet client certificate after SubjectAccessReview.")
NODE_CLIENT = ("nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview.")


def recognized_permissions(csr: dict, request) -> list:
    """The (subresource, message) pairs whose recognizer accepts the request."""
    spec = csr.get("spec") or {}
    if spec.get("signerName") != KUBE_APISERVER_CLIENT_KUBELET:
        return []
    if validate_kubelet_client(request, spec.get("usages") or []) is not None:
        return []
    return ([SELF_NODE_CLIENT] if spec.get("username") == common_name(request) else []) + [NODE_CLIENT]


class CSRApprovingController(QueueController):
    name = "certificatesigningrequest-approving-controller"
    default_workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.csrs = self.informer(CERTIFICATE_SIGNING_REQUESTS)
        self.csrs.add_event_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new))

    def _changed(self, csr: dict) -> None:
        if not (csr.get("status") or {}).get("certificate") and not has_condition(csr, "Approved") and \
                not has_condition(csr, "Denied"):
            self.enqueue(csr)

    async def _allowed(self, csr: dict, subresource: str) -> bool:
        spec = csr.get("spec") or {}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": spec.get("username", ""), "uid": spec.get("uid", ""),
                           "groups": spec.get("groups") or [], "extra": spec.get("extra") or {},
                           "resourceAttributes": {"group": "certificates.k8s.io", "version": "*",
                                                  "resource": "certificatesigningrequests", "verb": "create",
                                                  "subresource": subresource}}}
        result = await self.client.create(SUBJECT_ACCESS_REVIEWS, review)
        return bool((result.get("status") or {}).get("allowed"))

    async def sync(self, key: str) -> None:
        _, name = split_key(key)
        csr = self.csrs.indexer.get(name)
        if csr is None or (csr.get("status") or {}).get("certificate") or has_condition(csr, "Approved") or \
                has_condition(csr, "Denied"):
            return
        try:
            request = parse_request(csr)
        except ValueError as e:
            raise ValueError(f'unable to parse csr "{name}": {e}') from None
        tried = []
        for subresource, message in recognized_permissions(csr, request):
            tried.append(subresource)
            if not await self._allowed(csr, subresource):
                continue
            stamp = meta.rfc3339(self.clock.seconds())
            conditions = list((csr.get("status") or {}).get("conditions") or [])
            conditions.append({"type": "Approved", "status": "True", "reason": "AutoApproved", "message": message,
                               "lastUpdateTime": stamp, "lastTransitionTime": stamp})
            await self.client.update(CERTIFICATE_SIGNING_REQUESTS,
                                     {**csr, "status": {**(csr.get("status") or {}), "conditions": conditions}},
                                     subresource="approval")
            return
        if tried:
            # Upstream's IgnorableError: the key is retried rate-limited, so a request made before its requester
            # was granted nodeclient (a bootstrap binding created late) is approved once the grant exists.
            raise NotApproved(f'recognized csr "{name}" as [{" ".join(tried)}] but subject access review was not '
                              f'approved')
        # Not a kubelet client request: left for a person.


class NotApproved(Exception):
    """A recognized request whose SubjectAccessReviews all said no (retried, as upstream's IgnorableError)."""


def start_csr_approving_controller(ctx: ControllerContext) -> CSRApprovingController:
    return CSRApprovingController(ctx)

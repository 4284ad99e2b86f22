"""endpointslice-controller: the EndpointSlices of every Service with a selector, as upstream's
pkg/controller/endpointslice.

Slices are named ``<service>-<random>``, labelled ``kubernetes.io/service-name`` and
``endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`` (and the Service's labels, and
``service.kubernetes.io/headless`` for a headless Service), owned by the Service (the garbage collector removes
them with it), and hold at most ``--max-endpoints-per-slice`` (100) endpoints each: a pod's addresses of the
slice's address type, conditions ready/serving/terminating, nodeName, the node's topology.kubernetes.io/zone,
targetRef and, for a pod whose subdomain names the Service, hostname.  How endpoints are packed into slices:
endpointslicereconciler.py.  The controller's own writes are tracked so their events do not sync the Service
again and a cache that has not caught up with them is waited for; a slice changed or deleted by anyone else
has its Service synced after a second."""

from __future__ import annotations

from typing import List

from ..client.cache import split_key
from ..client.resources import ENDPOINT_SLICES, NODES, PODS, SERVICES
from ..client.workqueue import BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter
from ..machinery import errors
from .context import ControllerContext, QueueController
from .endpointslicereconciler import Reconciler, SliceWriteError
from .endpointsliceutil import (EndpointSliceTracker, ServicePodHandlers, StaleInformerCache, TrackedSliceHandlers,
                                TriggerTimeTracker, selected_pods, selector, slices_for_service)

CONTROLLER_NAME = "endpointslice-controller.k8s.io"      # the managed-by label's value
COMPONENT = "endpoint-slice-controller"
MAX_ENDPOINTS_PER_SLICE = 100
ENDPOINT_SLICE_CHANGE_MIN_SYNC_DELAY = 1.0


class EndpointSliceController(ServicePodHandlers, TrackedSliceHandlers, QueueController):
    manager = CONTROLLER_NAME
    name = "endpointslice-controller"
    workers_option = "concurrent-service-endpoint-syncs"
    default_workers = 5

    def rate_limiter(self, clock):
        # Upstream backs off from 1 s (not client-go's 5 ms): a sync can rewrite many slices.
        return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(1.0, 1000.0), BucketRateLimiter(clock, 10.0, 100))

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.batch_period = float(ctx.option("endpointslice-updates-batch-period", 0) or 0)
        self.recorder = ctx.recorder(COMPONENT)
        self.triggers = TriggerTimeTracker()
        self.tracker = EndpointSliceTracker()
        self.services = self.informer(SERVICES)
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.slices = self.informer(ENDPOINT_SLICES)
        self.reconciler = Reconciler(self.client, self.nodes.indexer,
                                     int(ctx.option("max-endpoints-per-slice", MAX_ENDPOINTS_PER_SLICE)),
                                     self.tracker, CONTROLLER_NAME)
        self.services.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                        on_delete=self.enqueue)
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_added)
        self.slices.add_event_handler(on_add=self._slice_added, on_update=self._slice_updated,
                                      on_delete=self._slice_deleted)

    # -- handlers: they only enqueue ------------------------------------------------------------------
    def slice_sync_delay(self) -> float:
        return max(ENDPOINT_SLICE_CHANGE_MIN_SYNC_DELAY, self.batch_period)

    # -- the worker --------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.indexer.get(key)
        if service is None:
            self.triggers.delete_service(namespace, name)
            self.tracker.delete_service(namespace, name)
            return       # the garbage collector deletes the slices the Service owned
        if (service.get("spec") or {}).get("type") == "ExternalName" or selector(service) is None:
            return
        pods = selected_pods(self.pods.indexer, service)
        slices = slices_for_service(self.slices.indexer, namespace, name, CONTROLLER_NAME)
        if self.tracker.stale_slices(service, slices):
            raise StaleInformerCache("EndpointSlice informer cache is out of date")
        trigger_time = self.triggers.compute(namespace, service, pods)
        plan, problems = self.reconciler.plan(service, pods, slices)
        try:
            await self.reconciler.finalize(service, plan, trigger_time)
        except SliceWriteError as e:
            problems = problems + e.failures
        if problems:
            message = errors.aggregate(problems)
            self.recorder.eventf(service, "Warning", "FailedToUpdateEndpointSlices",
                                 "Error updating Endpoint Slices for Service %s/%s: %s", namespace, name, message)
            raise RuntimeError(message)


def start_endpointslice_controller(ctx: ControllerContext) -> EndpointSliceController:
    return EndpointSliceController(ctx)


__all__: List[str] = ["EndpointSliceController", "start_endpointslice_controller", "CONTROLLER_NAME"]

"""root-ca-certificate-publisher-controller: every namespace has the ``kube-root-ca.crt`` ConfigMap holding the
cluster's CA bundle (``--root-ca-file``, else the CA of the controller manager's kubeconfig), put back when
changed or deleted."""

from __future__ import annotations

from ..client.cache import split_key
from ..client.resources import CONFIG_MAPS, NAMESPACES
from ..client.rest import APIError, namespace_terminating
from .context import ControllerContext, QueueController

CONFIG_MAP_NAME = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


class RootCACertPublisher(QueueController):
    name = "root-ca-certificate-publisher-controller"

    def __init__(self, ctx: ControllerContext, root_ca: str):
        super().__init__(ctx)
        self.root_ca = root_ca
        # Only kube-root-ca.crt matters here: a field selector keeps every other ConfigMap out of the cache.
        self.config_maps = self.informer(CONFIG_MAPS, field_selector=f"metadata.name={CONFIG_MAP_NAME}")
        self.namespaces = self.informer(NAMESPACES)
        self.config_maps.add_event_handler(on_update=lambda old, new: self._config_map_changed(new),
                                           on_delete=self._config_map_changed)
        self.namespaces.add_event_handler(on_add=self.enqueue, on_update=self._namespace_updated)

    def _config_map_changed(self, config_map: dict) -> None:
        if config_map["metadata"]["name"] == CONFIG_MAP_NAME:
            self.queue.add(config_map["metadata"]["namespace"])

    def _namespace_updated(self, old: dict, new: dict) -> None:
        if (new.get("status") or {}).get("phase", "Active") == "Active":
            self.enqueue(new)

    async def sync(self, key: str) -> None:
        _, namespace = split_key(key)
        data = {"ca.crt": self.root_ca}
        current = self.config_maps.indexer.get_by_key(namespace, CONFIG_MAP_NAME)
        if current is None:
            try:
                await self.client.create(CONFIG_MAPS, {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": CONFIG_MAP_NAME, "namespace": namespace,
                                 "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                    "data": data})
            except APIError as e:
                # Not retried when the namespace is gone or going.
                if e.code == 404 or (e.code == 403 and namespace_terminating(e)):
                    return
                raise
            return
        annotations = (current["metadata"].get("annotations") or {})
        if current.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
            return
        updated = {**current, "data": data,
                   "metadata": {**current["metadata"],
                                "annotations": {**annotations, DESCRIPTION_ANNOTATION: DESCRIPTION}}}
        await self.client.update(CONFIG_MAPS, updated)


def root_ca(ctx: ControllerContext) -> str:
    path = ctx.option("root-ca-file")
    if path:
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return ""
    return ctx.option("kubeconfig-ca", "") or ""


def start_root_ca_publisher(ctx: ControllerContext) -> RootCACertPublisher:
    return RootCACertPublisher(ctx, root_ca(ctx))

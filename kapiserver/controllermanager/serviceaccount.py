"""serviceaccount-controller: every active namespace has a ``default`` ServiceAccount (made again if deleted)."""

from __future__ import annotations

from ..client.cache import split_key
from ..client.resources import NAMESPACES, SERVICE_ACCOUNTS
from ..client.rest import APIError, namespace_terminating
from .context import ControllerContext, QueueController

ACCOUNTS_TO_ENSURE = ("default",)


class ServiceAccountsController(QueueController):
    name = "serviceaccount-controller"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.accounts = self.informer(SERVICE_ACCOUNTS)
        self.namespaces = self.informer(NAMESPACES)
        self.accounts.add_event_handler(on_delete=self._account_deleted)
        self.namespaces.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))

    def _account_deleted(self, account: dict) -> None:
        if account["metadata"]["name"] in ACCOUNTS_TO_ENSURE:
            self.queue.add(account["metadata"]["namespace"])

    async def sync(self, key: str) -> None:
        _, name = split_key(key)
        namespace = self.namespaces.indexer.get(name)
        if namespace is None or (namespace.get("status") or {}).get("phase", "Active") != "Active":
            return
        for account in ACCOUNTS_TO_ENSURE:
            if self.accounts.indexer.get_by_key(name, account) is not None:
                continue
            try:
                await self.client.create(SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                            "metadata": {"name": account, "namespace": name}})
            except APIError as e:
                if e.code == 409 or (e.code in (403, 404) and (e.code == 404 or namespace_terminating(e))):
                    continue
                raise


def start_serviceaccount_controller(ctx: ControllerContext) -> ServiceAccountsController:
    return ServiceAccountsController(ctx)

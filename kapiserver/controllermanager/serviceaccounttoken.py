"""serviceaccount-token-controller: Secrets of type ``kubernetes.io/service-account-token`` naming a
ServiceAccount (annotation ``kubernetes.io/service-account.name``) get a legacy, non-expiring token signed with
``--service-account-private-key-file``, the root CA (``ca.crt``) and the ``namespace``, and the account's uid
annotation; such a Secret whose account is gone (or is another account of the same name) is deleted, as are an
account's token Secrets when the account is, and a token Secret deleted leaves its account's ``secrets`` list.
Without a private key the controller does not run, as upstream's."""

from __future__ import annotations

import base64
from typing import Dict, Optional, Tuple

from ..auth import certs, jwt
from ..client.cache import meta_namespace_key, split_key
from ..client.resources import SECRETS, SERVICE_ACCOUNTS
from ..client.rest import APIError, get_or_none
from .context import ControllerContext, QueueController
from .rootcacertpublisher import root_ca

TOKEN_TYPE = "kubernetes.io/service-account-token"
NAME_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"
ACCOUNT_INDEX = "serviceaccount-token:account"


def _account_of(secret: dict) -> list:
    if secret.get("type") != TOKEN_TYPE:
        return []
    name = (secret["metadata"].get("annotations") or {}).get(NAME_ANNOTATION)
    return [f"{secret['metadata'].get('namespace', '')}/{name}"] if name else []


def legacy_claims(namespace: str, secret: str, account: str, uid: str) -> dict:
    """The claims of a Secret-based token, as upstream's LegacyClaims."""
    return {"iss": jwt.LEGACY_ISSUER, "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/secret.name": secret,
            "kubernetes.io/serviceaccount/service-account.name": account,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
            "sub": f"system:serviceaccount:{namespace}:{account}"}


class TokensController(QueueController):
    name = "serviceaccount-token-controller"
    workers_option = "concurrent-serviceaccount-token-syncs"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, private_key, ca: str):
        super().__init__(ctx)
        self.private_key = private_key
        self.ca = ca
        self.secrets = self.informer(SECRETS, field_selector=f"type={TOKEN_TYPE}")     # as upstream's informer
        self.accounts = self.informer(SERVICE_ACCOUNTS)
        self.secrets.indexer.add_indexers({ACCOUNT_INDEX: _account_of})
        self.secrets.add_event_handler(on_add=self._secret, on_update=lambda old, new: self._secret(new),
                                       on_delete=self._secret_deleted)
        self.accounts.add_event_handler(on_delete=self._account_deleted)
        # Token Secrets deleted, by key: the account (name, uid annotation) whose reference to them goes.
        self._deleted: Dict[str, Tuple[str, str]] = {}

    def _secret(self, secret: dict) -> None:
        if secret.get("type") == TOKEN_TYPE:
            self.enqueue(secret)

    def _secret_deleted(self, secret: dict) -> None:
        annotations = secret["metadata"].get("annotations") or {}
        if secret.get("type") == TOKEN_TYPE and annotations.get(NAME_ANNOTATION):
            self._deleted[meta_namespace_key(secret)] = (annotations[NAME_ANNOTATION],
                                                          annotations.get(UID_ANNOTATION, ""))
            self.enqueue(secret)

    def _account_deleted(self, account: dict) -> None:
        for secret in self.secrets.indexer.by_index(ACCOUNT_INDEX, meta_namespace_key(account)):
            self.enqueue(secret)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        deleted = self._deleted.get(key)
        secret = self.secrets.indexer.get_by_key(namespace, name)
        if secret is None and deleted:
            # Forgotten only once done: a retry after an error (a conflict too) removes the reference still.
            await self._remove_reference(namespace, name, *deleted)
        self._deleted.pop(key, None)
        if secret is None or secret.get("type") != TOKEN_TYPE or secret["metadata"].get("deletionTimestamp"):
            return
        annotations = secret["metadata"].get("annotations") or {}
        account = await self._account(namespace, annotations.get(NAME_ANNOTATION, ""), annotations.get(UID_ANNOTATION))
        if account is None:
            try:
                await self.client.delete(SECRETS, name, namespace,
                                         preconditions={"uid": secret["metadata"]["uid"]})
            except APIError as e:
                if e.code not in (404, 409):
                    raise
            return
        # Upstream's secretUpdateNeeded: a missing token or namespace, or a CA (when there is one) not the
        # controller's; nothing else (an absent uid annotation alone, a namespace value of another) is rewritten.
        data = dict(secret.get("data") or {})
        wanted_ca = base64.b64encode(self.ca.encode()).decode()
        needs_ca = bool(self.ca) and data.get("ca.crt") != wanted_ca
        if data.get("token") and data.get("namespace") and not needs_ca:
            return
        if needs_ca:
            data["ca.crt"] = wanted_ca
        if not data.get("namespace"):
            data["namespace"] = base64.b64encode(namespace.encode()).decode()
        if not data.get("token"):
            token = jwt.sign(legacy_claims(namespace, name, account["metadata"]["name"],
                                           account["metadata"]["uid"]), self.private_key)
            data["token"] = base64.b64encode(token.encode()).decode()
        updated = {**secret, "data": data,
                   "metadata": {**secret["metadata"],
                                "annotations": {**annotations, NAME_ANNOTATION: account["metadata"]["name"],
                                                UID_ANNOTATION: account["metadata"]["uid"]}}}
        try:
            await self.client.update(SECRETS, updated)
        except APIError as e:
            if e.code == 404:
                return
            raise       # a conflict is retried through the queue, from the newer Secret

    async def _remove_reference(self, namespace: str, secret: str, account_name: str, account_uid: str) -> None:
        """A token Secret is gone: its account (the same uid) no longer lists it in ``secrets``, as upstream's
        removeSecretReference: read live, written back once (a conflict is the sync's error, retried through the
        queue)."""
        account = await get_or_none(self.client, SERVICE_ACCOUNTS, account_name, namespace)
        if account is None or account_uid and account["metadata"].get("uid") != account_uid:
            return
        references = account.get("secrets") or []
        if not any(ref.get("name") == secret for ref in references):
            return
        account["secrets"] = [ref for ref in references if ref.get("name") != secret]
        try:
            await self.client.update(SERVICE_ACCOUNTS, account)
        except APIError as e:
            if e.code != 404:
                raise

    async def _account(self, namespace: str, name: str, uid: Optional[str]) -> Optional[dict]:
        """The referenced account, from the cache, else read (it may be newer than the cache); None when it
        does not exist or is another account of that name."""
        account = self.accounts.indexer.get_by_key(namespace, name)
        if account is None and name:
            account = await get_or_none(self.client, SERVICE_ACCOUNTS, name, namespace)
        if account is None or (uid and account["metadata"].get("uid") != uid):
            return None
        return account


class _Disabled:
    """What runs without a private key: nothing, as upstream skips the controller."""

    skipped = True      # not started: the controller manager registers no health check for it

    async def run(self) -> None:
        return None

    def stop(self) -> None:
        return None


def start_tokens_controller(ctx: ControllerContext):
    import os
    path = ctx.option("service-account-private-key-file")
    if not path or not os.path.exists(path):
        return _Disabled()
    return TokensController(ctx, certs.load_key(path), root_ca(ctx))

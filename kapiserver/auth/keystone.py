"""
Keystone password authentication (--experimental-keystone-url): HTTP basic
credentials are checked by asking Keystone's v3 identity API for a token.
"""

from __future__ import annotations

from typing import Optional

from .user import UserInfo


class KeystoneAuthenticator:
    def __init__(self, url: str, ca_file: str = "", client=None):
        from .webhook import WebhookClient
        ca = open(ca_file, "rb").read() if ca_file else None
        self.url = url.rstrip("/")
        self.client = client or WebhookClient(self.url, ca)

    async def authenticate(self, name: str, password: str) -> Optional[UserInfo]:
        body = {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": name, "domain": {"name": "Default"}, "password": password}}}}}
        try:
            await self.client.post(body, url=self.url + "/v3/auth/tokens")
        except Exception:  # noqa: BLE001 - refused or unreachable: not this user
            return None
        return UserInfo(name)

"""The Ingress strategy: a write through /status is validated as upstream's status strategy validates it
(metadata and the load balancer's addresses), not by the spec's rules."""

from __future__ import annotations

from ..machinery.errors import FieldError
from .strategy import Strategy
from .validation.networking import validate_ingress_status_update


class IngressStrategy(Strategy):

    def validate_subresource_update(self, subresource: str, new: dict, old: dict) -> list[FieldError]:
        if subresource == "status":
            return validate_ingress_status_update(new, old, self.info.namespaced)
        return super().validate_subresource_update(subresource, new, old)

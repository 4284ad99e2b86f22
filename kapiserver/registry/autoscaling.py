"""The HorizontalPodAutoscaler strategy: a write through /status is validated as upstream's status strategy
validates it (metadata and non-negative replica counts), not by the spec's rules."""

from __future__ import annotations

from ..machinery.errors import FieldError
from .strategy import Strategy
from .validation.autoscaling import validate_hpa_status_update


class HorizontalPodAutoscalerStrategy(Strategy):

    def validate_subresource_update(self, subresource: str, new: dict, old: dict) -> list[FieldError]:
        if subresource == "status":
            return validate_hpa_status_update(new, old, self.info.namespaced)
        return super().validate_subresource_update(subresource, new, old)

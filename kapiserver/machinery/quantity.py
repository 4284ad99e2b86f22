"""resource.Quantity parsing lives in kapiserver.machinery.quantity (the daemons use it too)."""

from ...machinery.quantity import canonical_quantity, canonical_resource_list, parse_quantity

__all__ = ["canonical_quantity", "canonical_resource_list", "parse_quantity"]

"""
Kubernetes protobuf (``application/vnd.kubernetes.protobuf``) request bodies.

``decode(body)`` returns the object as the JSON-shaped dict a JSON client
would have sent, so everything after content negotiation handles one form.
"""

from .decode import MAGIC, MEDIA_TYPE, decode, go_duration

__all__ = ["MAGIC", "MEDIA_TYPE", "decode", "go_duration"]

"""
A CRD's conversion webhook (``spec.conversion.strategy: Webhook``): objects stored in one version and read or
written in another are sent to it in a ConversionReview, as upstream's apiextensions-apiserver does.  The
registry only sees the converter as ``await converter(objects, api_version)``; this module calls the webhook.
"""

from __future__ import annotations

import base64
import copy
import uuid

from ..admission.webhooks import webhook_url
from ..auth.webhook import WebhookClient
from ..machinery import errors

# How long one conversion may take, as upstream's webhook converter allows.
TIMEOUT = 30.0


class WebhookConverter:
    """Converts a CRD's custom resources through its conversion webhook."""

    def __init__(self, crd: dict, reactor=None):
        spec = crd.get("spec") or {}
        webhook = (spec.get("conversion") or {}).get("webhook") or {}
        config = webhook.get("clientConfig") or {}
        self.url = webhook_url(config)
        ca = config.get("caBundle")
        self.client = WebhookClient(self.url, base64.b64decode(ca) if ca else None, reactor=reactor)
        versions = webhook.get("conversionReviewVersions") or ["v1"]
        self.review_version = "v1" if "v1" in versions else "v1beta1"
        self.group = spec.get("group", "")
        self.kind = (spec.get("names") or {}).get("kind", "")

    async def __call__(self, objects: list[dict], api_version: str) -> list[dict]:
        """``objects`` (each in its own version) in ``api_version``: one ConversionReview for them all."""
        uid = str(uuid.uuid4())
        review = {"apiVersion": f"apiextensions.k8s.io/{self.review_version}", "kind": "ConversionReview",
                  "request": {"uid": uid, "desiredAPIVersion": api_version, "objects": objects}}
        source = f"{objects[0].get('apiVersion', '')}, Kind={self.kind}" if objects else self.kind
        try:
            answer = await self.client.post(review, timeout=TIMEOUT)
        except Exception as e:  # the webhook could not be called
            from ..admission.webhooks import call_failure
            raise errors.internal_error(f'conversion webhook for {source} failed: Post "{self.url}?timeout=30s": '
                                        f"{call_failure(e)}") from None
        response = (answer or {}).get("response") or {}
        result = response.get("result") or {}
        if result.get("status") != "Success":
            raise errors.internal_error(f"conversion webhook for {source} returned failure: "
                                        f"{result.get('message', '')}")
        converted = response.get("convertedObjects")
        if not isinstance(converted, list) or len(converted) != len(objects):
            raise errors.internal_error(
                f"conversion webhook for {source} returned {len(converted or [])} objects, expected {len(objects)}")
        out = []
        for index, (original, obj) in enumerate(zip(objects, converted)):
            if not isinstance(obj, dict) or obj.get("apiVersion") != api_version:
                raise errors.internal_error(
                    f"conversion webhook for {source} returned invalid converted object at index {index}: "
                    f"invalid apiVersion, expected {api_version}")
            out.append(_restore_metadata(original, obj))
        return out


def _restore_metadata(original: dict, converted: dict) -> dict:
    """The converted object with the original's metadata, but for labels and annotations, which a webhook
    may change (upstream restores the rest)."""
    metadata = copy.deepcopy(original.get("metadata") or {})
    new = converted.get("metadata") or {}
    for key in ("labels", "annotations"):
        if key in new:
            metadata[key] = new[key]
        else:
            metadata.pop(key, None)
    converted["metadata"] = metadata
    return converted

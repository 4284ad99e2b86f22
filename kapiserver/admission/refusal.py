"""Admission's refusals as upstream's admission.NewForbidden writes them: a 403 naming the object by its name,
else its generateName (names are not generated yet when mutating admission runs), else "Unknown"."""

from __future__ import annotations

from ..machinery import errors
from ..machinery.errors import StatusError
from ..registry.attributes import Attributes


def object_name(attributes: Attributes) -> str:
    if attributes.name:
        return attributes.name
    obj = attributes.object
    if not isinstance(obj, dict):
        return "Unknown"
    metadata = obj.get("metadata") or {}
    return metadata.get("name") or metadata.get("generateName") or "Unknown"


def forbidden(attributes: Attributes, why: str) -> StatusError:
    """``<resource> "<name>" is forbidden: <why>`` with the resource's details."""
    qualified = attributes.group_resource
    name = object_name(attributes)
    return errors.forbidden_request(qualified, name, f'{qualified} "{name}" is forbidden: {why}')


def plain_error(message: str) -> StatusError:
    """An error that is no API status (a failed lookup): the API writes it as a 500 without a reason."""
    return StatusError(500, "", message)


def is_resource(attributes: Attributes, group: str, resource: str, subresource: str = "") -> bool:
    """Whether ``attributes`` write ``group``/``resource`` (through ``subresource``, "" for the main one)."""
    target = attributes.resource
    return (target.group, target.resource) == (group, resource) and attributes.subresource == subresource

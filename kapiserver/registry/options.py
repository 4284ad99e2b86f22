"""The options of the verbs, parsed from the request by the endpoints layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional


@dataclass
class ListOptions:
    label_selector: Any = None          # machinery.selectors.LabelSelector or None
    field_selector: Any = None          # machinery.selectors.FieldSelector or None
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""
    # watch-only
    allow_bookmarks: bool = False
    timeout_seconds: Optional[int] = None
    send_initial_events: Optional[bool] = None
    # When the handler will end the watch (its clock's seconds: timeoutSeconds, or the server's own timeout), so
    # that a bookmark goes out just before it; None for a watch that does not end by itself.
    deadline: Optional[float] = None

    @property
    def has_selector(self) -> bool:
        return not ((self.label_selector is None or self.label_selector.empty)
                    and (self.field_selector is None or self.field_selector.empty))


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Strict"


@dataclass
class DeleteOptions:
    grace_period_seconds: Optional[int] = None
    precondition_uid: Optional[str] = None
    precondition_resource_version: Optional[str] = None
    propagation_policy: Optional[str] = None
    orphan_dependents: Optional[bool] = None
    dry_run: bool = False

"""The user a request is being served for, visible to admission and the reviews below the filter."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Optional

from .user import INSECURE_USER, UserInfo

_current_user: ContextVar[Optional[UserInfo]] = ContextVar("kapiserver_user", default=None)


def set_user(user: UserInfo) -> None:
    _current_user.set(user)


def current_user() -> UserInfo:
    """The request's (possibly impersonated) user; the insecure port's user outside any request."""
    return _current_user.get() or INSECURE_USER

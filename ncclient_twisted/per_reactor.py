"""The one registry of per-reactor state (each reactor's runtime, its work scheduler): made
on first use, forgotten with the reactor."""

from __future__ import annotations

import weakref
from typing import Any, Callable, Dict, Type, TypeVar

__all__ = ["per_reactor"]

T = TypeVar("T")

_state: "weakref.WeakKeyDictionary[Any, Dict[type, Any]]" = weakref.WeakKeyDictionary()


def per_reactor(reactor: Any, kind: Type[T], make: Callable[[], T]) -> T:
    """*reactor*'s one object of class *kind*, made by ``make()`` on first use."""
    objects = _state.setdefault(reactor, {})
    try:
        found: T = objects[kind]
    except KeyError:
        found = objects[kind] = make()
    return found

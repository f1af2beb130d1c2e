"""Small helpers shared by the transport and call-home tests."""

from __future__ import annotations

import threading
from typing import Any, List

from twisted.internet import defer

from ncclient_twisted._session import WakeOnSendSession


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


async def bounded(d: "defer.Deferred[Any]", seconds: float = 15) -> Any:
    """*d*'s result, or ``TimeoutError`` after *seconds*."""
    return await d.addTimeout(seconds, reactor())


def session_threads() -> List[threading.Thread]:
    """Our live session threads (SSH, TLS, Unix socket)."""
    return [t for t in threading.enumerate() if isinstance(t, WakeOnSendSession) and t.is_alive()]

"""Support for the tests of what is held or left behind: what Twisted logged as an error,
connects cancelled on their way up, and stray replies written by the embedded server."""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, List, Tuple

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import formatEvent, globalLogPublisher

from tests.support.helpers import bounded

NETCONF_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


@contextlib.contextmanager
def twisted_errors() -> Iterator[List[str]]:
    """Collect every error event of ``twisted.logger`` (``log.err``, ``log.failure``, and
    "Unhandled error in Deferred" when a failed Deferred is collected) while the block runs."""
    errors: List[str] = []

    def observe(event: Dict[str, Any]) -> None:
        failure = event.get("log_failure")
        if event.get("isError") or failure is not None:
            text = formatEvent(event) or ""
            if failure is not None:
                text += "\n" + failure.getTraceback()
            errors.append(text)

    globalLogPublisher.addObserver(observe)
    try:
        yield errors
    finally:
        globalLogPublisher.removeObserver(observe)


def stray_replies(first: int, count: int) -> List[bytes]:
    """*count* serialised ``<rpc-reply>``s whose message-ids no client ever sent."""
    return [
        b'<rpc-reply xmlns="%s" message-id="stray-%d"><ok/></rpc-reply>' % (NETCONF_NS.encode(), n)
        for n in range(first, first + count)
    ]


async def settle_connects(connects: "List[Deferred[Any]]") -> Tuple[int, int]:
    """Wait (bounded) for each of *connects*, each cancelled at some point: how many failed
    as cancelled, and how many came up first (each then closed)."""
    cancelled = came_up = 0
    for d in connects:
        try:
            m = await bounded(d)
        except CancelledError:
            cancelled += 1
            continue
        came_up += 1  # up before its cancel: an ordinary session
        await bounded(m.close_session())
    return cancelled, came_up

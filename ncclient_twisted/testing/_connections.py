"""
The open connections of one test server: tracked, paused and resumed, closed at stop
(and aborted when they do not close in time).
"""

from __future__ import annotations

from typing import Any, Dict, List, cast

from twisted.internet.defer import Deferred


class Connections:
    """The server's open connections (SSH, TLS and Unix alike); false when there are none."""

    def __init__(self) -> None:
        self._waiters: Dict[Any, List["Deferred[None]"]] = {}
        #: Set once the server stops: a connection made from then on is aborted at once.
        self.refusing = False

    def __len__(self) -> int:
        return len(self._waiters)

    def made(self, conn: Any) -> None:
        if self.refusing:
            cast(Any, conn.transport).abortConnection()
        self._waiters[conn] = []

    def lost(self, conn: Any) -> None:
        for d in self._waiters.pop(conn, []):
            d.callback(None)

    def close_all(self) -> List["Deferred[None]"]:
        """Close every connection; one Deferred each, fired once that connection is gone."""
        closed: List["Deferred[None]"] = []
        for conn, waiters in list(self._waiters.items()):
            d: "Deferred[None]" = Deferred()
            waiters.append(d)
            closed.append(d)
            tcp = conn.transport
            if tcp is not None and not getattr(tcp, "disconnecting", False):
                conn.loseConnection()
        return closed

    def abort_all(self) -> None:
        for conn in list(self._waiters):
            tcp = cast(Any, conn.transport)
            if tcp is not None:
                tcp.abortConnection()

    def pause_all(self) -> None:
        """Stop reading from every connection (TCP stays up, nothing is answered)."""
        for conn in self._waiters:
            tcp = conn.transport
            if tcp is not None:
                cast(Any, tcp).pauseProducing()

    def resume_all(self) -> None:
        for conn in self._waiters:
            tcp = conn.transport
            if tcp is not None:
                cast(Any, tcp).resumeProducing()

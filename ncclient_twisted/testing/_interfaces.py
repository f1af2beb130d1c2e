"""
What a session needs from its two sides: the byte pipe it runs on (:class:`Channel`: an
SSH channel, a TLS or Unix stream) and its server (:class:`Host`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Tuple

from lxml import etree
from twisted.internet.interfaces import IReactorTime

from ._faults import Faults

if TYPE_CHECKING:
    from ._operations import Engine
    from ._session import Session


class Channel(Protocol):
    """The byte pipe a session runs on (an SSH channel)."""

    def write(self, data: bytes) -> None:
        """Send bytes to the client."""

    def close(self) -> None:
        """Close this session's channel (graceful)."""

    def abort(self) -> None:
        """Drop the whole underlying connection."""

    def reset(self) -> None:
        """Reset the underlying TCP connection (an RST, not a FIN)."""

    def freeze(self) -> None:
        """Stop reading and writing without closing anything."""


class Host(Protocol):
    """What a session needs from its server."""

    engine: "Engine"
    faults: Faults
    clock: IReactorTime
    max_chunk_size: int
    base_versions: Tuple[str, ...]
    parser: etree.XMLParser

    def hello_bytes(self, session_id: int) -> bytes:
        ...

    def session_closed(self, session: "Session") -> None:
        ...

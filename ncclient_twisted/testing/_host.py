"""
The state one test server's sessions share (the session ``Host``): the operation
engine, the faults, the hello, the live sessions by id.
"""

from __future__ import annotations

import itertools
from typing import Any, Dict, Mapping, Optional

from twisted.internet.interfaces import IReactorTime

from ._capabilities import Options
from ._faults import Faults
from ._notifications import NotificationHub
from ._operations import Engine, RpcHandler
from ._session import Session
from ._ssh import ChannelAdapter
from ._xml import BASE_NS, XmlInput, escape_text, make_parser


def _transport_of(channel: Any) -> str:
    """The ietf-netconf-monitoring transport identity of a session's channel."""
    if isinstance(channel, ChannelAdapter):
        return "ncm:netconf-ssh"
    if getattr(channel, "tls", False):
        return "ncm:netconf-tls"
    # A Unix socket: RFC 6022 has no identity for it; it carries what the SSH
    # subsystem does (ncclient's connect_uds), so it is shown as that.
    return "ncm:netconf-ssh"


class ServerCore:
    """The per-server state sessions talk to (the session ``Host``)."""

    def __init__(
        self,
        *,
        clock: IReactorTime,
        options: Options,
        max_chunk_size: int,
        faults: Faults,
        hub: NotificationHub,
        handlers: Optional[Mapping[str, RpcHandler]],
        config: Optional[XmlInput],
        state: Optional[XmlInput],
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.max_chunk_size = max_chunk_size
        self.base_versions = options.base_versions
        self.parser = make_parser()
        self.sessions: Dict[int, Session] = {}
        self.hub = hub
        self.engine = Engine(
            clock=clock,
            options=options,
            hub=hub,
            sessions=self.sessions,
            handlers=handlers,
            config=config,
            state=state,
        )
        self.capabilities = self.engine.capabilities
        caps = "".join("<capability>%s</capability>" % escape_text(c) for c in self.capabilities)
        self._hello_prefix = (
            '<hello xmlns="%s"><capabilities>%s</capabilities><session-id>' % (BASE_NS, caps)
        ).encode()
        self._ids = itertools.count(1)

    def hello_bytes(self, session_id: int) -> bytes:
        return self._hello_prefix + str(session_id).encode() + b"</session-id></hello>"

    def open_session(self, channel: Any, username: str, source_host: Optional[str]) -> Session:
        session = Session(self, channel, next(self._ids), username, source_host, _transport_of(channel))
        self.sessions[session.session_id] = session
        return session

    def session_closed(self, session: Session) -> None:
        if self.sessions.get(session.session_id) is session:
            del self.sessions[session.session_id]
        self.engine.session_closed(session)

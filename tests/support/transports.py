"""Running one test on both transports, the one ``connect`` the tests share, and what tests
of any server do with the session it gives."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from ncclient.operations import TimeoutExpiredError
from twisted.internet.defer import CancelledError

from ncclient_twisted import manager
from tests.support.helpers import WAIT, bounded

#: The transports the ``io`` fixture (tests/conftest.py) runs a test on.
IO_MODES = ("threads", "reactor")


class _OnTransport:
    """A server (embedded or netconfd) whose ``connect_kwargs()`` also names ``io``; the
    rest is the server's own (the server is not changed: netconfd's is shared)."""

    def __init__(self, server: Any, io: str) -> None:
        self._server = server
        self.io = io

    def connect_kwargs(self, *args: Any, **kw: Any) -> Dict[str, Any]:
        return self._with_io(self._server.connect_kwargs(*args, **kw))

    def tls_connect_kwargs(self, *args: Any, **kw: Any) -> Dict[str, Any]:
        return self._with_io(self._server.tls_connect_kwargs(*args, **kw))

    def uds_connect_kwargs(self, *args: Any, **kw: Any) -> Dict[str, Any]:
        return self._with_io(self._server.uds_connect_kwargs(*args, **kw))

    def _with_io(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        kwargs = dict(kwargs)
        kwargs.setdefault("io", self.io)
        return kwargs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


def on_both_transports(server: Any, io: str) -> Any:
    """*server* for a test that runs on both transports: a module overrides its fixture
    with ``def server(server, io): return on_both_transports(server, io)``."""
    return _OnTransport(server, io)


async def connect(server: Any, *args: Any, within: float = WAIT, **kw: Any) -> manager.Manager:
    """A ``Manager`` connected (bounded by *within* seconds) with
    ``server.connect_kwargs(*args, **kw)`` (``io=...`` among them)."""
    return await bounded(manager.connect(**server.connect_kwargs(*args, **kw)), within)


async def time_out_and_cancel(m: manager.Manager) -> None:
    """A ``get-config`` times out and another is cancelled, on a server that has not
    answered yet: each fails so, and neither is left pending."""
    with pytest.raises(TimeoutExpiredError):
        await bounded(m.get_config(source="running"))
    d = m.get_config(source="running")
    d.cancel()
    with pytest.raises(CancelledError):
        await d
    assert m.pending_requests == 0

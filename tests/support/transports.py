"""Running one test on both transports, and the one ``connect`` the tests share."""

from __future__ import annotations

from typing import Any, Dict

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

"""An io="reactor" session that has ended is freed by reference counting, not left to the
cyclic garbage collector (issue #25): after a session closed by the caller, or a connect
that failed, none of its client-side objects is cyclic garbage.

Objects are counted with ``gc.DEBUG_SAVEALL``: whatever a collection finds unreachable is
kept in ``gc.garbage``, where the session's objects must not be. (The embedded server runs
in this process: only the client's types are looked for.)"""

from __future__ import annotations

import gc
import os
import weakref
from typing import Any, Awaitable, Callable, List

import pytest
import pytest_twisted
from ncclient.transport.errors import AuthenticationError, SSHUnknownHostError
from twisted.internet import task
from twisted.internet.defer import Deferred

from ncclient_twisted import manager
from ncclient_twisted.manager import Manager
from tests.support.helpers import bounded, reactor
from tests.support.transports import connect

#: The reactor transport's session graph: none of these may be left to the cyclic GC.
#: (Types only this transport makes: a threads session of an earlier test, ending
#: meanwhile, is not counted.)
REACTOR_TYPES = {
    "ReactorSession",
    "ClientTransport",
    "NetconfConnection",
    "NetconfClientChannel",
    "UserAuth",
    "FrameDecoder",
}


def _reactor_client(o: Any) -> bool:
    kind = type(o)
    if kind.__name__ in REACTOR_TYPES:
        return True
    # A Manager of a reactor session (type(), not isinstance: a dead weakref.proxy
    # in the garbage raises on anything else).
    return issubclass(kind, Manager) and type(vars(o).get("_session")).__name__ == "ReactorSession"


def _deferred_lets_go_of_its_canceller() -> bool:
    """Whether a fired Deferred drops its canceller (newer Twisted does; 22.10 keeps it,
    so a request's build job, whose method is its Deferred's canceller, stays a cycle)."""

    class Owner:
        def cancel(self, d: Any) -> None:
            pass

    owner = Owner()
    gone = weakref.ref(owner)
    d: "Deferred[None]" = Deferred(owner.cancel)
    del owner
    d.callback(None)
    return gone() is None


async def cyclic_garbage(run: Callable[[], Awaitable[None]]) -> List[str]:
    """The reactor client's types in the cyclic garbage *run* leaves."""
    gc.collect()  # what earlier tests left is not counted
    flags = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await run()
        # The transport lets go of its connection after the close's Deferred has fired.
        await task.deferLater(reactor(), 0.1, lambda: None)
        gc.collect()
        return sorted({type(o).__name__ for o in gc.garbage if _reactor_client(o)})
    finally:
        gc.set_debug(flags)
        gc.garbage.clear()


@pytest.mark.skipif(
    not _deferred_lets_go_of_its_canceller(),
    reason="this Twisted keeps a fired Deferred's canceller: each request's build job stays a cycle",
)
@pytest_twisted.ensureDeferred
async def test_a_closed_session_is_freed_by_reference_counting(server: Any) -> None:
    async def session() -> None:
        m = await connect(server, io="reactor")
        assert (await bounded(m.get_config(source="running"))).ok
        await bounded(m.close_session())
        # What a closed manager tells stays readable.
        assert not m.connected and m.session_id is not None and m.server_capabilities
        assert m.stats.bytes_received > 0

    await session()  # first use: imports and caches
    assert await cyclic_garbage(session) == []


@pytest.mark.parametrize("failure", ["password", "host key"])
@pytest_twisted.ensureDeferred
async def test_a_failed_connect_is_freed_by_reference_counting(
    server: Any, tmp_path: Any, failure: str
) -> None:
    if failure == "password":
        kw: Any = dict(password="wrong")
        error: type = AuthenticationError
    else:
        known_hosts = os.path.join(str(tmp_path), "known_hosts")
        open(known_hosts, "w").close()  # the server's key is unknown: refused
        kw = dict(hostkey_verify=True, known_hosts=known_hosts)
        error = SSHUnknownHostError

    async def session() -> None:
        with pytest.raises(error):
            await bounded(manager.connect(**server.connect_kwargs(io="reactor", **kw)))

    await session()
    assert await cyclic_garbage(session) == []

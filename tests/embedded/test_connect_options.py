"""Connecting: a wrong keyword fails the Deferred at the call, and a cancelled connect
closes what came up without an unhandled error."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import pytest_twisted

from ncclient_twisted import manager
from tests.support.held import settle_connects, twisted_errors
from tests.support.helpers import Resources, bounded, reactor, wait_until


@pytest_twisted.ensureDeferred
async def test_a_wrong_keyword_is_a_failed_deferred_at_the_call() -> None:
    d = manager.connect(host="127.0.0.1", port=1, no_such_keyword=True, reactor=reactor())
    with pytest.raises(TypeError, match="no_such_keyword"):
        await bounded(d)
    d = manager.connect_tls(host="127.0.0.1", keyfile="k", certfile="c", colour="red")
    with pytest.raises(TypeError, match="colour"):
        await bounded(d)


@pytest_twisted.ensureDeferred
async def test_cancelled_connects_close_their_session_without_an_unhandled_error(
    server: Any, io: str
) -> None:
    resources = Resources()
    with twisted_errors() as errors:
        ds = []
        for i in range(10):  # cancelled at once, and while the session comes up
            d = manager.connect(io=io, **server.connect_kwargs())
            ds.append(d)
            reactor().callLater(0.002 * i, d.cancel)
        cancelled, _ = await settle_connects(ds)  # some may come up first (a fast transport)
        assert cancelled >= 1
        # What came up after the cancel is closed: the server sees no session left, and the
        # closes are done here (their sockets and threads are gone).
        assert await wait_until(lambda: not server.sessions)
        await resources.assert_released()
        del ds, d
        gc.collect()
    assert errors == []

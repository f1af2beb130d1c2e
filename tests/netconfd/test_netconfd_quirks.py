"""yuma123 netconfd's quirk: a request read together with the client's hello stalls."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from ncclient.capabilities import Capabilities

from ncclient_twisted import manager
from ncclient_twisted.transport.hello import YUMA_HELLO_SETTLE, hello_settle_time


def test_settle_time_only_for_netconfd() -> None:
    yuma = Capabilities(["urn:ietf:params:netconf:base:1.1", "http://netconfcentral.org/ns/yuma-proc"])
    other = Capabilities(["urn:ietf:params:netconf:base:1.1", "urn:example:x"])
    assert hello_settle_time(yuma) == YUMA_HELLO_SETTLE
    assert hello_settle_time(other) == 0.0
    assert hello_settle_time(None) == 0.0


@pytest_twisted.ensureDeferred
async def test_first_request_right_after_connect_never_stalls(netconfd_private: Any) -> None:
    """Without the settle time about 1 session in 20 stalled here (8 of 150 measured)."""
    from twisted.internet import reactor

    for _ in range(60):
        m = await manager.connect(**netconfd_private.connect_kwargs()).addTimeout(30, reactor)
        try:
            reply = await m.get_config("running").addTimeout(5, reactor)
            assert reply.ok
        finally:
            await m.close_session(timeout=5).addErrback(lambda f: None)

"""Two sessions to the same server share the parse of its hello's capabilities, and of the
client's (issue #25), on both transports; each session's are still ncclient's
``Capabilities``, which a change on one session leaves unchanged on the other."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from ncclient.capabilities import Capabilities

from tests.support.helpers import bounded
from tests.support.transports import connect, on_both_transports


@pytest.fixture
def server(server: Any, io: str) -> Any:
    return on_both_transports(server, io)


def same_as_ncclients(caps: Any) -> None:
    theirs = Capabilities(list(caps))
    assert isinstance(caps, Capabilities)
    assert list(caps) == list(theirs) and len(caps) == len(theirs) and repr(caps) == repr(theirs)
    for uri in theirs:
        assert uri in caps
        assert (caps[uri].namespace_uri, caps[uri].parameters) == (
            theirs[uri].namespace_uri, theirs[uri].parameters,
        )
    for abbreviation in (":base", ":base:1.1", ":candidate", ":writable-running"):
        assert (abbreviation in caps) == (abbreviation in theirs)


@pytest_twisted.ensureDeferred
async def test_two_sessions_share_the_parsed_capabilities(server: Any) -> None:
    async with await connect(server) as a, await connect(server) as b:
        for side in ("server_capabilities", "client_capabilities"):
            ca, cb = getattr(a, side), getattr(b, side)
            assert ca is not cb
            assert vars(ca)["_dict"] is vars(cb)["_dict"], side
            same_as_ncclients(ca)
        before = list(b.server_capabilities)
        a.server_capabilities.add("urn:example:added-on-a")
        a.server_capabilities.remove("urn:ietf:params:netconf:capability:candidate:1.0")
        a.client_capabilities.add("urn:example:client-added-on-a")
        assert "urn:example:added-on-a" in a.server_capabilities
        assert ":candidate" not in a.server_capabilities
        assert list(b.server_capabilities) == before and ":candidate" in b.server_capabilities
        assert "urn:example:client-added-on-a" not in b.client_capabilities
        same_as_ncclients(a.server_capabilities)
        same_as_ncclients(b.server_capabilities)
        # A third session gets the parse as the server sent it, not a's changes.
        async with await connect(server) as c:
            assert list(c.server_capabilities) == before
            assert vars(c.server_capabilities)["_dict"] is vars(b.server_capabilities)["_dict"]
            assert (await bounded(c.get_config(source="running"))).ok

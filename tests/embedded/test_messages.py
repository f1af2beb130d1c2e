"""Messages that say what happened, the same on both transports (exact texts)."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from ncclient.transport.errors import TransportError

from ncclient_twisted import manager, testing
from ncclient_twisted.transport.errors import HostResolutionError
from tests.support.helpers import bounded


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


@pytest_twisted.ensureDeferred
async def test_a_name_that_does_not_resolve_reads_as_openssh_says_it(io: str) -> None:
    with pytest.raises(HostResolutionError) as info:
        await bounded(manager.connect(
            host="no-such-device.invalid", port=830, username="u", password="p",
            hostkey_verify=False, io=io, timeout=10,
        ))  # fmt: skip
    # OpenSSH: "ssh: Could not resolve hostname no-such-device.invalid: Name or service not known"
    # (the reason is the resolver's: "Temporary failure..." where no DNS server answers).
    assert str(info.value).startswith("Could not resolve hostname no-such-device.invalid: "), info.value
    assert "Errno" not in str(info.value)


@pytest_twisted.ensureDeferred
async def test_a_request_after_the_callers_close_says_who_closed(io: str) -> None:
    server = await testing.serve(reactor())
    try:
        m = await bounded(manager.connect(**server.connect_kwargs(io=io)))
        await bounded(m.close_session())
        with pytest.raises(TransportError) as info:
            await bounded(m.get_config(source="running"))
        assert str(info.value) == (
            "Not connected to NETCONF server: this client closed the session (close_session() or close)"
        )
    finally:
        await server.stop()

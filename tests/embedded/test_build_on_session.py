"""Requests sent while others are in flight are built on the session thread: in order
with the rest, failing or cancelled as the others do (embedded server)."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from ncclient.operations import MissingCapabilityError, TimeoutExpiredError
from ncclient.transport.errors import SessionCloseError, TransportError
from twisted.internet import defer
from twisted.internet.defer import CancelledError

from ncclient_twisted.testing import Fault
from tests.support.helpers import bounded, built_where
from tests.support.transports import connect

CONFIG = (
    '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    '<system xmlns="urn:example:system"><hostname>h%d</hostname></system></config>'
)


# io="threads" throughout: the threads transport's own machinery (io="reactor" builds on
# the reactor thread).


@pytest_twisted.ensureDeferred
async def test_a_burst_is_built_on_the_session_thread_and_sent_in_order(server: Any) -> None:
    async with await connect(server, io="threads") as m:
        where = built_where(m)
        edits = [m.edit_config(target="candidate", config=CONFIG % i) for i in range(100)]
        await bounded(defer.gatherResults(edits))
        running = await bounded(m.get_config(source="candidate"))
        assert "<hostname>h99</hostname>" in running.data_xml  # the last edit was applied last
        assert where[0] == "caller" and set(where[1:100]) == {"session"}
        assert where[100] == "caller"  # alone again: built and written by the caller
        assert m.pending_requests == 0


@pytest_twisted.ensureDeferred
async def test_a_request_that_cannot_be_built_fails_alone(server: Any) -> None:
    async with await connect(server, io="threads") as m:
        first = m.get_config(source="running")
        refused = m.get_config(source="https://example.com/c.xml")  # no :url: not built
        last = m.get_config(source="running")
        with pytest.raises(MissingCapabilityError):
            await bounded(refused)
        assert (await bounded(first)).ok and (await bounded(last)).ok
        assert m.pending_requests == 0


@pytest_twisted.ensureDeferred
async def test_cancel_and_timeout_of_a_request_built_on_the_session_thread(server: Any) -> None:
    server.faults.add(Fault.delay("get", 0.5, count=1))
    async with await connect(server, io="threads") as m:
        slow = m.get()  # built by the caller; keeps the next ones on the session thread
        cancelled = m.get_config(source="running")
        cancelled.cancel()
        with pytest.raises(CancelledError):
            await cancelled
        m.timeout = 0.2
        timed_out = m.get_config(source="running")
        server.faults.add(Fault.no_reply("get-config", count=1))
        with pytest.raises(TimeoutExpiredError):
            await bounded(timed_out)
        assert (await bounded(slow)).ok
        assert m.pending_requests == 0


@pytest_twisted.ensureDeferred
async def test_requests_waiting_to_be_built_fail_when_the_session_ends(server: Any) -> None:
    server.faults.add(Fault.close_mid_reply("get", count=1))
    m = await connect(server, io="threads")
    first = m.get()
    queued = [m.get_config(source="running") for _ in range(50)]
    for d in [first] + queued:
        with pytest.raises((SessionCloseError, TransportError)):
            await bounded(d)
    await bounded(m.when_closed())
    with pytest.raises(TransportError):
        await bounded(m.get_config(source="running"))
    assert m.pending_requests == 0


@pytest_twisted.ensureDeferred
async def test_close_session_does_not_overtake_requests_still_to_be_built(server: Any) -> None:
    m = await connect(server, io="threads")
    first = m.get_config(source="running")
    second = m.get_config(source="running")  # built on the session thread
    closed = m.close_session()
    assert (await bounded(first)).ok and (await bounded(second)).ok
    await bounded(closed)


@pytest_twisted.ensureDeferred
async def test_arguments_are_taken_as_they_were_when_the_call_was_made(server: Any) -> None:
    from lxml import etree

    async with await connect(server, io="threads") as m:
        busy = m.get_config(source="running")
        config = etree.fromstring(CONFIG % 1)
        hostname = config.find(".//{urn:example:system}hostname")
        edited = m.edit_config(target="candidate", config=config)  # built on the session thread
        hostname.text = "changed-after-the-call"
        await bounded(defer.gatherResults([busy, edited]))
        candidate = await bounded(m.get_config(source="candidate"))
        assert "<hostname>h1</hostname>" in candidate.data_xml

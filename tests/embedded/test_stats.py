"""Counters and gauges (``m.stats``, ``service.stats``, ``process_stats()``) after scripted runs
against the embedded server, on both transports, and the Prometheus collector scraped over HTTP."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Dict

import pytest
import pytest_twisted
from ncclient.operations import RPCError, TimeoutExpiredError
from ncclient.transport.errors import AuthenticationError
from twisted.internet import defer

from ncclient_twisted import manager, testing
from ncclient_twisted.service import ManagerService, State
from ncclient_twisted.stats import SessionStats, process_stats
from ncclient_twisted.testing import Fault
from tests.support.helpers import bounded, wait_until

EVENT = '<link-down xmlns="urn:example:events"><if>eth%d</if></link-down>'


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


def delta(after: SessionStats, before: SessionStats) -> Dict[str, int]:
    a, b = asdict(after), asdict(before)
    return {k: a[k] - b[k] for k in a if a[k] != b[k] and k not in ("bytes_received", "bytes_sent")}


@pytest_twisted.ensureDeferred
async def test_a_scripted_session_is_counted(io: str) -> None:
    server = await testing.serve(reactor())
    before = process_stats()
    try:
        m = await bounded(manager.connect(**server.connect_kwargs(io=io, manager_params={"timeout": 0.5})))
        assert process_stats().sessions["open"] == before.sessions["open"] + 1
        for _ in range(2):
            await bounded(m.get_config(source="running"))
        server.faults.add(Fault.rpc_error("get-config", count=1))
        with pytest.raises(RPCError):
            await bounded(m.get_config(source="running"))
        server.faults.add(Fault.duplicate_reply("get", count=1))
        await bounded(m.get())
        assert await wait_until(lambda: m.stats.stray_replies_dropped == 1)
        server.faults.add(Fault.no_reply("get", count=2))
        with pytest.raises(TimeoutExpiredError):
            await bounded(m.get())
        cancelled = m.get()
        cancelled.cancel()
        with pytest.raises(defer.CancelledError):
            await cancelled
        await bounded(m.create_subscription())
        server.publish(EVENT % 1)
        server.publish(EVENT % 2)
        for _ in range(2):
            assert await bounded(m.take_notification(timeout=10)) is not None
        assert m.stats.pending == 0
        session = m.stats
        await bounded(m.close_session())
    finally:
        await server.stop()

    assert delta(session, SessionStats()) == {
        "requests": 7, "replies": 4, "rpc_errors": 1, "timeouts": 1, "cancels": 1,
        "stray_replies_dropped": 1, "notifications_delivered": 2,
    }  # fmt: skip
    assert session.bytes_received > 1000 and session.bytes_sent > 500  # hellos and 7 requests
    # The process's figures: the same, plus the close-session (a request and its reply).
    after = process_stats()
    assert delta(after.totals, before.totals) == {
        "requests": 8, "replies": 5, "rpc_errors": 1, "timeouts": 1, "cancels": 1,
        "stray_replies_dropped": 1, "notifications_delivered": 2,
    }  # fmt: skip
    assert after.sessions["ended"] == before.sessions["ended"] + 1
    assert after.sessions["open"] == before.sessions["open"]
    assert after.totals.bytes_received - before.totals.bytes_received >= session.bytes_received


@pytest_twisted.ensureDeferred
async def test_a_failed_connect_is_counted() -> None:
    before = process_stats()
    server = await testing.serve(reactor(), users={"admin": "right"})
    try:
        with pytest.raises(AuthenticationError):
            await bounded(manager.connect(**server.connect_kwargs(password="wrong")))
    finally:
        await server.stop()
    after = process_stats()
    assert after.connect_failures == before.connect_failures + 1
    assert after.sessions["connecting"] == before.sessions["connecting"] == 0


@pytest_twisted.ensureDeferred
async def test_a_service_counts_reconnects_and_shows_its_backoff() -> None:
    server = await testing.serve(reactor())
    service = ManagerService(server.connect_kwargs(), retry_policy=lambda failures: 0.3, name="r1")
    service.startService()
    try:
        first = await bounded(service.when_connected())
        assert service.stats.connects == 1 and service.stats.reconnects == 0
        await bounded(first.close_session())  # the session ends: the service reconnects
        assert await wait_until(lambda: service.state is State.WAITING)
        waiting = service.stats
        assert (waiting.state, waiting.backoff_s, waiting.consecutive_failures) == ("WAITING", 0.3, 1)
        assert [s for s in process_stats().services if s.name == "r1"] == [waiting]
        await bounded(service.when_connected())
        assert await wait_until(lambda: service.stats.reconnects == 1)
        assert (service.stats.state, service.stats.backoff_s) == ("CONNECTED", 0.0)
    finally:
        await service.stopService()
        await server.stop()
    assert [s for s in process_stats().services if s.name == "r1"] == []


@pytest_twisted.ensureDeferred
async def test_prometheus_collector_scraped_over_http() -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client.twisted import MetricsResource
    from twisted.web.client import Agent, readBody
    from twisted.web.server import Site

    from ncclient_twisted import prometheus

    registry = prometheus_client.CollectorRegistry()
    prometheus.register(registry)
    server = await testing.serve(reactor())
    site = reactor().listenTCP(0, Site(MetricsResource(registry=registry)), interface="127.0.0.1")
    try:
        async with await bounded(manager.connect(**server.connect_kwargs())) as m:
            await bounded(m.get_config(source="running"))
            expected = process_stats()
            url = "http://127.0.0.1:%d/" % site.getHost().port
            response = await bounded(Agent(reactor()).request(b"GET", url.encode()))
            text = (await bounded(readBody(response))).decode()
    finally:
        await site.stopListening()
        await server.stop()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("ncclient_twisted_requests_total", ())] == expected.totals.requests
    assert samples[("ncclient_twisted_replies_total", ())] == expected.totals.replies
    assert samples[("ncclient_twisted_sessions", (("state", "open"),))] == expected.sessions["open"] >= 1
    assert samples[("ncclient_twisted_received_bytes_total", ())] == expected.totals.bytes_received

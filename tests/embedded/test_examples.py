"""Every program in examples/ runs, as a user would run it, against the embedded server.

Each example runs in a child process (``python examples/NAME.py ...``) with the server's
connection details in ``NETCONF_*`` variables; the server runs in the test's reactor and
reacts to what the example prints (publishing events once it has subscribed, restarting
under a running service).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest_twisted
from lxml import etree
from twisted.internet import defer, protocol
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ncclient_twisted import testing

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
#: Bound on one example's run: they take a second or two.
RUN_TIMEOUT = 90.0
PASSWORD = "example-secret"


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


class _Example(protocol.ProcessProtocol):
    """Collects a child's output; calls *on_line(line)* for each line it prints."""

    def __init__(self, on_line: Optional[Callable[[str], None]]) -> None:
        self.on_line = on_line
        self.lines: List[str] = []
        self.err = b""
        self._partial = b""
        self.ended: "Deferred[int]" = Deferred()

    def outReceived(self, data: bytes) -> None:
        *complete, self._partial = (self._partial + data).split(b"\n")
        for raw in complete:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if self.on_line is not None:
                self.on_line(line)

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        code = getattr(reason.value, "exitCode", None)
        self.ended.callback(-1 if code is None else code)


def example_env(server: testing.NetconfServer, **extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        NETCONF_HOST=server.host,
        NETCONF_PORT=str(server.port),
        NETCONF_USERNAME="admin",
        NETCONF_PASSWORD=PASSWORD,
        NETCONF_HOSTKEY=server.hostkey_b64,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


async def run_example(
    name: str,
    args: List[str],
    env: Dict[str, str],
    on_line: Optional[Callable[[str], None]] = None,
) -> Tuple[int, List[str], str]:
    """Run ``examples/<name>`` to its end (killed after RUN_TIMEOUT); exit code, lines, stderr."""
    reactor = _reactor()
    proto = _Example(on_line)
    argv = [sys.executable, str(EXAMPLES / name), *args]
    transport = reactor.spawnProcess(proto, sys.executable, argv, env=env, path=str(ROOT))
    killer = reactor.callLater(RUN_TIMEOUT, transport.signalProcess, "KILL")
    try:
        code = await proto.ended
    finally:
        if killer.active():
            killer.cancel()
    err = proto.err.decode("utf-8", "replace")
    assert code != -1, "%s was killed after %s s:\n%s" % (name, RUN_TIMEOUT, err)
    return code, proto.lines, err


async def serve(**kwargs: Any) -> testing.NetconfServer:
    kwargs.setdefault("users", {"admin": PASSWORD})
    return await testing.serve(_reactor(), **kwargs)


@pytest_twisted.ensureDeferred
async def test_one_device() -> None:
    server = await serve()
    try:
        code, lines, err = await run_example("one_device.py", ["--hostname", "lab-7"], example_env(server))
        assert code == 0, err
        assert lines[0].startswith("connected: session-id")
        after = [line for line in lines if line.startswith("after:")]
        assert after and "<hostname>lab-7</hostname>" in after[0]
        assert "lab-7" in etree.tostring(server.get_config()).decode()
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_one_device_refuses_a_wrong_host_key() -> None:
    server = await serve()
    other = await serve(host_key=testing.generate_key())
    try:
        env = example_env(server, NETCONF_HOSTKEY=other.hostkey_b64)
        code, lines, err = await run_example("one_device.py", [], env)
        assert code != 0
        assert "HostKeyChangedError" in err, err
        assert not any(line.startswith("before:") for line in lines)
    finally:
        await server.stop()
        await other.stop()


@pytest_twisted.ensureDeferred
async def test_inventory_reports_each_device(tmp_path: Path) -> None:
    servers = [await serve(), await serve(), await serve(users={"admin": "another-password"})]
    try:
        # The CLI's inventory format, credentials by reference; host keys from a known_hosts file.
        devices = "\n".join(
            "  - {name: r%d, host: '%s', port: %d}" % (i, s.host, s.port) for i, s in enumerate(servers)
        )
        path = tmp_path / "devices.yaml"
        path.write_text(
            "defaults: {username: admin, credentials: 'env:NETCONF_PASSWORD'}\ndevices:\n%s\n" % devices
        )
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text("".join(s.known_hosts_line + "\n" for s in servers))
        code, lines, err = await run_example(
            "inventory.py",
            [str(path), "--known-hosts", str(known_hosts), "--parallel", "2"],
            example_env(servers[0]),
        )
        assert code == 1, err  # one device failed
        by_name = {line.split()[0]: line for line in lines if line.startswith("r")}
        assert " ok " in by_name["r0"] and " ok " in by_name["r1"], lines
        assert "FAILED" in by_name["r2"] and "AuthenticationError" in by_name["r2"], lines
        assert PASSWORD not in "\n".join(lines) + err
        assert lines[-1].startswith("3 devices, 1 failed")
    finally:
        for s in servers:
            await s.stop()


@pytest_twisted.ensureDeferred
async def test_notifications_replay_then_live(tmp_path: Path) -> None:
    server = await serve()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(server.known_hosts_line + "\n")
    event = '<link-down xmlns="urn:example:events"><if>eth%d</if></link-down>'
    try:
        server.publish(event % 0, event_time="2024-05-01T10:00:00Z")
        server.publish(event % 1, event_time="2024-05-01T10:00:01Z")

        def on_line(line: str) -> None:
            if line == "replay complete":  # subscribed and replayed: now live events
                server.publish(event % 2)
                server.publish(event % 3)

        code, lines, err = await run_example(
            "notifications.py",
            ["--count", "4", "--replay-from", "2024-01-01T00:00:00Z", "--known-hosts", str(known_hosts)],
            example_env(server, NETCONF_HOSTKEY=""),
            on_line,
        )
        assert code == 0, err
        events = [line for line in lines if "link-down" in line]
        assert len(events) == 4, lines
        assert events[0].startswith("2024-05-01T10:00:00")
        assert lines.index("replay complete") == 3, lines
        assert lines[-1].startswith("4 events;") and lines[-1].endswith("0 dropped")
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_asyncio_client() -> None:
    server = await serve()
    try:
        code, lines, err = await run_example("asyncio_client.py", [], example_env(server))
        assert code == 0, err
        assert lines[0].startswith("running config:")
        assert "gathered 10 replies" in lines
        assert lines[-1] == "closed"
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_reconnecting_service_survives_a_server_restart() -> None:
    servers = [await serve()]
    port = servers[0].port
    event = '<link-down xmlns="urn:example:events"><if>eth%d</if></link-down>'
    steps: List["Deferred[Any]"] = []

    async def restart() -> None:
        await servers[0].stop()
        servers[0] = await serve(port=port)

    def on_line(line: str) -> None:
        if line.startswith("connected:"):
            # The service subscribed before handing the session out: publish at once.
            servers[0].publish(event % len(steps))
        elif "link-down" in line and not steps:
            steps.append(defer.ensureDeferred(restart()))
        elif "link-down" in line:
            steps.append(defer.succeed(None))

    try:
        code, lines, err = await run_example(
            "reconnecting_service.py", ["--events", "2"], example_env(servers[0]), on_line
        )
        for d in steps:
            await d
        assert code == 0, err
        assert [line.split(":")[0] for line in lines if line.startswith("connected:")] == ["connected"] * 2
        assert any(line.startswith("session ended") for line in lines), lines
        assert lines[-1] == "2 events over 2 sessions", lines
    finally:
        await servers[0].stop()

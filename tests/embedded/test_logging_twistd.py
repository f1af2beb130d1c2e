"""A ``.tac`` under ``twistd -n -y``: three ``ManagerService`` against two embedded devices
(in another process, so that the log holds the client side only), one device restarted on
its port; the log then holds our events under our namespaces and levels, nothing as
``stderr#error``, at most one info line of ours per connect and per close, and none of
Conch's handshake at info (issue #23, item 1)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

#: Two devices on ports the OS picks and a control port: "restart N" stops device N and
#: serves it again on the same port (with the same host key), then answers "restarted".
SERVERS = textwrap.dedent(
    """
    import sys
    from twisted.internet import defer, protocol, reactor
    from twisted.protocols.basic import LineReceiver
    from ncclient_twisted import testing

    servers = []

    class Control(LineReceiver):
        delimiter = b"\\n"

        def lineReceived(self, line):
            defer.ensureDeferred(self.restart(int(line.split()[1])))

        async def restart(self, i):
            port = servers[i].port
            await servers[i].stop()
            servers[i] = await testing.serve(reactor, users={"admin": "admin"}, port=port)
            self.sendLine(b"restarted")

    async def main():
        for _ in range(2):
            servers.append(await testing.serve(reactor, users={"admin": "admin"}))
        factory = protocol.Factory.forProtocol(Control)
        factory.noisy = False
        control = reactor.listenTCP(0, factory, interface="127.0.0.1")
        print("PORTS", servers[0].port, servers[1].port, control.getHost().port, flush=True)

    reactor.callWhenRunning(lambda: defer.ensureDeferred(main()).addErrback(lambda f: f.printTraceback()))
    reactor.callLater(120, reactor.stop)  # bound: the test ends it long before
    reactor.run()
    """
)

#: r1 and r2 on device 0, r3 on device 1; device 0 is restarted once all are connected,
#: the reactor stopped once r1 and r2 are connected again (twistd then stops the services).
TAC = textwrap.dedent(
    """
    from twisted.application import service
    from twisted.internet import defer, protocol, reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint
    from twisted.protocols.basic import LineReceiver
    from ncclient_twisted import ManagerService

    application = service.Application("logging-test")
    services = []
    for name, port in (("r1", {port0}), ("r2", {port0}), ("r3", {port1})):
        kw = dict(host="127.0.0.1", port=port, username="admin", password="admin", hostkey_verify=False)
        kw["io"] = "{io}"
        s = ManagerService(kw, name=name, retry_policy=lambda failures: 0.2)
        s.setServiceParent(application)
        services.append(s)

    class Control(LineReceiver):
        delimiter = b"\\n"

        def __init__(self):
            self.answer = defer.Deferred()

        def lineReceived(self, line):
            self.answer.callback(line)

    async def script():
        managers = await defer.gatherResults([s.when_connected() for s in services])
        factory = protocol.Factory.forProtocol(Control)
        factory.noisy = False  # (the test's own connection: no factory lines)
        control = await TCP4ClientEndpoint(reactor, "127.0.0.1", {control}).connect(factory)
        control.sendLine(b"restart 0")
        await control.answer
        control.transport.loseConnection()
        await defer.gatherResults([m.when_closed() for m in managers[:2]])
        await defer.gatherResults([s.when_connected() for s in services[:2]])
        print("RECONNECTED")  # (to stdout: not a log line of ours)

    def run():
        d = defer.ensureDeferred(script())
        d.addErrback(lambda f: print("SCRIPT FAILED", f.getTraceback()))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.callLater(60, reactor.stop)  # bound
    """
)

#: A line of twistd's log: ``<time> [<namespace or system>#<level>] <text>``.
LINE = re.compile(r"^\S+ \[(?P<system>[^\]#]+)(?:#(?P<level>\w+))?\] (?P<text>.*)$")
#: Conch's per-connection lines (and a factory's), which must not show at info.
HANDSHAKE = ("kex alg", "NEW KEYS", "opening channel", "unhandled request", "Starting factory",
             "Stopping factory", "channel open", "starting service", "sending close")


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[Tuple[int, int, int]]:
    """The two devices and the control port, in a child process."""
    script = tmp_path / "servers.py"
    script.write_text(SERVERS)
    child = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # bounded: the child stops its reactor after 120 s
        assert first.startswith("PORTS"), first
        p0, p1, control = (int(x) for x in first.split()[1:])
        yield p0, p1, control
    finally:
        child.terminate()
        child.wait(timeout=30)


def _twistd() -> str:
    path = os.path.join(os.path.dirname(sys.executable), "twistd")
    if not os.path.exists(path):
        pytest.skip("no twistd next to the interpreter")
    return path


def _parse(log: str) -> List[Tuple[str, str, str]]:
    """(system, level, text) of each line that starts an event."""
    events = []
    for line in log.splitlines():
        m = LINE.match(line)
        if m:
            events.append((m["system"], m["level"] or "", m["text"]))
    return events


def test_twistd_log(tmp_path: Path, devices: Tuple[int, int, int], io: str) -> None:
    p0, p1, control = devices
    (tmp_path / "app.tac").write_text(TAC.format(port0=p0, port1=p1, control=control, io=io))
    logfile = tmp_path / "twistd.log"
    done = subprocess.run(
        [_twistd(), "-n", "-y", "app.tac", "--logfile", str(logfile), "--pidfile", ""],
        cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )
    log = logfile.read_text()
    assert done.returncode == 0, (done.stdout, done.stderr, log)
    assert "RECONNECTED" in log and "SCRIPT FAILED" not in log, log
    assert "stderr#error" not in log
    assert "#error]" not in log and "#critical]" not in log, log
    assert "Traceback" not in log, log

    events = _parse(log)
    ours = [(s, lvl, t) for s, lvl, t in events if s.startswith("ncclient_twisted")]
    assert ours, log
    for system, level, _ in ours:
        assert level in ("debug", "info", "warn", "error", "critical"), system
    # 3 connects, then 2 sessions ended by the restart and 2 reconnects; 3 closes at the stop.
    connected = [t for s, lvl, t in ours if s == "ncclient_twisted.service" and ": connected, session" in t]
    assert len(connected) == 5, connected
    assert {lvl for s, lvl, t in ours if ": connected, session" in t} == {"info"}
    for name in ("r1", "r2", "r3"):
        prefix = "ManagerService '%s' for 127.0.0.1 port " % name
        assert any(t.startswith(prefix) for t in connected), connected
    assert sum(lvl == "info" for _, lvl, _ in ours) <= 5 + 5, ours
    retries = [t for s, lvl, t in ours if lvl == "warn" and "retrying in" in t]
    assert len(retries) == 2, ours
    # Conch's handshake and the factories: at debug, if at all.
    for system, level, text in events:
        if level == "info" or not level:
            assert not any(h in text for h in HANDSHAKE), (system, level, text)

"""The ``ncclient-twisted`` command in a subprocess, against embedded servers in the test's reactor.

Passwords reach the command through an environment variable or a file, never argv; host
keys are checked against ``$HOME/.ssh/known_hosts`` of a temporary HOME unless a test says
otherwise.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List

import pytest
import pytest_twisted
from cryptography.hazmat.primitives import serialization
from twisted.internet import defer, protocol

from ncclient_twisted import testing
from ncclient_twisted.testing import Fault
from tests.support.cli import Result, assert_no_traceback, cli_env, run_cli

PASSWORD = "s3cret-pw"
SYSTEM_NS = "urn:example:system"


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


@pytest_twisted.async_yield_fixture
async def server() -> AsyncIterator[testing.NetconfServer]:
    s = await testing.serve(
        reactor(),
        users={"admin": PASSWORD},
        config='<system xmlns="%s"><hostname>r1</hostname></system>' % SYSTEM_NS,
    )
    yield s
    await s.stop()


def home_with(tmp_path: Path, *known_hosts_lines: str) -> Path:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    (home / ".ssh" / "known_hosts").write_text("".join(line + "\n" for line in known_hosts_lines))
    return home


def target(server: testing.NetconfServer) -> List[str]:
    return [
        "--host", server.host, "--port", str(server.port), "--username", "admin", "--password-env", "NC_PW"
    ]


async def cli(
    tmp_path: Path, server: testing.NetconfServer, *args: str, known: bool = True, **kw: Any
) -> Result:
    """Run a subcommand on *server*, its key in known_hosts when *known*."""
    home = home_with(tmp_path, *([server.known_hosts_line] if known else []))
    env = cli_env(home=str(home), NC_PW=PASSWORD)
    return await run_cli(reactor(), list(args) + target(server), env, **kw)


def other_key_line(server: testing.NetconfServer) -> str:
    pub = testing.generate_key().public_key()
    blob = pub.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return "[%s]:%d %s" % (server.host, server.port, blob)


@pytest_twisted.ensureDeferred
async def test_get_config_of_one_device_prints_the_reply(tmp_path: Path, server: Any) -> None:
    r = await cli(tmp_path, server, "get-config")
    assert r.code == 0, r
    assert "<data" in r.out and "\n    <hostname>r1</hostname>\n" in r.out, r  # pretty-printed
    assert r.err == "", r  # a single device: no progress, no summary


@pytest_twisted.ensureDeferred
async def test_io_reactor_from_the_command_line(tmp_path: Path, server: Any) -> None:
    r = await cli(tmp_path, server, "get-config", "--io", "reactor")
    assert r.code == 0, r
    assert "<hostname>r1</hostname>" in r.out and r.err == "", r


@pytest_twisted.ensureDeferred
async def test_edit_config_commit_with_the_password_from_a_file(tmp_path: Path, server: Any) -> None:
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    (tmp_path / "change.xml").write_text(
        '<system xmlns="%s"><hostname>edited</hostname></system>' % SYSTEM_NS
    )
    home = home_with(tmp_path, server.known_hosts_line)
    args = ["edit-config", "--config", "@" + str(tmp_path / "change.xml"), "--commit",
            "--host", server.host, "--port", str(server.port), "-u", "admin",
            "--password-file", str(tmp_path / "pw")]  # fmt: skip
    r = await run_cli(reactor(), args, cli_env(home=str(home)))
    assert r.code == 0, r
    assert "<ok/>" in r.out
    assert "edited" in "".join(server.get_config("running").itertext())
    assert server.locks["candidate"] is None


@pytest.mark.parametrize(
    "args, expect",
    [
        (["get", "--filter", '<system xmlns="%s"/>' % SYSTEM_NS], "<hostname>r1</hostname>"),
        (["get-config", "--source", "candidate"], "<hostname>r1</hostname>"),
        (["copy-config", "--source", "running", "--target", "startup"], "<ok/>"),
        (["delete-config", "--target", "startup"], "<ok/>"),
        (["validate"], "<ok/>"),
        (["discard-changes"], "<ok/>"),
        (["commit"], "<ok/>"),
        (["lock", "--target", "running"], "<ok/>"),
        (["capabilities"], "urn:ietf:params:netconf:base:1.1"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_each_operation(tmp_path: Path, server: Any, args: List[str], expect: str) -> None:
    r = await cli(tmp_path, server, *args)
    assert r.code == 0, r
    assert expect in r.out, r


@pytest_twisted.ensureDeferred
async def test_rpc_from_standard_input(tmp_path: Path, server: Any) -> None:
    rpc = (
        '<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get-config><source><running/></source>'
        '</get-config></rpc>'
    )
    r = await cli(tmp_path, server, "rpc", "-", stdin=rpc)
    assert r.code == 0, r
    assert "<hostname>r1</hostname>" in r.out


@pytest_twisted.ensureDeferred
async def test_auth_failure_is_one_line_and_exit_1(tmp_path: Path, server: Any) -> None:
    home = home_with(tmp_path, server.known_hosts_line)
    env = cli_env(home=str(home), NC_PW="wrong-" + PASSWORD)
    for fmt in ("xml", "json"):
        r = await run_cli(reactor(), ["get-config", "--format", fmt] + target(server), env)
        assert r.code == 1, r
        assert_no_traceback(r)
        assert "FAILED %s:%d: authentication failed" % (server.host, server.port) in r.err, r
        assert PASSWORD not in r.out + r.err
    summary = json.loads(r.out)
    assert summary["ok"] is False and summary["host"] == server.host
    assert summary["error"].startswith("authentication failed for user ")


@pytest_twisted.ensureDeferred
async def test_unknown_host_key_is_refused_by_default(tmp_path: Path, server: Any) -> None:
    r = await cli(tmp_path, server, "get-config", known=False)
    assert r.code == 1, r
    assert_no_traceback(r)
    assert "FAILED %s:%d: host key not trusted" % (server.host, server.port) in r.err, r


@pytest_twisted.ensureDeferred
async def test_changed_host_key_is_refused(tmp_path: Path, server: Any) -> None:
    home = home_with(tmp_path, other_key_line(server))
    r = await run_cli(reactor(), ["get-config"] + target(server), cli_env(home=str(home), NC_PW=PASSWORD))
    assert r.code == 1, r
    assert_no_traceback(r)
    expected = "host key changed"
    assert "FAILED %s:%d: %s" % (server.host, server.port, expected) in r.err, r
    assert len(server.sessions) == 0


@pytest_twisted.ensureDeferred
async def test_no_host_key_check_when_asked(tmp_path: Path, server: Any) -> None:
    r = await cli(tmp_path, server, "get-config", "--no-host-key-check", known=False)
    assert r.code == 0, r


@pytest_twisted.ensureDeferred
async def test_rpc_timeout(tmp_path: Path, server: Any) -> None:
    server.faults.add(Fault.no_reply("get-config"))
    start = time.monotonic()
    r = await cli(tmp_path, server, "get-config", "--timeout", "1")
    assert r.code == 1, r
    assert_no_traceback(r)
    assert "FAILED %s:%d: timeout after 1 s" % (server.host, server.port) in r.err, r
    assert time.monotonic() - start < 20  # wall time is the property: the CLI's timeout holds


class _Silent(protocol.Protocol):
    """Accepts the TCP connection and never says a word (no SSH banner)."""

    def connectionMade(self) -> None:
        connected = getattr(self.factory, "connected", None)
        if connected is not None and not connected.called:
            connected.callback(None)


@pytest_twisted.ensureDeferred
async def test_connect_timeout_on_a_silent_device(tmp_path: Path) -> None:
    port = reactor().listenTCP(0, protocol.Factory.forProtocol(_Silent), interface="127.0.0.1")
    try:
        home = home_with(tmp_path)
        args = ["get-config", "--host", "127.0.0.1", "--port", str(port.getHost().port), "--timeout", "1",
                "--password-env", "NC_PW", "--no-host-key-check"]  # fmt: skip
        start = time.monotonic()
        r = await run_cli(reactor(), args, cli_env(home=str(home), NC_PW=PASSWORD))
        assert r.code == 1, r
        assert_no_traceback(r)
        assert "timeout" in r.err, r
        assert time.monotonic() - start < 20  # wall time is the property: the CLI's timeout holds
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_rpc_error_is_one_line(tmp_path: Path, server: Any) -> None:
    server.faults.add(Fault.rpc_error("lock", "lock-denied", "held by session 7"))
    r = await cli(tmp_path, server, "lock")
    assert r.code == 1, r
    assert_no_traceback(r)
    assert "FAILED %s:%d: rpc-error: lock-denied: held by session 7" % (server.host, server.port) in r.err, r


@pytest_twisted.ensureDeferred
async def test_subscribe_prints_replayed_notifications_up_to_count(tmp_path: Path, server: Any) -> None:
    server.publish('<link-down xmlns="urn:example:events"><if>eth0</if></link-down>')
    server.publish('<link-down xmlns="urn:example:events"><if>eth1</if></link-down>')
    r = await cli(tmp_path, server, "subscribe", "--start-time", "2000-01-01T00:00:00Z", "--count", "1")
    assert r.code == 0, r
    assert "<if>eth0</if>" in r.out and "eth1" not in r.out, r


@pytest_twisted.ensureDeferred
async def test_subscribe_until_and_json_lines(tmp_path: Path, server: Any) -> None:
    server.publish('<link-down xmlns="urn:example:events"><if>eth0</if></link-down>')
    start = time.monotonic()
    r = await cli(tmp_path, server, "subscribe", "--start-time", "2000-01-01T00:00:00Z", "--until", "1s",
                  "--format", "json")  # fmt: skip
    assert r.code == 0, r
    assert time.monotonic() - start >= 1
    *events, summary = [json.loads(line) for line in r.lines()]
    assert "eth0" in events[0]["notification"] and events[0]["event_time"]  # then replayComplete
    assert summary["ok"] is True and summary["notifications"] == len(events) >= 1


@pytest_twisted.ensureDeferred
async def test_csv_inventory_with_failures_out_dir_and_json(tmp_path: Path) -> None:
    servers = [await testing.serve(reactor(), users={"admin": PASSWORD}) for _ in range(3)]
    try:
        inventory = tmp_path / "devices.csv"
        inventory.write_text(
            "# name, host, port, username, credentials\n"
            "name,host,port,username,credentials\n"
            "good,127.0.0.1,%d,admin,env:NC_PW\n"
            "badpw,127.0.0.1,%d,admin,env:NC_BAD\n"
            "noenv,127.0.0.1,%d,admin,env:NC_MISSING\n" % tuple(s.port for s in servers)
        )
        home = home_with(tmp_path, *[s.known_hosts_line for s in servers])
        out = tmp_path / "out"
        env = cli_env(home=str(home), NC_PW=PASSWORD, NC_BAD="nope")
        args = ["get-config", "--inventory", str(inventory), "--out", str(out), "--format", "json"]
        r = await run_cli(reactor(), args, env)
        assert r.code == 1, r
        assert_no_traceback(r)
        by_name: Dict[str, Any] = {d["name"]: d for d in map(json.loads, r.lines())}
        assert by_name["good"]["ok"] and by_name["good"]["file"] == str(out / "good.xml")
        assert by_name["badpw"]["error"].startswith("authentication failed for user ")
        assert by_name["noenv"]["error"] == "credentials: environment variable NC_MISSING is not set"
        assert sorted(os.listdir(out)) == ["good.xml"]
        assert "<data" in (out / "good.xml").read_text()
        assert "FAILED badpw (127.0.0.1:%d): authentication failed" % servers[1].port in r.err
        assert "FAILED noenv (127.0.0.1:%d): credentials" % servers[2].port in r.err
        assert "3 devices: 1 ok, 2 failed" in r.err
        assert PASSWORD not in r.out + r.err
    finally:
        await defer.gatherResults([s.stop() for s in servers])


@pytest_twisted.ensureDeferred
async def test_inventory_of_50_devices(tmp_path: Path) -> None:
    servers = await defer.gatherResults(
        [defer.ensureDeferred(testing.serve(reactor(), users={"admin": PASSWORD})) for _ in range(50)]
    )
    try:
        lines = ["defaults: {username: admin, credentials: 'file:%s'}" % (tmp_path / "pw"), "devices:"]
        lines += [
            "  - {name: dev%02d, host: 127.0.0.1, port: %d}" % (i, s.port) for i, s in enumerate(servers)
        ]
        (tmp_path / "inv.yaml").write_text("\n".join(lines) + "\n")
        (tmp_path / "pw").write_text(PASSWORD)
        home = home_with(tmp_path, *[s.known_hosts_line for s in servers])
        out = tmp_path / "configs"
        args = [
            "get-config", "--inventory", str(tmp_path / "inv.yaml"), "--out", str(out), "--format", "json"
        ]
        r = await run_cli(reactor(), args, cli_env(home=str(home)))
        assert r.code == 0, r
        summaries = [json.loads(line) for line in r.lines()]
        assert [s["name"] for s in summaries] == ["dev%02d" % i for i in range(50)]
        assert all(s["ok"] and s["error"] is None and s["latency_s"] > 0 for s in summaries)
        assert len(os.listdir(out)) == 50
        # Not a terminal: plain progress lines, every tenth of the devices.
        progress = [line for line in r.err.splitlines() if line.startswith("progress: ")]
        assert progress[-1] == "progress: 50/50 devices done, 0 failed", r.err
        assert len(progress) == 10
        assert "50 devices: 50 ok, 0 failed" in r.err
    finally:
        await defer.gatherResults([s.stop() for s in servers])


@pytest_twisted.ensureDeferred
async def test_accept_new_stores_the_key_then_uses_it(tmp_path: Path, server: Any) -> None:
    known = tmp_path / "kh"
    home = home_with(tmp_path)
    env = cli_env(home=str(home), NC_PW=PASSWORD)
    r = await run_cli(reactor(), ["get-config", "--known-hosts", str(known)] + target(server), env)
    assert r.code == 1 and "host key not trusted" in r.err, r
    r = await run_cli(
        reactor(), ["get-config", "--known-hosts", str(known), "--accept-new"] + target(server), env
    )
    assert r.code == 0, r
    assert server.hostkey_b64 in known.read_text()
    r = await run_cli(reactor(), ["get-config", "--known-hosts", str(known)] + target(server), env)
    assert r.code == 0, r


@pytest_twisted.ensureDeferred
async def test_accept_new_refuses_a_changed_key(tmp_path: Path, server: Any) -> None:
    known = tmp_path / "kh"
    known.write_text(other_key_line(server) + "\n")
    env = cli_env(home=str(home_with(tmp_path)), NC_PW=PASSWORD)
    r = await run_cli(
        reactor(), ["get-config", "--known-hosts", str(known), "--accept-new"] + target(server), env
    )
    assert r.code == 1, r
    assert_no_traceback(r)
    assert "FAILED %s:%d: host key changed" % (server.host, server.port) in r.err, r


@pytest_twisted.ensureDeferred
async def test_sigterm_interrupts_and_exits_130_at_once(tmp_path: Path) -> None:
    """Stopped mid-handshake (the device says nothing): the device is "interrupted", exit 130."""
    factory = protocol.Factory.forProtocol(_Silent)
    factory.connected = defer.Deferred()  # type: ignore[attr-defined]
    port = reactor().listenTCP(0, factory, interface="127.0.0.1")
    try:
        args = ["get-config", "--host", "127.0.0.1", "--port", str(port.getHost().port), "--timeout", "100",
                "--password-env", "NC_PW", "--no-host-key-check"]  # fmt: skip
        env = cli_env(home=str(home_with(tmp_path)), NC_PW=PASSWORD)
        start = time.monotonic()
        r = await run_cli(reactor(), args, env, interrupt=factory.connected)  # type: ignore[attr-defined]
        assert r.code == 130, r
        assert_no_traceback(r)
        assert "FAILED 127.0.0.1:%d: interrupted" % port.getHost().port in r.err, r
        assert time.monotonic() - start < 10  # not paramiko's 15 s banner wait
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_sigterm_ends_subscribe_normally(tmp_path: Path, server: Any) -> None:
    server.publish('<link-down xmlns="urn:example:events"><if>eth0</if></link-down>')
    r = await cli(tmp_path, server, "subscribe", "--start-time", "2000-01-01T00:00:00Z", "--format", "json",
                  interrupt_on_output=True)  # fmt: skip
    assert r.code == 0, r
    summary = json.loads(r.lines()[-1])
    assert summary["ok"] is True and summary["notifications"] >= 1


@pytest_twisted.ensureDeferred
async def test_edit_config_commit_is_all_or_nothing(tmp_path: Path, server: Any) -> None:
    server.faults.add(Fault.rpc_error("commit", "operation-failed", "commit refused"))
    change = '<system xmlns="%s"><hostname>never</hostname></system>' % SYSTEM_NS
    r = await cli(tmp_path, server, "edit-config", "--config", change, "--commit")
    assert r.code == 1, r
    assert "rpc-error: operation-failed: commit refused" in r.err, r
    assert "never" not in "".join(server.get_config("candidate").itertext())  # discarded
    assert server.locks["candidate"] is None  # and unlocked

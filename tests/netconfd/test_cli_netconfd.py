"""The ``ncclient-twisted`` subcommands against a real yuma123 netconfd, typed as a user would.

netconfd is behind OpenSSH with public-key authentication: the key is given with ``--key``
(or ``key:PATH`` in an inventory) and the host key is checked against
``$HOME/.ssh/known_hosts`` of a temporary HOME, as ssh does.

The netconfd here offers only base:1.0 (``--protocols=netconf1.0``). With base:1.1, netconfd
2.13 sometimes holds a request that reaches it in the same read as the client's ``<hello>``
(the request is chunk-framed, the hello is not): it answers only when more input arrives.
A client that sends its first RPC as soon as the server's hello is in, as ncclient_twisted
does, meets this on a few sessions in a hundred (plain ncclient rarely does: its session
thread sends on a 100 ms tick). Measured here: 3/150 stalled sessions on base:1.1, 0/450
on base:1.0; every stalled request had been written out, and the reply came the moment a
second request was sent. It is netconfd's, not the command's, so these tests use base:1.0.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from ncclient import manager as nc_manager

from tests.support.cli import Result, assert_no_traceback, cli_env, run_cli_sync
from tests.support.netconfd import TEST_NS, NetconfdServer


class Device:
    """How a user reaches the netconfd fixture from the command line."""

    def __init__(self, netconfd: Any, home: Path) -> None:
        self.server = netconfd
        self.home = home
        self.args = ["--host", netconfd.host, "--port", str(netconfd.port), "-u", netconfd.username,
                     "--key", netconfd.key_filename]  # fmt: skip

    def run(self, *args: str, stdin: str = "", home: Any = None) -> Result:
        env = cli_env(home=str(home or self.home))
        return run_cli_sync(list(args) + self.args, env, stdin=stdin)


@pytest.fixture(scope="module")
def netconfd10(netconfd: Any) -> Iterator[Any]:
    """A netconfd of this module's own that offers base:1.0 only (see the module doc).

    It asks for the shared ``netconfd`` fixture first so that the suite's skip/require
    rule (``NCCLIENT_TWISTED_REQUIRE_NETCONFD``) and the ``netconfd`` marker apply.
    """
    with NetconfdServer(extra_netconfd_args=["--protocols=netconf1.0"]) as server:
        yield server


@pytest.fixture
def device(netconfd10: Any, tmp_path: Path) -> Iterator[Device]:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    shutil.copyfile(netconfd10.known_hosts, home / ".ssh" / "known_hosts")
    yield Device(netconfd10, home)


def top(body: str) -> str:
    return '<top xmlns="%s">%s</top>' % (TEST_NS, body)


def test_capabilities(device: Device) -> None:
    r = device.run("capabilities")
    assert r.code == 0, r
    caps = r.lines()
    assert "urn:ietf:params:netconf:base:1.0" in caps
    assert "urn:ietf:params:netconf:capability:candidate:1.0" in caps


def test_edit_config_commit_then_get_config_with_a_filter(device: Device, tmp_path: Path) -> None:
    name = "cli-%s" % uuid.uuid4().hex[:8]
    (tmp_path / "edit.xml").write_text(top("<name>%s</name>" % name))
    r = device.run("edit-config", "--config", "@%s" % (tmp_path / "edit.xml"), "--commit")
    assert r.code == 0, r
    assert "<ok/>" in r.out
    r = device.run("get-config", "--filter", top(""))
    assert r.code == 0, r
    assert "<name>%s</name>" % name in r.out
    r = device.run(
        "get-config", "--xpath", "/nctw:top/nctw:name", "--ns", "nctw=" + TEST_NS
    )  # its own prefix
    assert r.code == 0, r
    assert "<name>%s</name>" % name in r.out


def test_edit_config_in_steps_validate_commit_discard(device: Device) -> None:
    name = "steps-%s" % uuid.uuid4().hex[:8]
    r = device.run("edit-config", "--config", "-", stdin=top("<name>%s</name>" % name))
    assert r.code == 0, r
    r = device.run("get-config", "--source", "candidate", "--filter", top(""))
    assert name in r.out, r
    r = device.run("commit")
    assert r.code == 0, r
    assert name in device.run("get-config", "--filter", top("")).out
    for args in (["validate", "--source", "running"], ["discard-changes"],
                 ["copy-config", "--source", "running", "--target", "startup"],
                 ["delete-config", "--target", "startup"]):  # fmt: skip
        r = device.run(*args)
        assert r.code == 0 and "<ok/>" in r.out, (args, r)


def test_rpc_from_standard_input(device: Device) -> None:
    r = device.run("rpc", "-", stdin="<get-config><source><running/></source></get-config>")
    assert r.code == 0, r
    assert "<rpc-reply" in r.out and "<data" in r.out


def test_rpc_errors_are_one_line_with_exit_1(device: Device) -> None:
    holder = nc_manager.connect(**device.server.connect_kwargs())
    try:
        holder.lock("running")
        r = device.run("lock", "--target", "running")
        assert r.code == 1, r
        assert_no_traceback(r)
        assert "FAILED %s:%d: rpc-error: lock-denied" % (device.server.host, device.server.port) in r.err, r
    finally:
        holder.unlock("running")
        holder.close_session()
    r = device.run("edit-config", "--target", "running", "--config", top("<name>x</name>"))
    assert r.code == 1 and "rpc-error: operation-failed" in r.err, r
    r = device.run("unlock", "--target", "candidate")
    assert r.code == 1 and "rpc-error:" in r.err, r
    assert_no_traceback(r)


def test_subscribe_with_replay_and_count(device: Device) -> None:
    r = device.run("subscribe", "--start-time", "2000-01-01T00:00:00Z", "--count", "1", "--until", "20s")
    assert r.code == 0, r
    assert "<notification" in r.out


def test_subscribe_until(device: Device) -> None:
    r = device.run("subscribe", "--until", "1s", "--format", "json")
    assert r.code == 0, r
    summary = json.loads(r.lines()[-1])
    assert summary["ok"] is True and summary["notifications"] >= 0


def test_inventory_of_50_sessions(device: Device, tmp_path: Path) -> None:
    s = device.server
    lines = ["name,host,port,username,credentials"]
    lines += ["nc%02d,%s,%d,%s,key:%s" % (i, s.host, s.port, s.username, s.key_filename) for i in range(50)]
    (tmp_path / "inv.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    r = run_cli_sync(
        ["get-config", "--inventory", str(tmp_path / "inv.csv"), "--concurrency", "10", "--format", "json",
         "--out", str(out)],
        cli_env(home=str(device.home)), timeout=120,
    )  # fmt: skip
    assert r.code == 0, r
    summaries: List[Dict[str, Any]] = [json.loads(line) for line in r.lines()]
    assert len(summaries) == 50 and all(x["ok"] for x in summaries), r
    assert len(list(out.iterdir())) == 50
    assert "50 devices: 50 ok, 0 failed" in r.err


def test_auth_failure_with_a_key_the_device_does_not_know(device: Device, tmp_path: Path) -> None:
    key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30)
    s = device.server
    args = ["get-config", "--host", s.host, "--port", str(s.port), "-u", s.username, "--key", str(key)]
    r = run_cli_sync(args, cli_env(home=str(device.home)))
    assert r.code == 1, r
    assert_no_traceback(r)
    assert "FAILED %s:%d: authentication failed" % (s.host, s.port) in r.err, r


def test_changed_host_key_is_refused(device: Device, tmp_path: Path) -> None:
    home = tmp_path / "other_home"
    (home / ".ssh").mkdir(parents=True)
    s = device.server
    wrong = "AAAAC3NzaC1lZDI1NTE5AAAAIDk2Q0jWsOMkIZmzhLCWo7l9bwf7dNqtC2NBoDupd9Vq"
    (home / ".ssh" / "known_hosts").write_text("[%s]:%d ssh-ed25519 %s\n" % (s.host, s.port, wrong))
    r = device.run("get-config", home=home)
    assert r.code == 1, r
    assert_no_traceback(r)
    expected = "host key changed"
    assert "FAILED %s:%d: %s" % (s.host, s.port, expected) in r.err, r


def test_accept_new_against_netconfd(device: Device, tmp_path: Path) -> None:
    known = tmp_path / "kh"
    r = device.run("get-config", "--known-hosts", str(known), "--accept-new")
    assert r.code == 0, r
    assert device.server.hostkey_b64 in known.read_text()


def test_a_device_that_stops_answering_times_out(netconfd_factory: Any, tmp_path: Path) -> None:
    """netconfd stopped (SIGSTOP): sshd still answers, the NETCONF hello never comes."""
    import os
    import signal
    import time

    server = netconfd_factory(extra_netconfd_args=["--protocols=netconf1.0"])
    pid = server.netconfd_pid
    assert pid is not None
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    shutil.copyfile(server.known_hosts, home / ".ssh" / "known_hosts")
    args = ["get-config", "--host", server.host, "--port", str(server.port), "-u", server.username,
            "--key", server.key_filename, "--timeout", "2"]  # fmt: skip
    os.kill(pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        r = run_cli_sync(args, cli_env(home=str(home)))
        elapsed = time.monotonic() - start
    finally:
        os.kill(pid, signal.SIGCONT)
    assert r.code == 1, r
    assert_no_traceback(r)
    assert "FAILED %s:%d: timeout after 2 s" % (server.host, server.port) in r.err, r
    assert elapsed < 20, r  # wall time is the property: the CLI's timeout holds

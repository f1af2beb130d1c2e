"""``ncclient-twisted demo`` and ``serve``, run as a user would, in subprocesses."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from tests.support.cli import assert_no_traceback, cli_env, command, run_cli_sync

START_TIMEOUT = 30.0


def summary_table(out: str) -> Dict[str, str]:
    rows = {}
    for line in out.splitlines():
        key, sep, value = line.partition("  ")
        if sep:
            rows[key.strip()] = value.strip()
    return rows


def test_demo_runs_green_in_seconds() -> None:
    start = time.monotonic()
    r = run_cli_sync(["demo", "--devices", "10"], cli_env())
    wall = time.monotonic() - start
    assert r.code == 0, r
    table = summary_table(r.out)
    assert table["devices"] == "10" and table["failures"] == "0"
    assert table["RPCs"] == "60"  # subscribe, get-config, lock, edit-config, commit, unlock
    for key in ("RPC latency p50", "RPC latency p99", "RPCs/s", "wall time"):
        assert key in table
    # Not a terminal: plain progress lines on standard error.
    assert r.err.splitlines()[-1] == "progress: 10/10 devices done, 0 failed", r
    assert wall < 30


def test_python_m_ncclient_twisted_demo_still_works() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "ncclient_twisted.demo", "--devices", "2", "--quiet"],
        env=cli_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert summary_table(p.stdout)["failures"] == "0"
    assert p.stderr == ""


def read_line(proc: "subprocess.Popen[str]", timeout: float = START_TIMEOUT) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "serve printed nothing within %g s" % timeout
    return proc.stdout.readline()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Dict[str, Any]]:
    """50 embedded servers in a ``serve`` child process, with an inventory and known_hosts."""
    inventory, known = tmp_path / "lab.yaml", tmp_path / "lab_known_hosts"
    proc = subprocess.Popen(
        command() + ["serve", "--devices", "50", "--json", "--exit-on-eof",
                     "--inventory-out", str(inventory), "--known-hosts", str(known)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    try:
        servers = json.loads(read_line(proc))
        yield {"proc": proc, "servers": servers, "inventory": inventory, "known_hosts": known}
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise


def test_serve_50_devices_and_run_an_inventory_against_them(tmp_path: Path, lab: Dict[str, Any]) -> None:
    servers: List[Dict[str, Any]] = lab["servers"]
    assert len(servers) == 50 and len({s["port"] for s in servers}) == 50
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(lab["known_hosts"].read_text())
    env = cli_env(home=str(home), NCCLIENT_TWISTED_PASSWORD="admin")
    out = tmp_path / "out"
    r = run_cli_sync(
        ["get-config", "--inventory", str(lab["inventory"]), "--out", str(out), "--concurrency", "20"], env
    )
    assert r.code == 0, r
    assert r.out == ""  # the replies went to the files
    assert sorted(os.listdir(out)) == sorted("device-%d.xml" % i for i in range(50))
    assert "50 devices: 50 ok, 0 failed" in r.err
    assert_no_traceback(r)


def test_serve_in_the_foreground_until_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(command() + ["serve"], stdout=subprocess.PIPE, text=True, env=cli_env())
    try:
        first = read_line(proc)
        assert first.startswith("NETCONF server on 127.0.0.1:"), first
        assert proc.stdout is not None
        rest = [proc.stdout.readline() for _ in range(3)]  # written and flushed with the first
        assert "password admin" in rest[0] and "Try:" in rest[1] and "Ctrl-C" in rest[2], rest
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(10)
    assert code == 0


def test_serve_json_larger_than_a_pipe_buffer() -> None:
    """250 servers: a JSON line of more than 64 KiB, written through the stdio transport."""
    proc = subprocess.Popen(
        command() + ["serve", "--devices", "250", "--json", "--exit-on-eof"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    try:
        line = read_line(proc)
        assert len(line) > 65536
        assert len(json.loads(line)) == 250
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(15) == 0


def test_progress_bar_on_a_terminal() -> None:
    """Standard error on a pseudo-terminal: rich's bar instead of plain lines."""
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            command() + ["demo", "--devices", "5"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=cli_env(),
        )  # fmt: skip
        os.close(slave)
        slave = -1
        chunks = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the other end closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        assert proc.wait(30) == 0
        assert proc.stdout is not None
        assert b"failures         0" in proc.stdout.read()
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "5/5" in shown and "\u2501" in shown, shown  # the bar's "━"
    assert "progress:" not in shown

"""``serve --state-dir``: a lab device keeps its host key, its port and its configuration across restarts.

The lab runs as a user runs it (``ncclient-twisted serve`` in a child process, stopped by
closing its standard input); the client is the command too, checking host keys against the
known_hosts file the lab wrote.
"""

from __future__ import annotations

import json
import select
import subprocess
from pathlib import Path
from typing import Any, Dict, List

from tests.support.cli import cli_env, command, run_cli_sync

START_TIMEOUT = 30.0
CONFIG = '<system xmlns="urn:example:system"><hostname>%s</hostname></system>'


class Lab:
    """One run of ``serve --state-dir``; ``stop()`` closes its standard input and waits."""

    def __init__(self, state: Path, known_hosts: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            command() + ["serve", "--json", "--exit-on-eof", "--state-dir", str(state),
                         "--known-hosts", str(known_hosts), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
        )  # fmt: skip
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        assert ready, "serve printed nothing within %g s" % START_TIMEOUT
        line = self.proc.stdout.readline()
        assert line, self.stop()
        self.servers: List[Dict[str, Any]] = json.loads(line)

    def stop(self) -> str:
        try:
            _, err = self.proc.communicate(timeout=10)  # closes standard input first
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        assert self.proc.returncode == 0, err
        return str(err)


def cli(lab: Lab, known_hosts: Path, *args: str) -> Any:
    s = lab.servers[0]
    where = ["--host", s["host"], "--port", str(s["port"]), "-u", "admin", "--password-env", "PW"]
    r = run_cli_sync(list(args) + where + ["--known-hosts", str(known_hosts)], cli_env(PW="admin"))
    assert r.code == 0, r
    return r


def test_a_restarted_lab_keeps_its_key_port_and_configuration(tmp_path: Path) -> None:
    state, known_hosts = tmp_path / "state", tmp_path / "known_hosts"
    other = "[192.0.2.7]:830 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeptAsItWasKeptAsItWasKeptAsItWasKeptAs"
    known_hosts.write_text("# my lab\n%s\n" % other)

    first = Lab(state, known_hosts)
    try:
        change = ["--target", "candidate", "--config", CONFIG % "kept", "--commit"]
        cli(first, known_hosts, "edit-config", *change)
        cli(first, known_hosts, "copy-config", "--source", "running", "--target", "startup")
    finally:
        first.stop()

    second = Lab(state, known_hosts)
    try:
        assert second.servers[0]["port"] == first.servers[0]["port"]
        assert second.servers[0]["fingerprint_sha256"] == first.servers[0]["fingerprint_sha256"]
        for source in ("running", "startup"):
            r = cli(second, known_hosts, "get-config", "--source", source)
            assert "<hostname>kept</hostname>" in r.out, (source, r)
    finally:
        second.stop()

    # The served port's line was replaced, not appended again; the user's lines were kept.
    lines = known_hosts.read_text().splitlines()
    assert lines[:2] == ["# my lab", other]
    assert lines[2:] == [first.servers[0]["known_hosts_line"]]
    assert (state / "ssh_host_ed25519_key").stat().st_mode & 0o777 == 0o600


def test_heartbeat_events_reach_a_subscriber(tmp_path: Path) -> None:
    state, known_hosts = tmp_path / "state", tmp_path / "known_hosts"
    lab = Lab(state, known_hosts, "--heartbeat", "0.2")
    try:
        r = cli(lab, known_hosts, "subscribe", "--count", "2", "--format", "json")
        records = [json.loads(line) for line in r.out.splitlines()]
        events = [e["notification"] for e in records if "notification" in e]
        assert len(events) == 2, r
        counts = [int(xml.split("<count>")[1].split("<")[0]) for xml in events]
        assert all('<heartbeat xmlns="urn:ncclient-twisted:lab">' in xml for xml in events), r
        assert counts[1] == counts[0] + 1, r  # numbered since the lab started
    finally:
        lab.stop()

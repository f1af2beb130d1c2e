"""The command's messages, exact: what failed, and what the user did not give.

Each runs the real command in a subprocess against an embedded server in the test's reactor
and counts what the server saw where it matters (authentication attempts).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any, AsyncIterator, List

import ncclient
import pytest_twisted

from ncclient_twisted import testing
from tests.support.cli import Result, cli_env, run_cli

PASSWORD = "s3cret-pw"


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


@pytest_twisted.async_yield_fixture
async def server() -> AsyncIterator[testing.NetconfServer]:
    s = await testing.serve(reactor(), users={"admin": PASSWORD}, config="<top xmlns='urn:x'><a>1</a></top>")
    yield s
    await s.stop()


async def run(tmp_path: Path, server: testing.NetconfServer, args: List[str], **env: str) -> Result:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    (home / ".ssh" / "known_hosts").write_text(server.known_hosts_line + "\n")
    where = ["--host", server.host, "--port", str(server.port)]
    return await run_cli(reactor(), args + where, cli_env(home=str(home), **env))


def failure_line(r: Result) -> str:
    lines = [line for line in r.err.splitlines() if line.startswith("FAILED ")]
    assert len(lines) == 1, r
    return lines[0].split(": ", 1)[1]


@pytest_twisted.ensureDeferred
async def test_a_wrong_password_names_the_user_and_methods(tmp_path: Path, server: Any) -> None:
    r = await run(tmp_path, server, ["get-config", "--username", "admin", "--password-env", "PW"], PW="wrong")
    assert r.code == 1, r
    assert failure_line(r) == (
        "authentication failed for user 'admin': the server offers password; tried password"
    )
    assert "wrong" not in r.out + r.err


@pytest_twisted.ensureDeferred
async def test_no_password_says_how_to_give_one(tmp_path: Path, server: Any) -> None:
    r = await run(tmp_path, server, ["get-config", "--username", "admin"])
    assert r.code == 1, r
    # ncclient 0.6.x is given the empty password to open key files, and tries it
    # (options.key_passphrase_for_old_ncclient): "tried password" there, truly.
    tried = (
        "tried password"
        if tuple(int(x) for x in ncclient.__version__.split(".")[:2]) < (0, 7)
        else "tried nothing (no key, password or auth_handler to try)"
    )
    assert failure_line(r) == (
        "authentication failed for user 'admin': the server offers password; %s; "
        "no password was given (--password-env VAR, --password-file FILE, --ask-password, "
        "or credentials: in the inventory); only the SSH agent and ~/.ssh keys were offered" % tried
    )


@pytest_twisted.ensureDeferred
async def test_a_defaulted_user_name_is_said(tmp_path: Path, server: Any) -> None:
    r = await run(tmp_path, server, ["get-config", "--password-env", "PW"], PW=PASSWORD)
    assert r.code == 1, r
    me = getpass.getuser()
    assert failure_line(r) == (
        "authentication failed for user %r: the server offers password; tried password; "
        "no user name was given, so the local one (%s) was used (--username, or username: "
        "in the inventory)" % (me, me)
    )
    assert PASSWORD not in r.out + r.err


@pytest_twisted.ensureDeferred
async def test_json_without_out_carries_the_reply(tmp_path: Path, server: Any) -> None:
    r = await run(
        tmp_path, server, ["get-config", "--format", "json", "--username", "admin", "--password-env", "PW"],
        PW=PASSWORD,
    )  # fmt: skip
    assert r.code == 0, r
    (line,) = r.out.splitlines()
    record = json.loads(line)
    assert set(record) == {"host", "port", "name", "ok", "error", "latency_s", "reply"}, record
    assert "<a>1</a>" in record["reply"] and record["latency_s"] > 0


@pytest_twisted.ensureDeferred
async def test_an_unknown_host_key_is_shown_in_sha256_with_what_to_do(tmp_path: Path, server: Any) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text("")
    where = ["--host", server.host, "--port", str(server.port), "-u", "admin", "--password-env", "PW"]
    r = await run_cli(reactor(), ["get-config"] + where, cli_env(home=str(home), PW=PASSWORD))
    assert r.code == 1, r
    assert failure_line(r) == (
        "host key not trusted (ssh-ed25519 %s): not in known_hosts (--known-hosts FILE lists keys, "
        "--accept-new trusts a new host on first use)" % server.fingerprint_sha256
    )
    assert server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_a_name_that_does_not_resolve_reads_as_openssh_says_it(tmp_path: Path) -> None:
    args = ["get-config", "--host", "no-such-device.invalid", "--io", "reactor", "-u", "admin"]
    r = await run_cli(reactor(), args, cli_env(home=str(tmp_path)))
    assert r.code == 1, r
    assert failure_line(r) == "Could not resolve hostname no-such-device.invalid: Name or service not known"

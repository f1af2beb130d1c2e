"""
The client matrix (issue 17): third-party NETCONF clients, as users run them,
against the embedded server in the test's reactor.  Each one does hello,
lock (candidate), edit-config (candidate), commit, unlock, get-config (running)
and closes: plain ncclient, netconf_client, scrapli_netconf over its "system"
transport (OpenSSH's ssh -tt, password typed on the pty) and over asyncssh,
and netconf-console2 (its CLI).

The clients come with the ``test`` extra.  Each runs in a child process (they
are blocking, or run their own asyncio loop) with a bounded wait.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Tuple

import pytest
import pytest_twisted
from twisted.internet import reactor as _reactor
from twisted.internet.defer import gatherResults

from ncclient_twisted import testing
from tests.support.helpers import ProcessOutput

reactor: Any = _reactor

#: Upper bound (seconds) for one client's whole run.
CLIENT_TIMEOUT = 60.0
EX = "urn:example:matrix"
INITIAL = '<top xmlns="%s"><owner>nobody</owner></top>' % EX

_COMMON = (
    """
import sys
host, port, value = sys.argv[1], int(sys.argv[2]), sys.argv[3]
CONFIG = '<top xmlns="%s"><owner>%%s</owner></top>' %% value
"""
    % EX
)

SCRIPTS: Dict[str, str] = {
    "ncclient": _COMMON
    + """
from ncclient import manager
m = manager.connect(host=host, port=port, username="admin", password="admin", hostkey_verify=False,
                    allow_agent=False, look_for_keys=False, timeout=20)
print("session-id", m.session_id)
assert ":candidate" in m.server_capabilities
m.lock(target="candidate")
m.edit_config(target="candidate", config="<config>%s</config>" % CONFIG)
m.commit()
m.unlock(target="candidate")
print(m.get_config(source="running").data_xml)
m.close_session()
""",
    "netconf_client": _COMMON
    + """
from netconf_client.connect import connect_ssh
from netconf_client.ncclient import Manager
session = connect_ssh(host=host, port=port, username="admin", password="admin",
                      initial_timeout=20, general_timeout=20)
m = Manager(session, timeout=20)
print("session-id", m.session_id)
assert any(":candidate" in c for c in session.server_capabilities)
m.lock(target="candidate")
m.edit_config(target="candidate", config='<config>%s</config>' % CONFIG)
m.commit()
m.unlock(target="candidate")
print(m.get_config(source="running").data_xml)
m.close_session()
session.close()
""",
    "scrapli_netconf-system": _COMMON
    + """
from scrapli_netconf.driver import NetconfDriver
conn = NetconfDriver(host=host, port=port, auth_username="admin", auth_password="admin",
                     auth_strict_key=False, transport="system", ssh_config_file=False,
                     timeout_socket=20, timeout_transport=20, timeout_ops=20)
conn.open()
print("caps", len(conn.server_capabilities))
for response in (
    conn.lock(target="candidate"),
    conn.edit_config(config="<config>%s</config>" % CONFIG, target="candidate"),
    conn.commit(),
    conn.unlock(target="candidate"),
):
    assert not response.failed, response.result
response = conn.get_config(source="running")
assert not response.failed, response.result
print(response.result)
conn.close()
""",
    "scrapli_netconf-asyncssh": _COMMON
    + """
import asyncio
from scrapli_netconf.driver import AsyncNetconfDriver

async def main():
    conn = AsyncNetconfDriver(host=host, port=port, auth_username="admin", auth_password="admin",
                              auth_strict_key=False, transport="asyncssh", ssh_config_file=False,
                              timeout_socket=20, timeout_transport=20, timeout_ops=20)
    await conn.open()
    print("caps", len(conn.server_capabilities))
    for call in (
        lambda: conn.lock(target="candidate"),
        lambda: conn.edit_config(config="<config>%s</config>" % CONFIG, target="candidate"),
        lambda: conn.commit(),
        lambda: conn.unlock(target="candidate"),
    ):
        response = await call()
        assert not response.failed, response.result
    response = await conn.get_config(source="running")
    assert not response.failed, response.result
    print(response.result)
    await conn.close()

asyncio.run(main())
""",
}

#: The module each client needs (the ``test`` extra installs them all).
MODULES = {
    "ncclient": "ncclient",
    "netconf_client": "netconf_client",
    "scrapli_netconf-system": "scrapli_netconf",
    "scrapli_netconf-asyncssh": "scrapli_netconf",
    "netconf-console2": "netconf_console",
}


async def run_child(args: List[str], home: Path) -> Tuple[int, str, str]:
    """Run a child process to its end (killed after CLIENT_TIMEOUT); (code, stdout, stderr)."""
    proc = ProcessOutput()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TERM": "dumb",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    transport = reactor.spawnProcess(proc, args[0], args, env=env)
    try:
        code = await proc.ended.addTimeout(CLIENT_TIMEOUT, reactor)
    finally:
        if not proc.ended.called:
            transport.signalProcess("KILL")
            await proc.ended.addTimeout(10, reactor)
    return code, proc.out.decode("utf-8", "replace"), proc.err.decode("utf-8", "replace")


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[testing.NetconfServer]:
    server = await testing.serve(reactor, config=INITIAL)
    try:
        yield server
    finally:
        await server.stop().addTimeout(10, reactor)


def _require(client: str) -> None:
    if importlib.util.find_spec(MODULES[client]) is None:
        pytest.fail("%s is not installed: pip install -e '.[test]'" % MODULES[client], pytrace=False)
    if client == "scrapli_netconf-system" and shutil.which("ssh") is None:
        pytest.skip("scrapli's system transport needs OpenSSH's ssh client")


def _args(client: str, server: testing.NetconfServer, value: str, tmp_path: Path) -> List[str]:
    if client != "netconf-console2":
        return [sys.executable, "-c", SCRIPTS[client], server.host, str(server.port), value]
    edit = tmp_path / "edit.xml"
    edit.write_text('<top xmlns="%s"><owner>%s</owner></top>' % (EX, value))
    main = (
        "import sys; from netconf_console.ncc import main; sys.argv[0] = 'netconf-console2'; sys.exit(main())"
    )
    return [
        sys.executable,
        "-c",
        main,
        "--host",
        server.host,
        "--port",
        str(server.port),
        "-u",
        "admin",
        "-p",
        "admin",
        "--db",
        "candidate",
        "--hello",
        "--lock",
        "--edit-config",
        str(edit),
        "--commit",
        "--unlock",
        "--get-config",
    ]


@pytest.mark.parametrize("client", sorted(MODULES))
@pytest_twisted.ensureDeferred
async def test_client_matrix(client: str, tmp_path: Path) -> None:
    _require(client)
    value = "owner-" + client
    async with running() as server:
        code, out, err = await run_child(_args(client, server, value, tmp_path), tmp_path)
        assert code == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (code, out[-3000:], err[-3000:])
        assert value in out, out[-3000:]
        running_config = server.get_config("running")
        assert [e.text for e in running_config.iter("{%s}owner" % EX)] == [value]
        assert server.locks == {"running": None, "candidate": None, "startup": None}
        assert server._core.engine.statistics.in_sessions >= 1
        # Every session the client opened ends (close-session, or its channel closed).
        left = [s.when_closed() for s in server.sessions.values()]
        await gatherResults(left).addTimeout(10, reactor)
        assert server.sessions == {}


@pytest_twisted.ensureDeferred
async def test_netconf_console2_file_with_config_wrapper_is_refused(tmp_path: Path) -> None:
    """netconf-console2 wraps the file in <config>: one that has the wrapper already nests it."""
    _require("netconf-console2")
    async with running() as server:
        args = _args("netconf-console2", server, "wrapped", tmp_path)
        args = args[: args.index("--db")] + ["--edit-config", str(tmp_path / "edit.xml")]
        (tmp_path / "edit.xml").write_text(
            '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">%s</config>'
            % ('<top xmlns="%s"><owner>wrapped</owner></top>' % EX)
        )
        code, out, err = await run_child(args, tmp_path)
        assert "unknown-element" in out + err, (code, out, err)
        assert [e.text for e in server.get_config("running").iter("{%s}owner" % EX)] == ["nobody"]
        left = [s.when_closed() for s in server.sessions.values()]
        await gatherResults(left).addTimeout(10, reactor)

"""ncclient_twisted under Twisted's asyncio reactor, driven from asyncio coroutines, and the
example of docs/asyncio.md run as written.

The program (``tests/support/asyncio_program.py``) runs in a child process, because the reactor
is chosen once per process and pytest's is the default one. It installs
``twisted.internet.asyncioreactor``, serves the embedded server in that reactor and uses
the manager through ``Deferred.asFuture``; docs/asyncio.md shows the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest_twisted
from twisted.internet.utils import getProcessOutputAndValue

from tests.support.readme import DOCS, doc_block

PROGRAM = Path(__file__).resolve().parents[1] / "support" / "asyncio_program.py"


def test_manager_under_the_asyncio_reactor() -> None:
    proc = subprocess.run(
        [sys.executable, str(PROGRAM)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["loop_is_reactors"]
    assert seen["get_config_ok"]
    assert seen["gathered"] == 20
    assert seen["rpc_error_tag"] == "operation-not-supported"
    # asyncio.wait_for cancels the future; the request is forgotten and the session goes on.
    assert seen["wait_for_timed_out"] and seen["pending_after_timeout"] == 0
    assert seen["still_works"]
    # async with m.locked(...) and async for ... in m.notifications(), in a Twisted coroutine.
    assert seen["twisted_style"] == ["{urn:example:events}link-down"] * 3
    assert seen["callback_event"] == "{urn:example:events}link-down"
    assert seen["callback_on_loop_thread"]
    assert seen["second_connected"] and seen["closed"]
    # Reactor shutdown closed the session left open and stopped every thread.
    assert seen["left_open_closed_at_shutdown"] == [True]
    assert seen["threads_left"] == []


ASYNCIO_PAGE = DOCS / "asyncio.md"
README_DEVICE = (
    'DEVICE = dict(host="127.0.0.1", port=8300, username="admin", password="admin",\n'
    '              hostkey_verify=False)'
)


@pytest_twisted.ensureDeferred
async def test_readme_asyncio_example_runs(tmp_path: Path) -> None:
    from twisted.internet import reactor

    from ncclient_twisted import testing

    block = doc_block(ASYNCIO_PAGE, "# From asyncio")
    assert README_DEVICE in block, "docs/asyncio.md's example changed: update this test"
    program = tmp_path / "readme_asyncio.py"
    program.write_text(
        block.replace(README_DEVICE, 'import json, os\nDEVICE = json.loads(os.environ["DEVICE"])')
    )
    server = await testing.serve(reactor, users={"admin": "admin"})
    try:
        env = dict(os.environ, DEVICE=json.dumps(server.connect_kwargs()))
        out, err, code = await getProcessOutputAndValue(
            sys.executable, [str(program)], env=env, path=str(tmp_path)
        ).addTimeout(120, reactor)
        assert code == 0, err.decode()
        assert out.startswith(b"<?xml") and b"<data" in out
    finally:
        await server.stop()

"""The README's quick start runs as written against netconfd.

Only the connection details (the README says 127.0.0.1:8300, admin/admin) and the example
config's namespace (the test server's YANG module) are substituted.
"""

from __future__ import annotations

import re
from typing import Any, Dict

import pytest_twisted
from twisted.internet import defer

from tests.support.netconfd import TEST_NS
from tests.support.readme import README, readme_block

CONNECT_ARGS = (
    'host="127.0.0.1", port=8300, username="admin", password="admin",\n'
    "                              hostkey_verify=False"
)


def quick_start_source() -> str:
    block = readme_block("## Quick start")
    assert CONNECT_ARGS in block, "the README's quick start changed: update this test"
    block = block.replace(CONNECT_ARGS, "**SERVER")
    block = block.replace("urn:example:top", TEST_NS)
    # Run main() on pytest-twisted's reactor instead of task.react's own.
    return re.sub(r"^task\.react\(.*$", "", block, flags=re.M)


@pytest_twisted.ensureDeferred
async def test_quick_start_runs_as_written(netconfd: Any, capsys: Any) -> None:
    from twisted.internet import reactor

    namespace: Dict[str, Any] = {"SERVER": netconfd.connect_kwargs()}
    exec(compile(quick_start_source(), str(README), "exec"), namespace)
    await defer.ensureDeferred(namespace["main"](reactor)).addTimeout(30, reactor)
    out = capsys.readouterr().out
    assert "<data" in out


@pytest_twisted.ensureDeferred
async def test_positional_host_as_in_ncclient(netconfd: Any) -> None:
    from twisted.internet import reactor

    from ncclient_twisted import manager

    kw = dict(netconfd.connect_kwargs())
    host = kw.pop("host")
    m = await manager.connect_ssh(host, **kw).addTimeout(30, reactor)
    assert (await m.get_config(source="running")).ok
    await m.close_session()

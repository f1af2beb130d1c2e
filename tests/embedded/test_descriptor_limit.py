"""Out of file descriptors: the connect that meets the limit fails at once with an error
that names it, and the sessions already up keep working (both transports)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Dict

import pytest
import pytest_twisted
from twisted.internet import threads

from tests.support.helpers import WAIT, bounded, child_server

#: A client process whose descriptor limit is low; it connects until a connect fails.
CLIENT = r"""
import json, resource, sys
from twisted.internet import defer, task
from ncclient_twisted import manager
from ncclient_twisted.transport.limits import DescriptorLimitError

async def main(reactor):
    kw = json.loads(sys.argv[1])
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]), hard))
    managers, error = [], None
    for _ in range(300):
        try:
            managers.append(await manager.connect(**kw).addTimeout(20, reactor))
        except Exception as e:
            error = e
            break
    replies = await defer.gatherResults([m.get_config(source="running") for m in managers])
    print(json.dumps({"up": len(managers), "answered": sum(r.ok for r in replies),
                      "error": type(error).__name__, "message": str(error),
                      "limit_error": isinstance(error, DescriptorLimitError)}))
    for m in managers:
        await m.close_session()

task.react(lambda r: defer.ensureDeferred(main(r)))
"""


@pytest.mark.parametrize("io, limit", [("threads", 120), ("reactor", 120)])
@pytest_twisted.ensureDeferred
async def test_the_limit_is_named_and_the_sessions_up_keep_working(io: str, limit: int) -> None:
    async with child_server() as kw:
        kw = dict(kw, io=io)
        proc = await bounded(
            threads.deferToThread(
                subprocess.run,
                [sys.executable, "-c", CLIENT, json.dumps(kw), str(limit)],
                capture_output=True, text=True, timeout=WAIT * 4,
            ),
            WAIT * 5,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        out: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["limit_error"], out
        assert "ulimit -n is %d" % limit in out["message"], out
        assert out["up"] >= 5 and out["answered"] == out["up"], out

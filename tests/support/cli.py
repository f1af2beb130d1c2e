"""Running the real ``ncclient-twisted`` command in a subprocess, for the CLI tests.

``run_cli`` (async, for tests whose embedded servers run in the test's reactor) spawns it
with ``reactor.spawnProcess`` and never blocks the reactor; ``run_cli_sync`` (for plain
tests against netconfd or a ``serve`` child) uses ``subprocess.run``. Both bound the run
and kill the command when the bound passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from twisted.internet import defer, error
from twisted.internet.protocol import ProcessProtocol

#: Environment variables of the caller the command must not see.
SCRUBBED = ("SSH_AUTH_SOCK", "NCCLIENT_TWISTED_PASSWORD", "COLUMNS")


def command() -> List[str]:
    """The installed console script next to this Python, else ``python -m ncclient_twisted``."""
    script = Path(sys.executable).parent / "ncclient-twisted"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ncclient_twisted"]


def cli_env(home: Optional[str] = None, **extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    if home is not None:
        env["HOME"] = str(home)
    env.update(extra)
    return env


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return "exit %d\n--- stdout\n%s\n--- stderr\n%s" % (self.code, self.out[-3000:], self.err[-3000:])

    def lines(self) -> List[str]:
        return self.out.splitlines()


class _Collect(ProcessProtocol):
    def __init__(self, stdin: Optional[bytes]) -> None:
        self.stdin = stdin
        self.out: List[bytes] = []
        self.err: List[bytes] = []
        self.done: "defer.Deferred[int]" = defer.Deferred()
        #: Fires at the first output on standard output.
        self.first_output: "defer.Deferred[None]" = defer.Deferred()

    def connectionMade(self) -> None:
        transport: Any = self.transport  # an IProcessTransport
        if self.stdin:
            transport.write(self.stdin)
        transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self.out.append(data)
        if not self.first_output.called:
            self.first_output.callback(None)

    def errReceived(self, data: bytes) -> None:
        self.err.append(data)

    def processEnded(self, reason: Any) -> None:
        value = reason.value
        if isinstance(value, error.ProcessTerminated) and value.exitCode is None:
            code = -(value.signal or 1)
        else:
            code = getattr(value, "exitCode", 0) or 0
        self.done.callback(code)


async def run_cli(
    reactor: Any,
    args: Sequence[str],
    env: Mapping[str, str],
    timeout: float = 60.0,
    stdin: Optional[str] = None,
    cwd: Optional[str] = None,
    interrupt: "Optional[defer.Deferred[Any]]" = None,
    interrupt_on_output: bool = False,
) -> Result:
    """Run the command on the reactor; kill it after *timeout* seconds.

    It is sent SIGTERM when *interrupt* fires, or at its first output with
    *interrupt_on_output*.
    """
    proto = _Collect(stdin.encode() if stdin is not None else None)
    argv = command() + list(args)
    transport = reactor.spawnProcess(proto, argv[0], argv, env=dict(env), path=cwd)
    killer = reactor.callLater(timeout, transport.signalProcess, "KILL")

    def terminate(_: Any) -> None:
        if not proto.done.called:
            transport.signalProcess("TERM")

    if interrupt_on_output:
        proto.first_output.addCallback(terminate)
    if interrupt is not None:
        interrupt.addCallback(terminate)
    try:
        code = await proto.done
    finally:
        if killer.active():
            killer.cancel()
    result = Result(code, b"".join(proto.out).decode(), b"".join(proto.err).decode())
    assert code != -9, "the command did not end within %g s:\n%s" % (timeout, result)
    return result


def run_cli_sync(
    args: Sequence[str],
    env: Mapping[str, str],
    timeout: float = 60.0,
    stdin: Optional[str] = None,
    cwd: Optional[str] = None,
) -> Result:
    p = subprocess.run(
        command() + list(args),
        env=dict(env),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err and "Traceback" not in result.out, str(result)

"""What many tests share: bounded waits, and counting threads and file descriptors."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Dict, List, Optional, Tuple

from twisted.internet import defer, protocol, task, threads

if TYPE_CHECKING:
    from ncclient_twisted.manager import Manager

#: Bound on any single wait in the tests, unless a test says otherwise.
WAIT = 15


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


async def bounded(d: "defer.Deferred[Any]", seconds: float = WAIT) -> Any:
    """Wait for *d*, at most *seconds* (then ``defer.TimeoutError``)."""
    return await d.addTimeout(seconds, reactor())


async def pause(seconds: float) -> None:
    """Let the reactor run for *seconds* (for tests that check that nothing happens)."""
    await task.deferLater(reactor(), seconds, lambda: None)


async def wait_until(predicate: Callable[[], bool], seconds: float = WAIT, step: float = 0.02) -> bool:
    """Let the reactor run until *predicate()* holds, at most *seconds*; its last value."""
    deadline = reactor().seconds() + seconds
    while not predicate():
        if reactor().seconds() >= deadline:
            return predicate()
        await pause(step)
    return True


def session_threads() -> List[threading.Thread]:
    """The threads of open sessions: ncclient's session threads and paramiko transports."""
    import paramiko

    return [
        t
        for t in threading.enumerate()
        if t.name == "ncclient_twisted-session" or isinstance(t, paramiko.Transport)
    ]


def worker_threads() -> List[threading.Thread]:
    """Every thread but thread-pool workers (pools keep their idle threads by design)."""
    return [
        t
        for t in threading.enumerate()
        if not t.name.startswith("PoolThread-") and t.name != "ncclient_twisted-waker"
    ]


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


class Resources:
    """A snapshot of threads and file descriptors, to check that nothing is left behind."""

    def __init__(self) -> None:
        self.threads = len(worker_threads())
        self.fds = open_fds()

    def now(self) -> Tuple[int, int]:
        return len(worker_threads()), open_fds()

    def leaked(self) -> bool:
        threads, fds = self.now()
        return threads > self.threads or fds > self.fds

    async def assert_released(self, seconds: float = WAIT) -> None:
        """Wait (bounded) until threads and descriptors are back to the snapshot."""
        released = await wait_until(lambda: not self.leaked(), seconds)
        assert released, "threads/fds before %s, after %s: %s" % (
            (self.threads, self.fds),
            self.now(),
            [t.name for t in worker_threads()],
        )


_CHILD_SERVER = """
import json, sys
from twisted.internet import defer, protocol, task, threads
from ncclient_twisted import testing
from ncclient_twisted.testing import Fault
from typing import Any, List
import pytest
import pytest_twisted
from ncclient.operations import MissingCapabilityError, TimeoutExpiredError
from ncclient.transport.errors import SessionCloseError, TransportError
from twisted.internet import defer
from twisted.internet.defer import CancelledError
from ncclient_twisted.manager import Manager
from tests.support.helpers import bounded
from tests.support.transports import connect

async def main(reactor):
    s = await testing.serve(reactor, users={"admin": "admin"})
    exec(sys.argv[1], {"s": s, "Fault": Fault, "testing": testing})
    print(json.dumps(s.connect_kwargs()), flush=True)
    await threads.deferToThread(sys.stdin.read)
    await s.stop()

task.react(lambda r: defer.ensureDeferred(main(r)))
"""


@contextlib.asynccontextmanager
async def child_server(setup: str = "") -> AsyncIterator[Dict[str, Any]]:
    """An embedded server in a child process (its work does not load this reactor).

    *setup* is Python run there with ``s`` (the server) and ``Fault`` in scope, e.g.
    ``"s.faults.add(Fault.large_reply('get', 10**6))"``. Yields ``connect_kwargs()``.
    """
    async with child_process([sys.executable, "-c", _CHILD_SERVER, setup]) as (_proc, first):
        yield first


@contextlib.asynccontextmanager
async def child_process(
    argv: List[str], cwd: Optional[str] = None
) -> AsyncIterator[Tuple[subprocess.Popen, Dict[str, Any]]]:
    """A child process that prints one JSON line when it is ready (yielded with it,
    parsed) and ends when its standard input closes; on the way out its input is closed
    and it is waited for (bounded), then killed if still there."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=cwd)
    try:
        assert proc.stdout is not None
        line = await bounded(threads.deferToThread(proc.stdout.readline))
        yield proc, json.loads(line)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await bounded(threads.deferToThread(proc.wait, WAIT))
        finally:
            if proc.poll() is None:
                proc.kill()
            if proc.stdout is not None:
                proc.stdout.close()


class ProcessOutput(protocol.ProcessProtocol):
    """Collects a child process's output; ``ended`` fires with its exit code (-1 when a
    signal ended it)."""

    def __init__(self) -> None:
        self.out = b""
        self.err = b""
        self.ended: "defer.Deferred[int]" = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.out += data

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Any) -> None:
        code = getattr(reason.value, "exitCode", None)
        self.ended.callback(-1 if code is None else int(code))


def built_where(m: Manager) -> List[str]:
    """Record the thread that builds each request from now on."""
    where: List[str] = []
    new_rpc = m._new_rpc

    def spy(cls: Any, mode: int) -> Any:
        where.append("session" if threading.current_thread() is m._session else "caller")
        return new_rpc(cls, mode)

    m._new_rpc = spy  # type: ignore[method-assign]
    return where

"""Running one action on many devices at once, on the reactor.

Each device: resolve nothing (credentials were resolved before the reactor started),
connect with the host-key policy, run the action (which times its RPCs), close, report an
:class:`Outcome`. At most ``concurrency`` devices are in progress; ``timeout`` bounds the
connect and every RPC. Ctrl-C (or SIGTERM) cancels what is in progress: each device ends
"interrupted" (or, for ``subscribe``, normally), its session is closed, and the summary is
still printed.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Coroutine, Dict, List, Mapping, Optional, Sequence, Union

from ncclient.transport.errors import AuthenticationError
from twisted.internet import defer
from twisted.internet.defer import CancelledError, Deferred

from ncclient_twisted import manager
from ncclient_twisted._types import ICommandReactor
from ncclient_twisted.inventory import Target

from ._credentials import CredentialError, Credentials
from ._errors import auth_hint, describe, is_expected
from ._output import Outcome, Output, store_outcome
from ._progress import Progress

__all__ = ["HostKeySettings", "Settings", "Timer", "Stop", "run_devices", "connect_target", "settle_start_up"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostKeySettings:
    """How host keys are checked: known_hosts (default), trust on first use, a pinned key, or not."""

    check: bool = True
    known_hosts: Optional[str] = None
    accept_new: bool = False
    pinned_b64: Optional[str] = None

    def connect_kwargs(self) -> Dict[str, Any]:
        if not self.check:
            return {"hostkey_verify": False}
        kw: Dict[str, Any] = {"hostkey_verify": True}
        if self.pinned_b64:
            kw["hostkey_b64"] = self.pinned_b64
        if self.known_hosts:
            kw["known_hosts"] = self.known_hosts
        if self.accept_new:
            kw["accept_new"] = True
        return kw


@dataclass(frozen=True)
class Settings:
    timeout: float = 30.0
    concurrency: int = 50
    host_keys: HostKeySettings = field(default_factory=HostKeySettings)
    #: ``manager.connect``'s ``io``: ``"auto"``, ``"threads"`` or ``"reactor"``.
    io: str = "auto"


class Timer:
    """Awaits a Deferred and records how long it took (the RPC latency).

    Each device has its own; *shared* (the demo's) also receives every latency.
    """

    def __init__(self, shared: Optional[List[float]] = None) -> None:
        self.latencies: List[float] = []
        self.shared = shared

    async def __call__(self, d: "Deferred[Any]") -> Any:
        start = time.perf_counter()
        result = await d
        elapsed = time.perf_counter() - start
        self.latencies.append(elapsed)
        if self.shared is not None:
            self.shared.append(elapsed)
        return result

    @property
    def total(self) -> Optional[float]:
        """The device's RPC time, or None when it sent none."""
        return sum(self.latencies) if self.latencies else None


class Stop:
    """Fired once when the user asks the run to stop (Ctrl-C, SIGTERM)."""

    def __init__(self) -> None:
        self.fired = False
        self._hooks: List[Callable[[], None]] = []

    def on_fire(self, hook: Callable[[], None]) -> None:
        self._hooks.append(hook)

    def wait(self) -> "Deferred[None]":
        """A Deferred that fires when (or at once if) the stop was asked for."""
        if self.fired:
            return defer.succeed(None)
        d: "Deferred[None]" = Deferred()

        def fire() -> None:
            if not d.called:
                d.callback(None)

        self.on_fire(fire)
        return d

    def fire(self) -> None:
        if not self.fired:
            self.fired = True
            for hook in self._hooks:
                hook()


#: An action: given the manager, a timer and the target, returns the device's output text.
Action = Callable[[Any, Timer, Target], Awaitable[Optional[str]]]


def connect_target(
    reactor: ICommandReactor, target: Target, credentials: Credentials, settings: Settings
) -> "Deferred[Any]":
    """Connect to *target*; the connect is bounded by ``settings.timeout`` as a whole."""
    kw = target.connect_kwargs(credentials)
    kw.update(timeout=settings.timeout, manager_params={"timeout": settings.timeout}, io=settings.io)
    kw.update(settings.host_keys.connect_kwargs())
    return manager.connect(reactor=reactor, **kw).addTimeout(settings.timeout, reactor)


async def _close(m: Any, timeout: float) -> None:
    try:
        await m.close_session(timeout=timeout)
    except Exception as e:  # the outcome is already decided
        log.debug("close-session: %s", describe(e))


async def run_devices(
    reactor: ICommandReactor,
    targets: Sequence[Target],
    credentials: Mapping[Target, Union[Credentials, CredentialError]],
    action: Action,
    settings: Settings,
    output: Output,
    progress: Progress,
    stop: Stop,
    latencies: Optional[List[float]] = None,
    stop_is_success: bool = False,
) -> List[Outcome]:
    """Run *action* on every target; the outcomes in the order of *targets*.

    ``concurrency`` workers each take the next target once their last is done: a target
    waiting for its turn is an index, not a coroutine, a Deferred and a place in a
    semaphore's queue (at 2,000 devices those were most of what the collector scanned,
    issue #25).
    """
    outcomes: List[Optional[Outcome]] = [None] * len(targets)
    running: Dict[int, "Deferred[Outcome]"] = {}
    waiting = iter(enumerate(targets))

    async def attempt(target: Target) -> Outcome:
        creds = credentials[target]
        if isinstance(creds, CredentialError):
            return Outcome(target, False, describe(creds))
        timer = Timer(latencies)
        m = await connect_target(reactor, target, creds, settings)
        try:
            text = await action(m, timer, target)
        except CancelledError:
            if not (stop_is_success and stop.fired):
                raise
            text = None
        finally:
            await _close(m, min(settings.timeout, 5.0))
        outcome = Outcome(target, True, latency=timer.total, output=text)
        if output.out_dir is not None and text is not None:
            await store_outcome(reactor, output, outcome)
        return outcome

    async def one(target: Target) -> Outcome:
        try:
            return await attempt(target)
        except Exception as e:
            if stop.fired and isinstance(e, (CancelledError, defer.TimeoutError)):
                return Outcome(target, False, "interrupted")
            text = describe(e, settings.timeout)
            creds = credentials[target]
            if isinstance(e, AuthenticationError) and isinstance(creds, Credentials):
                hint = auth_hint(creds, target.username)
                text += "; " + hint if hint else ""
            if not is_expected(e):
                log.debug("%s failed", target.label, exc_info=e)
            return Outcome(target, False, text)

    async def worker() -> None:
        for index, target in waiting:
            if stop.fired:
                outcome = Outcome(target, False, "interrupted")
            else:
                d = defer.ensureDeferred(one(target))
                if not d.called:
                    running[index] = d
                try:
                    outcome = await d
                finally:
                    running.pop(index, None)
            outcomes[index] = outcome
            progress.advance(outcome.ok)

    def cancel_all() -> None:
        for d in list(running.values()):
            d.cancel()

    stop.on_fire(cancel_all)
    workers = min(max(1, settings.concurrency), len(targets))
    try:
        await defer.gatherResults([defer.ensureDeferred(worker()) for _ in range(workers)])
    finally:
        progress.close()
    return [outcome for outcome in outcomes if outcome is not None]


def settle_start_up() -> None:
    """Freeze what start-up made, before a run over devices.

    The modules (about 60,000 objects; both transports among them, as they load with
    ``ncclient_twisted.manager``) are then never scanned by the garbage collector's full
    collections, each a pause of the reactor, during a run over many devices (issue #25).
    """
    gc.freeze()


def run_reactor(main: Callable[[Any, Stop], Coroutine[Any, Any, int]]) -> None:
    """Run *main(reactor, stop)* under ``task.react``; exit with the status it returns.

    SIGINT/SIGTERM fire *stop* and the reactor waits for *main* to finish (it closes its
    sessions and prints its summary); then the process exits at once with its status.
    """
    from twisted.internet import task

    async def top(reactor: ICommandReactor) -> None:
        # Begin once the reactor runs, its SIGINT/SIGTERM handlers installed: what main()
        # prints (serve's addresses) may be what makes a parent send the signal.
        await task.deferLater(reactor, 0, lambda: None)
        stop = Stop()
        d: "Deferred[int]" = defer.ensureDeferred(main(reactor, stop))
        finished: "Deferred[None]" = Deferred()

        def done(result: Any) -> Any:
            if stop.fired and isinstance(result, int):
                # Interrupted, and every session we opened is closed. What can remain is a
                # pool thread in an SSH handshake with a device that does not answer
                # (paramiko waits up to 15 s for a banner); the pool's shutdown would join
                # it, so leave now, the output flushed.
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(result)
            finished.callback(None)
            return result

        d.addBoth(done)

        def before_shutdown() -> "Deferred[None]":
            stop.fire()
            return finished

        reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
        code = await d
        if code:
            raise SystemExit(code)

    task.react(lambda r: defer.ensureDeferred(top(r)))

"""The CLI's fleet runner (``_cli._runner.run_devices``) against the embedded server: at most
``concurrency`` devices in progress, outcomes in the inventory's order, and a stop that
leaves the devices not yet started "interrupted" without connecting to them."""

from __future__ import annotations

import gc
import types
from pathlib import Path
from typing import Any, List, Optional

import pytest_twisted
from twisted.internet import defer

from ncclient_twisted._cli import _runner
from ncclient_twisted._cli._output import Output
from ncclient_twisted._cli._progress import Progress
from ncclient_twisted._cli._runner import HostKeySettings, Settings, Stop, Timer, run_devices
from ncclient_twisted.inventory import Credentials, Target


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def _targets(server: Any, count: int) -> List[Target]:
    return [Target(server.host, server.port, "admin", name="dev%02d" % i) for i in range(count)]


class _Counting:
    """An action that sends a get-config and counts the devices in progress."""

    def __init__(self, stop_at: Optional[int] = None, stop: Optional[Stop] = None, wave: int = 0) -> None:
        # the first *wave* actions wait for each other: all of them are in progress at once
        self.wave = wave
        self.gate: "defer.Deferred[None]" = defer.Deferred()
        self.active = 0
        self.most = 0
        self.started: List[str] = []
        self.stop_at = stop_at
        self.stop = stop

    async def __call__(self, m: Any, timer: Timer, target: Target) -> Optional[str]:
        self.active += 1
        self.most = max(self.most, self.active)
        self.started.append(target.label)
        nth = len(self.started)
        try:
            if nth <= self.wave:
                if nth == self.wave:
                    self.gate.callback(None)
                else:
                    await self.gate
            reply = await timer(m.get_config(source="running"))
            if self.stop is not None and nth == self.stop_at:
                self.stop.fire()  # as Ctrl-C would, once this device has its reply
            return str(reply.xml)
        finally:
            self.active -= 1


async def _run(
    server: Any,
    targets: List[Target],
    action: _Counting,
    stop: Stop,
    concurrency: int,
    output: Optional[Output] = None,
) -> Any:
    settings = Settings(timeout=30.0, concurrency=concurrency, host_keys=HostKeySettings(check=False))
    credentials = {t: Credentials(password="admin") for t in targets}
    progress = Progress(len(targets))
    output = output if output is not None else Output()
    return await run_devices(_reactor(), targets, credentials, action, settings, output, progress, stop)


@pytest_twisted.ensureDeferred
async def test_at_most_concurrency_devices_at_once_and_outcomes_in_order(server: Any) -> None:
    targets = _targets(server, 12)
    action = _Counting(wave=3)
    outcomes = await _run(server, targets, action, Stop(), concurrency=3)
    assert [o.target for o in outcomes] == targets
    assert all(o.ok for o in outcomes), outcomes
    assert len(action.started) == 12
    assert action.most == 3


def _runner_coroutines() -> int:
    """The live coroutines of ``run_devices``'s code."""
    return sum(
        1
        for o in gc.get_objects()
        if isinstance(o, types.CoroutineType) and o.cr_code.co_filename == _runner.__file__
    )


@pytest_twisted.ensureDeferred
async def test_a_device_waiting_for_its_turn_is_no_coroutine(server: Any) -> None:
    """40 devices, 2 at once: what is live is 2 workers and what each runs, not 40 waiters."""
    counts: List[int] = []

    class Counted(_Counting):
        async def __call__(self, m: Any, timer: Timer, target: Target) -> Optional[str]:
            counts.append(_runner_coroutines())
            return await super().__call__(m, timer, target)

    outcomes = await _run(server, _targets(server, 40), Counted(), Stop(), concurrency=2)
    assert all(o.ok for o in outcomes)
    # run_devices, and per worker: itself, one(), attempt(), the connect or the Timer
    assert max(counts) <= 1 + 2 * 4, counts


@pytest_twisted.ensureDeferred
async def test_more_workers_than_devices(server: Any) -> None:
    targets = _targets(server, 2)
    outcomes = await _run(server, targets, _Counting(), Stop(), concurrency=50)
    assert [o.ok for o in outcomes] == [True, True]


@pytest_twisted.ensureDeferred
async def test_a_stop_interrupts_what_runs_and_starts_nothing_more(server: Any) -> None:
    targets = _targets(server, 10)
    stop = Stop()
    action = _Counting(stop_at=3, stop=stop)
    outcomes = await defer.ensureDeferred(_run(server, targets, action, stop, concurrency=2))
    assert [o.target for o in outcomes] == targets
    # the stop came from the third device's action, with at most one other in progress:
    # none after those was started, each of them is "interrupted"
    assert len(action.started) <= 4, action.started
    assert [o.error for o in outcomes[4:]] == ["interrupted"] * 6
    assert sum(1 for o in outcomes if o.ok) <= 4


@pytest_twisted.ensureDeferred
async def test_with_out_dir_each_reply_is_in_its_file_not_in_memory(server: Any, tmp_path: Path) -> None:
    """A backup keeps no configuration in memory once its file is written."""
    output = Output(out_dir=str(tmp_path))
    output.prepare()
    outcomes = await _run(server, _targets(server, 4), _Counting(), Stop(), concurrency=2, output=output)
    for o in outcomes:
        assert o.ok and o.output is None, o
        assert o.file is not None and "<rpc-reply" in Path(o.file).read_text()

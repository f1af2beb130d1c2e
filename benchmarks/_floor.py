"""The machine's own share of a reactor's lateness.

An idle reactor in another process runs the same 1 ms timer while a client is measured;
its lateness over the same window is what the load on the machine alone (the server's
processes and the client's threads on the shared cores) does to any reactor, whatever
runs in it. It shares no GIL with the client: the client's own lateness beyond it is the
client's. The probe costs ~1,000 short wake-ups a second, the same for every client.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

from benchmarks._measure import percentile

__all__ = ["FloorProbe"]

#: Bound on the probe's start and stop.
WAIT = 15.0

_CHILD = r"""
import json, sys, time
from twisted.internet import reactor, task
interval, path = float(sys.argv[1]), sys.argv[2]
rows = []
state = {"due": 0.0}
def tick():
    now = reactor.seconds()
    rows.append((time.time(), max(0.0, now - state["due"]) * 1000.0))
    since = now - call.starttime
    state["due"] = now + (interval - since % interval)
call = task.LoopingCall(tick)
def started():
    call.start(interval, now=False)
    state["due"] = call.starttime + interval
    print("ready", flush=True)
reactor.callWhenRunning(started)
reactor.run()  # until SIGTERM
with open(path, "w") as f:
    json.dump(rows, f)
"""


class FloorProbe:
    """Start with :meth:`start`, mark the window with :meth:`open` and :meth:`close`,
    then :meth:`stop` for ``floor_lateness_p99_ms`` and ``floor_lateness_max_ms``."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        fd, self._path = tempfile.mkstemp(prefix="nctw-floor-", suffix=".json")
        os.close(fd)
        self._proc: "subprocess.Popen[bytes] | None" = None
        self._window = (0.0, 0.0)

    def start(self) -> None:
        """Blocks until the probe's reactor runs (before the measured window)."""
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(self._interval), self._path],
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], WAIT)
        if not ready or not self._proc.stdout.readline().startswith(b"ready"):
            self._kill()
            raise RuntimeError("the lateness probe did not start")

    def open(self) -> None:
        self._window = (time.time(), 0.0)

    def close(self) -> None:
        self._window = (self._window[0], time.time())

    def stop(self) -> Dict[str, float]:
        proc = self._proc
        if proc is None:
            return {}
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(WAIT)
            with open(self._path) as f:
                rows: List[Tuple[float, float]] = [tuple(r) for r in json.load(f)]  # type: ignore[misc]
        except Exception:
            self._kill()
            return {}
        finally:
            self._proc = None
            try:
                os.unlink(self._path)
            except OSError:
                pass
        t0, t1 = self._window
        samples = [late for (t, late) in rows if t0 <= t <= t1] or [0.0]
        return {
            "floor_lateness_p99_ms": percentile(samples, 99),
            "floor_lateness_max_ms": max(samples),
        }

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(WAIT)
            self._proc = None

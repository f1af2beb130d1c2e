"""Process measurements (from /proc and getrusage) and the statistics the report uses.

Everything here reads the calling process only, except :func:`tree_cpu_seconds`, which
sums the CPU time of a server's process tree (sshd, its per-connection children and
netconfd) so a scenario can say how busy the server was while it was timed.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence

__all__ = [
    "Snapshot",
    "snapshot",
    "context_switches",
    "thread_count",
    "rss_kib",
    "cpu_seconds",
    "tree_cpu_seconds",
    "median",
    "percentile",
    "Window",
    "latency_metrics",
    "rate_metrics",
    "idle_metrics",
]

_CTXT_FIELDS = ("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")


def context_switches() -> int:
    """Voluntary + involuntary context switches, summed over this process's live threads."""
    total = 0
    task_dir = "/proc/self/task"
    for tid in os.listdir(task_dir):
        try:
            with open("%s/%s/status" % (task_dir, tid)) as f:
                for line in f:
                    if line.startswith(_CTXT_FIELDS):
                        total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread exited while we looked
    return total


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@dataclass(frozen=True)
class Snapshot:
    wall: float
    cpu: float
    ctx_switches: int
    threads: int
    rss_kib: int


def snapshot(end: bool = False) -> Snapshot:
    """The process's counters now.

    Reading /proc costs CPU: a start snapshot reads the CPU time last and an end
    snapshot (*end*) reads it first, so that cost stays outside the window.
    """
    if end:
        wall, cpu = time.monotonic(), cpu_seconds()
        return Snapshot(wall, cpu, context_switches(), thread_count(), rss_kib())
    ctx, threads, rss = context_switches(), thread_count(), rss_kib()
    return Snapshot(time.monotonic(), cpu_seconds(), ctx, threads, rss)


def _ppid(pid: int) -> Optional[int]:
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    # The field after the command name (which may hold spaces and parentheses) and state.
    return int(data[data.rindex(")") + 2:].split()[1])


def _runtime_seconds(pid: int) -> float:
    """CPU time of all threads of *pid*, from schedstat (nanoseconds, not clock ticks)."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0.0
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def tree_cpu_seconds(roots: Sequence[int]) -> float:
    """CPU seconds of *roots* and all their live descendants."""
    if not roots:
        return 0.0
    children: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            ppid = _ppid(int(name))
            if ppid is not None:
                children.setdefault(ppid, []).append(int(name))
    total = 0.0
    todo = list(roots)
    seen = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _runtime_seconds(pid)
        todo.extend(children.get(pid, ()))
    return total


class Window:
    """A timed window: wall time, this process's CPU and the server tree's CPU.

    The /proc scan of the server tree happens outside the client's own measurement
    (before its start snapshot, after its end snapshot).
    """

    def __init__(self, server_pids: Sequence[int]) -> None:
        self._server_pids = list(server_pids)
        self._server0 = tree_cpu_seconds(self._server_pids)
        self.start = snapshot()
        self.end: Optional[Snapshot] = None
        self._server1 = 0.0

    def close(self) -> "Window":
        self.end = snapshot(end=True)
        self._server1 = tree_cpu_seconds(self._server_pids)
        return self

    @property
    def seconds(self) -> float:
        assert self.end is not None
        return self.end.wall - self.start.wall

    def usage(self) -> Dict[str, float]:
        """Client and server CPU use over the window, in % of one core."""
        assert self.end is not None
        wall = max(self.seconds, 1e-9)
        return {
            "client_cpu_pct": 100.0 * (self.end.cpu - self.start.cpu) / wall,
            "server_cpu_pct": 100.0 * (self._server1 - self._server0) / wall,
        }


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def percentile(values: Sequence[float], pct: float) -> float:
    """The *pct* percentile (linear interpolation between closest ranks)."""
    data = sorted(values)
    if not data:
        raise ValueError("no data")
    if len(data) == 1:
        return float(data[0])
    rank = (len(data) - 1) * pct / 100.0
    lo = int(rank)
    hi = min(lo + 1, len(data) - 1)
    return float(data[lo] + (data[hi] - data[lo]) * (rank - lo))


def latency_metrics(seconds: Sequence[float], window: Window) -> Dict[str, float]:
    """Median and p99 of per-request latencies, in ms."""
    ms = [1000.0 * s for s in seconds]
    return dict(
        median_ms=median(ms), p99_ms=percentile(ms, 99), count=float(len(ms)), **window.usage()
    )


def rate_metrics(requests: int, window: Window) -> Dict[str, float]:
    """Requests per second over *window*."""
    return dict(
        rpc_per_s=requests / window.seconds,
        seconds=window.seconds,
        count=float(requests),
        **window.usage(),
    )


def idle_metrics(
    baseline: Snapshot, start: Snapshot, end: Snapshot, sessions: int
) -> Dict[str, float]:
    """Per-session cost of *sessions* idle sessions between *start* and *end*.

    *baseline* is taken before the sessions were opened: threads and RSS per session
    are (after opening - before) / sessions; wake-ups and CPU are over the idle window.
    """
    secs = end.wall - start.wall
    per = float(sessions) * secs
    return {
        "sessions": float(sessions),
        "seconds": secs,
        "wakeups_per_session_s": (end.ctx_switches - start.ctx_switches) / per,
        "cpu_ms_per_session_s": 1000.0 * (end.cpu - start.cpu) / per,
        "cpu_pct": 100.0 * (end.cpu - start.cpu) / secs,
        "threads_per_session": (start.threads - baseline.threads) / float(sessions),
        "rss_kib_per_session": (start.rss_kib - baseline.rss_kib) / float(sessions),
        "threads": float(start.threads),
    }

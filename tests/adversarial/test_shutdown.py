"""A reactor stop ends the process in every state of a session, on both transports
(issue #21, point 3).

Each row runs ``tests/support/shutdown_child.py`` in a process of its own: it reaches
its state against a real server (the embedded server, or one that stalls at a stage of
the SSH handshake), prints ``READY``, and has its reactor stopped: by its own
``reactor.stop()`` in that turn, or by the SIGTERM this test sends when it reads the
line. The process must exit within :data:`EXIT_BOUND` seconds of the stop (the row
:data:`EXIT_BOUNDS` names, within its own), with the
code Twisted gives (0), and print nothing unhandled (no "Unhandled error in Deferred",
no traceback). A process that does not exit is killed (SIGKILL) after the bound.

The rows of one transport run two at a time (the machine's two cores), once, at the
first row's test; each test then checks its row.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

import pytest

from tests.support.shutdown_child import REPORT_ENV, STATES

#: How soon after the stop each process must have exited (seconds).
EXIT_BOUND = 5.0
#: The exception, stated in docs/guarantees.md: io="threads" with 1,000 sessions open
#: (2,000 threads) exits in 2.2-3.9 s on a quiet 2-core machine but took 5.4-5.7 s in CI
#: runs. The time is the close-session exchange across 2,000 threads (the GIL: lxml
#: gives it up to parse on every thread) and the interpreter's exit, whose collector frees
#: about 310 objects of cyclic garbage per closed threads session (paramiko's Transport
#: refers to itself); not a wait of ours. Still bounded, and a hang is still caught.
EXIT_BOUNDS = {("threads", "sessions"): 8.0}
#: How long a child may take to reach its state (seconds); ``sessions`` takes longer.
REACH_BOUND = 30.0
REACH_BOUND_SESSIONS = 120.0
#: Children run at once.
PARALLEL = 2
#: Sessions of the ``sessions`` state per transport: io="threads" is two threads a
#: session (ncclient's and paramiko's), so it opens fewer (see the module's report).
SESSIONS = {"reactor": 1000, "threads": 1000}
#: What must never be printed.
UNHANDLED = ("Unhandled error in Deferred", "Traceback (most recent call last)", "Unhandled Error")

#: How paramiko's report of a failed banner read starts.
PARAMIKO_BANNER_REPORT = "ERROR: Exception (client): Error reading SSH protocol banner"

#: The states in which the server must have had close-session for each session by the
#: end (the shutdown sends it; in the others it is not answered in time, or there is no
#: session, or the session has ended already).
CLOSE_SESSION_SENT = ("idle", "notifications")
#: How long the server may take to write what it saw after the child has exited.
SERVER_REPORT_BOUND = 10.0

HOWS = ("stop", "sigterm")
ROWS = [(state, how) for state in STATES for how in HOWS]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclasses.dataclass
class Outcome:
    """What one child did."""

    state: str
    io: str = "reactor"
    reached: bool = False
    exit_code: Optional[int] = None
    #: Seconds from the stop to the process's end (None: it did not end in the bound).
    exit_seconds: Optional[float] = None
    out: str = ""
    err: str = ""
    #: What each embedded server saw (sessions, and those dropped without close-session).
    servers: List[Dict[str, int]] = dataclasses.field(default_factory=list)

    @property
    def exit_bound(self) -> float:
        return EXIT_BOUNDS.get((self.io, self.state), EXIT_BOUND)

    def problems(self) -> List[str]:
        found = []
        if not self.reached:
            found.append("never reached its state")
        elif self.exit_seconds is None:
            found.append("still running %.0f s after the stop (killed)" % self.exit_bound)
        elif self.exit_seconds >= self.exit_bound:
            found.append("exited %.2f s after the stop" % self.exit_seconds)
        if self.exit_code not in (0, None):
            found.append("exit code %s" % self.exit_code)
        if self.state in CLOSE_SESSION_SENT and self.reached and (
            not self.servers or any(s["dropped"] or not s["sessions"] for s in self.servers)
        ):
            found.append("the server did not get close-session for each session: %s" % self.servers)
        err = without_paramiko_banner_report(self.err)
        for text in UNHANDLED:
            if text in err or text in self.out:
                found.append("printed %r" % text)
        return found


def without_paramiko_banner_report(err: str) -> str:
    """*err* without paramiko's report of a banner read that failed (io="threads", a
    connect ended in the banner stage): paramiko logs any failed banner read at ERROR with
    its traceback, shutdown or not, on the logger ncclient gives it (the child logs as
    ``name LEVEL: message``)."""
    lines = err.splitlines()
    reports = [line for line in lines if line.endswith(PARAMIKO_BANNER_REPORT)]
    if not reports:
        return err
    prefix = reports[0][: -len(PARAMIKO_BANNER_REPORT)] + "ERROR: "
    return "\n".join(line for line in lines if not line.startswith(prefix))


def run_child(state: str, io: str, how: str) -> Outcome:
    """Run one row's child; what it did."""
    args = [sys.executable, "-m", "tests.support.shutdown_child", state, io, how]
    if state == "sessions":
        args.append(str(SESSIONS[io]))
    outcome = Outcome(state, io)
    report = os.path.join(tempfile.mkdtemp(prefix="shutdown-"), "servers.jsonl")
    env = dict(os.environ, **{REPORT_ENV: report})
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    err: List[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    out: List[str] = []
    lines: "List[Tuple[float, str]]" = []
    got_line = threading.Event()

    def read_out() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic(), line))
            out.append(line)
            if line.strip() == "READY":
                got_line.set()
        got_line.set()

    threading.Thread(target=read_out, daemon=True).start()
    bound = REACH_BOUND_SESSIONS if state == "sessions" else REACH_BOUND
    try:
        got_line.wait(bound)
        stopped_at = next((t for t, line in lines if line.strip() == "READY"), None)
        if stopped_at is not None:
            outcome.reached = True
            if how == "sigterm":
                stopped_at = time.monotonic()
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(max(0.0, stopped_at + outcome.exit_bound + 1.0 - time.monotonic()))
                outcome.exit_seconds = time.monotonic() - stopped_at
                outcome.exit_code = proc.returncode
            except subprocess.TimeoutExpired:
                pass
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the child and the servers it started
            proc.wait(10)
        reader.join(10)
    outcome.out = "".join(out)
    outcome.err = "".join(err)
    if outcome.state in CLOSE_SESSION_SENT and outcome.exit_seconds is not None:
        outcome.servers = server_reports(report)
    shutil.rmtree(os.path.dirname(report), ignore_errors=True)
    return outcome


def server_reports(path: str) -> List[Dict[str, int]]:
    """What the child's embedded server wrote as it ended (it ends once the child has:
    waited for, bounded)."""
    deadline = time.monotonic() + SERVER_REPORT_BOUND
    while True:
        try:
            with open(path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            if time.monotonic() > deadline:
                return []
        threading.Event().wait(0.05)


_results: Dict[str, Dict[Tuple[str, str], Outcome]] = {}


def results_for(io: str) -> Dict[Tuple[str, str], Outcome]:
    """Every row of *io*, run once: the many sessions' rows alone (their shutdown is
    timed without another child's load), then the others two at a time."""
    if io not in _results:
        alone = [row for row in ROWS if row[0] == "sessions"]
        results = {row: run_child(row[0], io, row[1]) for row in alone}
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            futures = {row: pool.submit(run_child, row[0], io, row[1]) for row in ROWS if row not in alone}
            results.update((row, f.result()) for row, f in futures.items())
        _results[io] = results
    return _results[io]


@pytest.mark.parametrize("state,how", ROWS, ids=["%s-%s" % row for row in ROWS])
def test_stop_ends_the_process(io: str, state: str, how: str) -> None:
    outcome = results_for(io)[(state, how)]
    problems = outcome.problems()
    assert not problems, "%s/%s on io=%s: %s\n--- stdout\n%s\n--- stderr (end)\n%s" % (
        state,
        how,
        io,
        "; ".join(problems),
        outcome.out[-2000:],
        outcome.err[-4000:],
    )

"""One session thread at a time does the Python work of a message or a request.

Every session has two threads of its own (ncclient's session thread and paramiko's
transport thread). When replies come back on 100 sessions at once, 100 session threads
want the GIL, each for a short piece of work (frame, parse, hand over) before its next
system call lets the GIL go again. CPython has no queue order for the GIL: the reactor
thread waits behind the whole crowd, for tens of milliseconds, each time it wants to run.
On two cores only one thread runs Python at a time anyway, so the session threads take
this gate (one lock, per reactor) around that work: the others wait on the lock, which
asks nothing of the GIL, and the reactor competes with one session thread instead of a
hundred. Measured against netconfd (100 sessions x 10 requests, same-period A/B runs):
reactor lateness p99 12-43 ms -> 2-4 ms; the benchmark's fan-out went from 2,502 to
3,074 RPC/s between its runs before and after.

Not under the gate: a message larger than :data:`GATED_MESSAGE_MAX` (lxml releases the
GIL while it parses it, and other sessions go on meanwhile), and listeners other than the
project's own (an application's listener may block; it must not block every session).
"""

from __future__ import annotations

import threading
from typing import ContextManager

__all__ = ["GATED_MESSAGE_MAX", "new_gate"]

#: Messages up to this size (characters) are dispatched under the gate.
GATED_MESSAGE_MAX = 64 * 1024


def new_gate() -> ContextManager[bool]:
    """The gate of one reactor's sessions (see ``Runtime.gate``): a plain lock, whose
    ``with`` costs no Python call."""
    return threading.Lock()

"""One session thread at a time does the Python work of a message or a request.

Every session has two threads of its own (ncclient's session thread and paramiko's
transport thread). When replies come back on many sessions at once, every session thread
wants the GIL, each for a short piece of work (frame, parse, hand over) before its next
system call lets the GIL go again. CPython has no queue order for the GIL: the reactor
thread waits behind the whole crowd each time it wants to run. Only one thread runs
Python at a time anyway, so the session threads take this gate (one lock, per reactor)
around that work: the others wait on the lock, which asks nothing of the GIL, and the
reactor competes with one session thread instead of all of them. What it does to the
reactor's lateness is measured by ``benchmarks/run.py`` (fan-out).

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

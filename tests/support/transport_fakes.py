"""Fakes for unit tests of the transports' sessions: a link that records, a clock the test
moves, a threads session without a socket."""

from __future__ import annotations

import threading
from typing import Any, ContextManager, List, Optional

from ncclient.devices.default import DefaultDeviceHandler
from ncclient.transport.session import NetconfBase, Session

from ncclient_twisted.transport.session_hooks import SessionHooks
from ncclient_twisted.transport.threads.session import WakeOnSendSession


class FakeLink:
    def __init__(self) -> None:
        self.drops: List[bool] = []
        self.written: List[bytes] = []
        self.flushes = 0
        self.paused: List[bool] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def flush(self) -> None:
        self.flushes += 1

    def pause_reading(self, paused: bool) -> None:
        self.paused.append(paused)

    def drop_connection(self, abort: bool = False) -> None:
        self.drops.append(abort)



class FakeTime:
    """The scheduler's clock (seconds), moved by the tests."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class SettableHooks(SessionHooks):
    """Session hooks whose ``write_now()`` answers what the test last set in ``allowed``."""

    def __init__(self, gate: Optional[ContextManager[Any]] = None, gate_max: int = 0) -> None:
        self.allowed = False
        self.gate = gate
        self.gate_max = gate_max

    def write_now(self) -> bool:
        return self.allowed


class FakeTransportSession(WakeOnSendSession, Session):
    """The session's sending half over a list of writes; the loop is never started."""

    def __init__(self, hooks: Optional[SettableHooks] = None) -> None:
        self.hooks = hooks if hooks is not None else SettableHooks()
        super().__init__(DefaultDeviceHandler(), self.hooks)
        self.writes: List[bytes] = []
        self.writers: List[threading.Thread] = []
        self.take: Optional[int] = None  # bytes the transport accepts per write
        self.fail: Optional[Exception] = None
        self.ready = True
        self.wakes = 0
        self._connected = True
        self._base = NetconfBase.BASE_11

    def _transport_write(self, data: bytes) -> Optional[int]:
        if self.fail is not None:
            raise self.fail
        n = len(data) if self.take is None else min(self.take, len(data))
        self.writes.append(data[:n])
        self.writers.append(threading.current_thread())
        return n

    def _send_ready(self) -> bool:
        return True

    def _can_write_now(self, size: int) -> bool:
        return self.ready

    def wake(self) -> None:
        self.wakes += 1

    def sent(self) -> bytes:
        return b"".join(self.writes)

    def close_wake_pipe(self) -> None:
        """Close what the session opened to be woken (its loop, never started, does not)."""
        self._wake_r.close()
        self._wake_w.close()

"""Counters and gauges to export: each ``Manager``'s (``m.stats``), each ``ManagerService``'s
(``service.stats``) and the process's (:func:`process_stats`), as typed snapshots.

Counting costs one callback per request and a few integer additions: nothing is computed
until a snapshot is asked for. Read the snapshots on the reactor thread (the counters of
an ``io="threads"`` session's bytes are updated by its thread, and may lag by a write).
``ncclient_twisted.prometheus`` exports them to Prometheus.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ncclient.operations import RPCError, TimeoutExpiredError
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

__all__ = [
    "ProcessStats",
    "RequestCounters",
    "ServiceStats",
    "SessionStats",
    "process_stats",
]


@dataclass(frozen=True)
class SessionStats:
    """What one session (or, summed, every session of the process) did.

    Counters only grow; ``pending`` is a gauge (requests waiting for their reply now).
    """

    #: Requests made (each operation call; ``close-session`` included).
    requests: int = 0
    #: Requests answered with a reply the caller got (``<ok/>``, data, or an ``rpc-error``
    #: the raise mode let through).
    replies: int = 0
    #: Requests that failed with ``RPCError`` (the device answered with an error).
    rpc_errors: int = 0
    #: Requests that failed with ``TimeoutExpiredError`` (no reply in time).
    timeouts: int = 0
    #: Requests the caller cancelled.
    cancels: int = 0
    #: Requests that failed otherwise (the session ended, a reply that does not parse...).
    failures: int = 0
    #: Requests waiting for their reply now (a gauge).
    pending: int = 0
    #: Replies dropped because no request waited for them (late, or never asked).
    stray_replies_dropped: int = 0
    #: Notifications handed to the session's streams and subscriptions.
    notifications_delivered: int = 0
    #: Notifications dropped because a buffer was full.
    notifications_dropped: int = 0
    #: NETCONF bytes received and sent (framing included, SSH or TLS excluded).
    bytes_received: int = 0
    bytes_sent: int = 0

    def __add__(self, other: "SessionStats") -> "SessionStats":
        return SessionStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class ServiceStats:
    """One ``ManagerService``: its state, its reconnects and its backoff."""

    name: Optional[str]
    #: The state's name (``State.CONNECTED.name`` is ``"CONNECTED"``...).
    state: str
    #: Sessions opened (the first connect and every reconnect).
    connects: int
    #: Sessions opened after a session of this service had ended or a connect had failed.
    reconnects: int
    #: Connect attempts that failed, in all.
    connect_failures: int
    #: Failures in a row now (0 while connected).
    consecutive_failures: int
    #: The delay before the next attempt, in seconds (0 unless it is waiting).
    backoff_s: float


@dataclass(frozen=True)
class ProcessStats:
    """Every session and service of the process."""

    #: Counters summed over every session of the process, ended ones included.
    totals: SessionStats
    #: Sessions by state: ``connecting``, ``open`` and ``ended`` (since the process started).
    sessions: Dict[str, int]
    #: Connects that failed (no session was opened).
    connect_failures: int
    #: Each running ``ManagerService``.
    services: Tuple[ServiceStats, ...] = field(default=())


class RequestCounters:
    """The outcome counters of one session's requests (kept by its ``Manager``); each count
    is added to the process's too, so that a request failed after its session ended (the
    session's figures already moved to the ended ones) is not lost."""

    #: The counters, by their :class:`SessionStats` field names.
    FIELDS = ("requests", "replies", "rpc_errors", "timeouts", "cancels", "failures")
    __slots__ = FIELDS + ("_process",)

    def __init__(self, process: "Optional[RequestCounters]" = None) -> None:
        for name in self.FIELDS:
            setattr(self, name, 0)
        self._process = process

    def request(self) -> None:
        """One more request made."""
        self._add("requests")

    def count(self, result: Any) -> Any:
        """A callback and errback for a request's Deferred: counts its outcome, passes it on."""
        if not isinstance(result, Failure):
            name = "replies"
        elif result.check(RPCError):
            name = "rpc_errors"
        elif result.check(TimeoutExpiredError):
            name = "timeouts"
        elif result.check(CancelledError):
            name = "cancels"
        else:
            name = "failures"
        self._add(name)
        return result

    def counts(self) -> Dict[str, int]:
        """The counters, by :class:`SessionStats` field name."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def _add(self, name: str) -> None:
        # The outcome is classified once, here and for the process alike.
        setattr(self, name, getattr(self, name) + 1)
        if self._process is not None:
            self._process._add(name)


class _Registry:
    """The process's sessions and services (weakly held), its request outcomes, and the
    other figures of the ended sessions."""

    def __init__(self) -> None:
        self.live: "weakref.WeakSet[Any]" = weakref.WeakSet()
        self.services: "weakref.WeakSet[Any]" = weakref.WeakSet()
        self.requests = RequestCounters()
        #: What ended sessions sent, received and dropped.
        self.ended_totals = SessionStats()
        self.ended = 0
        self.connecting = 0
        self.connect_failures = 0

    def session_ended(self, manager: Any) -> None:
        if manager in self.live:
            self.live.discard(manager)
            self.ended_totals = self.ended_totals + manager.stats
            self.ended += 1


_registry = _Registry()


def new_request_counters() -> RequestCounters:
    """A session's counters, adding to the process's."""
    return RequestCounters(_registry.requests)


def register_manager(manager: Any) -> None:
    """Count *manager*'s session (open) in the process's figures."""
    _registry.live.add(manager)


def manager_ended(manager: Any) -> None:
    """Move *manager*'s figures to the ended sessions' (once)."""
    _registry.session_ended(manager)


def register_service(service: Any) -> None:
    _registry.services.add(service)


def unregister_service(service: Any) -> None:
    _registry.services.discard(service)


def connect_started() -> None:
    _registry.connecting += 1


def connect_done(failed: bool) -> None:
    _registry.connecting -= 1
    if failed:
        _registry.connect_failures += 1


def _sum(stats: Iterable[SessionStats]) -> SessionStats:
    total = SessionStats()
    for s in stats:
        total = total + s
    return total


def process_stats() -> ProcessStats:
    """A snapshot of every session and ``ManagerService`` of the process (reactor thread)."""
    live: List[SessionStats] = [m.stats for m in _registry.live]
    services = sorted(_registry.services, key=lambda s: str(getattr(s, "name", "") or ""))
    return ProcessStats(
        totals=replace(
            _registry.ended_totals + _sum(live),
            pending=sum(s.pending for s in live),
            **_registry.requests.counts(),
        ),
        sessions={"connecting": _registry.connecting, "open": len(live), "ended": _registry.ended},
        connect_failures=_registry.connect_failures,
        services=tuple(s.stats for s in services),
    )

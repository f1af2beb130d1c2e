"""Logging helpers: Conch's per-connection chatter lowered to debug, and the bridge to
stdlib :mod:`logging` (:func:`log_to_stdlib`).

The library logs through :class:`twisted.logger.Logger`, one namespace per module
(``ncclient_twisted.service``, ``ncclient_twisted.transport.reactor.session``, ...).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Optional

from twisted.logger import (
    FilteringLogObserver,
    ILogFilterPredicate,
    ILogObserver,
    LogEvent,
    Logger,
    LogLevel,
    PredicateResult,
    formatEvent,
    globalLogPublisher,
)
from zope.interface import implementer

__all__ = ["QuietLogger", "StdlibByNamespace", "log_handshake", "log_to_stdlib", "BRIDGED_NAMESPACES"]

#: The namespaces :func:`log_to_stdlib` forwards: ours and Twisted Conch's.
BRIDGED_NAMESPACES = ("ncclient_twisted", "twisted.conch")


#: Whether Conch's debug events on our connections are made for every observer (see
#: :func:`log_handshake`).
_handshake = False


def log_handshake(enabled: bool = True) -> None:
    """Make the SSH handshake's debug events of ``io="reactor"`` (Conch's key exchange,
    authentication and channel lines, namespaces ``twisted.conch.ssh.*``) from now on, for
    every log observer; ``False`` stops them. Off by default: building them costs about a
    tenth of a connect's CPU, and :func:`log_to_stdlib` makes them anyway for a stdlib
    logger enabled at ``DEBUG``."""
    global _handshake
    _handshake = bool(enabled)


def _debug_wanted(namespace: str) -> bool:
    """Whether a Conch debug event under *namespace* may reach someone."""
    if _handshake:
        return True
    # Through the stdlib bridge, the stdlib logger's level says (isEnabledFor is cached).
    return _bridge is not None and logging.getLogger(namespace).isEnabledFor(logging.DEBUG)


#: Owner class -> the namespace of the Conch class whose code logs (see QuietLogger).
_conch_namespaces: Dict[type, str] = {}


class QuietLogger(Logger):
    """A :class:`Logger` that emits info events at debug, for Conch's classes (their
    ``_log``): key exchange, ``NEW KEYS``, channel open and close are per-connection
    chatter, a flood for a service keeping many sessions. Its debug events (those
    lowered included) are made only when wanted (:func:`log_handshake`, or a stdlib
    logger at ``DEBUG`` behind :func:`log_to_stdlib`); other levels pass unchanged."""

    def emit(self, level: LogLevel, format: Optional[str] = None, **kwargs: Any) -> None:
        if level is LogLevel.info or level is LogLevel.debug:
            # Conch logs per packet and per handshake step: an event nobody sees is not built.
            if not _debug_wanted(self.namespace):
                return
            level = LogLevel.debug
        super().emit(level, format, **kwargs)

    def __get__(self, instance: object, owner: Optional[type] = None) -> "QuietLogger":
        assert owner is not None
        namespace = _conch_namespaces.get(owner)
        if namespace is None:
            # The namespace of the Conch class whose code logs (as without us), so that a
            # filter on ``twisted.conch`` shows the handshake.
            base = next((c for c in owner.__mro__ if c.__module__.startswith("twisted.")), owner)
            namespace = _conch_namespaces[owner] = ".".join([base.__module__, base.__name__])
        source = owner if instance is None else instance
        return self.__class__(namespace, source, observer=self.observer)


@implementer(ILogFilterPredicate)
class _Bridged:
    """Events of :data:`BRIDGED_NAMESPACES` (and below) pass, no other."""

    def __call__(self, event: LogEvent) -> PredicateResult:
        namespace = event.get("log_namespace") or ""
        for prefix in BRIDGED_NAMESPACES:
            if namespace == prefix or namespace.startswith(prefix + "."):
                return PredicateResult.yes
        return PredicateResult.no


_STDLIB_LEVELS = {
    LogLevel.debug: logging.DEBUG,
    LogLevel.info: logging.INFO,
    LogLevel.warn: logging.WARNING,
    LogLevel.error: logging.ERROR,
    LogLevel.critical: logging.CRITICAL,
}


@implementer(ILogObserver)
class StdlibByNamespace:
    """Each event to the stdlib logger named by its namespace, at the matching level
    (Twisted's ``STDLibLogObserver`` sends every event to one logger, ``twisted``)."""

    def __call__(self, event: LogEvent) -> None:
        logger = logging.getLogger(event.get("log_namespace") or "twisted")
        level = _STDLIB_LEVELS.get(event.get("log_level", LogLevel.info), logging.INFO)
        if not logger.isEnabledFor(level):
            return
        failure = event.get("log_failure")
        exc_info = None if failure is None else (failure.type, failure.value, failure.getTracebackObject())
        logger.log(level, "%s", formatEvent(event), exc_info=exc_info)


_bridge: Optional[ILogObserver] = None
_bridge_lock = threading.Lock()


def log_to_stdlib() -> ILogObserver:
    """Send our events and Conch's to stdlib :mod:`logging`, under loggers named by
    their namespace (``ncclient_twisted.service``, ``twisted.conch.ssh.transport...``);
    once however often called. Returns the observer (``globalLogPublisher.removeObserver``
    undoes it, until the next call).

    It adds one observer to Twisted's ``globalLogPublisher`` and touches nothing else:
    unlike ``globalLogBeginner.beginLoggingTo``, which may be called once per process,
    redirects stdout/stderr and warnings, and forwards every Twisted event."""
    global _bridge
    with _bridge_lock:
        if _bridge is None:
            _bridge = FilteringLogObserver(StdlibByNamespace(), [_Bridged()])
        globalLogPublisher.removeObserver(_bridge)  # added once, even if called again
        globalLogPublisher.addObserver(_bridge)
        return _bridge

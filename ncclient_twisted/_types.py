"""The reactor interfaces and the session protocol ncclient_twisted's signatures take (as
treq's ``_types``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from twisted.internet.interfaces import (
    IReactorCore,
    IReactorFromThreads,
    IReactorProcess,
    IReactorTCP,
    IReactorThreads,
    IReactorTime,
)

if TYPE_CHECKING:
    from ncclient_twisted.bridge.jobs import BuildJob

__all__ = ["INetconfReactor", "ICommandReactor", "IReactorTime", "IReactorFromThreads", "ManagedSession"]


class INetconfReactor(IReactorCore, IReactorTime, IReactorThreads):
    """What a client of ours needs of a reactor: its life cycle (shutdown triggers),
    time (timeouts, deadlines), and calls from the session threads (``IReactorThreads``
    extends ``IReactorFromThreads``).

    Every reactor Twisted ships provides it; a ``task.Clock`` is enough wherever a
    signature asks for ``IReactorTime`` only.
    """


class ICommandReactor(INetconfReactor, IReactorTCP, IReactorProcess):
    """What the ``ncclient-twisted`` command needs of its reactor: a client's, plus
    listening (the embedded servers of ``serve`` and ``demo``) and child processes."""


class ManagedSession(Protocol):
    """What the :class:`~ncclient_twisted.manager.Manager` asks of its session, on either
    transport (``ReactorSession``, ``WakeOnSendSession``: ncclient's ``Session`` and more)."""

    end_reason: Optional[Exception]
    #: NETCONF bytes received and sent (framing included, not SSH's or TLS's), for stats.
    bytes_received: int
    bytes_sent: int
    #: Whether every request goes to :meth:`submit` (a session on the reactor), not only
    #: those made while others are in flight.
    submit_always: bool

    @property
    def connected(self) -> bool: ...

    def get_listener_instance(self, cls: Any) -> Any: ...

    @property
    def id(self) -> Any: ...

    def add_end_callback(self, fn: Callable[[Optional[Exception]], None]) -> None: ...

    @property
    def server_capabilities(self) -> Any: ...

    def mark_closing(self) -> None: ...

    @property
    def ended(self) -> bool: ...

    def close(self) -> None: ...

    def submit(self, job: "BuildJob") -> None:
        """Build and send *job*'s request where the session writes (its thread, or a
        coming reactor turn), in the order submitted."""

    @property
    def jobs_outstanding(self) -> bool:
        """Whether a submitted job has not run yet (a later request must not overtake it)."""

"""The reactor interfaces ncclient_twisted's signatures take (as treq's ``_types``)."""

from __future__ import annotations

from twisted.internet.interfaces import (
    IReactorCore,
    IReactorFromThreads,
    IReactorProcess,
    IReactorTCP,
    IReactorThreads,
    IReactorTime,
)

__all__ = ["INetconfReactor", "ICommandReactor", "IReactorTime", "IReactorFromThreads"]


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

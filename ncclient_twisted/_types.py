"""The reactor interfaces ncclient_twisted's signatures take (as treq's ``_types``)."""

from __future__ import annotations

from twisted.internet.interfaces import IReactorCore, IReactorFromThreads, IReactorThreads, IReactorTime

__all__ = ["INetconfReactor", "IReactorTime", "IReactorFromThreads"]


class INetconfReactor(IReactorCore, IReactorTime, IReactorThreads):
    """What a client of ours needs of a reactor: its life cycle (shutdown triggers),
    time (timeouts, deadlines), and calls from the session threads (``IReactorThreads``
    extends ``IReactorFromThreads``).

    Every reactor Twisted ships provides it; a ``task.Clock`` is enough wherever a
    signature asks for ``IReactorTime`` only.
    """

"""Requests built and sent by the session thread (a burst's, behind the caller's own).

The reactor only makes each request's Deferred; ncclient's RPC object and its XML are
built on the session thread, in the order the requests were made, and written with the
rest of the burst (see ``WakeOnSendSession.submit``).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, Optional, Tuple, Type

from ncclient.operations.rpc import RPC
from twisted.internet.defer import Deferred

from ncclient_twisted.bridge.listener import DeferredReplyListener

__all__ = ["BuildJob", "snapshot"]

#: Arguments of these types are given to a request built on the session thread as they
#: are; any other (an element, a dict, a list) is copied first, on the caller's thread:
#: the caller may change it afterwards, and lxml trees must not be shared by two threads.
_IMMUTABLE = (str, bytes, int, float, bool, type(None))
_IMMUTABLE_TYPES = frozenset(_IMMUTABLE)


def snapshot(args: Tuple[Any, ...], kwds: Dict[str, Any]) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    """*args* and *kwds* as they are now, for a build on another thread."""
    for values in (args, kwds.values()):
        for v in values:
            if type(v) not in _IMMUTABLE_TYPES and not isinstance(v, _IMMUTABLE):
                copied: Tuple[Tuple[Any, ...], Dict[str, Any]] = copy.deepcopy((args, kwds))
                return copied
    return args, kwds


class BuildJob:
    """A request the session thread builds and sends.

    *new_rpc(cls, raise_mode)* makes ncclient's RPC object. The Deferred is made on the
    reactor (:meth:`deferred`); cancelling it before the request is built means it is
    never sent, after, that its reply (if it comes) is dropped.
    """

    __slots__ = ("listener", "new_rpc", "cls", "args", "kwds", "raise_mode", "deferred", "msgid", "cancelled")

    def __init__(
        self,
        listener: DeferredReplyListener,
        new_rpc: Callable[[Type[RPC], int], RPC],
        cls: Type[RPC],
        args: Tuple[Any, ...],
        kwds: Dict[str, Any],
        raise_mode: int,
    ) -> None:
        self.listener = listener
        self.new_rpc = new_rpc
        self.cls = cls
        self.args = args
        self.kwds = kwds
        self.raise_mode = raise_mode
        self.deferred: "Deferred[Any]" = Deferred(self.cancel)
        self.msgid: Optional[str] = None
        self.cancelled = False

    # session thread
    def run(self) -> None:
        if self.cancelled:
            return
        listener = self.listener
        try:
            rpc = self.new_rpc(self.cls, self.raise_mode)
        except Exception as e:
            listener.fail_later(self.deferred, e)
            return
        self.msgid = rpc.id
        listener.expect_into(rpc, self.deferred)
        if self.cancelled:  # cancelled while being built: never sent
            listener.forget(rpc.id)
            return
        try:
            rpc.request(*self.args, **self.kwds)
        except Exception as e:
            listener.forget(rpc.id)
            listener.fail_later(self.deferred, e)

    def fail(self, reason: Exception) -> None:
        self.listener.fail_later(self.deferred, reason)

    # reactor thread: the Deferred's canceller
    def cancel(self, d: "Deferred[Any]") -> None:
        self.cancelled = True
        if self.msgid is not None:
            self.listener.forget(self.msgid)

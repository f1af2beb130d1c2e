"""The reply listener: ncclient's ``RPCReplyListener``, firing Deferreds on the reactor.

ncclient registers every RPC, by message-id, in the one ``RPCReplyListener`` of its
session (``RPCReplyListener.__new__`` looks it up with ``session.get_listener_instance``).
We install an instance of this subclass first, so every RPC of the session registers here.

On the session thread, :meth:`DeferredReplyListener.callback` finds the RPC, parses its
reply, applies ``RaiseMode``, the device handler's exemptions and reply transform, and
hands the outcome to the reactor through the session's :class:`Handoff` (in order with
its notifications, one ``callFromThread`` per burst). The reactor thread only fires the
Deferred.

Unlike ncclient's listener, a reply nobody waits for (its request was cancelled or timed
out, or its message-id was never sent) is dropped and counted, and the session goes on.
A reply that does not parse (not well-formed, too deep or too large for lxml, a DTD) fails
its own request with :exc:`~ncclient_twisted.transport.framing.MalformedReplyError`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from lxml import etree
from ncclient.operations.rpc import RaiseMode, RPCError, RPCReplyListener
from ncclient.xml_ import NCElement, qualify, to_ele
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure

from ncclient_twisted._compat import (
    HAS_LISTENER_FORGET,
    HAS_RPC_RESULT,
    MESSAGE_ID_COUNTER,
    new_reply_listener,
    registered_rpcs,
    reply_parsed,
    reply_raw,
    rpc_huge_tree,
    rpc_raise_mode,
    rpc_reply,
    set_reply_raw,
)
from ncclient_twisted.bridge.handoff import Handoff
from ncclient_twisted.transport.ended import not_connected, session_closed
from ncclient_twisted.transport.framing import MalformedReplyError, reply_parse_error

__all__ = ["DeferredReplyListener", "reply_outcome"]

log = Logger(namespace=__name__)

_RPC_REPLY = qualify("rpc-reply")
#: Replies longer than this (characters) are parsed a piece at a time (see _parse_in_pieces).
LARGE_REPLY = 1024 * 1024
#: The piece (characters).
_PARSE_STEP = 1024 * 1024


def _parse_in_pieces(raw: str, huge_tree: bool) -> "etree._Element":
    """*raw* parsed as ncclient's ``to_ele`` parses it (its parser's options), a piece at
    a time: lxml holds the GIL for one piece, where ``to_ele`` holds it to encode the whole
    reply and for much of its parse (a 100 MB reply kept every other thread, the reactor
    too, waiting for up to 0.4 s)."""
    parser = etree.XMLParser(recover=False, huge_tree=huge_tree)
    for start in range(0, len(raw), _PARSE_STEP):
        parser.feed(raw[start : start + _PARSE_STEP].encode("utf-8"))
    root: "etree._Element" = parser.close()
    return root


def reply_outcome(rpc: Any, device_handler: Any, ncclient_result: bool = HAS_RPC_RESULT) -> Any:
    """What ncclient's synchronous ``RPC._request`` would return or raise for *rpc*'s reply.

    Runs on the session thread (it parses the reply). Differences from released ncclient,
    on purpose: ``RaiseMode.ERRORS`` looks at every ``rpc-error`` (ncclient looks at the
    first only), and errors the device handler exempts are left out one by one: what
    ``RPC.result()`` of the patched ncclient (patch 0008) does, called when
    *ncclient_result*.
    """
    reply = rpc_reply(rpc)
    try:
        raw = reply_raw(reply)
        if isinstance(raw, str) and len(raw) > LARGE_REPLY and not reply_parsed(reply):
            # ncclient's parse takes an element for its raw reply as well (to_ele returns
            # it): it is given the one parsed here, then its text again.
            set_reply_raw(reply, _parse_in_pieces(raw, rpc_huge_tree(rpc)))
            try:
                reply.parse()
            finally:
                set_reply_raw(reply, raw)
        else:
            reply.parse()
    except etree.XMLSyntaxError as e:
        raise reply_parse_error(e, rpc.id, rpc_huge_tree(rpc)) from e
    if ncclient_result:
        return rpc.result()  # the reply is parsed: result() does not parse it again
    errors = [e for e in reply.errors if not device_handler.is_rpc_error_exempt(e.message)]
    if errors:
        mode = rpc_raise_mode(rpc)
        if mode == RaiseMode.ALL or (
            mode == RaiseMode.ERRORS and any(e.severity == "error" for e in errors)
        ):
            if len(errors) > 1:
                raise RPCError(to_ele(reply_raw(reply)), errs=errors)
            raise errors[0]
    transform = device_handler.transform_reply()
    if transform:
        return NCElement(reply, transform, huge_tree=rpc_huge_tree(rpc))
    return reply


def _errback_unless_called(outcome: Tuple["Deferred[Any]", Exception]) -> None:
    d, error = outcome
    if not d.called:
        d.errback(Failure(error))


class _Pending:
    __slots__ = ("deferred", "rpc")

    def __init__(self, deferred: "Deferred[Any]", rpc: Any) -> None:
        self.deferred = deferred
        self.rpc = rpc


class DeferredReplyListener(RPCReplyListener):
    """Routes replies to Deferreds by message-id. Install with :meth:`install`."""

    #: Its callback never blocks: the session dispatches to it under the gate
    #: (:mod:`ncclient_twisted.bridge.gate`).
    gated = True
    #: Whether ncclient's listener has ``forget`` (upstream patch 0001) for :meth:`forget`
    #: to call, instead of reaching into its registry.
    ncclient_forgets = HAS_LISTENER_FORGET
    #: Makes each session's message-id source (ncclient's counter, patch 0009), or None
    #: to leave ncclient's uuid4 for each request.
    message_ids: Optional[Callable[[], Callable[[], str]]] = MESSAGE_ID_COUNTER
    _reactor: IReactorFromThreads
    _pending: Dict[str, _Pending]
    _ended: Optional[Exception]
    _end_cause: Optional[Exception]
    _handoff: Handoff
    replies_dropped: int

    @classmethod
    def install(
        cls,
        session: Any,
        device_handler: Any,
        reactor: IReactorFromThreads,
        handoff: Optional[Handoff] = None,
    ) -> "DeferredReplyListener":
        """Create the listener and register it on *session* (before any RPC is made).

        *handoff* is the session's ordered path to the reactor, shared with its
        notification router. With :attr:`message_ids` (ncclient's counter, when it has
        one), the session's RPCs take their message-ids from a counter of their own.
        """
        existing = session.get_listener_instance(RPCReplyListener)
        if existing is not None:
            raise RuntimeError("session already has a reply listener: %r" % (existing,))
        # ncclient's constructor (it takes ncclient's creation lock, not reentrant before
        # 0.7): it makes the session's one instance of this class and registers it. What
        # is ours is added here, before any RPC is made on the session.
        self = new_reply_listener(cls, session, device_handler)
        set_message_ids = getattr(session, "set_message_id_factory", None)
        if cls.message_ids is not None and set_message_ids is not None:
            # Unique within the session, all RFC 6241 asks, and cheaper than a uuid4.
            set_message_ids(cls.message_ids())
        self.logger = log
        self._reactor = reactor
        self._pending = {}
        self._ended = None
        self._end_cause = None
        self.replies_dropped = 0
        self._handoff = handoff if handoff is not None else Handoff(reactor)
        return self

    # -- reactor thread ------------------------------------------------------------

    def expect(self, rpc: Any) -> "Deferred[Any]":
        """A Deferred for *rpc*'s outcome; cancelling it forgets the request."""
        msgid = rpc.id
        d: "Deferred[Any]" = Deferred(lambda _: self.forget(msgid))
        ended = self._register(msgid, d, rpc)
        if ended is not None:
            d.errback(Failure(ended))
        return d

    def expect_into(self, rpc: Any, d: "Deferred[Any]") -> None:
        """As :meth:`expect`, with the caller's *d*, from any thread (a request built on
        the session thread): *d* fires on the reactor."""
        ended = self._register(rpc.id, d, rpc)
        if ended is not None:
            self.fail_later(d, ended)

    def _register(self, msgid: str, d: "Deferred[Any]", rpc: Any) -> Optional[Exception]:
        with self._lock:
            ended = self._ended is not None
            if not ended:
                self._pending[msgid] = _Pending(d, rpc)
        if ended:
            self.forget(msgid)
            return self.later_error()
        return None

    @property
    def ended(self) -> bool:
        """Whether the session has ended (set before any pending request is failed)."""
        return self._ended is not None

    def later_error(self) -> Exception:
        """What a request made after the end fails with: ``TransportError`` caused by
        the reason the session ended (see :mod:`~ncclient_twisted.transport.ended`)."""
        return not_connected(self._end_cause)

    def fail_later(self, d: "Deferred[Any]", error: Exception) -> None:
        """Fail *d* with *error* on the reactor (from any thread), unless it has fired."""
        self._handoff.call(_errback_unless_called, (d, error))

    def forget(self, msgid: str) -> None:
        """Stop waiting for *msgid*; its reply, if it comes, will be dropped."""
        if self.ncclient_forgets:
            # ncclient's takes the listener's lock (not reentrant): called outside ours.
            # callback() finds the request gone from either registry and drops the reply.
            super().forget(msgid)
            with self._lock:
                self._pending.pop(msgid, None)
            return
        with self._lock:
            registered_rpcs(self).pop(msgid, None)
            self._pending.pop(msgid, None)

    def alone(self) -> bool:
        """Whether at most one request waits for its reply (the one being sent)."""
        return len(self._pending) <= 1

    def waiting(self) -> bool:
        """Whether any request waits for its reply (no lock: one read of a dict's size)."""
        return bool(self._pending)

    @property
    def pending(self) -> int:
        """Requests sent and still waiting for a reply."""
        with self._lock:
            return len(self._pending)

    # -- session thread ------------------------------------------------------------

    def callback(self, root: Tuple[str, Dict[str, str]], raw: str) -> None:
        tag, attrs = root
        if tag != _RPC_REPLY and self._device_handler.perform_qualify_check():
            return
        msgid = attrs.get("message-id")
        with self._lock:
            rpc = registered_rpcs(self).pop(msgid, None) if msgid is not None else None
            pending = self._pending.pop(msgid, None) if msgid is not None else None
        if rpc is None:
            self._drop(msgid)
            return
        rpc.deliver_reply(raw)
        if pending is None:
            return  # an RPC made outside our manager (ncclient's own event is set)
        try:
            result: Any = reply_outcome(rpc, self._device_handler)
            ok = True
        except Exception as e:
            result, ok = e, False
        self._post(pending.deferred, ok, result)

    def reject(self, error: MalformedReplyError) -> None:
        """A message that must not be parsed (see :func:`message_root`) arrived: fail the
        request it answers with *error*, or drop it if none waits for it."""
        msgid = error.message_id
        with self._lock:
            rpc = registered_rpcs(self).pop(msgid, None) if msgid is not None else None
            pending = self._pending.pop(msgid, None) if msgid is not None else None
        if rpc is None:
            with self._lock:
                self.replies_dropped += 1
            log.warn("dropped a message no request waits for: {error}", error=error)
            return
        log.warn("failed the request {msgid}: {error}", msgid=msgid, error=error)
        rpc.deliver_error(error)
        if pending is not None:
            self._post(pending.deferred, False, error)

    def _post(self, d: "Deferred[Any]", ok: bool, result: Any) -> None:
        """Hand an outcome to the reactor, in order with the session's notifications."""
        self._handoff.call(self._fire, (d, ok, result))

    def _drop(self, msgid: Optional[str]) -> None:
        with self._lock:
            self.replies_dropped += 1
        if msgid is None:
            log.warn("dropped an <rpc-reply> without message-id")
        else:
            log.info("dropped a reply to message-id {msgid}: no request waits for it", msgid=msgid)

    def errback(self, ex: Exception) -> None:
        """The session failed: every waiting request fails with *ex*."""
        self.end(ex)

    def end(self, reason: Optional[Exception]) -> None:
        """The session is over: fail everything pending; later requests fail at once."""
        cause = reason
        if reason is None:
            reason = session_closed()
        with self._lock:
            if self._ended is None:
                self._ended = reason
                self._end_cause = cause
            pending = list(self._pending.values())
            self._pending.clear()
            rpcs = list(registered_rpcs(self).values())
            registered_rpcs(self).clear()
        for rpc in rpcs:
            rpc.deliver_error(reason)
        for p in pending:
            self._post(p.deferred, False, reason)

    def _fire(self, outcome: Tuple["Deferred[Any]", bool, Any]) -> None:
        d, ok, result = outcome
        if d.called:
            # Cancelled or timed out after the reply was on its way.
            with self._lock:
                self.replies_dropped += 1
            return
        if ok:
            d.callback(result)
        else:
            d.errback(Failure(result))

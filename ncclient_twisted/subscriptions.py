"""Subscribed notifications (RFC 8639 over NETCONF, RFC 8640) and the notification router.

The :class:`NotificationRouter` is the session's listener for ``<notification>``s (in
place of ncclient's ``NotificationHandler``): on the session
thread it parses each one once into our ``Notification`` and hands bursts of them to the
reactor (one ``callFromThread`` a burst). On the reactor it keeps the last event time
and routes each notification:

- one that names a subscription (an RFC 8639 state change or an RFC 8641 push update
  carries ``<id>``) goes to that :class:`Subscription`; if no subscription of that id is
  known yet but an ``establish-subscription`` is in flight, it is held until the reply
  has been handled (replies and notifications reach the reactor by separate paths);
- an event record (RFC 8639 event records carry no id) goes to the session's only
  dynamic subscription when there is exactly one and no RFC 5277 subscription;
- everything else goes to the session's queue (``take_notification``,
  ``notifications()``, ``add_notification_callback``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union, cast

from lxml import etree
from ncclient.operations.errors import OperationError
from ncclient.operations.rpc import RPC, RPCReply
from ncclient.transport.notify import Notification as NCNotification
from ncclient.transport.session import SessionListener
from ncclient.xml_ import new_ele_ns, sub_ele_ns, to_ele
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.bridge.handoff import Handoff
from ncclient_twisted.notifications import (
    NOTIFICATION_NS,
    SN_NS,
    CallbackHandle,
    LastEventTime,
    Notification,
    NotificationIterator,
    NotificationQueue,
)

if TYPE_CHECKING:  # pragma: no cover
    from ncclient_twisted._manager import Manager

__all__ = [
    "Subscription",
    "NotificationRouter",
    "SubscriptionTerminatedError",
    "InterleaveError",
    "EstablishSubscription",
    "ModifySubscription",
    "DeleteSubscription",
    "KillSubscription",
]

log = Logger(namespace=__name__)

#: How many notifications naming a not-yet-known subscription are held, at most.
MAX_HELD = 10000

Filter = Union[None, str, Any, Tuple[str, Any]]

_NOTIFICATION_TAG = "{%s}notification" % NOTIFICATION_NS


class SubscriptionTerminatedError(OperationError):
    """The subscription has ended (terminated by the server, killed, deleted or completed)."""

    def __init__(self, subscription_id: int, reason: str) -> None:
        super().__init__("subscription %d ended: %s" % (subscription_id, reason))
        self.subscription_id = subscription_id
        self.reason = reason


class InterleaveError(OperationError):
    """An RPC on a session whose RFC 5277 subscription blocks it (no ``:interleave``)."""


# -- the RPCs (RFC 8639 section 2.4) --------------------------------------------------------


def _append_filter(node: Any, filter: Filter, namespaces: Optional[Dict[str, str]]) -> None:
    if filter is None:
        return
    kind, value = filter if isinstance(filter, tuple) else ("subtree", filter)
    if kind == "xpath":
        xpath = etree.SubElement(node, "{%s}stream-xpath-filter" % SN_NS, nsmap=namespaces or None)
        xpath.text = str(value)
    elif kind == "subtree":
        subtree = sub_ele_ns(node, "stream-subtree-filter", SN_NS)
        subtree.append(to_ele(value) if isinstance(value, (str, bytes)) else value)
    elif kind == "name":
        sub_ele_ns(node, "stream-filter-name", SN_NS).text = str(value)
    else:
        raise ValueError("filter kind must be 'subtree', 'xpath' or 'name', not %r" % (kind,))


class EstablishSubscriptionReply(RPCReply):
    """The reply to ``establish-subscription``: :attr:`subscription_id`, parsed on the session thread."""

    subscription_id: Optional[int] = None
    replay_start_time_revision: Optional[str] = None

    def _parsing_hook(self, root: Any) -> None:
        ident = root.find("{%s}id" % SN_NS)
        if ident is not None and (ident.text or "").strip().isdigit():
            self.subscription_id = int(str(ident.text).strip())
        revision = root.find("{%s}replay-start-time-revision" % SN_NS)
        if revision is not None:
            self.replay_start_time_revision = (revision.text or "").strip() or None


class EstablishSubscription(RPC):
    """``establish-subscription`` (RFC 8639) of an event stream."""

    REPLY_CLS = EstablishSubscriptionReply

    def request(
        self,
        stream: str = "NETCONF",
        filter: Filter = None,
        replay_start_time: Optional[str] = None,
        stop_time: Optional[str] = None,
        encoding: Optional[str] = None,
        namespaces: Optional[Dict[str, str]] = None,
    ) -> Any:
        node = new_ele_ns("establish-subscription", SN_NS)
        sub_ele_ns(node, "stream", SN_NS).text = stream
        _append_filter(node, filter, namespaces)
        if replay_start_time is not None:
            sub_ele_ns(node, "replay-start-time", SN_NS).text = replay_start_time
        if stop_time is not None:
            sub_ele_ns(node, "stop-time", SN_NS).text = stop_time
        if encoding is not None:
            sub_ele_ns(node, "encoding", SN_NS).text = encoding
        return self._request(node)


class ModifySubscription(RPC):
    """``modify-subscription`` (RFC 8639): a new filter and/or stop time."""

    def request(
        self,
        subscription_id: int,
        filter: Filter = None,
        stop_time: Optional[str] = None,
        namespaces: Optional[Dict[str, str]] = None,
    ) -> Any:
        node = new_ele_ns("modify-subscription", SN_NS)
        sub_ele_ns(node, "id", SN_NS).text = str(subscription_id)
        _append_filter(node, filter, namespaces)
        if stop_time is not None:
            sub_ele_ns(node, "stop-time", SN_NS).text = stop_time
        return self._request(node)


class _ById(RPC):
    NAME = ""

    def request(self, subscription_id: int) -> Any:
        node = new_ele_ns(self.NAME, SN_NS)
        sub_ele_ns(node, "id", SN_NS).text = str(subscription_id)
        return self._request(node)


class DeleteSubscription(_ById):
    """``delete-subscription`` (RFC 8639) of one of this session's subscriptions."""

    NAME = "delete-subscription"


class KillSubscription(_ById):
    """``kill-subscription`` (RFC 8639) of any session's subscription."""

    NAME = "kill-subscription"


# -- the subscription object ------------------------------------------------------------------


class Subscription:
    """A dynamic subscription (RFC 8639) on one session.

    Read its notifications with :meth:`take_notification`, ``async for n in sub``, or
    :meth:`add_callback`; :meth:`modify` changes its filter or stop time and
    :meth:`cancel` deletes it. :attr:`state` is ``"active"``, ``"suspended"`` (after
    ``subscription-suspended``, until ``subscription-resumed``) or ``"ended"``.
    """

    def __init__(
        self,
        manager: "Manager",
        subscription_id: int,
        stream: str,
        queue: NotificationQueue,
        forget: Callable[[int], None] = lambda subscription_id: None,
    ) -> None:
        self._manager = manager
        #: Tells the router (which made it) that it has ended.
        self._forget = forget
        self.id = subscription_id
        self.stream = stream
        self._queue = queue
        self.state = "active"
        #: Why it ended (``subscription-terminated``'s reason, ``"deleted"``...), or None.
        self.reason: Optional[str] = None
        self.replay_start_time_revision: Optional[str] = None
        self._ended_waiters: List["Deferred[Optional[str]]"] = []

    def __repr__(self) -> str:
        return "<Subscription id=%d stream=%r %s>" % (self.id, self.stream, self.state)

    # reading
    def take_notification(self, block: bool = True, timeout: Optional[float] = None) -> "Deferred[Any]":
        """A Deferred of the next notification (``None`` on *timeout* or not *block*)."""
        return self._queue.take(block, timeout)

    def notifications(self, until_complete: bool = True) -> NotificationIterator:
        """An async iterator; it ends when the subscription ends."""
        return self._queue.iterate(until_complete)

    def __aiter__(self) -> NotificationIterator:
        return self._queue.iterate(True)

    def add_callback(self, fn: Callable[[Notification], Any]) -> CallbackHandle:
        """Call ``fn(notification)`` on the reactor thread for each of this subscription's."""
        return self._queue.add_callback(fn)

    @property
    def dropped(self) -> int:
        """Notifications dropped because this subscription's buffer was full."""
        return self._queue.dropped

    @property
    def last_event_time(self) -> Optional[str]:
        return self._queue.last_event_time

    # control
    def modify(
        self,
        filter: Filter = None,
        stop_time: Optional[str] = None,
        namespaces: Optional[Dict[str, str]] = None,
    ) -> "Deferred[Any]":
        """``modify-subscription``: a Deferred of the reply."""
        return self._manager.modify_subscription(
            self.id, filter=filter, stop_time=stop_time, namespaces=namespaces
        )

    def cancel(self) -> "Deferred[Any]":
        """``delete-subscription``; on success the subscription ends with reason ``deleted``."""
        return self._manager.delete_subscription(self.id)

    def when_ended(self) -> "Deferred[Optional[str]]":
        """Fires with :attr:`reason` once the subscription has ended."""
        d: "Deferred[Optional[str]]" = Deferred()
        if self.state == "ended":
            d.callback(self.reason)
        else:
            self._ended_waiters.append(d)
        return d

    # the router's side
    def _deliver(self, n: Notification) -> None:
        change = n.state_change
        if change in ("subscription-terminated", "subscription-completed"):
            found = n.event.find("{%s}reason" % SN_NS)
            reason = (found.text or "").strip() if found is not None else ""
            # Ended before the notification is handed on: a reader sees the final state.
            self.state, self.reason = "ended", self.reason or reason or change
            self._forget(self.id)
            self._queue.deliver(n)
            self._end(self.reason)
            return
        if change == "subscription-suspended":
            self.state = "suspended"
        elif change in ("subscription-resumed", "subscription-modified") and self.state != "ended":
            self.state = "active"
        self._queue.deliver(n)

    def _end(self, reason: str, failure: Optional[Failure] = None, quiet: Optional[bool] = None) -> None:
        # Quiet (no error for ``async for``) unless a failure not asked for ended it.
        if self._queue.ended is not None:
            return
        self.state = "ended"
        self.reason = self.reason or reason
        self._queue.end(
            failure or Failure(SubscriptionTerminatedError(self.id, self.reason)),
            quiet=failure is None if quiet is None else quiet,
        )
        self._forget(self.id)
        waiters, self._ended_waiters = self._ended_waiters, []
        for d in waiters:
            d.callback(self.reason)


# -- the router --------------------------------------------------------------------------------


class NotificationRouter(SessionListener):
    """The session's notification listener and queue; routes each one on the reactor."""

    #: Its callback never blocks: the session dispatches to it under the gate
    #: (:mod:`ncclient_twisted.bridge.gate`).
    gated = True

    def __init__(
        self,
        reactor: INetconfReactor,
        session_queue: NotificationQueue,
        buffer_size: int,
        handoff: Optional[Handoff] = None,
    ) -> None:
        self._reactor = reactor
        self.session_queue = session_queue
        self.buffer_size = buffer_size
        #: Shared with the session's reply listener: one ordered path to the reactor.
        self.handoff = handoff if handoff is not None else Handoff(reactor)
        self.subscriptions: Dict[int, Subscription] = {}
        self.establishing = 0
        self.rfc5277_subscribed = False
        self._held: Dict[int, List[Notification]] = {}
        self._held_count = 0
        self._last_event = LastEventTime()
        #: Notifications routed to the session's streams and subscriptions (stats).
        self.delivered = 0

    @property
    def last_event_time(self) -> Optional[str]:
        """``eventTime`` of the last event received on the session (any subscription)."""
        return self._last_event.value

    # session thread
    def callback(self, root: Tuple[str, Dict[str, str]], raw: str) -> None:
        """A message arrived (the session's listener): parse a ``<notification>`` once."""
        if root[0] == _NOTIFICATION_TAG:
            self.handoff.call(self._route, Notification.from_xml(raw))

    def errback(self, ex: Exception) -> None:
        pass  # the session's end reaches the queues through the manager

    def put(self, n: NCNotification) -> None:
        """Take a notification ncclient parsed (what its ``NotificationHandler`` puts on its queue)."""
        self.handoff.call(self._route, Notification.adopt(n))

    # reactor thread
    def _route(self, n: Notification) -> None:
        self.delivered += 1
        self._last_event.saw(n)
        if not (self.subscriptions or self.establishing):
            self.session_queue.deliver(n)
            return
        ident = n.subscription_id
        if ident is not None:
            sub = self.subscriptions.get(ident)
            if sub is not None:
                sub._deliver(n)
                return
            if self.establishing and self._held_count < MAX_HELD:
                self._held.setdefault(ident, []).append(n)
                self._held_count += 1
                return
        elif len(self.subscriptions) == 1 and not self.rfc5277_subscribed and not n.is_control:
            next(iter(self.subscriptions.values()))._deliver(n)
            return
        self.session_queue.deliver(n)

    def register(self, manager: "Manager", subscription_id: int, stream: str) -> Subscription:
        queue = NotificationQueue(self._reactor, self.buffer_size, name="subscription %d" % subscription_id)
        sub = Subscription(manager, subscription_id, stream, queue, self.forget)
        self.subscriptions[subscription_id] = sub
        held = self._held.pop(subscription_id, [])
        self._held_count -= len(held)
        for n in held:
            sub._deliver(n)
        return sub

    def establish_done(self) -> None:
        self.establishing -= 1
        if not self.establishing and self._held:
            held, self._held = self._held, {}
            self._held_count = 0
            for items in held.values():
                for n in items:
                    self.session_queue.deliver(n)

    def forget(self, subscription_id: int) -> None:
        self.subscriptions.pop(subscription_id, None)

    def deleted(self, subscription_id: int) -> None:
        """``delete-subscription`` of *subscription_id* succeeded: it ends (``deleted``)."""
        sub = self.subscriptions.get(subscription_id)
        if sub is not None:
            sub._end("deleted")

    def end(self, reason: Failure, quiet: bool = False) -> None:
        """The session ended: every subscription and the session's queue end with *reason*
        (*quiet*: we closed it; see :meth:`NotificationQueue.end`)."""
        for sub in list(self.subscriptions.values()):
            sub._end("session ended", reason, quiet)
        self.session_queue.end(reason, quiet)


# -- the operations ----------------------------------------------------------------------------


class SubscriptionOperations:
    """The RFC 8639 / RFC 8640 operations of :class:`~ncclient_twisted.manager.Manager`,
    made with its public :meth:`execute` and :attr:`notification_router`."""

    @property
    def notification_router(self) -> NotificationRouter:
        raise NotImplementedError  # the Manager's

    def execute(self, cls: Any, *args: Any, raise_mode: Optional[int] = None, **kwds: Any) -> "Deferred[Any]":
        raise NotImplementedError  # the Manager's

    def establish_subscription(
        self,
        stream: str = "NETCONF",
        filter: Filter = None,
        replay_start_time: Optional[str] = None,
        stop_time: Optional[str] = None,
        encoding: Optional[str] = None,
        namespaces: Optional[Dict[str, str]] = None,
    ) -> "Deferred[Subscription]":
        """``establish-subscription``: a Deferred of a :class:`Subscription`.

        *filter* is a subtree (an element or its XML text), ``("subtree", x)``,
        ``("xpath", expression)`` (prefixes from *namespaces*) or ``("name", filter_name)``.
        Several subscriptions can share the session; each gets the notifications that
        name it (state changes, push updates) and, when it is the session's only one,
        the event records.
        """
        router = self.notification_router
        router.establishing += 1
        d = self.execute(
            EstablishSubscription,
            stream=stream,
            filter=filter,
            replay_start_time=replay_start_time,
            stop_time=stop_time,
            encoding=encoding,
            namespaces=namespaces,
        )

        def established(reply: Any) -> Subscription:
            ident = getattr(reply, "subscription_id", None)
            if ident is None:
                raise OperationError("establish-subscription reply has no subscription id")
            sub = router.register(cast("Manager", self), ident, stream)
            sub.replay_start_time_revision = getattr(reply, "replay_start_time_revision", None)
            return sub

        def done(result: Any) -> Any:
            router.establish_done()
            return result

        return d.addCallback(established).addBoth(done)

    def modify_subscription(
        self,
        subscription_id: int,
        filter: Filter = None,
        stop_time: Optional[str] = None,
        namespaces: Optional[Dict[str, str]] = None,
    ) -> "Deferred[Any]":
        """``modify-subscription`` of one of this session's subscriptions."""
        return self.execute(
            ModifySubscription, subscription_id, filter=filter, stop_time=stop_time, namespaces=namespaces
        )

    def delete_subscription(self, subscription_id: int) -> "Deferred[Any]":
        """``delete-subscription``; on success its :class:`Subscription` ends (reason ``deleted``)."""

        def deleted(reply: Any) -> Any:
            self.notification_router.deleted(subscription_id)
            return reply

        return self.execute(DeleteSubscription, subscription_id).addCallback(deleted)

    def kill_subscription(self, subscription_id: int) -> "Deferred[Any]":
        """``kill-subscription`` of any session's subscription (an administrator's operation)."""
        return self.execute(KillSubscription, subscription_id)

    @property
    def subscriptions(self) -> Dict[int, Subscription]:
        """This session's active dynamic subscriptions, by id."""
        return dict(self.notification_router.subscriptions)

"""Notifications on the reactor thread: one queue type behind every way of reading them.

ncclient's ``Session._post_connect`` registers a ``NotificationHandler`` that parses each
``<notification>`` into a :class:`ncclient.transport.notify.Notification` and ``put``s it
on ``session._notification_q``. Our sessions put the manager's router
(:mod:`ncclient_twisted.subscriptions`) in its place: on the session thread it parses
each one once, into our :class:`Notification`, and hands bursts of them to the reactor;
there each reaches one :class:`NotificationQueue` (the session's, or a subscription's),
which gives it to the registered callbacks, else to a waiting
:meth:`~NotificationQueue.take`, else buffers it (bounded: the oldest is dropped,
counted and logged once per burst).
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, List, Optional

from ncclient.transport.notify import Notification as NCNotification
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from ncclient_twisted._compat import share_notification

if TYPE_CHECKING:  # the router imports this module
    from ncclient_twisted.subscriptions import NotificationRouter

__all__ = [
    "Notification",
    "NotificationQueue",
    "NotificationAccess",
    "CallbackHandle",
    "DEFAULT_NOTIFICATION_BUFFER",
    "NOTIFICATION_NS",
    "NETMOD_NOTIFICATION_NS",
    "SN_NS",
    "YANG_PUSH_NS",
]

log = Logger(namespace=__name__)

DEFAULT_NOTIFICATION_BUFFER = 10000

NOTIFICATION_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
#: RFC 5277's ``replayComplete`` and ``notificationComplete``.
NETMOD_NOTIFICATION_NS = "urn:ietf:params:xml:ns:netmod:notification"
#: RFC 8639 (subscribed notifications).
SN_NS = "urn:ietf:params:xml:ns:yang:ietf-subscribed-notifications"
#: RFC 8641 (YANG push): ``push-update`` and ``push-change-update`` carry an ``<id>``.
YANG_PUSH_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-push"

_EVENT_TIME = "{%s}eventTime" % NOTIFICATION_NS
_REPLAY_COMPLETE = frozenset(
    ["{%s}replayComplete" % NETMOD_NOTIFICATION_NS, "{%s}replay-completed" % SN_NS]
)
_COMPLETE = frozenset(
    ["{%s}notificationComplete" % NETMOD_NOTIFICATION_NS, "{%s}subscription-completed" % SN_NS]
)
_SN_PREFIX = "{%s}" % SN_NS
_CONTROL_PREFIXES = (_SN_PREFIX, "{%s}" % NETMOD_NOTIFICATION_NS)
_ID_PARENTS = (_SN_PREFIX, "{%s}" % YANG_PUSH_NS)


class Notification(NCNotification):
    """ncclient's ``Notification``, with what a service asks of each one.

    ``notification_ele`` / ``notification_xml`` are ncclient's. The element was parsed
    on the session thread; the event time and the event are found in it the first time
    one of them is asked for.
    """

    #: ``time.perf_counter()`` on the session thread when the message was dispatched.
    received: float = 0.0
    _read: bool = False
    _event_time: Optional[str] = None
    _event: Any = None
    _tag: str = ""
    #: None until known: from the text (no control namespace in it) or from the children.
    _control: Optional[bool] = None

    @classmethod
    def from_xml(cls, raw: str) -> "Notification":
        """Parse *raw* (a ``<notification>`` message) as ncclient's ``Notification`` does."""
        ours = cls(raw)  # ncclient's __init__: the text and its element
        if not ours._may_be_control():
            ours._control = False  # known here, on the session thread: not on the reactor
        ours.received = time.perf_counter()
        return ours

    @classmethod
    def adopt(cls, n: NCNotification) -> "Notification":
        """Ours, sharing *n*'s text and parsed element (no second parse)."""
        if isinstance(n, cls):
            return n
        ours: Notification = cls.__new__(cls)
        share_notification(ours, n.notification_xml, n.notification_ele)
        ours.received = time.perf_counter()
        return ours

    def _read_children(self) -> None:
        """Find ``<eventTime>`` and the event among the root's children (once)."""
        self._control = False
        for child in self.notification_ele:
            tag = child.tag
            if tag == _EVENT_TIME:
                self._event_time = child.text.strip() if child.text else None
            elif isinstance(tag, str) and self._event is None:
                self._event = child
                self._tag = tag
                self._control = tag.startswith(_CONTROL_PREFIXES)
        self._read = True

    def _may_be_control(self) -> bool:
        """False when the text shows the event cannot be a control notification (its
        namespaces do not occur in it), without looking at the element."""
        raw = self.notification_xml
        return not isinstance(raw, str) or "&" in raw or SN_NS in raw or NETMOD_NOTIFICATION_NS in raw

    @property
    def event_time(self) -> Optional[str]:
        """The ``<eventTime>`` text (RFC 3339), as the server sent it."""
        if not self._read:
            self._read_children()
        return self._event_time

    @property
    def event(self) -> Any:
        """The event's element: the first child that is not ``<eventTime>``."""
        if not self._read:
            self._read_children()
        return self._event

    @property
    def event_tag(self) -> Optional[str]:
        """The event's qualified tag, e.g. ``{urn:...:ietf-netconf-notifications}netconf-config-change``."""
        if not self._read:
            self._read_children()
        return self._tag or None

    @property
    def is_replay_complete(self) -> bool:
        """RFC 5277 ``replayComplete`` or RFC 8639 ``replay-completed``."""
        return self.is_control and self._tag in _REPLAY_COMPLETE

    @property
    def is_notification_complete(self) -> bool:
        """RFC 5277 ``notificationComplete`` or RFC 8639 ``subscription-completed``."""
        return self.is_control and self._tag in _COMPLETE

    @property
    def is_control(self) -> bool:
        """A notification about the subscription (replay/complete/state change), not an event."""
        control = self._control
        if control is None:
            if self._may_be_control():
                self._read_children()
            else:
                self._control = False
            control = bool(self._control)
        return control

    @property
    def state_change(self) -> Optional[str]:
        """The RFC 8639 state change this is (``subscription-terminated``, ...), or None."""
        if not self.is_control:
            return None
        tag = self._tag
        return tag[len(_SN_PREFIX) :] if tag.startswith(_SN_PREFIX) else None

    @property
    def subscription_id(self) -> Optional[int]:
        """The ``<id>`` of an RFC 8639 state change or an RFC 8641 push update, or None."""
        event = self.event
        if event is None or not str(event.tag).startswith(_ID_PARENTS):
            return None
        ns = str(event.tag)[1 : str(event.tag).index("}")]
        ident = event.find("{%s}id" % ns)
        if ident is None or not (ident.text or "").strip().isdigit():
            return None
        return int(str(ident.text).strip())

    def __repr__(self) -> str:
        return "<Notification %s at %s>" % (self.event_tag, self.event_time)


class LastEventTime:
    """The ``eventTime`` of the latest event (not a control notification) seen.

    Read when asked for: a burst of notifications costs one look, at the last one.
    A notification without ``eventTime`` (RFC 5277 makes it mandatory) leaves the
    previous time if that was read before it arrived.
    """

    __slots__ = ("_latest", "_value")

    def __init__(self) -> None:
        self._latest: Optional[Notification] = None
        self._value: Optional[str] = None

    def saw(self, n: Notification) -> None:
        if not n.is_control:
            self._latest = n

    @property
    def value(self) -> Optional[str]:
        n = self._latest
        if n is not None:
            self._latest = None
            # From the text, which nothing can change, unless the element has been read
            # already (its event time is then kept as a string): the element is the
            # application's, which may have changed or moved it meanwhile.
            event_time = n._event_time if n._read else Notification.from_xml(n.notification_xml).event_time
            if event_time:
                self._value = event_time
        return self._value


class CallbackHandle:
    """What ``add_callback`` returns: :meth:`remove` unregisters the callback."""

    def __init__(
        self, callbacks: List[Callable[[Notification], Any]], fn: Callable[[Notification], Any]
    ) -> None:
        self._callbacks = callbacks
        self._fn = fn

    def remove(self) -> None:
        """Stop calling the callback (calling it twice is harmless)."""
        if self._fn in self._callbacks:
            self._callbacks.remove(self._fn)

    @property
    def active(self) -> bool:
        return self._fn in self._callbacks


class NotificationQueue:
    """Notifications of one stream (a session's, or a subscription's), on the reactor.

    While callbacks are registered they receive every notification and nothing is
    queued; otherwise a waiting :meth:`take` gets it, else it is buffered, at most
    *maxlen*, dropping the oldest (counted in :attr:`dropped`).
    """

    def __init__(
        self, reactor: IReactorTime, maxlen: int = DEFAULT_NOTIFICATION_BUFFER, name: str = "session"
    ) -> None:
        if maxlen < 1:
            raise ValueError("the notification buffer must hold at least one notification")
        self._reactor = reactor
        self._name = name
        self._items: Deque[Notification] = collections.deque()
        self._maxlen = maxlen
        self._waiters: List["Deferred[Any]"] = []
        self._callbacks: List[Callable[[Notification], Any]] = []
        self._ended: Optional[Failure] = None
        self._quiet_end = False
        self._dropping = False
        self.dropped = 0
        self._last_event = LastEventTime()

    # -- in -----------------------------------------------------------------------

    @property
    def last_event_time(self) -> Optional[str]:
        """``eventTime`` of the last event (not control notification) delivered here."""
        return self._last_event.value

    def deliver(self, n: Notification) -> None:
        self._last_event.saw(n)
        if self._callbacks:
            for fn in tuple(self._callbacks):
                try:
                    fn(n)
                except Exception:
                    log.failure(
                        "notification callback {callback!r} failed",
                        level=LogLevel.error, callback=fn,
                    )
            return
        if self._waiters:
            self._waiters.pop(0).callback(n)
            return
        if len(self._items) >= self._maxlen:
            self._items.popleft()
            self.dropped += 1
            if not self._dropping:
                self._dropping = True
                log.warn(
                    "{name} notification buffer full ({maxlen}): dropping the oldest"
                    " ({dropped} dropped so far)",
                    name=self._name, maxlen=self._maxlen, dropped=self.dropped,
                )
        elif self._dropping and len(self._items) < self._maxlen - 1:
            self._dropping = False
        self._items.append(n)

    def end(self, reason: Failure, quiet: bool = False) -> None:
        """No more notifications: waiters fail with *reason*; buffered ones stay readable.

        *quiet*: the end was asked for (``close_session``, ``delete-subscription``, or
        announced by a notification), so an ``async for`` ends without raising *reason*.
        """
        if self._ended is not None:
            return
        self._ended = reason
        self._quiet_end = quiet
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.errback(reason)

    @property
    def ended(self) -> Optional[Failure]:
        return self._ended

    @property
    def ended_quietly(self) -> bool:
        """Whether the stream has ended and the end was asked for (see :meth:`end`)."""
        return self._ended is not None and self._quiet_end

    # -- out ----------------------------------------------------------------------

    def add_callback(self, fn: Callable[[Notification], Any]) -> CallbackHandle:
        """Call ``fn(notification)`` on the reactor thread for each one that arrives."""
        self._callbacks.append(fn)
        return CallbackHandle(self._callbacks, fn)

    def take(self, block: bool = True, timeout: Optional[float] = None) -> "Deferred[Any]":
        """The next notification; ``None`` if there is none (not *block*) or on *timeout*.

        Fails with the reason the stream ended once it has ended and is empty.
        """
        if self._items:
            n = self._items.popleft()
            if self._dropping and len(self._items) < self._maxlen - 1:
                self._dropping = False
            return succeed(n)
        if self._ended is not None:
            return fail(self._ended) if block else succeed(None)
        if not block:
            return succeed(None)
        d: "Deferred[Any]" = Deferred(self._waiters.remove)
        self._waiters.append(d)
        if timeout is not None:
            call = self._reactor.callLater(timeout, self._expire, d)

            def stop_timer(result: Any) -> Any:
                if call.active():
                    call.cancel()
                return result

            d.addBoth(stop_timer)
        return d

    def _expire(self, d: "Deferred[Any]") -> None:
        if d in self._waiters:
            self._waiters.remove(d)
            d.callback(None)

    def iterate(self, until_complete: bool = True) -> "NotificationIterator":
        """An async iterator over the notifications (see :class:`NotificationIterator`)."""
        return NotificationIterator(self, until_complete)

    def __len__(self) -> int:
        return len(self._items)


class NotificationIterator:
    """``async for n in ...``: each step takes the next notification.

    It ends when the stream has ended (after what was buffered), and, with
    *until_complete*, right after yielding a ``notificationComplete`` /
    ``subscription-completed`` / ``subscription-terminated``. When the end was not
    asked for (the server closed the session, keepalives went unanswered, ...), the
    step after the last buffered notification raises what ended it
    (``SessionCloseError``, ``KeepaliveTimeoutError``...), once.
    """

    def __init__(self, queue: NotificationQueue, until_complete: bool) -> None:
        self._queue = queue
        self._until_complete = until_complete
        self._done = False

    def __aiter__(self) -> "NotificationIterator":
        return self

    async def __anext__(self) -> Notification:
        if self._done:
            raise StopAsyncIteration
        ended = self._queue.ended
        if ended is not None and not len(self._queue):
            self._done = True
            if self._queue.ended_quietly:
                raise StopAsyncIteration
            ended.raiseException()
        try:
            n: Notification = await self._queue.take()
        except Exception:
            self._done = True
            if self._queue.ended_quietly:
                raise StopAsyncIteration from None
            raise
        if self._until_complete and (
            n.is_notification_complete or n.state_change == "subscription-terminated"
        ):
            self._done = True
        return n


class NotificationAccess:
    """The notification methods of a ``Manager``: its session's queue and router."""

    _router: "NotificationRouter"

    def take_notification(
        self, block: bool = True, timeout: Optional[float] = None
    ) -> "Deferred[Optional[Notification]]":
        """A Deferred of the next ``Notification`` (``None`` on *timeout* or not *block*).

        Once the session has ended and nothing is buffered, it fails with the reason.
        """
        return self._router.session_queue.take(block, timeout)

    def notifications(self, until_complete: bool = True) -> NotificationIterator:
        """``async for n in m.notifications():`` the session's notifications.

        The loop ends when the session ends (after the buffered ones) and, with
        *until_complete*, after a ``notificationComplete``.
        """
        return self._router.session_queue.iterate(until_complete)

    def add_notification_callback(self, fn: Callable[[Notification], Any]) -> CallbackHandle:
        """Call ``fn(notification)`` on the reactor thread for each notification.

        While a callback is registered the session's notifications go to the callbacks
        and are not buffered for :meth:`take_notification`. ``handle.remove()`` stops it.
        """
        return self._router.session_queue.add_callback(fn)

    @property
    def notifications_dropped(self) -> int:
        """Notifications dropped because a buffer was full (oldest first), all streams."""
        return self._router.session_queue.dropped + sum(
            sub.dropped for sub in self._router.subscriptions.values()
        )

    @property
    def last_event_time(self) -> Optional[str]:
        """The ``eventTime`` of the last event received (to replay from after a reconnect)."""
        return self._router.last_event_time

    @property
    def notification_router(self) -> NotificationRouter:
        """The session's notification router (its streams and subscriptions)."""
        return self._router

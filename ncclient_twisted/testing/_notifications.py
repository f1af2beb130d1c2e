"""
Event notifications (RFC 5277): the NETCONF stream, its replay log, and
per-session subscriptions; plus builders for the RFC 6470 events the server
emits itself (``netconf-config-change``, ``netconf-confirmed-commit``).
"""

from __future__ import annotations

import re
from collections import deque
from datetime import datetime, timezone
from typing import Callable, Deque, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple, Union

from lxml import etree
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from ._errors import NetconfError
from ._subscribed import DynamicSubscriptions
from ._subtree import compile_xpath, notification_matcher
from ._xml import (
    NC_NOTIFICATIONS_NS,
    NETMOD_NOTIFICATION_NS,
    NOTIFICATION_NS,
    XmlInput,
    children,
    escape_text,
    localname,
    qn,
    serialize,
    to_element,
)

STREAM = "NETCONF"

#: What ``publish(event_time=...)`` accepts: epoch seconds, a datetime, or RFC 3339 text.
EventTime = Union[float, int, datetime, str, None]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def format_time(seconds: float) -> str:
    """Format epoch *seconds* as RFC 3339 UTC with microseconds, e.g. ``2024-05-01T12:00:00.000000Z``."""
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % moment.microsecond


def parse_time(text: str) -> float:
    """Parse an RFC 3339 date-time into epoch seconds; raises ValueError."""
    match = _RFC3339.match(text.strip())
    if match is None:
        raise ValueError("not an RFC 3339 date-time: %r" % (text,))
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7)
    offset = match.group(8)
    moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    value = moment.timestamp()
    if fraction:
        value += float(fraction)
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        value -= sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    return value


def to_seconds(value: EventTime, clock: IReactorTime) -> float:
    """Normalise an :data:`EventTime` (None means now)."""
    if value is None:
        return clock.seconds()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, str):
        return parse_time(value)
    return float(value)


class Event:
    """One notification: its time, its serialised ``<notification>`` and its element."""

    __slots__ = ("time", "xml", "_element")

    def __init__(self, time: float, content: Sequence[etree._Element]) -> None:
        self.time = time
        stamp = format_time(time)
        body = b"".join(serialize(c) for c in content)
        self.xml: bytes = (
            b'<notification xmlns="' + NOTIFICATION_NS.encode() + b'"><eventTime>'
            + stamp.encode()
            + b"</eventTime>"
            + body
            + b"</notification>"
        )
        self._element: Optional[etree._Element] = None

    @property
    def element(self) -> etree._Element:
        """The ``<notification>`` element (parsed on first use, for filtering)."""
        if self._element is None:
            self._element = etree.fromstring(self.xml)
        return self._element

    def wanted_by(self, matches: Optional[Callable[[etree._Element], bool]], stop: Optional[float]) -> bool:
        """Whether a subscription with filter *matches* and stop time *stop* takes this event."""
        if stop is not None and self.time > stop:
            return False
        if matches is None:
            return True  # unfiltered: the element is never parsed
        try:
            return matches(self.element)
        except NetconfError:
            return False


class Subscriber(Protocol):
    """What the hub needs from a session."""

    session_id: int

    def send_notification(self, xml: bytes) -> None:
        ...

    def send_notifications(self, xmls: Sequence[bytes]) -> None:
        ...


#: How a publish hands one serialised notification to one subscriber.
Send = Callable[[Subscriber, bytes], None]


def _send_now(session: Subscriber, xml: bytes) -> None:
    session.send_notification(xml)


class Subscription:
    """An active ``create-subscription`` on one session."""

    def __init__(
        self,
        session: Subscriber,
        filter_element: Optional[etree._Element],
        start: Optional[float],
        stop: Optional[float],
    ) -> None:
        self.session = session
        self.filter = filter_element
        self.start = start
        self.stop = stop
        self.active = False
        self.timer: Optional[IDelayedCall] = None
        self._matches = notification_matcher(filter_element) if filter_element is not None else None

    def wants(self, event: Event) -> bool:
        return event.wanted_by(self._matches, self.stop)


def _event_content(xml: XmlInput) -> Tuple[Optional[str], Sequence[etree._Element]]:
    element = to_element(xml)
    if element.tag == qn(NOTIFICATION_NS, "notification"):
        stamp: Optional[str] = None
        content = []
        for child in children(element):
            if child.tag == qn(NOTIFICATION_NS, "eventTime"):
                stamp = (child.text or "").strip()
            else:
                content.append(child)
        return stamp, content
    return None, [element]


class NotificationHub:
    """The NETCONF event stream: replay log plus subscriptions."""

    def __init__(self, clock: IReactorTime, log_size: int = 1000) -> None:
        self.clock = clock
        self.log: Deque[Event] = deque(maxlen=log_size)
        self.created = clock.seconds()
        self.subscriptions: Dict[int, Subscription] = {}
        #: RFC 8639 dynamic subscriptions (several per session).
        self.dynamic = DynamicSubscriptions(self)

    def now_text(self) -> str:
        return format_time(self.clock.seconds())

    def publish(self, xml: XmlInput, event_time: EventTime = None) -> Event:
        """Log an event and deliver it to every interested subscriber."""
        return self._publish(xml, event_time, _send_now)

    def publish_many(self, items: Iterable[XmlInput]) -> int:
        """Publish each of *items* (now); one write per subscriber for the lot."""
        batches: Dict[int, Tuple[Subscriber, List[bytes]]] = {}

        def collect(session: Subscriber, xml: bytes) -> None:
            batches.setdefault(id(session), (session, []))[1].append(xml)

        count = 0
        for item in items:
            self._publish(item, None, collect)
            count += 1
        for session, xmls in batches.values():
            session.send_notifications(xmls)
        return count

    def _publish(self, xml: XmlInput, event_time: EventTime, send: "Send") -> Event:
        stamp, content = _event_content(xml)
        if event_time is None and stamp:
            event_time = stamp
        event = Event(to_seconds(event_time, self.clock), content)
        self.log.append(event)
        for sub in list(self.subscriptions.values()):
            if sub.active and sub.wants(event):
                send(sub.session, event.xml)
        if self.dynamic.by_id:
            self.dynamic.publish(event, send)
        return event

    def subscribe(
        self,
        session: Subscriber,
        stream: Optional[str],
        filter_element: Optional[etree._Element],
        start_text: Optional[str],
        stop_text: Optional[str],
    ) -> Callable[[], None]:
        """
        Validate a ``create-subscription`` and register it (inactive).

        Returns the function to call once the ``<ok/>`` reply is sent: it
        replays the log and activates the subscription.
        """
        if session.session_id in self.subscriptions:
            raise NetconfError(
                "operation-failed",
                "a subscription is already active on this session",
                error_type="protocol",
            )
        if stream is not None and stream != STREAM:
            raise NetconfError(
                "invalid-value",
                "no such stream: %s" % stream,
                error_type="application",
                info=[("bad-element", "stream")],
            )
        now = self.clock.seconds()
        start = self.time_argument(start_text, "startTime")
        stop = self.time_argument(stop_text, "stopTime")
        if stop is not None and start is None:
            raise NetconfError(
                "missing-element",
                "stopTime requires startTime",
                error_type="protocol",
                info=[("bad-element", "startTime")],
            )
        if start is not None and start > now:
            raise NetconfError(
                "bad-element",
                "startTime is in the future",
                error_type="protocol",
                info=[("bad-element", "startTime")],
            )
        if start is not None and stop is not None and stop < start:
            raise NetconfError(
                "bad-element",
                "stopTime is earlier than startTime",
                error_type="protocol",
                info=[("bad-element", "stopTime")],
            )
        if filter_element is not None and filter_element.get("type", "subtree") not in ("subtree", "xpath"):
            raise NetconfError(
                "bad-attribute",
                "unsupported filter type",
                error_type="protocol",
                info=[("bad-attribute", "type"), ("bad-element", "filter")],
            )
        if filter_element is not None and filter_element.get("type") == "xpath":
            compile_xpath(  # a bad expression is refused now, not at the first event
                filter_element.get("select") or "",
                {p: u for p, u in filter_element.nsmap.items() if p is not None},
            )
        sub = Subscription(session, filter_element, start, stop)
        self.subscriptions[session.session_id] = sub
        return lambda: self._activate(sub)

    def time_argument(self, text: Optional[str], name: str) -> Optional[float]:
        """*text*, an RPC argument named *name*, as seconds (``bad-element`` if no date-time)."""
        if text is None:
            return None
        try:
            return parse_time(text)
        except ValueError:
            raise NetconfError(
                "bad-element",
                "%s is not an RFC 3339 date-time" % name,
                error_type="protocol",
                info=[("bad-element", name)],
            ) from None

    def _activate(self, sub: Subscription) -> None:
        if self.subscriptions.get(sub.session.session_id) is not sub:
            return  # session went away meanwhile
        if sub.start is not None:
            for event in list(self.log):
                if event.time >= sub.start and sub.wants(event):
                    sub.session.send_notification(event.xml)
            sub.session.send_notification(self._control("replayComplete"))
        if sub.stop is not None:
            delay = sub.stop - self.clock.seconds()
            if delay <= 0:
                self._complete(sub)
                return
            sub.timer = self.clock.callLater(delay, self._complete, sub)
        sub.active = True

    def _control(self, name: str) -> bytes:
        return (
            b'<notification xmlns="' + NOTIFICATION_NS.encode() + b'"><eventTime>'
            + format_time(self.clock.seconds()).encode()
            + b'</eventTime><' + name.encode() + b' xmlns="' + NETMOD_NOTIFICATION_NS.encode()
            + b'"/></notification>'
        )

    def _complete(self, sub: Subscription) -> None:
        sub.timer = None
        if self.subscriptions.get(sub.session.session_id) is sub:
            del self.subscriptions[sub.session.session_id]
            sub.session.send_notification(self._control("notificationComplete"))

    def unsubscribe(self, session_id: int) -> None:
        """Drop the subscriptions of a closed session."""
        self.dynamic.session_closed(session_id)
        sub = self.subscriptions.pop(session_id, None)
        if sub is not None and sub.timer is not None and sub.timer.active():
            sub.timer.cancel()

    def stop(self) -> None:
        """Cancel all timers (server shutdown)."""
        for session_id in list(self.subscriptions):
            self.unsubscribe(session_id)


class ChangedBy:
    """Who changed the configuration (RFC 6470 ``changed-by``); None fields mean the server."""

    def __init__(
        self,
        username: Optional[str] = None,
        session_id: Optional[int] = None,
        source_host: Optional[str] = None,
    ) -> None:
        self.username = username
        self.session_id = session_id
        self.source_host = source_host

    def xml(self) -> str:
        if self.session_id is None:
            return "<server/>"
        out = "<username>%s</username><session-id>%d</session-id>" % (
            escape_text(self.username or ""),
            self.session_id,
        )
        if self.source_host:
            out += "<source-host>%s</source-host>" % escape_text(self.source_host)
        return out


def config_change(
    changed_by: ChangedBy,
    datastore: str = "running",
    edits: Iterable[Tuple[etree._Element, str]] = (),
) -> etree._Element:
    """Build an RFC 6470 ``netconf-config-change`` event."""
    edit_xml = []
    for node, operation in edits:
        ns = node.tag[1 : node.tag.index("}")] if node.tag[:1] == "{" else None
        if ns:
            target = '<target xmlns:t="%s">/t:%s</target>' % (
                escape_text(ns).replace('"', "&quot;"), localname(node.tag)
            )
        else:
            target = "<target>/%s</target>" % localname(node.tag)
        edit_xml.append("<edit>%s<operation>%s</operation></edit>" % (target, escape_text(operation)))
    text = (
        '<netconf-config-change xmlns="%s"><changed-by>%s</changed-by>'
        '<datastore>%s</datastore>%s</netconf-config-change>'
    ) % (
        NC_NOTIFICATIONS_NS,
        changed_by.xml(),
        datastore,
        "".join(edit_xml),
    )
    return etree.fromstring(text)


def confirmed_commit_event(
    changed_by: ChangedBy, event: str, timeout: Optional[int] = None
) -> etree._Element:
    """Build an RFC 6470 ``netconf-confirmed-commit`` event."""
    who = ""
    if changed_by.session_id is not None:
        who = "<username>%s</username><session-id>%d</session-id>" % (
            escape_text(changed_by.username or ""),
            changed_by.session_id,
        )
        if changed_by.source_host:
            who += "<source-host>%s</source-host>" % escape_text(changed_by.source_host)
    extra = "<timeout>%d</timeout>" % timeout if timeout is not None else ""
    text = (
        '<netconf-confirmed-commit '
        'xmlns="%s">%s<confirm-event>%s</confirm-event>%s</netconf-confirmed-commit>'
    ) % (
        NC_NOTIFICATIONS_NS,
        who,
        event,
        extra,
    )
    return etree.fromstring(text)

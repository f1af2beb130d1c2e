"""
Dynamic subscriptions (RFC 8639 over NETCONF, RFC 8640) for the embedded server:
``establish-subscription``, ``modify-subscription``, ``delete-subscription``,
``kill-subscription`` on the NETCONF stream, several per session, with replay from
the hub's log, ``stop-time``, and the state-change notifications
(``replay-completed``, ``subscription-modified``, ``-suspended``, ``-resumed``,
``-terminated``, ``-completed``). Event records carry no subscription id (as in
RFC 8639); state changes do, and so does a published ``push-update`` /
``push-change-update`` (RFC 8641), which goes to the subscription its ``<id>`` names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, List, Optional

from lxml import etree
from twisted.internet.interfaces import IDelayedCall

from ._errors import NetconfError
from ._subtree import compile_xpath, notification_matcher
from ._xml import NOTIFICATION_NS, children, localname, text_of

if TYPE_CHECKING:  # pragma: no cover
    from ._notifications import Event, NotificationHub, Send, Subscriber

SN_NS = "urn:ietf:params:xml:ns:yang:ietf-subscribed-notifications"
YANG_PUSH_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-push"

_ID_PARENTS = ("{%s}" % YANG_PUSH_NS,)


def _error(tag: str, message: str, app_tag: Optional[str] = None) -> NetconfError:
    return NetconfError(tag, message, error_type="application", app_tag=app_tag)


class DynamicSubscription:
    """One ``establish-subscription`` of one session."""

    def __init__(self, ident: int, session: "Subscriber", stream: str) -> None:
        self.id = ident
        self.session = session
        self.stream = stream
        self.matches: Optional[Callable[[etree._Element], bool]] = None
        self.stop: Optional[float] = None
        self.suspended = False
        self.active = False
        self.timer: Optional[IDelayedCall] = None

    def wants(self, event: "Event") -> bool:
        if not self.active or self.suspended:
            return False
        return event.wanted_by(self.matches, self.stop)


class DynamicSubscriptions:
    """The server's dynamic subscriptions, by id."""

    def __init__(self, hub: "NotificationHub") -> None:
        self.hub = hub
        self.by_id: Dict[int, DynamicSubscription] = {}
        self._next_id = 1

    # -- operations ---------------------------------------------------------------

    def establish(self, session: "Subscriber", op: etree._Element) -> "tuple[bytes, Callable[[], None]]":
        stream = "NETCONF"
        replay_start: Optional[float] = None
        stop: Optional[float] = None
        matches = None
        for child in children(op):
            name = localname(child.tag)
            if name == "stream":
                stream = text_of(child)
            elif name in ("stream-xpath-filter", "stream-subtree-filter", "stream-filter-name"):
                matches = self._filter(child)
            elif name == "replay-start-time":
                replay_start = self.hub.time_argument(text_of(child), "replay-start-time")
            elif name == "stop-time":
                stop = self.hub.time_argument(text_of(child), "stop-time")
            elif name in ("encoding", "dscp", "weighting", "dependency"):
                if name == "encoding" and "xml" not in text_of(child):
                    raise _error(
                        "invalid-value",
                        "only XML encoding",
                        "ietf-subscribed-notifications:encoding-unsupported",
                    )
            else:
                raise NetconfError(
                    "unknown-element", "unexpected <%s>" % name, error_type="protocol", info=[
                        ("bad-element", name)
                    ]
                )
        if stream != "NETCONF":
            raise _error(
                "invalid-value",
                "no such stream: %s" % stream,
                "ietf-subscribed-notifications:stream-unavailable",
            )
        if replay_start is not None and replay_start > self.hub.clock.seconds():
            raise _error("invalid-value", "replay-start-time is in the future",
                         "ietf-subscribed-notifications:replay-unsupported")
        sub = DynamicSubscription(self._next_id, session, stream)
        self._next_id += 1
        sub.matches = matches
        sub.stop = stop
        self.by_id[sub.id] = sub
        body = b'<id xmlns="' + SN_NS.encode() + b'">' + str(sub.id).encode() + b"</id>"
        return body, lambda: self._activate(sub, replay_start)

    def modify(self, session: "Subscriber", op: etree._Element) -> None:
        sub = self._own(session, op)
        for child in children(op):
            name = localname(child.tag)
            if name in ("stream-xpath-filter", "stream-subtree-filter", "stream-filter-name"):
                sub.matches = self._filter(child)
            elif name == "stop-time":
                sub.stop = self.hub.time_argument(text_of(child), "stop-time")
        self._state(sub, "subscription-modified")

    def delete(self, session: "Subscriber", op: etree._Element) -> None:
        self._remove(self._own(session, op))

    def kill(self, session: "Subscriber", op: etree._Element) -> None:
        sub = self._by_op(op)
        self._state(sub, "subscription-terminated", "ietf-subscribed-notifications:no-such-subscription")
        self._remove(sub)

    # -- events -------------------------------------------------------------------

    def publish(self, event: "Event", send: "Send") -> None:
        ident = self._push_id(event)
        if ident is not None:  # a push update goes to the subscription it names, unfiltered
            named = self.by_id.get(ident)
            if named is not None and named.active and not named.suspended:
                send(named.session, event.xml)
            return
        for sub in list(self.by_id.values()):
            if sub.wants(event):
                send(sub.session, event.xml)

    def suspend(
        self, ident: int, reason: str = "ietf-subscribed-notifications:insufficient-resources"
    ) -> None:
        sub = self.by_id[ident]
        sub.suspended = True
        self._state(sub, "subscription-suspended", reason)

    def resume(self, ident: int) -> None:
        sub = self.by_id[ident]
        sub.suspended = False
        self._state(sub, "subscription-resumed")

    def terminate(self, ident: int, reason: str = "ietf-subscribed-notifications:filter-unavailable") -> None:
        sub = self.by_id[ident]
        self._state(sub, "subscription-terminated", reason)
        self._remove(sub)

    def session_closed(self, session_id: int) -> None:
        for sub in list(self.by_id.values()):
            if sub.session.session_id == session_id:
                self._remove(sub)

    def of_session(self, session_id: int) -> List[int]:
        return [s.id for s in self.by_id.values() if s.session.session_id == session_id]

    # -- internals ----------------------------------------------------------------

    def _activate(self, sub: DynamicSubscription, replay_start: Optional[float]) -> None:
        if self.by_id.get(sub.id) is not sub:
            return
        sub.active = True
        if replay_start is not None:
            for event in list(self.hub.log):
                if event.time >= replay_start and sub.wants(event):
                    sub.session.send_notification(event.xml)
            self._state(sub, "replay-completed")
        if sub.stop is not None:
            delay = sub.stop - self.hub.clock.seconds()
            if delay <= 0:
                self._complete(sub)
            else:
                sub.timer = self.hub.clock.callLater(delay, self._complete, sub)

    def _complete(self, sub: DynamicSubscription) -> None:
        sub.timer = None
        if self.by_id.get(sub.id) is sub:
            self._state(sub, "subscription-completed")
            self._remove(sub)

    def _remove(self, sub: DynamicSubscription) -> None:
        self.by_id.pop(sub.id, None)
        if sub.timer is not None and sub.timer.active():
            sub.timer.cancel()
        sub.timer = None

    def _state(self, sub: DynamicSubscription, name: str, reason: Optional[str] = None) -> None:
        body = "<id>%d</id>" % sub.id
        if reason is not None:
            body += "<reason>%s</reason>" % reason
        xml = (
            '<notification xmlns="%s"><eventTime>%s</eventTime><%s xmlns="%s">%s</%s></notification>'
            % (NOTIFICATION_NS, self.hub.now_text(), name, SN_NS, body, name)
        )
        sub.session.send_notification(xml.encode())

    def _by_op(self, op: etree._Element) -> DynamicSubscription:
        ident = op.find("{%s}id" % SN_NS)
        text = text_of(ident) if ident is not None else ""
        sub = self.by_id.get(int(text)) if text.isdigit() else None
        if sub is None:
            raise _error("invalid-value", "no such subscription: %s" % text,
                         "ietf-subscribed-notifications:no-such-subscription")
        return sub

    def _own(self, session: "Subscriber", op: etree._Element) -> DynamicSubscription:
        sub = self._by_op(op)
        if sub.session.session_id != session.session_id:
            raise _error("invalid-value", "subscription %d belongs to another session" % sub.id,
                         "ietf-subscribed-notifications:no-such-subscription")
        return sub

    def _filter(self, element: etree._Element) -> Callable[[etree._Element], bool]:
        name = localname(element.tag)
        if name == "stream-filter-name":
            raise _error("invalid-value", "no such filter: %s" % text_of(element),
                         "ietf-subscribed-notifications:filter-unavailable")
        wrapper = etree.Element("filter", nsmap={p: u for p, u in element.nsmap.items() if p})
        if name == "stream-xpath-filter":
            select = text_of(element)
            compile_xpath(select, {p: u for p, u in element.nsmap.items() if p is not None})
            wrapper.set("type", "xpath")
            wrapper.set("select", select)
        else:
            for child in children(element):
                wrapper.append(etree.fromstring(etree.tostring(child)))
        return notification_matcher(wrapper)

    @staticmethod
    def _push_id(event: "Event") -> Optional[int]:
        for child in children(event.element):
            if str(child.tag).startswith(_ID_PARENTS):
                ident = child.find("{%s}id" % YANG_PUSH_NS)
                text = (ident.text or "").strip() if ident is not None else ""
                return int(text) if text.isdigit() else None
        return None

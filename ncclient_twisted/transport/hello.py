"""The hello exchange, as both transports bound and follow it: the default timeout, and the
pause some servers need after it; the server's hello as the reactor transport parses it
(:class:`SharedHelloHandler`)."""

from __future__ import annotations

from typing import Any, List, Tuple

from ncclient.capabilities import Capabilities
from ncclient.transport.session import HelloHandler
from ncclient.xml_ import qualify, to_ele

from ncclient_twisted.transport.capabilities import shared_capabilities

#: Hello timeout used when the caller gives none (ncclient would wait forever).
DEFAULT_HELLO_TIMEOUT = 60.0


#: yuma123's netconfd (2.13) holds a request that reaches it in the same read as the
#: client's hello until more input comes (about 1 session in 20 stalls when the first
#: request follows the hello at once; ncclient's 100 ms send tick hid it). Its
#: capabilities name netconfcentral.org; for such a server the connect waits this long
#: after the hello exchange, so the hello is read alone (0 stalls in 150 sessions).
YUMA_HELLO_SETTLE = 0.02


def hello_settle_time(capabilities: Any) -> float:
    """How long to wait after the hello exchange before the first request may go."""
    if capabilities is None:
        return 0.0
    try:
        uris = list(capabilities)
    except TypeError:
        return 0.0
    return YUMA_HELLO_SETTLE if any("netconfcentral.org" in str(u) for u in uris) else 0.0


_HELLO = (qualify("hello"), "hello")
_SESSION_ID = (qualify("session-id"), "session-id")
_CAPABILITIES = (qualify("capabilities"), "capabilities")
_CAPABILITY = (qualify("capability"), "capability")


def parse_hello(raw: str) -> Tuple[Any, Capabilities]:
    """``(session-id, capabilities)`` of a hello, as ncclient's ``HelloHandler.parse``
    reads it (the session-id ``0`` when there is none), except that the capabilities
    share their parse with the other sessions' of the same list (:func:`shared_capabilities`)."""
    sid: Any = 0
    uris: List[Any] = []
    for child in to_ele(raw):
        if child.tag in _SESSION_ID:
            sid = child.text
        elif child.tag in _CAPABILITIES:
            uris.extend(cap.text for cap in child if cap.tag in _CAPABILITY)
    return sid, shared_capabilities(uris)


class SharedHelloHandler(HelloHandler):
    """ncclient's ``HelloHandler``, its hello parsed by :func:`parse_hello`: the server's
    capabilities are parsed once for all the sessions to servers that send the same list
    (the devices of one kind), not again on each connect. The callbacks and errors are
    ncclient's."""

    def callback(self, root: Any, raw: str) -> None:
        tag, _ = root
        if tag in _HELLO:
            try:
                sid, capabilities = parse_hello(raw)
            except Exception as e:
                self._error_cb(e)
            else:
                self._init_cb(sid, capabilities)

    @staticmethod
    def parse(raw: str) -> Tuple[Any, Capabilities]:
        """As :func:`parse_hello`."""
        return parse_hello(raw)

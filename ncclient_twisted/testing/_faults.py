"""
Fault injection: declarative descriptions of the ways real devices break.

Build faults with the :class:`Fault` constructors and add them to
``server.faults`` (every session) or ``session.faults`` (one session)::

    server.faults.add(Fault.delay("get-config", 2.0))        # every get-config
    session.faults.add(Fault.no_reply("get", count=1))       # the next get only

A fault matches requests by the local name of the operation element
(``"get"``, ``"edit-config"``, ``"commit"``, ``"create-subscription"``, a
custom RPC's name, ...) or every request when the operation is ``None``.
Session faults are consulted before server faults.  A request gets at most
one *timing* fault (:meth:`Fault.delay`) and at most one *reply* fault (all
the others), so a delayed duplicate reply is two faults.  With ``count=None``
a fault stays until removed; otherwise it is removed after firing *count*
times.  :attr:`Fault.hits` counts how often it fired.

Unless stated otherwise the operation itself is carried out normally; only
its reply is affected.
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Sequence, Tuple

from ._errors import NetconfError

DELAY = "delay"
NO_REPLY = "no-reply"
UNKNOWN_MESSAGE_ID = "unknown-message-id"
DUPLICATE_REPLY = "duplicate-reply"
CLOSE_MID_REPLY = "close-mid-reply"
BAD_CHUNK_HEADER = "bad-chunk-header"
NOT_XML = "not-xml"
LARGE_REPLY = "large-reply"
RPC_ERROR = "rpc-error"
NO_HELLO = "no-hello"
DELAY_HELLO = "delay-hello"
HELLO_WITHOUT_BASE = "hello-without-base"
LYING_CHUNK_SIZE = "lying-chunk-size"
EOM_IN_REPLY = "eom-in-reply"
NO_MESSAGE_ID = "no-message-id"
UNSOLICITED_NOTIFICATION = "unsolicited-notification"
DTD = "dtd"
DEEP_REPLY = "deep-reply"
RESET = "reset"
STOP_ANSWERING = "stop-answering"
SPLIT_REPLY = "split-reply"

_TIMING = frozenset({DELAY})
_HELLO = frozenset({NO_HELLO, DELAY_HELLO, HELLO_WITHOUT_BASE})

#: The DTDs of :meth:`Fault.dtd`, by name. ``%(url)s`` is the *url* given to the fault.
DTDS = {
    # Ten levels of ten references: 10**9 "lol"s if a parser expands them.
    "billion-laughs": (
        '<!DOCTYPE rpc-reply [<!ENTITY lol0 "lol">'
        + "".join(
            '<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1)) * 10) for i in range(1, 10)
        )
        + "]>",
        "&lol9;",
    ),
    "internal-entity": ('<!DOCTYPE rpc-reply [<!ENTITY secret "expanded">]>', "&secret;"),
    "external-entity": ('<!DOCTYPE rpc-reply [<!ENTITY ext SYSTEM "%(url)s">]>', "&ext;"),
    "external-dtd": ('<!DOCTYPE rpc-reply SYSTEM "%(url)s">', ""),
}

#: Default payload of :meth:`Fault.not_xml`.
NOT_XML_PAYLOAD = b"\x00%%% this is not XML <rpc-reply <<<"
#: Default header of :meth:`Fault.bad_chunk_header`.
BAD_CHUNK_HEADER_BYTES = b"\n#x1f\n"


class Fault:
    """
    One scripted misbehaviour.  Use the class-method constructors.

    :ivar kind: one of the module constants (``"delay"``, ``"no-reply"``, ...).
    :ivar operation: the operation name it applies to, or None for all.
    :ivar count: how many more times it fires, or None for unlimited.
    :ivar hits: how many times it has fired.
    """

    def __init__(
        self,
        kind: str,
        operation: Optional[str] = None,
        *,
        count: Optional[int] = None,
        seconds: float = 0.0,
        size: int = 0,
        before: bool = False,
        payload: bytes = b"",
        error: Optional[NetconfError] = None,
        at: Tuple[int, ...] = (),
        text: bool = False,
        url: str = "",
    ) -> None:
        if count is not None and count < 1:
            raise ValueError("count must be a positive integer or None")
        self.kind = kind
        self.operation = operation
        self.count = count
        self.seconds = seconds
        self.size = size
        self.before = before
        self.payload = payload
        self.error = error
        self.at = at
        self.text = text
        self.url = url
        self.hits = 0

    def __repr__(self) -> str:
        extra = ""
        if self.kind in (DELAY, DELAY_HELLO):
            extra = ", seconds=%r" % self.seconds
        elif self.kind in (LARGE_REPLY, LYING_CHUNK_SIZE, DEEP_REPLY):
            extra = ", size=%r" % self.size
        elif self.kind == SPLIT_REPLY:
            extra = ", at=%r" % (self.at,)
        return "Fault(%r, %r%s, count=%r, hits=%r)" % (
            self.kind, self.operation, extra, self.count, self.hits
        )

    def matches(self, operation: str) -> bool:
        """True if this fault applies to *operation*."""
        return self.operation is None or self.operation == operation

    # -- constructors --------------------------------------------------------

    @classmethod
    def delay(cls, operation: Optional[str], seconds: float, *, count: Optional[int] = None) -> "Fault":
        """
        Send the reply *seconds* later (measured with the server's clock).

        The operation takes effect at once; requests that follow on the same
        session wait behind the delayed reply, as on a device that handles
        one RPC at a time.
        """
        return cls(DELAY, operation, count=count, seconds=seconds)

    @classmethod
    def no_reply(cls, operation: Optional[str], *, count: Optional[int] = None) -> "Fault":
        """Carry out the operation but never reply; later requests are served normally."""
        return cls(NO_REPLY, operation, count=count)

    @classmethod
    def unknown_message_id(
        cls, operation: Optional[str], *, before: bool = False, count: Optional[int] = None
    ) -> "Fault":
        """
        Reply with a ``message-id`` the client never used: instead of the
        real reply, or (``before=True``) in addition to and just before it.
        """
        return cls(UNKNOWN_MESSAGE_ID, operation, count=count, before=before)

    @classmethod
    def duplicate_reply(cls, operation: Optional[str], *, count: Optional[int] = None) -> "Fault":
        """Send the reply twice."""
        return cls(DUPLICATE_REPLY, operation, count=count)

    @classmethod
    def close_mid_reply(cls, operation: Optional[str], *, count: Optional[int] = None) -> "Fault":
        """Send the first half of the framed reply, then drop the SSH connection."""
        return cls(CLOSE_MID_REPLY, operation, count=count)

    @classmethod
    def bad_chunk_header(
        cls, operation: Optional[str], *, header: bytes = BAD_CHUNK_HEADER_BYTES, count: Optional[int] = None
    ) -> "Fault":
        """
        Frame the reply with a malformed chunk header (*header*, by default
        ``b"\\n#x1f\\n"``) followed by the reply and an end-of-chunks marker.
        Meant for base:1.1 sessions; on base:1.0 the header is prepended to
        an otherwise correct message, which also corrupts it.
        """
        return cls(BAD_CHUNK_HEADER, operation, count=count, payload=header)

    @classmethod
    def not_xml(
        cls, operation: Optional[str], *, payload: bytes = NOT_XML_PAYLOAD, count: Optional[int] = None
    ) -> "Fault":
        """Send a correctly framed message that is not XML (*payload*) instead of the reply."""
        return cls(NOT_XML, operation, count=count, payload=payload)

    @classmethod
    def large_reply(
        cls, operation: Optional[str], size: int, *, text: bool = False, count: Optional[int] = None
    ) -> "Fault":
        """
        Pad the reply with about *size* bytes: filler elements inside
        ``<data>`` (namespace ``urn:ncclient-twisted:testing:filler``, items
        of 1000 characters) for replies that carry data, an XML comment
        otherwise.  With *text*, the filler is one text node of *size*
        characters instead (lxml refuses text nodes over 10 MB without
        ``huge_tree``).  The reply stays valid.
        """
        return cls(LARGE_REPLY, operation, count=count, size=size, text=text)

    @classmethod
    def rpc_error(
        cls,
        operation: Optional[str],
        tag: str = "operation-failed",
        message: Optional[str] = "injected fault",
        *,
        error_type: str = "application",
        count: Optional[int] = None,
    ) -> "Fault":
        """Answer with this ``<rpc-error>`` instead of carrying out the operation."""
        return cls(RPC_ERROR, operation, count=count, error=NetconfError(tag, message, error_type=error_type))

    @classmethod
    def no_hello(cls, *, count: Optional[int] = None) -> "Fault":
        """Never send the server ``<hello>`` (add to ``server.faults`` before connecting)."""
        return cls(NO_HELLO, "hello", count=count)

    @classmethod
    def delay_hello(cls, seconds: float, *, count: Optional[int] = None) -> "Fault":
        """Send the server ``<hello>`` *seconds* late (add to ``server.faults`` before connecting)."""
        return cls(DELAY_HELLO, "hello", count=count, seconds=seconds)


    @classmethod
    def hello_without_base(cls, *, count: Optional[int] = None) -> "Fault":
        """Send a server ``<hello>`` that announces neither base:1.0 nor base:1.1.

        The session then frames its messages as if base:1.0 had been chosen.
        """
        return cls(HELLO_WITHOUT_BASE, "hello", count=count)

    @classmethod
    def lying_chunk_size(
        cls, operation: Optional[str], delta: int, *, count: Optional[int] = None
    ) -> "Fault":
        """
        Send the reply as one base:1.1 chunk whose header claims *delta* bytes
        more (or, negative, fewer) than the chunk holds.  Meant for base:1.1
        sessions; on base:1.0 the reply is sent normally.
        """
        if delta == 0:
            raise ValueError("a lying chunk size needs a non-zero delta")
        return cls(LYING_CHUNK_SIZE, operation, count=count, size=delta)

    @classmethod
    def eom_in_reply(cls, operation: Optional[str], *, count: Optional[int] = None) -> "Fault":
        """
        Put the base:1.0 end-of-message marker inside the reply, in an XML
        comment (``<!--]]>]]>-->``): legal content, harmless in base:1.1
        chunks, and a message cut in two in base:1.0.
        """
        return cls(EOM_IN_REPLY, operation, count=count)

    @classmethod
    def no_message_id(cls, operation: Optional[str], *, count: Optional[int] = None) -> "Fault":
        """Reply without the ``message-id`` attribute."""
        return cls(NO_MESSAGE_ID, operation, count=count)

    @classmethod
    def unsolicited_notification(
        cls, operation: Optional[str], *, count: Optional[int] = None
    ) -> "Fault":
        """
        Send a ``<notification>`` just before the reply, whether or not the
        session has subscribed (a notification nobody asked for).
        """
        return cls(UNSOLICITED_NOTIFICATION, operation, count=count)

    @classmethod
    def dtd(
        cls,
        operation: Optional[str],
        kind: str = "billion-laughs",
        *,
        url: str = "file:///etc/passwd",
        count: Optional[int] = None,
    ) -> "Fault":
        """
        Reply with a document type declaration: *kind* is one of
        :data:`DTDS` (``"billion-laughs"``, ``"internal-entity"``,
        ``"external-entity"`` and ``"external-dtd"``, the last two loading
        *url*).  The entity is referenced inside ``<data>`` (replies with
        data) or in a ``<dtd-entity>`` element otherwise.  NETCONF forbids
        DTDs (RFC 6241 section 3); a client must not expand or fetch them.
        """
        if kind not in DTDS:
            raise ValueError("unknown DTD kind %r (one of %s)" % (kind, ", ".join(sorted(DTDS))))
        return cls(DTD, operation, count=count, payload=kind.encode(), url=url)

    @classmethod
    def deep_reply(cls, operation: Optional[str], depth: int, *, count: Optional[int] = None) -> "Fault":
        """Put *depth* nested elements inside the reply (lxml refuses more than 256 without
        ``huge_tree``, more than 2048 with it)."""
        return cls(DEEP_REPLY, operation, count=count, size=depth)

    @classmethod
    def reset(cls, operation: Optional[str], *, count: Optional[int] = None) -> "Fault":
        """Instead of replying, reset the TCP connection (``SO_LINGER`` 0, then close: an RST)."""
        return cls(RESET, operation, count=count)

    @classmethod
    def stop_answering(cls, operation: Optional[str], *, count: Optional[int] = None) -> "Fault":
        """
        Instead of replying, go silent: stop reading and writing on the
        connection without closing it (no FIN, no RST), as a hung device or
        a dead link does.  The connection stays open until the client closes
        it or the server stops.
        """
        return cls(STOP_ANSWERING, operation, count=count)

    @classmethod
    def split_reply(
        cls,
        operation: Optional[str],
        at: Sequence[int],
        *,
        seconds: float = 0.02,
        count: Optional[int] = None,
    ) -> "Fault":
        """
        Write the framed reply in pieces, cut at the byte offsets *at*
        (negative offsets count from the end, so ``-3`` cuts inside a base:1.0
        end-of-message marker), *seconds* apart, so the client reads each
        piece separately.  Later replies of the session wait for the last piece.
        """
        return cls(SPLIT_REPLY, operation, count=count, at=tuple(at), seconds=seconds)


class Faults:
    """An ordered, mutable collection of :class:`Fault`."""

    def __init__(self) -> None:
        self._faults: List[Fault] = []

    def add(self, *faults: Fault) -> None:
        """Add faults (they are consulted in the order they were added)."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError("expected a Fault, got %r" % (fault,))
            self._faults.append(fault)

    def remove(self, fault: Fault) -> None:
        """Remove *fault* if present."""
        if fault in self._faults:
            self._faults.remove(fault)

    def clear(self) -> None:
        """Remove every fault."""
        del self._faults[:]

    def __iter__(self) -> Iterator[Fault]:
        return iter(list(self._faults))

    def __len__(self) -> int:
        return len(self._faults)

    def __contains__(self, fault: object) -> bool:
        return fault in self._faults

    def __repr__(self) -> str:
        return "Faults(%r)" % (self._faults,)

    def take(self, operation: str, timing: bool) -> Optional[Fault]:
        """
        Fire the first fault of the requested class (timing or reply) that
        matches *operation*: count it and drop it if it is used up.  (The
        server's sessions call it for each request.)
        """
        for fault in self._faults:
            if (fault.kind in _TIMING) != timing or fault.kind in _HELLO:
                continue
            if fault.matches(operation):
                return self._fire(fault)
        return None

    def take_hello(self) -> Optional[Fault]:
        """Fire the first hello fault, if any."""
        for fault in self._faults:
            if fault.kind in _HELLO:
                return self._fire(fault)
        return None

    def _fire(self, fault: Fault) -> Fault:
        fault.hits += 1
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                self._faults.remove(fault)
        return fault

"""
How a session writes a reply on the wire: the ``<rpc-reply>`` start tag, and each
reply fault's way of writing it wrong (or late, or not at all).
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

from lxml import etree

from . import _faults as F
from ._faults import Fault
from ._framing import END_OF_CHUNKS, EOM, encode_chunked
from ._xml import BASE_NS, attributes, escape_attr

if TYPE_CHECKING:
    from ._session import Session

REPLY_START = b'<rpc-reply xmlns="' + BASE_NS.encode() + b'"'
REPLY_END = b"</rpc-reply>"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_FILLER_ITEM = b"<item>" + b"x" * 1000 + b"</item>"
_FILLER_START = b'<filler xmlns="urn:ncclient-twisted:testing:filler">'
_FAULT_NS = b"urn:ncclient-twisted:testing:fault"
_MESSAGE_ID = re.compile(rb' message-id="[^"]*"')
_unknown_ids = itertools.count(1)


def reply_open_tag(rpc: Optional[etree._Element], message_id: Optional[str] = None) -> bytes:
    """
    The ``<rpc-reply ...>`` start tag carrying every attribute of *rpc*
    (RFC 6241 4.2), with ``message-id`` optionally replaced.
    """
    if rpc is None or not rpc.attrib:
        return REPLY_START + b">"
    parts: List[str] = []
    declared: Dict[str, str] = {}
    nsmap = rpc.nsmap
    for name, value in attributes(rpc).items():
        if message_id is not None and name == "message-id":
            value = message_id
        if name[:1] == "{":
            uri, local = name[1:].split("}", 1)
            if uri == _XML_NS:
                prefix = "xml"
            else:
                found = declared.get(uri)
                if found is None:
                    found = next((p for p, u in nsmap.items() if u == uri and p), None)
                    if found is None or found in declared.values():
                        found = "a%d" % len(declared)
                    declared[uri] = found
                prefix = found
            parts.append(' %s:%s="%s"' % (prefix, local, escape_attr(value)))
        else:
            parts.append(' %s="%s"' % (name, escape_attr(value)))
    for uri, prefix in declared.items():
        parts.append(' xmlns:%s="%s"' % (prefix, escape_attr(uri)))
    return REPLY_START + "".join(parts).encode("utf-8") + b">"


def _pad(body: bytes, size: int, text: bool = False) -> bytes:
    if size <= 0:
        return body
    if body.endswith(b"</data>"):
        if text:
            return body[:-7] + _FILLER_START + b"x" * size + b"</filler></data>"
        count = max(1, -(-size // len(_FILLER_ITEM)))
        return body[:-7] + _FILLER_START + _FILLER_ITEM * count + b"</filler></data>"
    return body + b"<!--" + b"x" * size + b"-->"


def _insert(body: bytes, element: bytes) -> bytes:
    """*element* inside ``<data>`` for replies with data, after the body otherwise."""
    if body.endswith(b"</data>"):
        return body[:-7] + element + b"</data>"
    return body + element


def _fault_element(name: str, content: bytes) -> bytes:
    return b'<%s xmlns="%s">%s</%s>' % (name.encode(), _FAULT_NS, content, name.encode())


def _cuts(size: int, at: Tuple[int, ...]) -> List[int]:
    """Sorted cut offsets inside ``(0, size)`` for *at* (negative: from the end)."""
    return sorted({a if a >= 0 else size + a for a in at} & set(range(1, size)))


def emit_reply(
    s: "Session",
    rpc: etree._Element,
    body: bytes,
    after: Optional[Callable[[], None]],
    fault: Optional[Fault],
) -> None:
    """Write *s*'s reply to *rpc* as *fault* (if any) has it, then run *after*."""
    if s.closed:
        return
    kind = fault.kind if fault is not None else None
    if b"<rpc-error>" in body:
        s.counters.out_rpc_errors += 1
        s._host.engine.statistics.out_rpc_errors += 1
    if kind is None or kind == F.RPC_ERROR:
        s._write(reply_open_tag(rpc) + body + REPLY_END)
    elif kind == F.NO_REPLY:
        pass
    elif kind == F.UNKNOWN_MESSAGE_ID:
        bogus = "ncclient-twisted-unknown-%d" % next(_unknown_ids)
        s._write(reply_open_tag(rpc, bogus) + body + REPLY_END)
        assert fault is not None
        if fault.before:
            s._write(reply_open_tag(rpc) + body + REPLY_END)
    elif kind == F.DUPLICATE_REPLY:
        payload = reply_open_tag(rpc) + body + REPLY_END
        s._write(payload)
        s._write(payload)
    elif kind == F.CLOSE_MID_REPLY:
        payload = reply_open_tag(rpc) + body + REPLY_END
        framed = encode_chunked(payload, s._host.max_chunk_size) if s._chunked else payload + EOM
        s._channel.write(framed[: len(framed) // 2])
        s.disconnect()
        return
    elif kind == F.BAD_CHUNK_HEADER:
        assert fault is not None
        payload = reply_open_tag(rpc) + body + REPLY_END
        s._channel.write(fault.payload + payload + (END_OF_CHUNKS if s._chunked else EOM))
    elif kind == F.NOT_XML:
        assert fault is not None
        s._write(fault.payload)
    elif kind == F.LARGE_REPLY:
        assert fault is not None
        s._write(reply_open_tag(rpc) + _pad(body, fault.size, fault.text) + REPLY_END)
    elif kind is not None and kind in _MORE_FAULTS:
        assert fault is not None
        if not _MORE_FAULTS[kind](s, fault, rpc, body, after):
            return  # the fault calls *after* itself, or never
    else:  # pragma: no cover - all kinds handled above
        s._write(reply_open_tag(rpc) + body + REPLY_END)
    if after is not None:
        after()


# -- the faults added for the reliability tests ---------------------------------------------
#
# Each takes (session, fault, rpc, body, after) and returns True when the caller should
# run *after* now, False when it has taken care of it (or the session is gone).

_Emitter = Callable[["Session", Fault, etree._Element, bytes, Optional[Callable[[], None]]], bool]


def _lying_chunk_size(
    s: Session, fault: Fault, rpc: etree._Element, body: bytes, after: Optional[Callable[[], None]]
) -> bool:
    payload = reply_open_tag(rpc) + body + REPLY_END
    if not s._chunked:
        s._write(payload)
        return True
    claimed = max(1, len(payload) + fault.size)
    s._channel.write(b"\n#%d\n" % claimed + payload + END_OF_CHUNKS)
    return True


def _eom_in_reply(
    s: Session, fault: Fault, rpc: etree._Element, body: bytes, after: Optional[Callable[[], None]]
) -> bool:
    s._write(reply_open_tag(rpc) + b"<!--" + EOM + b"-->" + body + REPLY_END)
    return True


def _no_message_id(
    s: Session, fault: Fault, rpc: etree._Element, body: bytes, after: Optional[Callable[[], None]]
) -> bool:
    s._write(_MESSAGE_ID.sub(b"", reply_open_tag(rpc)) + body + REPLY_END)
    return True


def _unsolicited_notification(
    s: Session, fault: Fault, rpc: etree._Element, body: bytes, after: Optional[Callable[[], None]]
) -> bool:
    s._write(
        b'<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0">'
        b"<eventTime>2000-01-01T00:00:00Z</eventTime>"
        + _fault_element("unsolicited", b"")
        + b"</notification>"
    )
    s._write(reply_open_tag(rpc) + body + REPLY_END)
    return True


def _dtd(
    s: Session, fault: Fault, rpc: etree._Element, body: bytes, after: Optional[Callable[[], None]]
) -> bool:
    declaration, reference = F.DTDS[fault.payload.decode()]
    prolog = b'<?xml version="1.0"?>' + (declaration % {"url": fault.url}).encode()
    entity = _fault_element("dtd-entity", reference.encode())
    s._write(prolog + reply_open_tag(rpc) + _insert(body, entity) + REPLY_END)
    return True


def _deep_reply(
    s: Session, fault: Fault, rpc: etree._Element, body: bytes, after: Optional[Callable[[], None]]
) -> bool:
    deep = _fault_element("deep", b"<a>" * fault.size + b"</a>" * fault.size)
    s._write(reply_open_tag(rpc) + _insert(body, deep) + REPLY_END)
    return True


def _reset(
    s: Session, fault: Fault, rpc: etree._Element, body: bytes, after: Optional[Callable[[], None]]
) -> bool:
    s._terminate()
    s._channel.reset()
    return False


def _stop_answering(
    s: Session, fault: Fault, rpc: etree._Element, body: bytes, after: Optional[Callable[[], None]]
) -> bool:
    s._closing = True  # nothing more is processed or sent
    s._channel.freeze()
    return False


def _split_reply(
    s: Session, fault: Fault, rpc: etree._Element, body: bytes, after: Optional[Callable[[], None]]
) -> bool:
    payload = reply_open_tag(rpc) + body + REPLY_END
    framed = encode_chunked(payload, s._host.max_chunk_size) if s._chunked else payload + EOM
    bounds = [0] + _cuts(len(framed), fault.at) + [len(framed)]
    pieces = [framed[a:b] for a, b in zip(bounds, bounds[1:])]
    s._channel.write(pieces[0])
    s._busy = True

    def write(i: int) -> None:
        s._channel.write(pieces[i])
        if i + 1 < len(pieces):
            s._later(fault.seconds, lambda: write(i + 1))
            return
        s._busy = False
        if after is not None:
            after()
        s._pump()

    if len(pieces) > 1:
        s._later(fault.seconds, lambda: write(1))
        return False
    s._busy = False
    return True


_MORE_FAULTS: Dict[str, _Emitter] = {
    F.LYING_CHUNK_SIZE: _lying_chunk_size,
    F.EOM_IN_REPLY: _eom_in_reply,
    F.NO_MESSAGE_ID: _no_message_id,
    F.UNSOLICITED_NOTIFICATION: _unsolicited_notification,
    F.DTD: _dtd,
    F.DEEP_REPLY: _deep_reply,
    F.RESET: _reset,
    F.STOP_ANSWERING: _stop_answering,
    F.SPLIT_REPLY: _split_reply,
}

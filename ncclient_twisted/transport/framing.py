"""RFC 6242 framing: end-of-message (base:1.0) and chunked (base:1.1), and the first look
at each message.

ncclient's ``DefaultXMLParser`` re-decodes its whole buffer for every chunk, which is
quadratic in the size of a reply. This decoder keeps bytes until a message is complete,
decodes each message once, and runs in time linear in its input.

:func:`message_root` is what the root scan (:mod:`.rootscan`, which replaces ncclient's
``parse_root`` for every message that arrives) falls back to for an unusual start tag: it
reads only the root element's start tag, with a parser that neither expands entities nor
loads anything, and refuses messages that carry a document type declaration (NETCONF
forbids them, RFC 6241 section 3), so ncclient's own parser, which expands internal
entities, never sees one.
"""

from __future__ import annotations

import codecs
import re
from typing import Any, Callable, Dict, List, Optional, Tuple, cast

from lxml import etree
from ncclient.transport.errors import NetconfFramingError
from ncclient.xml_ import XMLError

__all__ = [
    "BASE_CAPABILITIES",
    "announces_base",
    "FrameDecoder",
    "LargeMessage",
    "frame_10",
    "frame_11",
    "EOM",
    "END_OF_CHUNKS",
    "MalformedReplyError",
    "MessageTooLargeError",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "message_root",
]

EOM = b"]]>]]>"
END_OF_CHUNKS = b"\n##\n"
# RFC 6242 4.2: chunk-size is 1..4294967295, so at most 10 digits.
_MAX_CHUNK_SIZE = 4294967295
_MAX_HEADER = len(b"\n#4294967295\n")
#: A chunk header (its size) or the end of the chunks (``#``).
_CHUNK_HEADER = re.compile(rb"\n#(#|[1-9][0-9]{0,9})\n")
#: The default ``max_message_size`` (bytes of one message, framing excluded): 256 MiB,
#: room for a full configuration of a large router (a 100 MB reply works) while a peer
#: cannot make a session hold more than that (plus one read) for one message.
DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024 * 1024


class MessageTooLargeError(NetconfFramingError):
    """A message, or a chunk header announcing one, larger than the session's
    ``max_message_size``: the session ends with it."""

    def __init__(self, limit: int, what: str) -> None:
        super().__init__(
            "%s: more than the maximum message size of %d bytes (the max_message_size "
            "connect keyword)" % (what, limit)
        )
        #: The limit that was exceeded (bytes).
        self.limit = limit


def frame_10(message: bytes) -> bytes:
    """Frame one message with the base:1.0 end-of-message marker."""
    return message + EOM


def frame_11(message: bytes) -> bytes:
    """Frame one message as a single base:1.1 chunk."""
    return b"\n#%d\n%s%s" % (len(message), message, END_OF_CHUNKS)


class LargeMessage:
    """A message larger than the decoder's *large* size, as the bytes it came in: decoding
    it is left to whoever handles it (off the reactor), a piece at a time."""

    __slots__ = ("pieces", "size")

    def __init__(self, pieces: List[bytes]) -> None:
        self.pieces = pieces
        #: Its length in bytes.
        self.size = sum(len(p) for p in pieces)

    def __len__(self) -> int:
        return self.size

    def head(self, size: int = 64 * 1024) -> bytes:
        """Its first *size* bytes (where the root element's start tag is)."""
        return b"".join(self.pieces[: 1 + size // max(1, len(self.pieces[0]))])[:size]

    def decode(self) -> str:
        """The message as text, stripped as the decoder strips small ones; raises
        ``UnicodeDecodeError``. Each piece is decoded on its own (a short hold of the
        GIL each), then the text is joined once."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        parts = [decoder.decode(p) for p in self.pieces]
        parts.append(decoder.decode(b"", final=True))
        first = 0
        while first < len(parts) and not parts[first].lstrip():
            first += 1
        last = len(parts)
        while last > first and not parts[last - 1].rstrip():
            last -= 1
        parts = parts[first:last]
        if parts:
            parts[0] = parts[0].lstrip()
            parts[-1] = parts[-1].rstrip()
        return "".join(parts)


class FrameDecoder:
    """Turns a byte stream into NETCONF messages.

    *deliver* is called with each complete message (``str``, stripped of the framing).
    *chunked* is called before each message starts to learn the framing in force, so a
    session can switch from base:1.0 (the hello) to base:1.1 between two messages.
    Malformed base:1.1 framing raises :exc:`ncclient.transport.errors.NetconfFramingError`.
    A message that is not UTF-8 is given to *invalid* as a :exc:`MalformedReplyError`
    (the framing is intact, so the stream goes on); without *invalid* it is a
    ``NetconfFramingError``.
    A message longer than *max_size* bytes (a chunk header announcing more, a base:1.0
    stream with no end-of-message marker within it) raises :exc:`MessageTooLargeError` as
    soon as it is known, before the rest arrives. After a framing error what was buffered
    is dropped, and so is whatever is fed later (the stream cannot be read any more).
    With *deliver_large*, a message longer than *large* bytes is handed to it undecoded,
    as a :class:`LargeMessage`. The bytes of a message are kept as they come, never
    copied into one buffer, so no single step costs more than its input.
    """

    def __init__(
        self,
        deliver: Callable[[str], None],
        chunked: Callable[[], bool],
        invalid: "Optional[Callable[[MalformedReplyError], None]]" = None,
        max_size: Optional[int] = None,
        deliver_large: "Optional[Callable[[LargeMessage], None]]" = None,
        large: int = 256 * 1024,
    ) -> None:
        self._deliver = deliver
        self._max_size = max_size
        self._deliver_large = deliver_large
        self._large = large
        self._chunked = chunked
        self._invalid = invalid
        self._buf = bytearray()
        #: The bytes of the message being read, as they came.
        self._chunks: List[bytes] = []
        self._in_message = False
        self._is_chunked = False  # the framing of the message being read
        self._scan = 0  # base:1.0: where the search for EOM resumes
        self._size = 0  # the message's size so far (base:1.1: as its chunk headers say)
        self._chunk_left = 0  # base:1.1: the bytes of the current chunk still to come
        self._broken = False

    @property
    def buffered(self) -> int:
        """How many bytes of incomplete messages the decoder holds."""
        return len(self._buf) + sum(len(c) for c in self._chunks)

    def feed(self, data: bytes) -> None:
        if self._broken:
            return  # the framing was lost: nothing after it can be read
        buf = self._buf
        buf += data
        # Messages are read at an offset and the consumed prefix is dropped once per
        # feed: deleting it message by message would move the rest of a large read
        # again for every small message in it.
        pos = 0
        try:
            while pos < len(buf):
                if not self._in_message:
                    self._in_message = True
                    self._is_chunked = self._chunked()
                pos, message = self._step_11(buf, pos) if self._is_chunked else self._step_10(buf, pos)
                if message is None:
                    return
                self._finish(message)
        except NetconfFramingError:
            self._discard()
            raise
        finally:
            if pos:
                del buf[:pos]
                self._scan = max(0, self._scan - pos)

    def _discard(self) -> None:
        """Drop what is buffered (the framing is lost: it can never be delivered)."""
        self._broken = True
        self._buf = bytearray()
        self._chunks = []
        self._size = self._scan = self._chunk_left = 0

    def _too_large(self, size: int) -> bool:
        return self._max_size is not None and size > self._max_size

    def _finish(self, pieces: List[bytes]) -> None:
        self._in_message = False
        self._scan = 0
        self._size = 0
        if self._deliver_large is not None:
            size = len(pieces[0]) if len(pieces) == 1 else sum(len(p) for p in pieces)
            if size > self._large:
                self._deliver_large(LargeMessage(pieces))
                return
        message = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError as e:
            error = not_utf8(bytes(message), e)
            if self._invalid is None:
                raise NetconfFramingError(str(error), bytes(message[:80])) from e
            self._invalid(error)
            return
        self._deliver(text.strip())

    def _step_10(self, buf: bytearray, pos: int) -> Tuple[int, Optional[List[bytes]]]:
        """Read the base:1.0 message at *pos*: (where reading stopped, the message's
        pieces or None if it is not all here yet: what is, is kept)."""
        i = buf.find(EOM, max(pos, self._scan))
        if i < 0:
            # The last bytes may be the start of the marker: they wait for the next read.
            keep = max(pos, len(buf) - len(EOM) + 1)
            if keep > pos:
                self._size += keep - pos
                if self._too_large(self._size):
                    raise MessageTooLargeError(
                        self._max_size or 0, "no end-of-message marker (]]>]]>) within the limit"
                    )
                self._chunks.append(bytes(buf[pos:keep]))
            self._scan = keep
            return keep, None
        size = self._size + i - pos
        if self._too_large(size):
            raise MessageTooLargeError(self._max_size or 0, "a message of %d bytes" % size)
        pieces, self._chunks = self._chunks, []
        if i > pos or not pieces:
            pieces.append(bytes(buf[pos:i]))
        return i + len(EOM), pieces

    def _step_11(self, buf: bytearray, pos: int) -> Tuple[int, Optional[List[bytes]]]:
        """Read base:1.1 chunks from *pos*: (where reading stopped, the message's pieces
        or None if it is not all here yet; what is, is kept)."""
        n = len(buf)
        while True:
            left = self._chunk_left
            if left:  # the rest of a chunk that did not come in one read
                take = min(left, n - pos)
                if not take:
                    return pos, None
                self._chunks.append(bytes(buf[pos : pos + take]))
                self._chunk_left = left - take
                pos += take
                continue
            match = _CHUNK_HEADER.match(buf, pos)
            if match is None:
                if not self._incomplete_header(buf, pos):
                    raise NetconfFramingError("bad chunk header", bytes(buf[pos : pos + _MAX_HEADER]))
                return pos, None
            digits = match.group(1)
            if digits == b"#":
                chunks, self._chunks = self._chunks, []
                return match.end(), chunks or [b""]
            size = int(digits)
            if size > _MAX_CHUNK_SIZE:
                raise NetconfFramingError("chunk size too large", bytes(digits))
            self._size += size
            if self._too_large(self._size):
                # Known from the header: the chunk is not waited for.
                raise MessageTooLargeError(
                    self._max_size or 0,
                    "a chunk of %d bytes after %d bytes of the message" % (size, self._size - size),
                )
            start = match.end()
            end = start + size
            if n < end:  # what came is kept, the rest is owed
                self._chunks.append(bytes(buf[start:n]))
                self._chunk_left = end - n
                return n, None
            if not self._chunks and buf.startswith(END_OF_CHUNKS, end):
                return end + 4, [bytes(buf[start:end])]  # the usual message: one chunk
            self._chunks.append(bytes(buf[start:end]))
            pos = end

    @staticmethod
    def _incomplete_header(buf: bytearray, pos: int) -> bool:
        """True when *buf* from *pos* may still become a chunk header; raises
        ``NetconfFramingError`` for a bad chunk size; False when it cannot."""
        head = bytes(buf[pos : pos + _MAX_HEADER])
        if len(head) < 4:
            return b"\n#".startswith(head[:2])
        if head[0:2] != b"\n#":
            return False
        end = head.find(b"\n", 2)
        if end < 0:
            return len(head) < _MAX_HEADER and head[2:].isdigit()
        digits = head[2:end]
        if not digits.isdigit() or digits.startswith(b"0"):
            raise NetconfFramingError("bad chunk size", head[: end + 1])
        return False  # unreachable: a well-formed header matches _CHUNK_HEADER


class MalformedReplyError(XMLError):
    """A message that cannot be used: not well-formed XML, deeper or larger than lxml
    allows (see ``huge_tree``), or carrying a document type declaration.

    A subclass of ncclient's ``XMLError``. *message_id* is the message-id of the reply
    when it could be read, else ``None``; *dtd* is true for a document type declaration.
    """

    def __init__(self, message: str, message_id: Optional[str] = None, dtd: bool = False) -> None:
        super().__init__(message)
        self.message_id = message_id
        self.dtd = dtd


#: How much of a message is fed to the root parser at a time.
_ROOT_STEP = 4096


def _root_parser() -> "etree.XMLPullParser":
    return etree.XMLPullParser(
        events=("start",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,  # only the start tag is read; nothing is expanded
    )


def message_root(raw: str) -> Tuple[str, Dict[str, str]]:
    """The qualified tag and the attributes of *raw*'s root element (as ncclient's
    ``parse_root``), reading no further than the root's start tag.

    Raises :exc:`MalformedReplyError` when there is no root start tag to read, and
    when the message has a document type declaration (with ``message_id`` set, if the
    root has one): such a message is never parsed further.
    """
    data = raw.encode("utf-8")
    parser = _root_parser()
    error: Optional[Exception] = None
    for start in range(0, max(len(data), 1), _ROOT_STEP):
        try:
            parser.feed(data[start : start + _ROOT_STEP])
        except etree.XMLSyntaxError as e:
            error = e  # an error after the start tag (too deep...) is for the full parse
        for _, event_item in parser.read_events():
            # Only "start" events are asked for: the item is always an element.
            element = cast("etree._Element", event_item)
            # lxml-stubs type _Attrib as no Mapping (and its items as str | bytes: lxml gives
            # str), and leave DocInfo.doctype out.
            attrs: Dict[str, str] = dict(element.attrib)  # type: ignore[arg-type]
            if element.getroottree().docinfo.doctype:  # type: ignore[attr-defined]
                raise MalformedReplyError(
                    "message has a document type declaration (forbidden in NETCONF, "
                    "RFC 6241 section 3); not parsed",
                    attrs.get("message-id"),
                    dtd=True,
                )
            return element.tag, attrs
        if error is not None:
            break
    raise MalformedReplyError("message is not XML: %s" % (error or "no root element",))


def not_utf8(message: bytes, error: UnicodeDecodeError) -> MalformedReplyError:
    """The :exc:`MalformedReplyError` for a message that is not UTF-8, with its message-id
    when the root start tag can still be read."""
    try:
        _, attrs = message_root(message.decode("utf-8", "replace"))
        message_id = attrs.get("message-id")
    except MalformedReplyError:
        message_id = None
    return MalformedReplyError("message is not UTF-8: %s" % (error,), message_id)


def reply_parse_error(error: Exception, message_id: Optional[str], huge_tree: bool) -> MalformedReplyError:
    """The :exc:`MalformedReplyError` for lxml's *error* parsing a whole reply."""
    hint = ""
    if "XML_PARSE_HUGE" in str(error) and not huge_tree:
        hint = " (set huge_tree=True on the manager to accept it)"
    e = MalformedReplyError("reply is not usable XML: %s%s" % (error, hint), message_id)
    e.__cause__ = error
    return e


#: The base capabilities (RFC 6241 section 8.1); one of them is the framing both sides use.
BASE_CAPABILITIES = ("urn:ietf:params:netconf:base:1.0", "urn:ietf:params:netconf:base:1.1")


def announces_base(capabilities: Any) -> bool:
    """Whether a hello's *capabilities* name base:1.0 or base:1.1 (the capability, not
    the ``urn:ietf:params:xml:ns:netconf:base:1.0`` namespace of a module capability)."""
    return any(str(c).split("?")[0].strip() in BASE_CAPABILITIES for c in capabilities or ())

"""
RFC 6242 message framing: end-of-message (``]]>]]>``, base:1.0) and chunked
framing (base:1.1), as an encoder pair and an incremental decoder that copes
with arbitrary TCP splits.
"""

from __future__ import annotations

from typing import List, Optional

EOM = b"]]>]]>"
END_OF_CHUNKS = b"\n##\n"
MAX_CHUNK_SIZE = 4294967295  # RFC 6242 section 4.2
DEFAULT_MAX_CHUNK = 65536

_DIGITS = frozenset(b"0123456789")


class FramingError(Exception):
    """The peer violated RFC 6242 framing; the stream cannot be resynchronised."""


def encode_eom(message: bytes) -> bytes:
    """Frame *message* with the base:1.0 end-of-message delimiter."""
    return message + EOM


def encode_chunked(message: bytes, max_chunk_size: int = DEFAULT_MAX_CHUNK) -> bytes:
    """
    Frame *message* with base:1.1 chunked framing, splitting it into chunks
    of at most *max_chunk_size* bytes.  An empty message is not representable
    in chunked framing; it is rejected.
    """
    size = len(message)
    if size == 0:
        raise ValueError("chunked framing cannot carry an empty message")
    if size <= max_chunk_size:
        return b"\n#%d\n%s\n##\n" % (size, message)
    parts: List[bytes] = []
    view = memoryview(message)
    for start in range(0, size, max_chunk_size):
        chunk = view[start : start + max_chunk_size]
        parts.append(b"\n#%d\n" % len(chunk))
        parts.append(chunk.tobytes())
    parts.append(END_OF_CHUNKS)
    return b"".join(parts)


class Decoder:
    """
    Incremental RFC 6242 decoder.

    Feed it bytes as they arrive with :meth:`feed` and pull complete messages
    with :meth:`next_message`.  The framing mode is the :attr:`chunked`
    attribute; it may be switched between two messages (after the ``<hello>``
    exchange), and bytes already buffered are then decoded with the new mode.

    Messages are returned with surrounding whitespace removed.
    """

    def __init__(self, chunked: bool = False) -> None:
        self.chunked = chunked
        self._buf = bytearray()
        self._pos = 0  # start of undecoded data in _buf
        self._scan = 0  # EOM: offset (relative to _pos) where the next search starts
        self._chunks: List[bytes] = []
        self._remaining = 0  # chunked: bytes left in the current chunk

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buf += data

    @property
    def buffered(self) -> int:
        """Number of received bytes not yet returned as (part of) a message."""
        return len(self._buf) - self._pos + sum(len(c) for c in self._chunks)

    def _compact(self) -> None:
        if self._pos and (self._pos >= len(self._buf) or self._pos > 65536):
            del self._buf[: self._pos]
            self._pos = 0

    def next_message(self) -> Optional[bytes]:
        """
        Return the next complete message, or None if more data is needed.

        :raises FramingError: if the data violates the framing.
        """
        try:
            if self.chunked:
                return self._next_chunked()
            return self._next_eom()
        finally:
            self._compact()

    def _next_eom(self) -> Optional[bytes]:
        buf = self._buf
        start = self._pos
        index = buf.find(EOM, start + self._scan)
        if index < 0:
            self._scan = max(0, len(buf) - start - (len(EOM) - 1))
            return None
        message = bytes(buf[start:index]).strip()
        self._pos = index + len(EOM)
        self._scan = 0
        return message

    def _next_chunked(self) -> Optional[bytes]:
        buf = self._buf
        while True:
            if self._remaining:
                available = len(buf) - self._pos
                if not available:
                    return None
                take = min(available, self._remaining)
                self._chunks.append(bytes(buf[self._pos : self._pos + take]))
                self._pos += take
                self._remaining -= take
                if self._remaining:
                    return None
            header = self._parse_header()
            if header is None:
                return None
            if header == 0:
                message = b"".join(self._chunks).strip()
                self._chunks = []
                return message
            self._remaining = header

    def _parse_header(self) -> Optional[int]:
        """Parse a chunk header at the current position.

        Returns the chunk size, 0 for end-of-chunks, or None if incomplete.
        """
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail == 0:
            return None
        if buf[pos] != 0x0A:  # "\n"
            raise FramingError("expected chunk header, got %r" % bytes(buf[pos : pos + 16]))
        if avail < 2:
            return None
        if buf[pos + 1] != 0x23:  # "#"
            raise FramingError("expected '#' in chunk header, got %r" % bytes(buf[pos : pos + 16]))
        if avail < 3:
            return None
        third = buf[pos + 2]
        if third == 0x23:  # "##": end of chunks
            if avail < 4:
                return None
            if buf[pos + 3] != 0x0A:
                raise FramingError("malformed end-of-chunks marker")
            if not self._chunks:
                raise FramingError("end-of-chunks marker without any chunk")
            self._pos = pos + 4
            return 0
        # chunk-size = [1-9][0-9]* , at most 4294967295, then "\n"
        if third not in _DIGITS or third == 0x30:
            raise FramingError("invalid chunk size in %r" % bytes(buf[pos : pos + 16]))
        end = pos + 3
        limit = min(len(buf), pos + 2 + 11)
        while end < limit and buf[end] in _DIGITS:
            end += 1
        if end - (pos + 2) > 10:
            raise FramingError("chunk size too long in %r" % bytes(buf[pos : pos + 16]))
        if end == len(buf):
            return None
        if buf[end] != 0x0A:
            raise FramingError("invalid chunk header %r" % bytes(buf[pos : end + 1]))
        size = int(buf[pos + 2 : end])
        if size > MAX_CHUNK_SIZE:
            raise FramingError("chunk size %d exceeds the maximum" % size)
        self._pos = end + 1
        return size

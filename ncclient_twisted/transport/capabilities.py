"""Parsed capabilities shared between sessions (issue #25).

Every session holds two of ncclient's ``Capabilities``: the client's (the device
handler's list) and the server's (from its hello), each a dict of a ``Capability`` per
URI (about 40 objects for a usual hello). In a fleet, the devices of one kind send the
same hello and every session of a device handler announces the same list: parsing each
again costs CPU on every connect, and the cyclic GC scans every copy while the session
is open. :func:`shared_capabilities` parses a list once and gives each session its own
:class:`SharedCapabilities`, an ncclient ``Capabilities`` whose parsed dict is shared
with the other sessions' of the same list until its first ``add`` or ``remove``.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Dict, Iterable, Optional, Tuple

from ncclient.capabilities import Capabilities

__all__ = ["SharedCapabilities", "CapabilityCache", "shared_capabilities", "CACHE_SIZE"]

#: How many different capability lists are kept parsed (the least recently used goes).
CACHE_SIZE = 32


class SharedCapabilities(Capabilities):
    """ncclient's ``Capabilities`` (``in``, ``[]``, iteration, ``len``, ``repr``), whose
    parsed capabilities may be shared with other instances (:meth:`twin`): the first
    ``add`` or ``remove`` on one copies them first, so it changes that one only.

    (The ``Capability`` objects themselves are shared: changing one in place, rather
    than through ``add``/``remove``, is seen by every session of the same list.)
    """

    def __init__(self, capabilities: Iterable[str] = (), parsed: Optional[Dict[str, Any]] = None) -> None:
        if parsed is None:
            self._shared = False
            super().__init__(capabilities)  # ncclient's parse, a Capability per URI
        else:
            self._dict = parsed
            self._shared = True

    def twin(self) -> "SharedCapabilities":
        """Another instance that shares these parsed capabilities (until either changes)."""
        self._shared = True
        return SharedCapabilities(parsed=self._dict)

    def _own(self) -> None:
        if self._shared:
            self._dict = dict(self._dict)
            self._shared = False

    def add(self, uri: str) -> None:
        """Add a capability (to this instance only)."""
        self._own()
        super().add(uri)

    def remove(self, uri: str) -> None:
        """Remove a capability (from this instance only)."""
        self._own()
        super().remove(uri)


class CapabilityCache:
    """The last *size* capability lists parsed, by their URIs in order (any thread)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._parsed: "collections.OrderedDict[Tuple[str, ...], SharedCapabilities]"
        self._parsed = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._parsed)

    def get(self, uris: Iterable[str]) -> Capabilities:
        """A ``Capabilities`` of *uris* for one session: sharing its parse with the other
        sessions' of the same list, parsed now if it is not kept. Raises what ncclient's
        ``Capabilities`` raises for an URI it cannot parse (nothing is kept then)."""
        uris = list(uris)
        try:
            key = tuple(uris)
            hash(key)
        except TypeError:  # not strings: ncclient's parse, as it is
            return Capabilities(uris)
        with self._lock:
            parsed = self._parsed.get(key)
            if parsed is not None:
                self._parsed.move_to_end(key)
                return parsed.twin()
        parsed = SharedCapabilities(uris)  # outside the lock: it may raise
        with self._lock:
            self._parsed[key] = parsed
            self._parsed.move_to_end(key)
            while len(self._parsed) > self.size:
                self._parsed.popitem(last=False)
        return parsed.twin()

    def clear(self) -> None:
        with self._lock:
            self._parsed.clear()


#: The process's cache (both transports, every reactor).
_cache = CapabilityCache()


def shared_capabilities(uris: Iterable[str]) -> Capabilities:
    """ncclient's ``Capabilities(uris)`` for one session, its parse shared with the other
    sessions announcing the same list (see :class:`SharedCapabilities`)."""
    return _cache.get(uris)

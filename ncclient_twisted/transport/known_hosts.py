"""OpenSSH known_hosts files as sshd(8) describes them ("SSH_KNOWN_HOSTS FILE FORMAT").

Parsing and matching only (no Twisted, no paramiko, no logging): both transports decide
through :meth:`KnownHosts.verdict`. A line is ``[@marker] patterns keytype base64
[comment]``: markers ``@revoked`` and ``@cert-authority``; patterns a comma list with
``*``/``?`` wildcards and ``!`` negation, or one hashed name ``|1|salt|hash``; a non-22
port is written ``[host]:port``. Comments and blank lines are ignored; a line that cannot
be parsed is skipped and reported in :attr:`KnownHosts.problems`.

Host certificates are not supported: ``@cert-authority`` lines are read and matched like
any other, but no key is ever accepted through one (neither transport negotiates
certificate host keys), exactly as OpenSSH never accepts a plain key through a CA line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    "ACCEPTED",
    "CHANGED",
    "REVOKED",
    "UNKNOWN",
    "Entry",
    "blob_type",
    "KnownHosts",
    "hash_name",
    "host_name",
    "match_patterns",
]

#: The verdicts of :meth:`KnownHosts.verdict`.
ACCEPTED = "accepted"
REVOKED = "revoked"
CHANGED = "changed"
UNKNOWN = "unknown"

MARKERS = ("@revoked", "@cert-authority")
_HASH_MAGIC = "|1|"


def host_name(host: str, port: int) -> str:
    """The name OpenSSH looks a host up by: ``host`` for port 22, else ``[host]:port``."""
    return host if int(port) == 22 else "[%s]:%d" % (host, int(port))


def hash_name(name: str, salt: bytes) -> str:
    """*name* hashed as ``ssh-keygen -H`` writes it: ``|1|base64(salt)|base64(hmac)``."""
    digest = hmac.new(salt, name.encode("utf-8"), hashlib.sha1).digest()
    return "|1|%s|%s" % (base64.b64encode(salt).decode("ascii"), base64.b64encode(digest).decode("ascii"))


_pattern_cache: Dict[str, "re.Pattern[str]"] = {}


def _glob(pattern: str) -> "re.Pattern[str]":
    compiled = _pattern_cache.get(pattern)
    if compiled is None:
        if len(_pattern_cache) > 4096:
            _pattern_cache.clear()
        # Only * and ? are special (OpenSSH's match_pattern): "[" is a literal bracket.
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        compiled = _pattern_cache[pattern] = re.compile(body, re.DOTALL)
    return compiled


def match_patterns(name: str, patterns: Sequence[str]) -> bool:
    """Whether *name* matches the comma-list *patterns* as OpenSSH's match_hostname does:
    case-insensitive, some positive pattern matches and no negated (``!``) one does."""
    name = name.lower()
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if negated:
            pattern = pattern[1:]
        pattern = pattern.lower()
        if pattern == name if "*" not in pattern and "?" not in pattern else _glob(pattern).fullmatch(name):
            if negated:
                return False  # a negated match makes the whole line not apply
            matched = True
    return matched


class Entry(NamedTuple):
    """One key line: its number, marker (``None``, ``"@revoked"``, ``"@cert-authority"``),
    host patterns (or the hashed name's salt and digest), key type and key blob."""

    lineno: int
    marker: Optional[str]
    patterns: Tuple[str, ...]
    hashed: Optional[Tuple[bytes, bytes]]
    key_type: str
    blob: bytes

    def matches(self, name: str) -> bool:
        """Whether this line applies to the host looked up as *name* (see :func:`host_name`)."""
        if self.hashed is not None:
            salt, digest = self.hashed
            mine = hmac.new(salt, name.lower().encode("utf-8"), hashlib.sha1).digest()
            return hmac.compare_digest(mine, digest)
        return match_patterns(name, self.patterns)


def blob_type(blob: bytes) -> Optional[str]:
    """The key type named inside an SSH public key blob (its first string)."""
    if len(blob) < 4:
        return None
    (size,) = struct.unpack(">I", blob[:4])
    if size == 0 or 4 + size > len(blob):
        return None
    try:
        return blob[4 : 4 + size].decode("ascii")
    except UnicodeDecodeError:
        return None


def _parse_line(lineno: int, text: str) -> Tuple[Optional[Entry], Optional[str]]:
    """(the entry, None), (None, None) for a comment or blank line, or (None, why not)."""
    fields = text.split()
    if not fields or fields[0].startswith("#"):
        return None, None
    marker: Optional[str] = None
    if fields[0].startswith("@"):
        if fields[0] not in MARKERS:
            return None, "unknown marker"
        marker = fields.pop(0)
    if len(fields) < 3:
        return None, "too few fields"
    hosts, key_type, b64 = fields[0], fields[1], fields[2]
    try:
        blob = base64.b64decode(b64.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None, "the key is not base64"
    if blob_type(blob) != key_type:
        return None, "the key is not a %s key" % key_type[:40]
    hashed: Optional[Tuple[bytes, bytes]] = None
    patterns: Tuple[str, ...] = ()
    if hosts.startswith(_HASH_MAGIC):
        parts = hosts[len(_HASH_MAGIC) :].split("|")
        try:
            if len(parts) != 2:
                raise ValueError(hosts)
            hashed = (
                base64.b64decode(parts[0].encode("ascii"), validate=True),
                base64.b64decode(parts[1].encode("ascii"), validate=True),
            )
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return None, "a malformed hashed host name"
    else:
        patterns = tuple(p for p in hosts.split(",") if p)
        if not patterns:
            return None, "no host pattern"
    return Entry(lineno, marker, patterns, hashed, key_type, blob), None


#: How many names' lookups a :class:`KnownHosts` keeps.
_FOUND_SIZE = 1024


class KnownHosts:
    """The key lines of one known_hosts file, and the decision for a host's key.

    :attr:`problems` lists ``(line number, why)`` for each line skipped because it
    cannot be parsed (OpenSSH skips them too)."""

    def __init__(self, entries: Sequence[Entry] = (), problems: Sequence[Tuple[int, str]] = ()) -> None:
        #: The key lines, in file order (not changed once made: lookups are cached).
        self.entries: List[Entry] = list(entries)
        self.problems: List[Tuple[int, str]] = list(problems)
        # A file read once serves every connect (hostkeys.read_known_hosts): a lookup of
        # 2,000 lines one by one cost a connect 1 ms (plain) to 6 ms (hashed names).
        self._index: Optional[Tuple[Dict[str, List[int]], List[int]]] = None
        self._found: Dict[str, List[Entry]] = {}

    @classmethod
    def parse(cls, data: bytes) -> "KnownHosts":
        """The known_hosts file whose content is *data*."""
        entries: List[Entry] = []
        problems: List[Tuple[int, str]] = []
        for lineno, raw in enumerate(data.splitlines(), 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                problems.append((lineno, "not text"))
                continue
            entry, problem = _parse_line(lineno, text)
            if entry is not None:
                entries.append(entry)
            elif problem is not None:
                problems.append((lineno, problem))
        return cls(entries, problems)

    @classmethod
    def read(cls, path: str) -> "KnownHosts":
        """The file at *path* (blocking); a missing file is an empty one."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return cls()
        return cls.parse(data)

    def for_host(self, name: str) -> List[Entry]:
        """The lines that apply to the host looked up as *name*, in file order."""
        found = self._found.get(name)
        if found is None:
            by_name, others = self._index if self._index is not None else self._make_index()
            entries = self.entries
            positions = set(by_name.get(name.lower(), ()))
            positions.update(i for i in others if entries[i].matches(name))
            found = [entries[i] for i in sorted(positions)]
            if len(self._found) >= _FOUND_SIZE:
                self._found.clear()
            self._found[name] = found
        return list(found)

    def _make_index(self) -> Tuple[Dict[str, List[int]], List[int]]:
        """The lines by the names they list plainly (no wildcard, no negation: they apply
        to those names only, case-insensitively), and the positions of the others."""
        by_name: Dict[str, List[int]] = {}
        others: List[int] = []
        for i, entry in enumerate(self.entries):
            patterns = entry.patterns
            if entry.hashed is not None or any(p.startswith("!") or "*" in p or "?" in p for p in patterns):
                others.append(i)
                continue
            for name in {p.lower() for p in patterns}:
                by_name.setdefault(name, []).append(i)
        self._index = (by_name, others)
        return self._index

    def host_keys(self, name: str) -> List[Entry]:
        """The plain (unmarked) keys listed for *name* that are not revoked for it."""
        applying = self.for_host(name)
        revoked = {e.blob for e in applying if e.marker == "@revoked"}
        return [e for e in applying if e.marker is None and e.blob not in revoked]

    def verdict(self, name: str, blob: bytes) -> str:
        """What OpenSSH decides for the host key *blob* of the host looked up as *name*:
        :data:`REVOKED` if an applying ``@revoked`` line lists it; else :data:`ACCEPTED` if
        any applying plain line lists it (several keys per host: key rotation); else
        :data:`CHANGED` if an applying plain line lists a key of the same type; else
        :data:`UNKNOWN`. ``@cert-authority`` lines never accept a plain key."""
        applying = self.for_host(name)
        if any(e.marker == "@revoked" and e.blob == blob for e in applying):
            return REVOKED
        plain = [e for e in applying if e.marker is None]
        if any(e.blob == blob for e in plain):
            return ACCEPTED
        key_type = blob_type(blob)
        if any(e.key_type == key_type for e in plain):
            return CHANGED
        return UNKNOWN

"""Host-key checking as OpenSSH does it: known_hosts with ``[host]:port``, accept-new, pins.

ncclient checks the server's key inside ``SSHSession.connect``, against what
``load_known_hosts`` put in ``self._host_keys``, and asks ``unknown_host_cb(host,
fingerprint)`` about any key it does not find. This module plugs into exactly those two
places, through ncclient's own ``connect``:

- :class:`KnownHostsMixin` (mixed into our session class) overrides ``load_known_hosts``
  to read the service's own file (``known_hosts=``) into a :class:`PortAwareHostKeys`,
  which answers ncclient's lookups the way OpenSSH matches names (the file is read by
  :mod:`.known_hosts`: markers, wildcards, negation, hashed names, several keys per
  host): a non-22 port only matches ``[host]:port`` entries, port 22 only plain ``host``
  entries (ncclient accepts either, so a key stored for port 22 would vouch for every
  port of the host).
- :class:`HostKeyPolicy.unknown_host` is the ``unknown_host_cb`` given to ncclient. It
  refuses a revoked key with :class:`HostKeyRevokedError`, a key that differs from the
  stored (or pinned) one with :class:`HostKeyChangedError`, asks the caller's
  ``unknown_host_cb`` on the reactor thread (it may return a Deferred), and with
  ``accept_new`` stores the key of a new host atomically (temporary file and rename),
  all on the connect thread.
"""

from __future__ import annotations

import base64
import hashlib
import os
import queue
import tempfile
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple, Union, cast

import paramiko
from ncclient.transport.errors import SSHUnknownHostError
from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure

from ncclient_twisted._compat import paramiko_host_key_algorithms
from ncclient_twisted.transport.hostkey_errors import (
    HostKeyChangedError,
    HostKeyRevokedError,
    HostKeyUnknownError,
    fingerprint_md5,
    fingerprint_sha256,
    known_hosts_name,
)
from ncclient_twisted.transport.known_hosts import ACCEPTED, CHANGED, REVOKED, UNKNOWN, KnownHosts, blob_type

__all__ = [
    "HostKeyChangedError",
    "HostKeyRevokedError",
    "HostKeyUnknownError",
    "HostKeyPolicy",
    "KnownHostsMixin",
    "PortAwareHostKeys",
    "DEFAULT_KNOWN_HOSTS",
    "UNKNOWN_HOST_ANSWER_TIMEOUT",
    "known_hosts_name",
    "fingerprint_sha256",
]

log = Logger(namespace=__name__)

#: The file read (and written by ``accept_new``) when no ``known_hosts=`` is given.
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
#: How long the handshake waits for ``unknown_host_cb``'s answer (OpenSSH's default
#: LoginGraceTime: the server gives up on the handshake after that anyway).
UNKNOWN_HOST_ANSWER_TIMEOUT = 120.0

UnknownHostCallback = Callable[[str, str], Union[bool, "Deferred[bool]"]]


class PortAwareHostKeys(paramiko.HostKeys):
    """ncclient's host keys (a ``paramiko.HostKeys``) read from a known_hosts file as
    OpenSSH reads it (:mod:`.known_hosts`), matching names as OpenSSH does for one *port*.

    ncclient looks a host up as ``host`` and as ``[host]:port`` and accepts either. For a
    port other than 22 OpenSSH only uses ``[host]:port``; for port 22 only ``host``. The
    lookup of the other form finds nothing here. :meth:`check` accepts any listed key
    that is not revoked; :meth:`verdict` says why a key is not accepted. (paramiko's
    own ``add``, ``save`` and iteration see no entries: :attr:`known` holds them.)
    """

    def __init__(self, port: int, filename: Optional[str] = None) -> None:
        self.port = int(port)
        self.known = KnownHosts()
        super().__init__(filename)

    def load(self, filename: str) -> None:
        """Read *filename* (a missing file is an empty one; bad lines are skipped)."""
        self.known = read_known_hosts(filename)

    def __len__(self) -> int:
        return len(self.known.entries)

    def _applies(self, hostname: str) -> bool:
        return hostname.startswith("[") != (self.port == 22)

    def lookup(self, hostname: str) -> Any:
        """The usable keys listed for *hostname*, by type (what ncclient prefers to
        negotiate), or ``None``."""
        if not self._applies(hostname):
            return None
        found: Dict[str, paramiko.PKey] = {}
        negotiable = paramiko_host_key_algorithms()
        for entry in self.known.host_keys(hostname):
            try:
                key = paramiko.PKey.from_type_string(entry.key_type, entry.blob)
            except Exception:
                continue  # a type paramiko does not know: it cannot negotiate it either
            # Filed under the algorithms paramiko negotiates for it (ncclient prefers
            # those): an RSA key under rsa-sha2-*, as paramiko has no "ssh-rsa" (SHA-1).
            names = _RSA_ALGORITHMS if entry.key_type == "ssh-rsa" else (entry.key_type,)
            for name in names:
                if name not in found and (negotiable is None or name in negotiable):
                    found[name] = key
        return found or None

    def check(self, hostname: str, key: paramiko.PKey) -> bool:
        return self.verdict(hostname, key) == ACCEPTED

    def verdict(self, hostname: str, key: paramiko.PKey) -> str:
        """:meth:`KnownHosts.verdict` for *key* under *hostname* (``unknown`` for a name
        this port does not use)."""
        if not self._applies(hostname):
            return UNKNOWN
        return self.known.verdict(hostname, key.asbytes())


#: The host key algorithms of an RSA key, by preference.
_RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")

#: The files read lately: path -> (its stat signature or None, digest of the content,
#: what it holds). A service connecting to many devices reads one file again and again;
#: it is parsed once per content (and its bad lines warned about once), and read again
#: only when its signature (device, inode, size, mtime) changed.
_read_cache: "OrderedDict[str, Tuple[Optional[Tuple[int, ...]], bytes, KnownHosts]]" = OrderedDict()
_read_cache_guard = threading.Lock()
_READ_CACHE_SIZE = 16
#: A file modified this recently (seconds) is read again, whatever its signature: a
#: second change of the same size within the clock's tick keeps the mtime (git's "racy" case).
_RACY_SECONDS = 2.0


def read_known_hosts(path: str) -> KnownHosts:
    """The known_hosts file *path* (blocking; a missing file is an empty one). Each line
    that cannot be parsed is skipped with a warning naming the file and line."""
    try:
        st = os.stat(path)
        signature: Optional[Tuple[int, ...]] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with _read_cache_guard:
            cached = _read_cache.get(path)
            if cached is not None and cached[0] == signature:
                _read_cache.move_to_end(path)
                return cached[2]
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())  # what is read: the file may have changed since
            signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if time.time() - st.st_mtime < _RACY_SECONDS:
                signature = None
            data = f.read()
    except FileNotFoundError:
        return KnownHosts()
    digest = hashlib.sha256(data).digest()
    with _read_cache_guard:
        cached = _read_cache.get(path)
        if cached is not None and cached[1] == digest:
            _read_cache[path] = (signature, digest, cached[2])
            _read_cache.move_to_end(path)
            return cached[2]
    known = KnownHosts.parse(data)
    for lineno, problem in known.problems:
        log.warn("{path} line {lineno} skipped: {problem}", path=path, lineno=lineno, problem=problem)
    with _read_cache_guard:
        _read_cache[path] = (signature, digest, known)
        _read_cache.move_to_end(path)
        while len(_read_cache) > _READ_CACHE_SIZE:
            _read_cache.popitem(last=False)
    return known


_file_locks: Dict[str, threading.Lock] = {}
_file_locks_guard = threading.Lock()


def _lock_for(path: str) -> threading.Lock:
    with _file_locks_guard:
        lock = _file_locks.get(path)
        if lock is None:
            lock = _file_locks[path] = threading.Lock()
        return lock


def store_host_key(path: str, host: str, port: int, key: paramiko.PKey) -> None:
    """Append *key* for *host*:*port* to the known_hosts file *path* (blocking).

    Atomic: the new content goes to a temporary file in the same directory, which is
    then renamed over *path*, so a reader sees the old file or the new one, never a
    half-written one. Threads of this process storing into one file take turns; if
    another one stored a different key for this host meanwhile, the key has changed.
    The file's other lines (markers, comments, lines that cannot be parsed) stay as they are.
    """
    path = os.path.realpath(os.path.expanduser(path))
    name = known_hosts_name(host, port)
    with _lock_for(path):
        verdict = PortAwareHostKeys(port, path).verdict(name, key)
        if verdict == ACCEPTED:
            return
        if verdict == REVOKED:
            raise HostKeyRevokedError(host, port, key, path)
        if verdict == CHANGED:
            raise HostKeyChangedError(host, port, key, path)
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        try:
            with open(path, "rb") as f:
                content = f.read()
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            content, mode = b"", 0o600
        if content and not content.endswith(b"\n"):
            content += b"\n"
        content += ("%s %s %s\n" % (name, key.get_name(), key.get_base64())).encode("ascii")
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".known_hosts.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    log.info(
        "stored the {key_type} host key {fingerprint} of {host} in {path}",
        key_type=key.get_name(), fingerprint=fingerprint_sha256(key), host=name, path=path,
    )


class HostKeyPolicy:
    """The host-key decisions of one connect attempt (used on the connect thread).

    *user_cb* is the caller's ``unknown_host_cb`` (``None``: none given). Without it,
    a new host is accepted when *accept_new* is true and refused otherwise; with it, the
    callback decides (on the reactor thread) and *accept_new* stores what it accepts.
    """

    def __init__(
        self,
        reactor: IReactorFromThreads,
        port: int,
        known_hosts: Optional[str] = None,
        accept_new: bool = False,
        user_cb: Optional[UnknownHostCallback] = None,
        pinned: bool = False,
        answer_timeout: float = UNKNOWN_HOST_ANSWER_TIMEOUT,
        shutting_down: Optional[threading.Event] = None,
    ) -> None:
        self.reactor = reactor
        self.port = int(port)
        self.known_hosts = known_hosts
        self.accept_new = accept_new
        self.user_cb = user_cb
        self.pinned = pinned
        self.answer_timeout = answer_timeout
        self.session: Any = None
        #: Set when the reactor shuts down: stop waiting for ``user_cb``.
        self.shutting_down = shutting_down if shutting_down is not None else threading.Event()
        #: The file keys were read from (and are stored into).
        self.path: str = os.path.expanduser(known_hosts or DEFAULT_KNOWN_HOSTS)

    # -- called by ncclient's connect, on the connect thread ------------------------

    def load(self, filename: Optional[str]) -> PortAwareHostKeys:
        """The host keys to check against: ``known_hosts=``, else ncclient's choice."""
        if self.known_hosts is None and filename is not None:
            self.path = os.path.expanduser(filename)  # ssh_config's UserKnownHostsFile
        return PortAwareHostKeys(self.port, self.path)

    def unknown_host(self, host: str, fingerprint: str) -> bool:
        """ncclient's ``unknown_host_cb``: called when the key is not the known one."""
        key = self.session.transport.get_remote_server_key()
        if self.pinned:
            raise HostKeyChangedError(host, self.port, key, None)
        self._refuse_known(host, self.session.known_host_keys(), key)
        if self.user_cb is not None:
            accepted = self._ask(host, fingerprint)
        else:
            accepted = self.accept_new
        if not accepted:
            raise HostKeyUnknownError(host, self.port, key, self.path, asked=self.user_cb is not None)
        if self.accept_new:
            store_host_key(self.path, host, self.port, key)
        return True

    def check_key(
        self,
        host: str,
        key: paramiko.PKey,
        pinned_b64: Optional[str] = None,
        known_hosts_file: Optional[str] = None,
    ) -> "Deferred[bool]":
        """The same decisions for a session on the reactor thread (``io="reactor"``):
        ncclient's check against the stored (or *pinned_b64*) key, then
        :meth:`unknown_host`'s, with ``user_cb``'s answer awaited as a Deferred. Fails
        with :class:`HostKeyChangedError` or :class:`HostKeyUnknownError` (ncclient's
        ``SSHUnknownHostError``).
        *known_hosts_file* is ssh_config's ``UserKnownHostsFile`` (see :meth:`load`)."""
        name = known_hosts_name(host, self.port)
        if pinned_b64 is not None:
            if key.get_base64() == pinned_b64:
                return succeed(True)
            return fail(HostKeyChangedError(host, self.port, key, None))
        keys = self.load(known_hosts_file)
        if keys.check(name, key):
            return succeed(True)
        try:
            self._refuse_known(host, keys, key)
        except SSHUnknownHostError as e:
            return fail(e)
        fingerprint = fingerprint_md5(key)
        if self.user_cb is not None:
            answer: "Deferred[Any]" = maybeDeferred(self.user_cb, host, fingerprint)
        else:
            answer = succeed(self.accept_new)

        def decided(accepted: Any) -> bool:
            if not accepted:
                raise HostKeyUnknownError(host, self.port, key, self.path, asked=self.user_cb is not None)
            if self.accept_new:
                store_host_key(self.path, host, self.port, key)
            return True

        return answer.addCallback(decided)

    def known_key_types(
        self, host: str, pinned_b64: Optional[str] = None, known_hosts_file: Optional[str] = None
    ) -> List[str]:
        """The types of the keys :meth:`check_key` accepts for *host* (the pinned key's,
        or those listed in known_hosts, in file order): what to negotiate first."""
        if pinned_b64 is not None:
            try:
                blob = base64.b64decode(pinned_b64)
            except ValueError:
                return []
            key_type = blob_type(blob)
            return [key_type] if key_type else []
        keys = self.load(known_hosts_file)
        found: List[str] = []
        for entry in keys.known.host_keys(known_hosts_name(host, self.port)):
            if entry.key_type not in found:
                found.append(entry.key_type)
        return found

    def _refuse_known(self, host: str, keys: paramiko.HostKeys, key: paramiko.PKey) -> None:
        """Raise :class:`HostKeyRevokedError` or :class:`HostKeyChangedError` if *keys*
        (read from :attr:`path`) revoke *key* or list another key of its type for *host*."""
        verdict = cast(PortAwareHostKeys, keys).verdict(known_hosts_name(host, self.port), key)
        if verdict == REVOKED:
            raise HostKeyRevokedError(host, self.port, key, self.path)
        if verdict == CHANGED:
            raise HostKeyChangedError(host, self.port, key, self.path)

    def _ask(self, host: str, fingerprint: str) -> bool:
        """Call ``user_cb`` on the reactor thread and wait (bounded) for its answer."""
        assert self.user_cb is not None
        cb = self.user_cb
        answers: "queue.Queue[Any]" = queue.Queue(1)
        pending: List["Deferred[Any]"] = []

        def ask() -> None:
            d = maybeDeferred(cb, host, fingerprint)
            pending.append(d)
            d.addBoth(answers.put)

        def give_up() -> None:
            for d in pending:
                d.cancel()

        self.reactor.callFromThread(ask)
        deadline = time.monotonic() + self.answer_timeout
        while True:
            try:
                answer = answers.get(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
                break
            except queue.Empty:
                if time.monotonic() < deadline and not self.shutting_down.is_set():
                    continue
            self.reactor.callFromThread(give_up)
            log.warn("unknown_host_cb gave no answer (in {seconds} s, or the reactor is stopping): "
                     "key refused", seconds=self.answer_timeout)
            return False
        if isinstance(answer, Failure):
            answer.raiseException()
        return bool(answer)


class KnownHostsMixin:
    """For an ``SSHSession`` subclass: read host keys through a :class:`HostKeyPolicy`.

    Call :meth:`use_hostkey_policy` before ``connect``; without one, ncclient's
    behaviour is kept.
    """

    _hostkey_policy: Optional[HostKeyPolicy] = None
    _host_keys: paramiko.HostKeys

    def use_hostkey_policy(self, policy: HostKeyPolicy) -> None:
        """Check host keys with *policy* (which then reads this session's keys)."""
        self._hostkey_policy = policy
        policy.session = self

    def load_known_hosts(self, filename: Optional[str] = None) -> None:
        policy = self._hostkey_policy
        if policy is None:
            super().load_known_hosts(filename)  # type: ignore[misc]
            return
        self._host_keys = policy.load(filename)

    def known_host_keys(self) -> paramiko.HostKeys:
        """The host keys ncclient's connect checks the server's key against."""
        return self._host_keys

"""Every connect keyword, read and checked in one place (as asyncssh's connection options).

:func:`ncclient_twisted.manager.connect` and its siblings take ncclient's arguments plus
ours. :meth:`ConnectOptions.parse` reads them once, at the call: ncclient's parameter
dictionaries (``device_params``, ``manager_params``, ``nc_params``, ``errors_params``),
our keywords (``known_hosts``, ``accept_new``, ``unknown_host_cb``, ``keepalive``,
``keepalive_count_max``, ``max_message_size``, ``notification_buffer`` in ``manager_params``)
and what is left
for the session's ``connect``, checked against that method's own signature. A keyword
nobody takes or a value of the wrong kind is a ``TypeError`` or ``ValueError`` saying which,
which the connect functions return as a failed Deferred. The transport's keywords are
then typed attributes, each default written once: :class:`SSHOptions`, :class:`TLSOptions`,
:class:`UnixOptions`.
"""

from __future__ import annotations

import functools
import inspect
import os
import socket
from dataclasses import dataclass, field, fields
from typing import AbstractSet, Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Tuple, Type, TypeVar

import ncclient
from ncclient.operations.rpc import RaiseMode
from twisted.logger import Logger

from ncclient_twisted.notifications import DEFAULT_NOTIFICATION_BUFFER
from ncclient_twisted.transport.framing import DEFAULT_MAX_MESSAGE_SIZE
from ncclient_twisted.transport.keepalive import DEFAULT_KEEPALIVE_COUNT_MAX

__all__ = [
    "ConnectOptions",
    "SSHOptions",
    "TLSOptions",
    "UnixOptions",
    "key_passphrase_for_old_ncclient",
    "REACTOR_KEYWORDS",
]

log = Logger(namespace=__name__)

_NCCLIENT_VERSION = tuple(int(x) for x in ncclient.__version__.split(".")[:2] if x.isdigit())

#: ``manager_params`` keys: the Manager's, and ours.
_MANAGER_KEYS = frozenset({"timeout", "notification_buffer"})
_ERRORS_KEYS = frozenset({"ignore_errors", "raise_mode"})
#: Our SSH keywords (``keepalive`` and ``unknown_host_cb`` are ncclient's names).
_OUR_SSH_KEYS = frozenset({"known_hosts", "accept_new", "keepalive_count_max"})
_IO = ("threads", "reactor")
#: ``io``'s default: the reactor transport, unless the call needs the threads transport.
AUTO_IO = "auto"
#: The session keywords the reactor transport implements, per transport (``keepalive``
#: and ``unknown_host_cb`` are read before, see ``_take_ssh_keywords``). One that the
#: installed ncclient's session takes and that is not here (a keyword of a newer
#: ncclient) makes ``io="auto"`` choose the threads transport and ``io="reactor"`` fail
#: with ``NotImplementedError`` naming it: never silently dropped.
REACTOR_KEYWORDS: Dict[str, FrozenSet[str]] = {
    "ssh": frozenset(
        {
            "host", "port", "timeout", "username", "password", "key_filename", "allow_agent",
            "hostkey_verify", "hostkey_b64", "look_for_keys", "ssh_config", "sock_fd",
            "bind_addr", "sock", "environment", "auth_handler",
        }
    ),
    "tls": frozenset(
        {
            "host", "port", "keyfile", "certfile", "ca_certs", "protocol", "check_hostname",
            "server_hostname", "timeout", "sock", "bind_addr",
        }
    ),
    "uds": frozenset({"path", "timeout"}),
}
#: Keywords of ncclient's development head that the reactor transport takes even where
#: the installed ncclient's session does not (``auth_handler``: keyboard-interactive
#: answered by the caller, e.g. a second factor).
_REACTOR_EXTRA_KEYWORDS: Dict[str, FrozenSet[str]] = {"ssh": frozenset({"auth_handler"})}


def choose_io(transport: str, kwds: Dict[str, Any]) -> str:
    """``io="auto"`` (the default): ``"reactor"``, unless the call needs the threads
    transport: TLS without Twisted's TLS (``twisted[tls]``: pyOpenSSL and
    service_identity). (An ssh_config whose entry has a ``ProxyCommand`` needs it too:
    known once the file is read, see ``endpoints.connect_ssh``; and so does a session
    keyword that the reactor transport does not implement, see :data:`REACTOR_KEYWORDS`.)"""
    if transport == "tls" and not _twisted_tls_available():
        return "threads"
    return "reactor"


@functools.lru_cache(maxsize=1)
def _twisted_tls_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("OpenSSL", "service_identity"))


def key_passphrase_for_old_ncclient(
    args: Tuple[Any, ...], kwds: Dict[str, Any], version: Tuple[int, ...] = _NCCLIENT_VERSION
) -> None:
    """ncclient 0.6.x opens key files with ``password.encode()``: without a password every
    key (``key_filename``, an ssh_config's ``IdentityFile``, ``~/.ssh``) fails to load.
    Give it the empty passphrase in *kwds*, which opens keys that have none, as ncclient
    0.7 does. (When no key is accepted, ncclient 0.6.x then also tries the empty
    password, which servers normally refuse.)"""
    if version >= (0, 7) or len(args) > 3 or kwds.get("password") is not None:
        return
    if kwds.get("key_filename") or kwds.get("ssh_config") or kwds.get("look_for_keys", True):
        kwds["password"] = ""


@functools.lru_cache(maxsize=64)
def _connect_keywords(session_class: Any) -> Tuple[FrozenSet[str], int, bool]:
    """The keywords a session class's ``connect`` takes, how many positional arguments,
    and whether it takes any keyword (``**kwargs``). (Kept per class: ``inspect`` costs
    about 0.1 ms, which a burst of connects would pay each time.)"""
    params = list(inspect.signature(session_class.connect).parameters.values())[1:]  # self
    names = frozenset(
        p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )
    positional = sum(1 for p in params if p.kind == p.POSITIONAL_OR_KEYWORD)
    return names, positional, any(p.kind == p.VAR_KEYWORD for p in params)


@functools.lru_cache(maxsize=64)
def _positional_names(session_class: Any) -> Tuple[str, ...]:
    """The names of the positional parameters of a session class's ``connect``, in order."""
    params = list(inspect.signature(session_class.connect).parameters.values())[1:]  # self
    return tuple(p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD)


def _number(name: str, value: Any, *, positive: bool = False) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number of seconds or None, not %s" % (name, type(value).__name__))
    if positive and value <= 0:
        raise ValueError("%s must be positive" % name)
    return float(value)


def _check_environment(environment: Any) -> None:
    """ncclient's ``environment``: names and values of text (or bytes), as paramiko
    sends them (anything else fails there, after authentication)."""
    if environment is None:
        return
    if not isinstance(environment, Mapping):
        raise TypeError("environment must be a dict, not %s" % type(environment).__name__)
    for name, value in environment.items():
        if not isinstance(name, (str, bytes)) or not isinstance(value, (str, bytes)):
            # The value is not shown: it may be a secret.
            raise TypeError("environment's names and values must be text (%r)" % (name,))


@dataclass(frozen=True)
class _OverTCP:
    """What the SSH and TLS keywords share."""

    host: Optional[str] = None
    #: The connect's bound (seconds); None: the transport's hello timeout.
    timeout: Optional[float] = None
    #: A connected socket (call home), or the local address to bind to.
    sock: Optional[socket.socket] = None
    bind_addr: Optional[str] = None


@dataclass(frozen=True)
class SSHOptions(_OverTCP):
    """An SSH connect's keywords (ncclient's ``connect_ssh`` and ours), typed, with
    ncclient's defaults."""

    port: int = 830
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    #: A path or a list of paths.
    key_filename: Any = None
    allow_agent: bool = True
    look_for_keys: bool = True
    hostkey_verify: bool = True
    hostkey_b64: Optional[str] = None
    #: A path, or True: ``~/.ssh/config``.
    ssh_config: Any = None
    sock_fd: Optional[int] = None
    environment: Optional[Mapping[Any, Any]] = field(default=None, repr=False)
    auth_handler: Optional[Callable[..., Any]] = None
    #: Dead-peer detection (seconds; None: off) and the keepalives it may miss.
    keepalive: Optional[float] = None
    keepalive_count_max: int = DEFAULT_KEEPALIVE_COUNT_MAX
    #: Host keys (see :mod:`ncclient_twisted.transport.hostkeys`).
    known_hosts: Optional[str] = None
    accept_new: bool = False
    unknown_host_cb: Optional[Callable[[str, str], Any]] = None

    @property
    def reads_ssh_config(self) -> bool:
        """Whether the connect reads an ssh_config for its connection (given one, and no
        socket: ncclient uses neither the config's host nor its ProxyCommand then)."""
        return self.ssh_config not in (None, False) and self.sock is None and self.sock_fd is None


@dataclass(frozen=True)
class TLSOptions(_OverTCP):
    """A TLS connect's keywords (ncclient's ``connect_tls``), typed, with ncclient's
    defaults."""

    port: int = 6513
    #: The client's certificate and key (PEM files; no ``keyfile``: both in ``certfile``).
    certfile: Optional[str] = None
    keyfile: Optional[str] = None
    #: The CAs that may sign the server's certificate (None: the platform's).
    ca_certs: Optional[str] = None
    #: An ``ssl.PROTOCOL_*`` constant (None: ``PROTOCOL_TLS_CLIENT``).
    protocol: Any = None
    #: Whether the server's certificate must name ``server_hostname`` (None: ``host``).
    check_hostname: bool = True
    server_hostname: Optional[str] = None


@dataclass(frozen=True)
class UnixOptions:
    """A Unix-socket connect's keywords (ncclient's ``connect_uds``), typed."""

    path: Optional[str] = None
    #: The connect's bound (seconds); None: the transport's hello timeout.
    timeout: Optional[float] = None


_G = TypeVar("_G", SSHOptions, TLSOptions, UnixOptions)


def _group(cls: Type[_G], values: Mapping[str, Any]) -> _G:
    """*cls* from the keywords in *values* it has (absent ones keep its defaults); a port
    or timeout given as None takes the default too."""
    names = {f.name for f in fields(cls)}
    given = {k: v for k, v in values.items() if k in names}
    if given.get("port", 0) is None:
        del given["port"]
    if "port" in given:
        given["port"] = _port(given["port"])
    if "timeout" in given:
        given["timeout"] = _number("timeout", given["timeout"])
    return cls(**given)


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError("port must be a number, not %s" % type(value).__name__)
    try:
        return int(value)
    except ValueError:
        raise ValueError("port must be a number, not %r" % (value,)) from None


@dataclass
class ConnectOptions:
    """One connect call's arguments, sorted out and checked.

    ``args`` and ``session_kwds`` go to the session's ``connect`` (ncclient's) on
    ``io="threads"``; the connectors read the transport's keywords, typed and with their
    defaults, in its group (:attr:`ssh`, :attr:`tls` or :attr:`uds`; the other groups
    keep their defaults). The rest is for the manager and the device handler.
    """

    transport: str
    args: Tuple[Any, ...]
    session_kwds: Dict[str, Any]
    #: ``"threads"`` (ncclient's session thread per session) or ``"reactor"`` (the
    #: session is a Twisted protocol on the reactor thread): what ``io`` (default
    #: ``"auto"``, see :func:`choose_io`) chose.
    io: str = "reactor"
    #: Whether ``io`` was chosen (``"auto"``), not given: the connect may still pick
    #: ``"threads"`` for what it learns later (an ssh_config ``ProxyCommand``).
    io_chosen: bool = False
    device_params: Any = None
    manager_params: Dict[str, Any] = field(default_factory=dict)
    nc_params: Dict[str, Any] = field(default_factory=dict)
    ignore_errors: List[Any] = field(default_factory=list)
    raise_mode: int = RaiseMode.ALL
    notification_buffer: int = DEFAULT_NOTIFICATION_BUFFER
    #: The largest message the session takes (bytes of one message, framing excluded;
    #: None: no limit): a larger one ends the session with ``MessageTooLargeError``.
    max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE
    #: The transport's keywords, positional ones included (the call's transport's group).
    ssh: SSHOptions = field(default_factory=SSHOptions)
    tls: TLSOptions = field(default_factory=TLSOptions)
    uds: UnixOptions = field(default_factory=UnixOptions)

    @property
    def reads_ssh_config(self) -> bool:
        """See :attr:`SSHOptions.reads_ssh_config`."""
        return self.ssh.reads_ssh_config

    # SSH's own keywords, read here before the groups were (kept: documented API).
    keepalive = property(lambda self: self.ssh.keepalive)
    keepalive_count_max = property(lambda self: self.ssh.keepalive_count_max)
    known_hosts = property(lambda self: self.ssh.known_hosts)
    accept_new = property(lambda self: self.ssh.accept_new)
    unknown_host_cb = property(lambda self: self.ssh.unknown_host_cb)

    def __repr__(self) -> str:
        # Never the password, the key's passphrase or the parameters that may carry them.
        shown = {k: v for k, v in self.session_kwds.items() if k in ("host", "port", "username", "path")}
        return "<ConnectOptions %s %r>" % (self.transport, shown)

    @property
    def host(self) -> Optional[str]:
        """The host of an SSH or TLS connect (None for a Unix socket)."""
        return self.tls.host if self.transport == "tls" else self.ssh.host

    @property
    def timeout(self) -> Optional[float]:
        """The connect's bound, as given (seconds; None: the transport's default)."""
        if self.transport == "uds":
            return self.uds.timeout
        return self.tls.timeout if self.transport == "tls" else self.ssh.timeout

    @property
    def port(self) -> Optional[int]:
        """The port of an SSH or TLS connect, its default if not given (None for a Unix socket)."""
        if self.transport == "uds":
            return None
        return self.tls.port if self.transport == "tls" else self.ssh.port

    @classmethod
    def parse(
        cls, transport: str, session_class: Any, args: Tuple[Any, ...], kwds: Dict[str, Any]
    ) -> "ConnectOptions":
        """Read *args* and *kwds* of a ``connect_<transport>`` call for *session_class*."""
        kwds = dict(kwds)
        io = kwds.pop("io", None) or AUTO_IO
        if io not in _IO + (AUTO_IO,):
            raise ValueError(
                "io must be %s, not %r" % (" or ".join(repr(i) for i in _IO + (AUTO_IO,)), io)
            )
        io_chosen = io == AUTO_IO
        if io_chosen:
            io = choose_io(transport, kwds)
        device_params = kwds.pop("device_params", None)
        if device_params is not None and not isinstance(device_params, dict):
            raise TypeError("device_params must be a dict, not %s" % type(device_params).__name__)
        manager_params = dict(kwds.pop("manager_params", None) or {})
        nc_params = dict(kwds.pop("nc_params", None) or {})
        errors_params = dict(kwds.pop("errors_params", None) or {})
        for name, given, allowed in (
            ("manager_params", manager_params, _MANAGER_KEYS),
            ("errors_params", errors_params, _ERRORS_KEYS),
        ):
            unknown = sorted(set(given) - allowed)
            if unknown:
                raise TypeError(
                    "%s takes %s, not %s" % (name, ", ".join(sorted(allowed)), ", ".join(unknown))
                )
        if "timeout" not in manager_params and "timeout" in kwds:
            manager_params["timeout"] = kwds["timeout"]  # as ncclient: connect's timeout
        if "timeout" in manager_params:
            manager_params["timeout"] = _number("timeout", manager_params["timeout"])
        max_message_size = kwds.pop("max_message_size", DEFAULT_MAX_MESSAGE_SIZE)
        if max_message_size is not None and (
            isinstance(max_message_size, bool) or not isinstance(max_message_size, int)
        ):
            raise TypeError(
                "max_message_size must be a whole number of bytes or None, not %s"
                % type(max_message_size).__name__
            )
        if max_message_size is not None and max_message_size < 1:
            raise ValueError("max_message_size must be positive (or None: no limit)")
        buffer_size = manager_params.pop("notification_buffer", DEFAULT_NOTIFICATION_BUFFER)
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
            raise ValueError("notification_buffer must be a positive whole number")
        options = cls(
            transport=transport,
            args=tuple(args),
            session_kwds=kwds,
            io=io,
            io_chosen=io_chosen,
            device_params=device_params,
            manager_params=manager_params,
            nc_params=nc_params,
            ignore_errors=list(errors_params.get("ignore_errors", []) or []),
            raise_mode=errors_params.get("raise_mode", RaiseMode.ALL),
            notification_buffer=buffer_size,
            max_message_size=max_message_size,
        )
        ours = options._take_ssh_keywords() if transport == "ssh" else {}
        options._check_session_keywords(session_class)
        options._fill_group(session_class, ours)
        return options

    def _fill_group(self, session_class: Any, ours: Dict[str, Any]) -> None:
        """The transport's group, from the positional arguments (named as the session's
        ``connect`` names them), the keywords and *ours* (SSH's own)."""
        values = dict(zip(_positional_names(session_class), self.args))
        values.update(self.session_kwds)
        values.update(ours)
        if self.transport == "ssh":
            self.ssh = _group(SSHOptions, values)
        elif self.transport == "tls":
            self.tls = _group(TLSOptions, values)
        else:
            self.uds = _group(UnixOptions, values)

    def _take_ssh_keywords(self) -> Dict[str, Any]:
        """Check the SSH keywords and take ours out of ``session_kwds``: they are returned."""
        kwds = self.session_kwds
        if kwds.pop("use_libssh", False):
            raise NotImplementedError("ncclient_twisted does not support use_libssh")
        device_params = self.device_params or {}
        if kwds.get("host") == "localhost" and device_params.get("name") == "junos" and device_params.get(
            "local"
        ):
            raise NotImplementedError("ncclient_twisted does not support the junos ioproc transport")
        ours: Dict[str, Any] = {}
        known_hosts = kwds.pop("known_hosts", None)
        ours["known_hosts"] = None if known_hosts is None else os.fspath(known_hosts)
        ours["accept_new"] = bool(kwds.pop("accept_new", False))
        ours["unknown_host_cb"] = kwds.pop("unknown_host_cb", None)
        if ours["unknown_host_cb"] is not None and not callable(ours["unknown_host_cb"]):
            raise TypeError("unknown_host_cb must be callable")
        interval = kwds.pop("keepalive", None)
        count_max = kwds.pop("keepalive_count_max", DEFAULT_KEEPALIVE_COUNT_MAX)
        if interval:
            keepalive = ours["keepalive"] = _number("keepalive", interval)
            try:
                count_max = ours["keepalive_count_max"] = int(count_max)
            except (TypeError, ValueError):
                raise TypeError("keepalive_count_max must be a whole number") from None
            if keepalive is None or keepalive <= 0 or count_max < 1:
                raise ValueError("keepalive must be positive and keepalive_count_max at least 1")
        _check_environment(kwds.get("environment"))
        auth_handler = kwds.get("auth_handler")
        if auth_handler is not None and not callable(auth_handler):
            raise TypeError("auth_handler must be callable")
        key_passphrase_for_old_ncclient(self.args, self.session_kwds)
        return ours

    def _check_session_keywords(self, session_class: Any) -> None:
        names, positional, any_keyword = _connect_keywords(session_class)
        if len(self.args) > positional:
            raise TypeError(
                "connect_%s() takes at most %d positional arguments (%d given)"
                % (self.transport, positional, len(self.args))
            )
        given = set(self.session_kwds)
        if self.io == "reactor":
            self._fit_reactor(given & names)
        if any_keyword:
            return
        extra = _REACTOR_EXTRA_KEYWORDS.get(self.transport, frozenset())
        allowed = names | extra if self.io == "reactor" else names
        unknown = sorted(given - allowed)
        if unknown:
            needs_reactor = sorted(set(unknown) & extra)
            if needs_reactor:
                raise TypeError(
                    "connect_%s() got %s, which the installed ncclient (%s) does not take: it "
                    "works on io='reactor' (or 'auto')"
                    % (self.transport, ", ".join(needs_reactor), ncclient.__version__)
                )
            raise TypeError(
                "connect_%s() got unexpected keyword arguments: %s" % (self.transport, ", ".join(unknown))
            )

    def _fit_reactor(self, given: AbstractSet[str]) -> None:
        """The session's keywords *given* that the reactor transport does not implement:
        ``io="auto"`` chooses the threads transport for them, ``io="reactor"`` fails with
        ``NotImplementedError`` naming them."""
        implemented = REACTOR_KEYWORDS.get(self.transport)
        missing = sorted(given - implemented) if implemented is not None else []
        if not missing:
            return
        if self.io_chosen:
            log.debug(
                "io='threads' for {keywords}, which io='reactor' does not implement",
                keywords=", ".join(missing),
            )
            self.io = "threads"
            return
        raise NotImplementedError(
            "io='reactor' does not implement %s, which the installed ncclient's session takes: "
            "use io='threads' (or io='auto', which chooses it)" % ", ".join(missing)
        )

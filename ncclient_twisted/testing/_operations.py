"""
The NETCONF operations (RFC 6241 section 7 and 8, RFC 5277): the state
shared by all sessions of one server (datastores, locks, pending confirmed
commit) and one handler per operation.

Handlers receive the session and the operation element (the first child of
``<rpc>``) and return an :class:`Outcome`: the bytes that go inside
``<rpc-reply>`` plus an optional action to run once the reply is sent.
They raise :class:`NetconfError` for ``<rpc-error>`` replies.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Set,
    Tuple,
    Union,
)

from lxml import etree
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._datastore import Datastore, check_config_content, edit, merge_into, new_root, root_from_xml
from ._errors import NetconfError, NetconfErrors, errors_body
from ._monitoring import Counters, Statistics, netconf_state
from ._notifications import ChangedBy, NotificationHub, config_change, confirmed_commit_event
from ._schemas import NCM_NS, SchemaInput, Schemas
from ._subscribed import SN_NS
from ._subtree import subtree_filter, xpath_filter
from ._xml import (
    BASE_1_0,
    BASE_1_1,
    BASE_NS,
    NOTIFICATION_NS,
    XmlInput,
    children,
    copy_in_scope,
    escape_text,
    first_child,
    localname,
    namespace_of,
    nc,
    qn,
    serialize,
    text_of,
    to_element,
)

if TYPE_CHECKING:
    from ._session import Session

_log = Logger()

OK = b"<ok/>"
CAPABILITY = "urn:ietf:params:netconf:capability:"
DEFAULT_CONFIRM_TIMEOUT = 600

#: What a custom RPC handler may return: None for ``<ok/>``, or the content
#: of ``<rpc-reply>`` as XML text/bytes, an element or a list of elements.
HandlerResult = Union[None, str, bytes, "etree._Element", Sequence["etree._Element"]]
#: A custom RPC handler: ``handler(session, operation_element)``; it may
#: return a :data:`HandlerResult` or a Deferred firing with one, and may
#: raise :class:`NetconfError`.
RpcHandler = Callable[["Session", "etree._Element"], Any]


class SessionInfo(Protocol):
    """What the operations need to know about a session."""

    session_id: int
    username: str
    source_host: Optional[str]
    transport: str
    login_time: float
    counters: Counters

    def send_notification(self, xml: bytes) -> None:
        ...

    def send_notifications(self, xmls: Sequence[bytes]) -> None:
        ...

    def kill(self) -> None:
        ...

    def close_gracefully(self) -> None:
        ...


class Outcome:
    """The result of an operation: reply content and post-reply action."""

    __slots__ = ("body", "after")

    def __init__(
        self, body: Union[bytes, "Deferred[bytes]"], after: Optional[Callable[[], None]] = None
    ) -> None:
        self.body = body
        self.after = after


class Options:
    """Server configuration that shapes capabilities and operations."""

    def __init__(
        self,
        *,
        base_versions: Sequence[str] = ("1.0", "1.1"),
        writable_running: bool = True,
        candidate: bool = True,
        startup: bool = True,
        extra_capabilities: Iterable[str] = (),
        interleave: bool = True,
        schemas: Optional[Mapping[str, SchemaInput]] = None,
        xpath_local_names: bool = True,
    ) -> None:
        versions = tuple(base_versions)
        if not versions or any(v not in ("1.0", "1.1") for v in versions):
            raise ValueError("base_versions must be a non-empty subset of ('1.0', '1.1')")
        self.base_versions = versions
        self.writable_running = writable_running
        self.candidate = candidate
        self.startup = startup
        self.extra_capabilities = tuple(extra_capabilities)
        self.interleave = interleave
        self.xpath_local_names = xpath_local_names
        self.schemas = Schemas(
            ietf_netconf_features=self._ietf_netconf_features(), interleave=interleave, extra=schemas
        )

    def _ietf_netconf_features(self) -> List[str]:
        """The features of the ietf-netconf module this server implements."""
        features: List[str] = []
        if self.writable_running:
            features.append("writable-running")
        if self.candidate:
            features += ["candidate", "confirmed-commit"]
        features += ["rollback-on-error", "validate"]
        if self.startup:
            features.append("startup")
        features.append("xpath")
        return features

    def capabilities(self) -> List[str]:
        """The capability URIs advertised in the server ``<hello>``."""
        caps: List[str] = []
        if "1.0" in self.base_versions:
            caps.append(BASE_1_0)
        if "1.1" in self.base_versions:
            caps.append(BASE_1_1)
        if self.writable_running:
            caps.append(CAPABILITY + "writable-running:1.0")
        if self.candidate:
            caps.append(CAPABILITY + "candidate:1.0")
            caps.append(CAPABILITY + "confirmed-commit:1.1")
        caps.append(CAPABILITY + "rollback-on-error:1.0")
        caps.append(CAPABILITY + "validate:1.1")
        if self.startup:
            caps.append(CAPABILITY + "startup:1.0")
        caps.append(CAPABILITY + "xpath:1.0")
        caps.append(CAPABILITY + "notification:1.0")
        if self.interleave:
            caps.append(CAPABILITY + "interleave:1.0")
        caps.extend(self.schemas.capabilities())
        for cap in self.extra_capabilities:
            if cap not in caps:
                caps.append(cap)
        return caps


class _PendingCommit:
    def __init__(self, owner: int, snapshot: etree._Element, persist: Optional[str]) -> None:
        self.owner = owner
        self.snapshot = snapshot
        self.persist = persist
        self.timer: Optional[IDelayedCall] = None


def _param(op: etree._Element, name: str) -> Optional[etree._Element]:
    """The parameter *name* of an operation, in the base namespace or (as
    many clients send it) in no namespace."""
    qualified = nc(name)
    for child in op.iterchildren(etree.Element):
        tag = child.tag
        if tag == qualified or tag == name:
            return child
    return None


def _option(op: etree._Element, name: str, allowed: Sequence[str], default: str) -> str:
    element = _param(op, name)
    if element is None:
        return default
    value = text_of(element)
    if value not in allowed:
        raise NetconfError(
            "invalid-value",
            "invalid %s %r" % (name, value),
            error_type="protocol",
            info=[("bad-element", name)],
        )
    return value


def _missing(name: str, error_type: str = "protocol") -> NetconfError:
    return NetconfError(
        "missing-element",
        "missing <%s>" % name,
        error_type=error_type,
        info=[("bad-element", name)],
    )


def _reply_content(result: HandlerResult) -> bytes:
    if result is None:
        return OK
    if isinstance(result, str):
        result = result.encode("utf-8")
    if isinstance(result, bytes):
        return serialize(to_element(result))
    if isinstance(result, etree._Element):
        return serialize(result)
    return b"".join(serialize(e) for e in result)


class Engine:
    """Datastores, locks and operation handlers of one server."""

    def __init__(
        self,
        *,
        clock: IReactorTime,
        options: Options,
        hub: NotificationHub,
        sessions: Mapping[int, SessionInfo],
        handlers: Optional[Mapping[str, RpcHandler]] = None,
        config: Optional[XmlInput] = None,
        state: Optional[XmlInput] = None,
    ) -> None:
        self.clock = clock
        self.options = options
        self.hub = hub
        self.sessions = sessions
        self.handlers: Dict[str, RpcHandler] = dict(handlers or {})
        running = Datastore("running", root_from_xml(config))
        self.datastores: Dict[str, Datastore] = {"running": running}
        if options.candidate:
            self.datastores["candidate"] = Datastore("candidate", running.copy())
        if options.startup:
            self.datastores["startup"] = Datastore("startup", running.copy())
        self.state: Optional[etree._Element] = None
        self._state_version = 0
        self._get_cache: Optional[Tuple[int, int, etree._Element, bytes]] = None
        if state is not None:
            self.set_state(state)
        self.candidate_dirty_by: Set[int] = set()
        self.pending: Optional[_PendingCommit] = None
        self._ops: Dict[str, Callable[[SessionInfo, etree._Element], Outcome]] = {
            nc("get"): self._get,
            nc("get-config"): self._get_config,
            nc("edit-config"): self._edit_config,
            nc("copy-config"): self._copy_config,
            nc("delete-config"): self._delete_config,
            nc("lock"): self._lock,
            nc("unlock"): self._unlock,
            nc("close-session"): self._close_session,
            nc("kill-session"): self._kill_session,
            nc("commit"): self._commit,
            nc("cancel-commit"): self._cancel_commit,
            nc("discard-changes"): self._discard_changes,
            nc("validate"): self._validate,
            qn(NOTIFICATION_NS, "create-subscription"): self._create_subscription,
            qn(SN_NS, "establish-subscription"): self._establish_subscription,
            qn(SN_NS, "modify-subscription"): self._modify_subscription,
            qn(SN_NS, "delete-subscription"): self._delete_subscription,
            qn(SN_NS, "kill-subscription"): self._kill_subscription,
            qn(NCM_NS, "get-schema"): self._get_schema,
        }
        self.capabilities = options.capabilities()
        self.statistics = Statistics(clock.seconds())
        #: When each datastore's lock was taken (epoch seconds).
        self.lock_times: Dict[str, float] = {}

    # -- public helpers used by the server object ------------------------------

    @property
    def running(self) -> Datastore:
        return self.datastores["running"]

    def set_state(self, state: Optional[XmlInput]) -> None:
        """Replace the state data returned (with the running config) by ``<get>``."""
        self.state = root_from_xml(state) if state is not None else None
        self._state_version += 1

    def stop(self) -> None:
        """Cancel timers (server shutdown); a pending confirmed commit stays applied."""
        if self.pending is not None and self.pending.timer is not None and self.pending.timer.active():
            self.pending.timer.cancel()
        self.pending = None

    def session_closed(self, session: SessionInfo) -> None:
        """Release what a terminated session held (locks, confirmed commit, subscription)."""
        sid = session.session_id
        self.hub.unsubscribe(sid)
        for ds in self.datastores.values():
            if ds.lock_owner == sid:
                self._release(ds)
        pending = self.pending
        if pending is not None and pending.persist is None and pending.owner == sid:
            self._rollback(ChangedBy(session.username, sid, session.source_host), "cancel")

    # -- dispatch ------------------------------------------------------------

    def handle(self, session: "Session", op: etree._Element) -> Outcome:
        """Run the operation *op*; errors become ``<rpc-error>`` content."""
        try:
            handler = self._ops.get(op.tag)
            if handler is not None:
                return handler(session, op)
            custom = self.handlers.get(op.tag) or self.handlers.get(localname(op.tag))
            if custom is not None:
                return self._custom(custom, session, op)
            raise NetconfError(
                "operation-not-supported",
                "operation %s is not supported" % localname(op.tag),
                error_type="protocol",
                info=[("bad-element", localname(op.tag))],
            )
        except NetconfError as err:
            return Outcome(err.to_xml())
        except NetconfErrors as errs:
            return Outcome(errors_body(errs.errors))
        except Exception:
            _log.failure("error handling {op}", op=op.tag)
            return Outcome(NetconfError("operation-failed", "internal server error").to_xml())

    def _custom(self, handler: RpcHandler, session: "Session", op: etree._Element) -> Outcome:
        def convert(result: HandlerResult) -> bytes:
            return _reply_content(result)

        def failed(failure: Failure) -> bytes:
            error = failure.value
            if isinstance(error, NetconfError):
                return error.to_xml()
            if isinstance(error, NetconfErrors):
                return errors_body(error.errors)
            _log.failure("custom handler for {op} failed", failure, op=op.tag)
            return NetconfError("operation-failed", "internal server error").to_xml()

        d: "Deferred[bytes]" = maybeDeferred(handler, session, op).addCallback(convert).addErrback(failed)
        result: List[bytes] = []

        def keep(body: bytes) -> bytes:
            result.append(body)
            return body

        d.addCallback(keep)
        if result:
            return Outcome(result[0])
        return Outcome(d)

    # -- helpers ----------------------------------------------------------------

    def _datastore_name(self, op: etree._Element, container: str, allow_config: bool = False) -> str:
        holder = _param(op, container)
        if holder is None:
            raise _missing(container)
        choice = first_child(holder)
        if choice is None:
            raise _missing(container)
        name = localname(choice.tag)
        if namespace_of(choice.tag) not in (BASE_NS, None):
            raise NetconfError(
                "unknown-element",
                "unknown element in <%s>" % container,
                error_type="protocol",
                info=[("bad-element", name)],
            )
        if name == "url":
            raise NetconfError(
                "operation-not-supported",
                "the :url capability is not supported",
                error_type="protocol",
                info=[("bad-element", "url")],
            )
        if name == "config" and allow_config:
            return name
        if name not in self.datastores:
            raise NetconfError(
                "invalid-value",
                "no such datastore: %s" % name,
                error_type="protocol",
                info=[("bad-element", name)],
            )
        return name

    def _check_lock(self, session: SessionInfo, ds: Datastore) -> None:
        owner = ds.lock_owner
        if owner is not None and owner != session.session_id:
            raise NetconfError(
                "in-use",
                "the %s datastore is locked by session %d" % (ds.name, owner),
                error_type="protocol",
                info=[("session-id", str(owner))],
            )

    def _writable(self, session: SessionInfo, name: str) -> Datastore:
        if name == "running" and not self.options.writable_running:
            raise NetconfError(
                "operation-not-supported",
                "the running datastore is not writable (use the candidate)",
                error_type="protocol",
            )
        ds = self.datastores[name]
        self._check_lock(session, ds)
        return ds

    def _data(
        self,
        root: etree._Element,
        op: etree._Element,
        cached: Optional[bytes] = None,
        extra: bytes = b"",
    ) -> bytes:
        """``<data>`` of *root* (and of the *extra* top-level element), filtered as *op* asks."""
        filter_element = _param(op, "filter")
        if filter_element is None:
            if cached is None:
                cached = b"".join(serialize(c) for c in children(root))
            return b"<data>" + cached + extra + b"</data>"
        out = self._filtered(root, filter_element)
        body = b"".join(serialize(c) for c in children(out))
        if extra:
            holder = etree.Element("data")
            holder.append(etree.fromstring(extra))
            body += b"".join(serialize(c) for c in children(self._filtered(holder, filter_element)))
        return b"<data>" + body + b"</data>"

    def _filtered(self, root: etree._Element, filter_element: etree._Element) -> etree._Element:
        kind = filter_element.get("type", "subtree")
        if kind == "subtree":
            return subtree_filter(root, filter_element)
        if kind == "xpath":
            select = filter_element.get("select")
            if select is None:
                raise NetconfError(
                    "missing-attribute",
                    "an XPath filter needs a select attribute",
                    error_type="protocol",
                    info=[("bad-attribute", "select"), ("bad-element", "filter")],
                )
            namespaces = {p: u for p, u in filter_element.nsmap.items() if p is not None}
            return xpath_filter(root, select, namespaces, local_names=self.options.xpath_local_names)
        raise NetconfError(
            "bad-attribute",
            "unsupported filter type %r" % kind,
            error_type="protocol",
            info=[("bad-attribute", "type"), ("bad-element", "filter")],
        )

    def netconf_state(self) -> bytes:
        """The ``/netconf-state`` of ietf-netconf-monitoring, serialised."""
        return netconf_state(
            capabilities=self.capabilities,
            datastores=self.datastores.values(),
            schemas=self.options.schemas.all,
            sessions=sorted(self.sessions.values(), key=lambda s: s.session_id),
            statistics=self.statistics,
            lock_times=self.lock_times,
        )

    def _changed_by(self, session: Optional[SessionInfo]) -> ChangedBy:
        if session is None:
            return ChangedBy()
        return ChangedBy(session.username, session.session_id, session.source_host)

    def _running_changed(
        self,
        session: Optional[SessionInfo],
        edits: Iterable[Tuple[etree._Element, str]] = (),
    ) -> None:
        """Called after running changed: clean candidate follows, notify."""
        candidate = self.datastores.get("candidate")
        if candidate is not None and not self.candidate_dirty_by:
            candidate.replace(self.running.copy())
        self.hub.publish(config_change(self._changed_by(session), "running", edits))

    def _release(self, ds: Datastore) -> None:
        ds.lock_owner = None
        if ds.name == "candidate" and self.candidate_dirty_by:
            # RFC 6241 8.3.5.2: changes are discarded when the lock goes.
            self._discard()

    def _discard(self) -> None:
        candidate = self.datastores["candidate"]
        candidate.replace(self.running.copy())
        self.candidate_dirty_by.clear()

    def _need_candidate(self) -> Datastore:
        candidate = self.datastores.get("candidate")
        if candidate is None:
            raise NetconfError(
                "operation-not-supported",
                "the :candidate capability is not supported",
                error_type="protocol",
            )
        return candidate

    # -- retrieval ------------------------------------------------------------------

    def _get(self, session: SessionInfo, op: etree._Element) -> Outcome:
        running = self.running
        monitoring = self.netconf_state()
        if self.state is None:
            return Outcome(self._data(running.root, op, running.serialized_children(), monitoring))
        cache = self._get_cache
        if cache is None or cache[0] != running.version or cache[1] != self._state_version:
            merged = running.copy()
            merge_into(merged, self.state)
            cache = self._get_cache = (
                running.version,
                self._state_version,
                merged,
                b"".join(serialize(c) for c in children(merged)),
            )
        return Outcome(self._data(cache[2], op, cache[3], monitoring))

    def _get_schema(self, session: SessionInfo, op: etree._Element) -> Outcome:
        params = {localname(c.tag): c for c in children(op)}
        identifier = params.get("identifier")
        if identifier is None or not text_of(identifier):
            raise _missing("identifier")
        version = params.get("version")
        fmt = params.get("format")
        if fmt is not None:
            value = text_of(fmt)
            prefix, _, name = value.rpartition(":")
            if name != "yang" or (prefix and fmt.nsmap.get(prefix) != NCM_NS):
                raise NetconfError(
                    "invalid-value",
                    "schema format %r is not supported (only yang)" % value,
                    error_type="protocol",
                    info=[("bad-element", "format")],
                )
        wanted = text_of(version) if version is not None else None
        schema = self.options.schemas.find(text_of(identifier), wanted)
        return Outcome(
            ('<data xmlns="%s">' % NCM_NS).encode() + escape_text(schema.text).encode("utf-8") + b"</data>"
        )

    def _get_config(self, session: SessionInfo, op: etree._Element) -> Outcome:
        ds = self.datastores[self._datastore_name(op, "source")]
        return Outcome(self._data(ds.root, op, ds.serialized_children()))

    # -- configuration ------------------------------------------------------------

    def _edit_config(self, session: SessionInfo, op: etree._Element) -> Outcome:
        name = self._datastore_name(op, "target")
        default_operation = _option(op, "default-operation", ("merge", "replace", "none"), "merge")
        test_option = _option(op, "test-option", ("test-then-set", "set", "test-only"), "test-then-set")
        error_option = _option(
            op, "error-option", ("stop-on-error", "continue-on-error", "rollback-on-error"), "stop-on-error"
        )
        config = _param(op, "config")
        if config is None:
            if _param(op, "url") is not None:
                raise NetconfError(
                    "operation-not-supported",
                    "the :url capability is not supported",
                    error_type="protocol",
                    info=[("bad-element", "url")],
                )
            raise _missing("config")
        check_config_content(config)
        ds = self._writable(session, name)

        if default_operation == "replace":
            work = new_root()
            edits: List[Tuple[etree._Element, str]]
            work, edits = edit(work, config, default_operation="replace", error_option=error_option)
            if test_option != "test-only":
                ds.replace(work)
                self._after_write(session, name, edits)
            return Outcome(OK)

        if test_option == "test-only":
            edit(ds.copy(), config, default_operation=default_operation, error_option=error_option)
            return Outcome(OK)

        try:
            root, edits = edit(
                ds.root, config, default_operation=default_operation, error_option=error_option
            )
        except (NetconfError, NetconfErrors):
            if error_option != "rollback-on-error":
                ds.changed()  # partial changes were kept
                self._after_write(session, name, ())
            raise
        if root is ds.root:
            ds.changed()
        else:
            ds.replace(root)
        self._after_write(session, name, edits)
        return Outcome(OK)

    def _after_write(
        self, session: SessionInfo, name: str, edits: Iterable[Tuple[etree._Element, str]]
    ) -> None:
        if name == "candidate":
            self.candidate_dirty_by.add(session.session_id)
        elif name == "running":
            self._running_changed(session, edits)

    def _copy_config(self, session: SessionInfo, op: etree._Element) -> Outcome:
        target = self._datastore_name(op, "target")
        source = self._datastore_name(op, "source", allow_config=True)
        if source == target:
            raise NetconfError(
                "invalid-value",
                "source and target are the same datastore",
                error_type="protocol",
                info=[("bad-element", "target")],
            )
        ds = self._writable(session, target)
        if source == "config":
            holder = _param(op, "source")
            assert holder is not None
            config = first_child(holder)
            assert config is not None
            check_config_content(config)
            root = new_root()
            for child in children(config):
                root.append(copy_in_scope(child))
        else:
            root = self.datastores[source].copy()
        ds.replace(root)
        self._after_write(session, target, ())
        return Outcome(OK)

    def _delete_config(self, session: SessionInfo, op: etree._Element) -> Outcome:
        target = self._datastore_name(op, "target")
        if target != "startup":
            raise NetconfError(
                "invalid-value",
                "the %s datastore cannot be deleted" % target,
                error_type="protocol",
                info=[("bad-element", target)],
            )
        ds = self.datastores[target]
        self._check_lock(session, ds)
        ds.replace(new_root())
        return Outcome(OK)

    def _validate(self, session: SessionInfo, op: etree._Element) -> Outcome:
        self._datastore_name(op, "source", allow_config=True)
        return Outcome(OK)

    # -- locking --------------------------------------------------------------------

    def _lock(self, session: SessionInfo, op: etree._Element) -> Outcome:
        ds = self.datastores[self._datastore_name(op, "target")]
        sid = session.session_id
        owner = ds.lock_owner
        if owner is not None:
            raise NetconfError(
                "lock-denied",
                "lock is already held by session %d" % owner,
                error_type="protocol",
                info=[("session-id", str(owner))],
            )
        if ds.name == "candidate":
            others = self.candidate_dirty_by - {sid}
            if others:
                raise NetconfError(
                    "in-use",
                    "the candidate has uncommitted changes from another session",
                    error_type="protocol",
                    info=[("session-id", str(min(others)))],
                )
        if ds.name == "running" and self.pending is not None and self.pending.owner != sid:
            raise NetconfError(
                "in-use",
                "another session has a confirmed commit in progress",
                error_type="protocol",
                info=[("session-id", str(self.pending.owner))],
            )
        ds.lock_owner = sid
        self.lock_times[ds.name] = self.clock.seconds()
        return Outcome(OK)

    def _unlock(self, session: SessionInfo, op: etree._Element) -> Outcome:
        ds = self.datastores[self._datastore_name(op, "target")]
        owner = ds.lock_owner
        if owner is None:
            raise NetconfError(
                "operation-failed", "the %s datastore is not locked" % ds.name, error_type="protocol"
            )
        if owner != session.session_id:
            raise NetconfError(
                "operation-failed",
                "the lock is held by session %d" % owner,
                error_type="protocol",
                info=[("session-id", str(owner))],
            )
        self._release(ds)
        return Outcome(OK)

    # -- sessions -------------------------------------------------------------------

    def _close_session(self, session: SessionInfo, op: etree._Element) -> Outcome:
        return Outcome(OK, session.close_gracefully)

    def _kill_session(self, session: SessionInfo, op: etree._Element) -> Outcome:
        element = _param(op, "session-id")
        if element is None:
            raise _missing("session-id")
        try:
            victim_id = int(text_of(element))
        except ValueError:
            raise NetconfError(
                "invalid-value", "session-id must be a number", error_type="protocol", info=[
                    ("bad-element", "session-id")
                ]
            ) from None
        if victim_id == session.session_id:
            raise NetconfError(
                "invalid-value",
                "a session cannot kill itself (use close-session)",
                error_type="protocol",
                info=[("bad-element", "session-id")],
            )
        victim = self.sessions.get(victim_id)
        if victim is None:
            raise NetconfError(
                "invalid-value",
                "no such session: %d" % victim_id,
                error_type="protocol",
                info=[("bad-element", "session-id")],
            )
        victim.kill()
        return Outcome(OK)

    # -- candidate and confirmed commit ---------------------------------------------------

    def _commit(self, session: SessionInfo, op: etree._Element) -> Outcome:
        candidate = self._need_candidate()
        running = self.running
        sid = session.session_id
        confirmed = _param(op, "confirmed") is not None
        timeout = DEFAULT_CONFIRM_TIMEOUT
        timeout_element = _param(op, "confirm-timeout")
        if timeout_element is not None:
            try:
                timeout = int(text_of(timeout_element))
                if timeout < 1:
                    raise ValueError(timeout)
            except ValueError:
                raise NetconfError(
                    "invalid-value",
                    "confirm-timeout must be a positive integer",
                    error_type="protocol",
                    info=[("bad-element", "confirm-timeout")],
                ) from None
        persist_element = _param(op, "persist")
        persist = text_of(persist_element) if persist_element is not None else None
        persist_id_element = _param(op, "persist-id")
        persist_id = text_of(persist_id_element) if persist_id_element is not None else None

        self._check_lock(session, running)
        self._check_lock(session, candidate)
        pending = self.pending
        if pending is not None:
            if pending.persist is not None:
                if persist_id != pending.persist:
                    raise NetconfError(
                        "invalid-value",
                        "a confirmed commit with persist is pending: give the matching persist-id",
                        error_type="protocol",
                        info=[("bad-element", "persist-id")],
                    )
            elif pending.owner != sid:
                raise NetconfError(
                    "in-use",
                    "session %d has a confirmed commit in progress" % pending.owner,
                    error_type="protocol",
                    info=[("session-id", str(pending.owner))],
                )
        elif persist_id is not None:
            raise NetconfError(
                "invalid-value",
                "no confirmed commit is pending",
                error_type="protocol",
                info=[("bad-element", "persist-id")],
            )

        snapshot = running.copy() if (confirmed and pending is None) else None
        running.replace(candidate.copy())
        self.candidate_dirty_by.clear()
        who = self._changed_by(session)
        if confirmed:
            if pending is None:
                assert snapshot is not None
                pending = self.pending = _PendingCommit(sid, snapshot, persist)
                event = "start"
            else:
                if pending.timer is not None and pending.timer.active():
                    pending.timer.cancel()
                pending.owner = sid
                pending.persist = persist
                event = "extend"
            pending.timer = self.clock.callLater(timeout, self._confirm_timeout)
            self._running_changed(session)
            self.hub.publish(confirmed_commit_event(who, event, timeout))
        else:
            if pending is not None:
                if pending.timer is not None and pending.timer.active():
                    pending.timer.cancel()
                self.pending = None
            self._running_changed(session)
            if pending is not None:
                self.hub.publish(confirmed_commit_event(who, "complete"))
        return Outcome(OK)

    def _cancel_commit(self, session: SessionInfo, op: etree._Element) -> Outcome:
        self._need_candidate()
        pending = self.pending
        persist_id_element = _param(op, "persist-id")
        persist_id = text_of(persist_id_element) if persist_id_element is not None else None
        if pending is None:
            raise NetconfError("operation-failed", "no confirmed commit is pending", error_type="protocol")
        if pending.persist is not None:
            if persist_id != pending.persist:
                raise NetconfError(
                    "invalid-value",
                    "persist-id does not match the pending confirmed commit",
                    error_type="protocol",
                    info=[("bad-element", "persist-id")],
                )
        elif pending.owner != session.session_id:
            raise NetconfError(
                "operation-failed",
                "the confirmed commit belongs to session %d" % pending.owner,
                error_type="protocol",
                info=[("session-id", str(pending.owner))],
            )
        self._rollback(self._changed_by(session), "cancel", session)
        return Outcome(OK)

    def _confirm_timeout(self) -> None:
        pending = self.pending
        if pending is None:
            return
        pending.timer = None
        self._rollback(ChangedBy(), "timeout")

    def _rollback(self, who: ChangedBy, event: str, session: Optional[SessionInfo] = None) -> None:
        pending = self.pending
        assert pending is not None
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        self.pending = None
        self.running.replace(pending.snapshot)
        if "candidate" in self.datastores:
            self._discard()
        self.hub.publish(config_change(who, "running"))
        self.hub.publish(confirmed_commit_event(who, event))

    def _discard_changes(self, session: SessionInfo, op: etree._Element) -> Outcome:
        candidate = self._need_candidate()
        self._check_lock(session, candidate)
        self._discard()
        return Outcome(OK)

    # -- notifications -------------------------------------------------------------------

    def _create_subscription(self, session: SessionInfo, op: etree._Element) -> Outcome:
        stream: Optional[str] = None
        start: Optional[str] = None
        stop: Optional[str] = None
        filter_element: Optional[etree._Element] = None
        for child in children(op):
            name = localname(child.tag)
            if name == "stream":
                stream = text_of(child)
            elif name == "startTime":
                start = text_of(child)
            elif name == "stopTime":
                stop = text_of(child)
            elif name == "filter":
                filter_element = child
            else:
                raise NetconfError(
                    "unknown-element",
                    "unexpected <%s>" % name,
                    error_type="protocol",
                    info=[("bad-element", name)],
                )
        activate = self.hub.subscribe(session, stream, filter_element, start, stop)
        return Outcome(OK, activate)

    def _establish_subscription(self, session: SessionInfo, op: etree._Element) -> Outcome:
        body, activate = self.hub.dynamic.establish(session, op)
        return Outcome(body, activate)

    def _modify_subscription(self, session: SessionInfo, op: etree._Element) -> Outcome:
        self.hub.dynamic.modify(session, op)
        return Outcome(OK)

    def _delete_subscription(self, session: SessionInfo, op: etree._Element) -> Outcome:
        self.hub.dynamic.delete(session, op)
        return Outcome(OK)

    def _kill_subscription(self, session: SessionInfo, op: etree._Element) -> Outcome:
        self.hub.dynamic.kill(session, op)
        return Outcome(OK)

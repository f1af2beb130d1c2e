"""
What every operation handler shares: the engine's state (datastores, locks, pending
confirmed commit), the parsing of operation parameters, and the datastore helpers.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence, Set, Tuple, Union

from lxml import etree
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from ._capabilities import Options
from ._datastore import Datastore
from ._errors import NetconfError
from ._monitoring import Counters, Statistics, netconf_state
from ._notifications import ChangedBy, NotificationHub, config_change
from ._subtree import subtree_filter, xpath_filter
from ._xml import BASE_NS, children, first_child, localname, namespace_of, nc, serialize, text_of

OK = b"<ok/>"


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


class PendingCommit:
    """A confirmed commit waiting for its confirmation: whose, what to roll back to."""

    def __init__(self, owner: int, snapshot: etree._Element, persist: Optional[str]) -> None:
        self.owner = owner
        self.snapshot = snapshot
        self.persist = persist
        self.timer: Optional[IDelayedCall] = None


def param(op: etree._Element, name: str) -> Optional[etree._Element]:
    """The parameter *name* of an operation, in the base namespace or (as
    many clients send it) in no namespace."""
    qualified = nc(name)
    for child in op.iterchildren(etree.Element):
        tag = child.tag
        if tag == qualified or tag == name:
            return child
    return None


def option(op: etree._Element, name: str, allowed: Sequence[str], default: str) -> str:
    """The value of the enumerated parameter *name* (*default* when absent)."""
    element = param(op, name)
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


def missing(name: str, error_type: str = "protocol") -> NetconfError:
    """The ``missing-element`` error for the parameter *name*."""
    return NetconfError(
        "missing-element",
        "missing <%s>" % name,
        error_type=error_type,
        info=[("bad-element", name)],
    )


class EngineState:
    """The state of one server's operations, and the helpers its handlers share."""

    clock: IReactorTime
    options: Options
    hub: NotificationHub
    sessions: Mapping[int, SessionInfo]
    datastores: Dict[str, Datastore]
    #: The state data ``<get>`` merges into running (None: none).
    state: Optional[etree._Element]
    _state_version: int
    _get_cache: Optional[Tuple[int, int, etree._Element, bytes]]
    #: The sessions whose changes the candidate holds, not yet committed.
    candidate_dirty_by: Set[int]
    pending: Optional[PendingCommit]
    capabilities: List[str]
    statistics: Statistics
    lock_times: Dict[str, float]

    @property
    def running(self) -> Datastore:
        return self.datastores["running"]

    # -- helpers ----------------------------------------------------------------

    def _datastore_name(self, op: etree._Element, container: str, allow_config: bool = False) -> str:
        holder = param(op, container)
        if holder is None:
            raise missing(container)
        choice = first_child(holder)
        if choice is None:
            raise missing(container)
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
        filter_element = param(op, "filter")
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

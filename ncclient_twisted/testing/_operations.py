"""
The operation engine of one test server: its state, the dispatch of each ``<rpc>``
to its handler (built-in or custom), and the session and notification operations.

The state and the helpers every handler shares are in ``_operation_state``; the
datastore operations in ``_datastore_operations``, the commit ones in
``_commit_operations`` (RFC 6241 section 7 and 8, RFC 5277, RFC 8639).

Handlers receive the session and the operation element (the first child of
``<rpc>``) and return an :class:`Outcome`: the bytes that go inside
``<rpc-reply>`` plus an optional action to run once the reply is sent.
They raise :class:`NetconfError` for ``<rpc-error>`` replies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from lxml import etree
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._capabilities import Options
from ._commit_operations import CommitOperations
from ._datastore import Datastore, root_from_xml
from ._datastore_operations import DatastoreOperations
from ._errors import NetconfError, NetconfErrors, errors_body
from ._monitoring import Statistics
from ._notifications import ChangedBy, NotificationHub
from ._operation_state import OK, Outcome, SessionInfo, missing, param
from ._schemas import NCM_NS
from ._subscribed import SN_NS
from ._xml import NOTIFICATION_NS, XmlInput, children, localname, nc, qn, serialize, text_of, to_element

if TYPE_CHECKING:
    from ._session import Session

_log = Logger()

#: What a custom RPC handler may return: None for ``<ok/>``, or the content
#: of ``<rpc-reply>`` as XML text/bytes, an element or a list of elements.
HandlerResult = Union[None, str, bytes, "etree._Element", Sequence["etree._Element"]]
#: A custom RPC handler: ``handler(session, operation_element)``; it may
#: return a :data:`HandlerResult` or a Deferred firing with one, and may
#: raise :class:`NetconfError`.
RpcHandler = Callable[["Session", "etree._Element"], Any]


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


class Engine(DatastoreOperations, CommitOperations):
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
        self.datastores = {"running": running}
        if options.candidate:
            self.datastores["candidate"] = Datastore("candidate", running.copy())
        if options.startup:
            self.datastores["startup"] = Datastore("startup", running.copy())
        self.state = None
        self._state_version = 0
        self._get_cache = None
        if state is not None:
            self.set_state(state)
        self.candidate_dirty_by = set()
        self.pending = None
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
        self.lock_times = {}
    # -- public helpers used by the server object ------------------------------

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
    # -- sessions -------------------------------------------------------------------

    def _close_session(self, session: SessionInfo, op: etree._Element) -> Outcome:
        return Outcome(OK, session.close_gracefully)

    def _kill_session(self, session: SessionInfo, op: etree._Element) -> Outcome:
        element = param(op, "session-id")
        if element is None:
            raise missing("session-id")
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

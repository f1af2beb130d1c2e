"""
The candidate's commit: commit, confirmed commit (with persist), cancel-commit,
discard-changes and the rollback of a confirmed commit (RFC 6241 8.3, 8.4).
"""

from __future__ import annotations

from typing import Optional

from lxml import etree

from ._errors import NetconfError
from ._notifications import ChangedBy, config_change, confirmed_commit_event
from ._operation_state import OK, EngineState, Outcome, PendingCommit, SessionInfo, param
from ._xml import text_of

DEFAULT_CONFIRM_TIMEOUT = 600


class CommitOperations(EngineState):
    """The handlers of the candidate's commit and its confirmed-commit timer."""

    # -- candidate and confirmed commit ---------------------------------------------------

    def _commit(self, session: SessionInfo, op: etree._Element) -> Outcome:
        candidate = self._need_candidate()
        running = self.running
        sid = session.session_id
        confirmed = param(op, "confirmed") is not None
        timeout = DEFAULT_CONFIRM_TIMEOUT
        timeout_element = param(op, "confirm-timeout")
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
        persist_element = param(op, "persist")
        persist = text_of(persist_element) if persist_element is not None else None
        persist_id_element = param(op, "persist-id")
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
                pending = self.pending = PendingCommit(sid, snapshot, persist)
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
        persist_id_element = param(op, "persist-id")
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

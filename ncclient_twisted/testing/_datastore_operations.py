"""
The operations on datastores: get, get-config, get-schema, edit-config, copy-config,
delete-config, validate, lock and unlock (RFC 6241 section 7, RFC 6022).
"""

from __future__ import annotations

from typing import Iterable, List, Tuple

from lxml import etree

from ._datastore import check_config_content, edit, merge_into, new_root
from ._errors import NetconfError, NetconfErrors
from ._operation_state import OK, EngineState, Outcome, SessionInfo, missing, option, param
from ._schemas import NCM_NS
from ._xml import children, copy_in_scope, escape_text, first_child, localname, serialize, text_of


class DatastoreOperations(EngineState):
    """The handlers of the operations that read, write and lock datastores."""

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
            raise missing("identifier")
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
        default_operation = option(op, "default-operation", ("merge", "replace", "none"), "merge")
        test_option = option(op, "test-option", ("test-then-set", "set", "test-only"), "test-then-set")
        error_option = option(
            op, "error-option", ("stop-on-error", "continue-on-error", "rollback-on-error"), "stop-on-error"
        )
        config = param(op, "config")
        if config is None:
            if param(op, "url") is not None:
                raise NetconfError(
                    "operation-not-supported",
                    "the :url capability is not supported",
                    error_type="protocol",
                    info=[("bad-element", "url")],
                )
            raise missing("config")
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
            holder = param(op, "source")
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

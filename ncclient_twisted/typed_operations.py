"""The common NETCONF operations as typed methods of the :class:`~ncclient_twisted.manager.Manager`
(others go through ``__getattr__``, as in ncclient)."""

from __future__ import annotations

from typing import Any, Optional, Type, Union

from ncclient import operations
from ncclient.operations.retrieve import GetReply
from ncclient.operations.rpc import RPC, RPCReply
from ncclient.xml_ import NCElement
from twisted.internet.defer import Deferred

__all__ = ["TypedOperations", "Reply", "GetResult"]

#: What an operation's Deferred fires with: the reply ncclient would return.
Reply = Union[RPCReply, NCElement]
GetResult = Union[GetReply, NCElement]


class TypedOperations:
    """RFC 6241's operations (and ``get-schema``), each ``execute`` of ncclient's class."""

    def execute(
        self, cls: Type[RPC], *args: Any, raise_mode: Optional[int] = None, **kwds: Any
    ) -> "Deferred[Any]":
        raise NotImplementedError

    def get(self, filter: Any = None, with_defaults: Optional[str] = None) -> "Deferred[GetResult]":
        """``get``: running configuration and state data."""
        return self.execute(operations.Get, filter=filter, with_defaults=with_defaults)

    def get_config(
        self, source: str, filter: Any = None, with_defaults: Optional[str] = None
    ) -> "Deferred[GetResult]":
        """``get-config`` of *source* (``running``, ``candidate``, ``startup``)."""
        return self.execute(
            operations.GetConfig, source, filter=filter, with_defaults=with_defaults
        )

    def get_schema(
        self, identifier: str, version: Optional[str] = None, format: Optional[str] = None
    ) -> "Deferred[GetResult]":
        """``get-schema`` (RFC 6022)."""
        return self.execute(operations.GetSchema, identifier, version=version, format=format)

    def dispatch(
        self, rpc_command: Any, source: Optional[str] = None, filter: Any = None
    ) -> "Deferred[GetResult]":
        """Any RPC, given as an element or a name."""
        return self.execute(operations.Dispatch, rpc_command, source=source, filter=filter)

    def edit_config(
        self,
        config: Any,
        format: str = "xml",
        target: str = "candidate",
        default_operation: Optional[str] = None,
        test_option: Optional[str] = None,
        error_option: Optional[str] = None,
    ) -> "Deferred[Reply]":
        """``edit-config`` of *target* with *config*."""
        return self.execute(
            operations.EditConfig,
            config,
            format=format,
            target=target,
            default_operation=default_operation,
            test_option=test_option,
            error_option=error_option,
        )

    def copy_config(self, source: str, target: str) -> "Deferred[Reply]":
        """``copy-config`` from *source* to *target*."""
        return self.execute(operations.CopyConfig, source, target)

    def delete_config(self, target: str) -> "Deferred[Reply]":
        """``delete-config`` of *target*."""
        return self.execute(operations.DeleteConfig, target)

    def validate(self, source: Any = "candidate") -> "Deferred[Reply]":
        """``validate`` *source* (a datastore name or a config element)."""
        return self.execute(operations.Validate, source)

    def commit(
        self,
        confirmed: bool = False,
        timeout: Optional[Union[int, str]] = None,
        persist: Optional[str] = None,
        persist_id: Optional[str] = None,
    ) -> "Deferred[Reply]":
        """``commit``; *timeout* is the confirm-timeout of a confirmed commit."""
        return self.execute(
            operations.Commit,
            confirmed=confirmed,
            timeout=timeout,
            persist=persist,
            persist_id=persist_id,
        )

    def discard_changes(self) -> "Deferred[Reply]":
        """``discard-changes``: revert the candidate to running."""
        return self.execute(operations.DiscardChanges)

    def cancel_commit(self, persist_id: Optional[str] = None) -> "Deferred[Reply]":
        """``cancel-commit`` of a pending confirmed commit."""
        return self.execute(operations.CancelCommit, persist_id=persist_id)

    def lock(self, target: str = "candidate") -> "Deferred[Reply]":
        """``lock`` *target*."""
        return self.execute(operations.Lock, target)

    def unlock(self, target: str = "candidate") -> "Deferred[Reply]":
        """``unlock`` *target*."""
        return self.execute(operations.Unlock, target)

    def kill_session(self, session_id: Union[str, int]) -> "Deferred[Reply]":
        """``kill-session`` of another session."""
        return self.execute(operations.KillSession, str(session_id))

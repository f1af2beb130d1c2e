"""``Manager.locked(target)``: a datastore lock as ``async with`` or ``run(f)``."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable, Optional, Type

from ncclient import operations
from ncclient.operations.rpc import RaiseMode
from twisted.internet.defer import Deferred, ensureDeferred, maybeDeferred
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from types import TracebackType

    from ncclient_twisted._manager import Manager

__all__ = ["LockContext"]


class LockContext:
    """Locks *target* on enter and unlocks it on exit, as ncclient's ``LockContext``.

    As in ncclient, any ``rpc-error`` of severity error from ``lock``/``unlock`` fails the
    Deferred (``RaiseMode.ERRORS``), whatever the manager's ``raise_mode``. Use it as::

        async with m.locked("candidate"):
            ...

    or, from ``inlineCallbacks`` code, like ``DeferredLock.run``::

        yield m.locked("candidate").run(edit_and_commit, m)
    """

    def __init__(self, manager: "Manager", target: str) -> None:
        self.manager = manager
        self.target = target

    def acquire(self) -> "Deferred[Any]":
        """Send ``lock``; a Deferred of the reply."""
        return self.manager.execute(operations.Lock, self.target, raise_mode=RaiseMode.ERRORS)

    def release(self) -> "Deferred[Any]":
        """Send ``unlock``; a Deferred of the reply."""
        return self.manager.execute(operations.Unlock, self.target, raise_mode=RaiseMode.ERRORS)

    async def __aenter__(self) -> "LockContext":
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: "Optional[TracebackType]",
    ) -> bool:
        try:
            await self.release()
        except Exception:
            if exc is None:
                raise  # the body succeeded: the unlock failure is the news
        return False

    def run(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> "Deferred[Any]":
        """Lock, call *f* (it may return a Deferred or a coroutine), unlock; f's result."""

        def call(_: Any) -> "Deferred[Any]":
            def invoke() -> Any:
                result = f(*args, **kwargs)
                return ensureDeferred(result) if inspect.iscoroutine(result) else result

            return maybeDeferred(invoke)

        def unlock(result: Any) -> "Deferred[Any]":
            d = self.release()
            if isinstance(result, Failure):
                # f's failure wins over an unlock failure.
                d.addBoth(lambda _: result)
            else:
                d.addCallback(lambda _: result)
            return d

        return self.acquire().addCallback(call).addBoth(unlock)

    def __enter__(self) -> None:
        raise TypeError("use 'async with m.locked(...)' or 'm.locked(...).run(f)'")

    def __exit__(self, *exc: Any) -> None:  # pragma: no cover - __enter__ raises
        pass

"""The clients under test, each behind one of three small interfaces.

* :class:`DeferredClient` (runs in a reactor): ours, and ``deferToThread`` around
  ncclient's synchronous manager (reactor's default pool, or a pool of K threads).
* :class:`BlockingClient` (concurrency with threads): ncclient sync, netconf_client's
  ``Manager``.
* :class:`HandleClient` (submit many from one thread, then wait): ncclient's
  ``async_mode`` (RPC objects, ``rpc.event``) and netconf_client's
  ``Session.send_rpc`` futures.

Every request is a ``get-config`` of ``running`` and every reply is parsed the way the
client's API does it (ncclient: ``RPCReply.parse``; netconf_client: lxml in its reader
thread).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Protocol

__all__ = [
    "DeferredClient",
    "BlockingClient",
    "HandleClient",
    "make_deferred_client",
    "make_blocking_client",
    "make_handle_client",
]

ConnectKwargs = Dict[str, Any]


class DeferredClient(Protocol):
    def connect(self) -> Any: ...  # Deferred of a session

    def get_config(self, session: Any) -> Any: ...  # Deferred of the reply

    def close(self, session: Any) -> Any: ...  # Deferred

    def shutdown(self) -> None: ...


class BlockingClient(Protocol):
    #: Whether one session may be used from several threads at once.
    thread_safe: bool

    def connect(self) -> Any: ...

    def get_config(self, session: Any) -> Any: ...

    def close(self, session: Any) -> None: ...


class HandleClient(BlockingClient, Protocol):
    def submit(self, session: Any) -> Any: ...

    def wait(self, handle: Any, timeout: float) -> Any: ...


# -- running in a reactor ----------------------------------------------------------


class OursClient:
    def __init__(self, reactor: Any, kwargs: ConnectKwargs, timeout: float, io: str = "threads") -> None:
        from ncclient_twisted import manager

        self._manager = manager
        self._reactor = reactor
        self._kwargs = dict(kwargs, timeout=timeout, io=io)
        if io == "reactor":
            # Its transport's modules (Conch: ~25 ms) are imported at its first connect;
            # the threads transport's (paramiko) with the manager. Both before a window.
            import ncclient_twisted.transport.reactor.ssh  # noqa: F401
            import ncclient_twisted.transport.reactor.ssh_connector  # noqa: F401

    def connect(self) -> Any:
        return self._manager.connect(reactor=self._reactor, **self._kwargs)

    def get_config(self, session: Any) -> Any:
        return session.get_config(source="running")

    def close(self, session: Any) -> Any:
        return session.close_session()

    def shutdown(self) -> None:
        pass


class DeferToThreadClient:
    """ncclient's synchronous manager, every call in a thread of *pool* (None: the
    reactor's default pool)."""

    def __init__(
        self, reactor: Any, kwargs: ConnectKwargs, timeout: float, pool_size: Optional[int]
    ) -> None:
        from twisted.python.threadpool import ThreadPool

        self._reactor = reactor
        self._kwargs = dict(kwargs, timeout=timeout)
        if pool_size is None:
            self._pool = reactor.getThreadPool()
            self._own_pool = False
        else:
            self._pool = ThreadPool(minthreads=0, maxthreads=pool_size, name="bench-d2t")
            self._pool.start()
            self._own_pool = True

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from twisted.internet.threads import deferToThreadPool

        return deferToThreadPool(self._reactor, self._pool, fn, *args, **kwargs)

    def connect(self) -> Any:
        import ncclient.manager

        return self._run(ncclient.manager.connect, **self._kwargs)

    def get_config(self, session: Any) -> Any:
        return self._run(session.get_config, source="running")

    def close(self, session: Any) -> Any:
        return self._run(session.close_session)

    def shutdown(self) -> None:
        if self._own_pool:
            self._pool.stop()


def make_deferred_client(
    name: str, reactor: Any, kwargs: ConnectKwargs, timeout: float
) -> DeferredClient:
    if name == "ours":
        return OursClient(reactor, kwargs, timeout)
    if name in ("ours-reactor", "ours-patched"):
        return OursClient(reactor, kwargs, timeout, io="reactor")
    if name == "d2t-default":
        return DeferToThreadClient(reactor, kwargs, timeout, None)
    if name == "d2t-100":
        return DeferToThreadClient(reactor, kwargs, timeout, 100)
    raise ValueError("not a reactor client: %s" % name)


# -- blocking, and submit-then-wait --------------------------------------------------


class NcclientSync:
    thread_safe = True

    def __init__(self, kwargs: ConnectKwargs, timeout: float) -> None:
        self._kwargs = dict(kwargs, timeout=timeout)

    def connect(self) -> Any:
        import ncclient.manager

        return ncclient.manager.connect(**self._kwargs)

    def get_config(self, session: Any) -> Any:
        return session.get_config(source="running")

    def close(self, session: Any) -> None:
        session.close_session()


class NcclientAsync(NcclientSync):
    """``m.async_mode = True``: operations return the RPC object; wait on ``rpc.event``."""

    def connect(self) -> Any:
        m = super().connect()
        m.async_mode = True
        return m

    def submit(self, session: Any) -> Any:
        return session.get_config(source="running")

    def wait(self, handle: Any, timeout: float) -> Any:
        if not handle.event.wait(timeout):
            raise TimeoutError("no reply within %.0f s" % timeout)
        if handle.error is not None:
            raise handle.error
        reply = handle.reply
        reply.parse()
        return reply

    def get_config(self, session: Any) -> Any:
        return self.wait(self.submit(session), self._kwargs["timeout"])

    def close(self, session: Any) -> None:
        session.async_mode = False
        session.close_session()


class NetconfClientSync:
    """netconf_client: ``connect_ssh`` and its ncclient-like ``Manager``.

    Not thread-safe on one session: ``Session.send_rpc`` queues the reply's future and
    sends in two steps, and replies are matched to futures in order.
    """

    thread_safe = False

    def __init__(self, kwargs: ConnectKwargs, timeout: float) -> None:
        self._kwargs = kwargs
        self._timeout = timeout

    def _session(self) -> Any:
        from netconf_client.connect import connect_ssh

        kw = self._kwargs
        return connect_ssh(
            host=kw["host"],
            port=kw["port"],
            username=kw["username"],
            password=kw.get("password"),
            key_filename=kw.get("key_filename"),
            initial_timeout=self._timeout,
        )

    def connect(self) -> Any:
        from netconf_client.ncclient import Manager

        return Manager(self._session(), timeout=self._timeout)

    def get_config(self, session: Any) -> Any:
        return session.get_config(source="running")

    def close(self, session: Any) -> None:
        try:
            session.close_session()
        finally:
            session.session.close()


class NetconfClientFutures(NetconfClientSync):
    """netconf_client's ``Session.send_rpc``: a ``concurrent.futures.Future`` per request.

    Replies are matched to futures in order, so all requests of a session are sent from
    one thread.
    """

    def connect(self) -> Any:
        return self._session()

    def submit(self, session: Any) -> Any:
        from netconf_client import rpc

        return session.send_rpc(rpc.get_config(source="running"))

    def wait(self, handle: Any, timeout: float) -> Any:
        return handle.result(timeout)

    def get_config(self, session: Any) -> Any:
        return self.wait(self.submit(session), self._timeout)

    def close(self, session: Any) -> None:
        from netconf_client import rpc

        try:
            session.send_rpc(rpc.close_session()).result(self._timeout)
        finally:
            session.close()


_BLOCKING: Dict[str, Callable[[ConnectKwargs, float], BlockingClient]] = {
    "ncclient": NcclientSync,
    "ncclient-patched": NcclientSync,
    "netconf_client": NetconfClientSync,
}
_HANDLES: Dict[str, Callable[[ConnectKwargs, float], HandleClient]] = {
    "ncclient-async": NcclientAsync,
    "netconf_client-futures": NetconfClientFutures,
}


def make_blocking_client(name: str, kwargs: ConnectKwargs, timeout: float) -> BlockingClient:
    if name not in _BLOCKING:
        raise ValueError("not a blocking client: %s" % name)
    return _BLOCKING[name](kwargs, timeout)


def make_handle_client(name: str, kwargs: ConnectKwargs, timeout: float) -> HandleClient:
    if name not in _HANDLES:
        raise ValueError("not a submit-and-wait client: %s" % name)
    return _HANDLES[name](kwargs, timeout)

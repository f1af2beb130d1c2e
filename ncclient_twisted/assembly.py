"""The one assembly step of every connect: options, then the transport's connector, then a
session, then the :class:`~ncclient_twisted.manager.Manager` (:func:`open_manager`).

Each transport supplies a :class:`Connector`: it opens a session its own way (the threads
transport on the pool, the reactor transport on the reactor) and hands it, as
:class:`Opened`, to the assembly, which makes the ``Manager``. What the connectors share
is here too: the device handler and notification router of a new session
(:func:`session_parts`) and the host-key policy of an SSH connect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Tuple

from ncclient.manager import make_device_handler
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ncclient_twisted._manager import Manager
from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.bridge.handoff import Handoff
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import runtime_for
from ncclient_twisted.notifications import NotificationQueue
from ncclient_twisted.options import ConnectOptions
from ncclient_twisted.stats import connect_done, connect_started
from ncclient_twisted.subscriptions import NotificationRouter
from ncclient_twisted.transport.hostkeys import HostKeyPolicy


def host_key_policy(reactor: INetconfReactor, options: ConnectOptions, port: Any) -> Optional[HostKeyPolicy]:
    """The host-key policy of an SSH connect (either transport); None when
    ``hostkey_verify`` is false."""
    ssh = options.ssh
    if not ssh.hostkey_verify:
        return None
    return HostKeyPolicy(
        reactor,
        port,
        known_hosts=ssh.known_hosts,
        accept_new=ssh.accept_new,
        user_cb=ssh.unknown_host_cb,
        pinned=bool(ssh.hostkey_b64),
        shutting_down=runtime_for(reactor).shutting_down,
    )


def new_router(reactor: INetconfReactor, options: ConnectOptions, handoff: Handoff) -> NotificationRouter:
    """A session's notification router, with the buffer size *options* ask for."""
    size = options.notification_buffer
    return NotificationRouter(reactor, NotificationQueue(reactor, size), size, handoff)


@dataclass(frozen=True)
class Opened:
    """A session a connector has opened (its hello done), with what the manager needs."""

    session: Any
    device_handler: Any
    listener: DeferredReplyListener
    notifications: NotificationRouter


#: The assembly's last part, which a connector calls with its :class:`Opened` session.
Assemble = Callable[[Opened], Manager]


class Connector(Protocol):
    """What every transport supplies to :func:`open_manager`."""

    options: ConnectOptions
    reactor: INetconfReactor

    def open(self, assemble: Assemble) -> "Deferred[Manager]":
        """Open a session and return ``assemble(opened)`` through a Deferred; fail with
        ncclient's exception for the stage that failed. Cancelling it gives the connect
        up (a session that comes up anyway is closed)."""


def session_parts(
    options: ConnectOptions,
    reactor: INetconfReactor,
    handoff: Handoff,
    prepare: Optional[Callable[[Any], None]] = None,
) -> Tuple[Any, NotificationRouter]:
    """The device handler (*prepare* adds the transport's parameters, then ncclient's
    ``nc_params``) and the notification router of a new session."""
    device_handler = make_device_handler(options.device_params, options.ignore_errors)
    if prepare is not None:
        prepare(device_handler)
    if hasattr(device_handler, "add_additional_netconf_params"):
        device_handler.add_additional_netconf_params(options.nc_params)
    return device_handler, new_router(reactor, options, handoff)


def open_manager(connector: Connector) -> "Deferred[Manager]":
    """Connect through *connector*; a Deferred of the :class:`Manager` of its session."""
    options = connector.options
    reactor = connector.reactor

    def assemble(opened: Opened) -> Manager:
        return Manager(
            opened.session,
            opened.device_handler,
            reactor=reactor,
            listener=opened.listener,
            notifications=opened.notifications,
            raise_mode=options.raise_mode,
            **options.manager_params,
        )

    connect_started()

    def done(result: Any) -> Any:
        connect_done(failed=isinstance(result, Failure))
        return result

    return connector.open(assemble).addBoth(done)

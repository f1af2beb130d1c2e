"""The parts of a connect every transport shares: the host-key policy, the notification
router and the :class:`~ncclient_twisted.manager.Manager` of a connected session."""

from __future__ import annotations

from typing import Any, Optional

from ncclient_twisted._types import INetconfReactor
from ncclient_twisted.bridge.handoff import Handoff
from ncclient_twisted.bridge.listener import DeferredReplyListener
from ncclient_twisted.bridge.runtime import runtime_for
from ncclient_twisted.manager import Manager
from ncclient_twisted.notifications import NotificationQueue
from ncclient_twisted.options import ConnectOptions
from ncclient_twisted.subscriptions import NotificationRouter
from ncclient_twisted.transport.hostkeys import HostKeyPolicy


def host_key_policy(reactor: INetconfReactor, options: ConnectOptions, port: Any) -> Optional[HostKeyPolicy]:
    """The host-key policy of an SSH connect (either transport); None when
    ``hostkey_verify`` is false."""
    if not options.session_kwds.get("hostkey_verify", True):
        return None
    return HostKeyPolicy(
        reactor,
        port,
        known_hosts=options.known_hosts,
        accept_new=options.accept_new,
        user_cb=options.unknown_host_cb,
        pinned=bool(options.session_kwds.get("hostkey_b64")),
        shutting_down=runtime_for(reactor).shutting_down,
    )


def new_router(reactor: INetconfReactor, options: ConnectOptions, handoff: Handoff) -> NotificationRouter:
    """A session's notification router, with the buffer size *options* ask for."""
    size = options.notification_buffer
    return NotificationRouter(reactor, NotificationQueue(reactor, size), size, handoff)


def new_manager(
    session: Any,
    device_handler: Any,
    reactor: INetconfReactor,
    listener: DeferredReplyListener,
    notifications: NotificationRouter,
    options: ConnectOptions,
) -> Manager:
    """The :class:`Manager` of a connected session (any transport)."""
    return Manager(
        session,
        device_handler,
        reactor=reactor,
        listener=listener,
        notifications=notifications,
        raise_mode=options.raise_mode,
        **options.manager_params,
    )

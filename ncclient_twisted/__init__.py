"""Twisted support for ncclient: every NETCONF operation returns a Deferred.

::

    from ncclient_twisted import manager

    m = await manager.connect(host="192.0.2.1", username="admin", password="admin")
    reply = await m.get_config(source="running")
"""

from ncclient_twisted import callhome, manager
from ncclient_twisted._logging import log_handshake, log_to_stdlib
from ncclient_twisted._version import __version__
from ncclient_twisted.bridge.runtime import DEFAULT_POOL_SIZE, defer_to_pool, set_pool_size
from ncclient_twisted.locks import LockContext
from ncclient_twisted.manager import Manager, connect, connect_ssh, connect_tls, connect_uds
from ncclient_twisted.notifications import CallbackHandle, Notification
from ncclient_twisted.service import ManagerService, resubscribe
from ncclient_twisted.subscriptions import InterleaveError, Subscription, SubscriptionTerminatedError
from ncclient_twisted.transport.errors import HostResolutionError
from ncclient_twisted.transport.framing import MalformedReplyError, MessageTooLargeError
from ncclient_twisted.transport.hostkeys import HostKeyChangedError, HostKeyRevokedError, HostKeyUnknownError
from ncclient_twisted.transport.keepalive import KeepaliveTimeoutError
from ncclient_twisted.transport.limits import DescriptorLimitError

__all__ = [
    "manager",
    "callhome",
    "connect",
    "connect_ssh",
    "connect_tls",
    "connect_uds",
    "Manager",
    "LockContext",
    "Notification",
    "CallbackHandle",
    "Subscription",
    "SubscriptionTerminatedError",
    "InterleaveError",
    "ManagerService",
    "resubscribe",
    "HostKeyChangedError",
    "HostKeyRevokedError",
    "HostKeyUnknownError",
    "KeepaliveTimeoutError",
    "DescriptorLimitError",
    "set_pool_size",
    "defer_to_pool",
    "DEFAULT_POOL_SIZE",
    "MalformedReplyError",
    "MessageTooLargeError",
    "HostResolutionError",
    "log_handshake",
    "log_to_stdlib",
    "__version__",
]

"""Twisted support for ncclient: every NETCONF operation returns a Deferred.

::

    from ncclient_twisted import manager

    m = await manager.connect(host="192.0.2.1", username="admin", password="admin")
    reply = await m.get_config(source="running")
"""

from ncclient_twisted import manager
from ncclient_twisted._lock import LockContext
from ncclient_twisted._notifications import CallbackHandle, Notification
from ncclient_twisted._subscriptions import InterleaveError, Subscription, SubscriptionTerminatedError
from ncclient_twisted._version import __version__
from ncclient_twisted.manager import Manager, connect, connect_ssh

__all__ = [
    "manager",
    "connect",
    "connect_ssh",
    "Manager",
    "LockContext",
    "Notification",
    "CallbackHandle",
    "Subscription",
    "SubscriptionTerminatedError",
    "InterleaveError",
    "__version__",
]

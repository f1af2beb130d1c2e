"""Twisted support for ncclient: every NETCONF operation returns a Deferred.

::

    from ncclient_twisted import manager

    m = await manager.connect(host="192.0.2.1", username="admin", password="admin")
    reply = await m.get_config(source="running")
"""

from ncclient_twisted import manager
from ncclient_twisted._framing import MalformedReplyError
from ncclient_twisted._lock import LockContext
from ncclient_twisted._session import HostResolutionError
from ncclient_twisted._version import __version__
from ncclient_twisted.manager import Manager, connect, connect_ssh

__all__ = [
    "manager",
    "connect",
    "connect_ssh",
    "Manager",
    "LockContext",
    "MalformedReplyError",
    "HostResolutionError",
    "__version__",
]

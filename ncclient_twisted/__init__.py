"""Twisted support for ncclient: every NETCONF operation returns a Deferred.

::

    from ncclient_twisted import callhome, manager

    m = await manager.connect(host="192.0.2.1", username="admin", password="admin")
    reply = await m.get_config(source="running")
"""

from ncclient_twisted import callhome, manager
from ncclient_twisted._lock import LockContext
from ncclient_twisted._version import __version__
from ncclient_twisted.manager import Manager, connect, connect_ssh, connect_tls, connect_uds

__all__ = [
    "manager",
    "callhome",
    "connect",
    "connect_ssh",
    "connect_tls",
    "connect_uds",
    "Manager",
    "LockContext",
    "__version__",
]

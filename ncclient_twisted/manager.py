"""A drop-in for :mod:`ncclient.manager` whose every operation returns a Deferred.

::

    from ncclient_twisted import manager

    m = await manager.connect(host="192.0.2.1", username="admin", password="admin")
    reply = await m.get_config(source="running")

:func:`connect`, :func:`connect_ssh`, :func:`connect_tls` and :func:`connect_uds` take
ncclient's arguments, plus ``reactor=`` and ``io=``. Connecting never blocks the reactor
(``io="reactor"`` connects on it, ``io="threads"`` on the project's own thread pool); the
Deferred fires with a :class:`Manager`, or fails with ncclient's own exception
(``AuthenticationError``, ``SSHUnknownHostError``, ``SSHError``, ``TLSError``, ...).
"""

from ncclient.manager import OPERATIONS, make_device_handler

from ncclient_twisted._manager import Manager
from ncclient_twisted.connecting import connect, connect_ssh, connect_tls, connect_uds
from ncclient_twisted.transport.hostkeys import HostKeyChangedError, HostKeyRevokedError, HostKeyUnknownError
from ncclient_twisted.transport.keepalive import KeepaliveTimeoutError
from ncclient_twisted.typed_operations import GetResult, Reply

__all__ = [
    "connect",
    "connect_ssh",
    "connect_tls",
    "connect_uds",
    "Manager",
    "Reply",
    "GetResult",
    "OPERATIONS",
    "make_device_handler",
    "HostKeyChangedError",
    "HostKeyRevokedError",
    "HostKeyUnknownError",
    "KeepaliveTimeoutError",
]

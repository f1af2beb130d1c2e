"""Reaches into the private attributes of ncclient, paramiko and Twisted, in one place, each
with the versions it was checked against (the ends of docs/compatibility.md, which nox runs).

A new release is checked here first. What our subclasses use of their bases' privates
as their own (attributes, hook methods) is listed in :data:`INHERITED`; any other use is
a function here. ``tests/unit/test_reach_ins.py`` fails on a use outside this module that
is not listed, and on a listed name the installed version lacks. (Twisted: the Conch
classes' ``_log``, which our SSH classes replace to log their chatter at debug.)
"""

from __future__ import annotations

from typing import Any, Callable, Dict, FrozenSet, Optional, Type, TypeVar

import ncclient.operations.rpc as nc_rpc
from ncclient.operations.rpc import RPC, RPCReplyListener
from ncclient.transport.session import Session

__all__ = [
    "rpc_reply",
    "rpc_raise_mode",
    "rpc_huge_tree",
    "reply_raw",
    "set_reply_raw",
    "reply_parsed",
    "registered_rpcs",
    "new_reply_listener",
    "can_send_now",
    "send_user_message",
    "end_handshake_timer",
    "share_notification",
    "paramiko_host_key_algorithms",
    "HAS_LISTENER_FORGET",
    "HAS_RPC_RESULT",
    "MESSAGE_ID_COUNTER",
    "INHERITED",
]

L = TypeVar("L", bound=RPCReplyListener)

# -- seams a patched ncclient has (upstream/ncclient/*.patch), feature-detected -----------

#: ``RPCReplyListener.forget(id)`` (patch 0001): ncclient unregisters a request itself,
#: under its listener's lock; without it, :func:`registered_rpcs` is reached into.
HAS_LISTENER_FORGET: bool = callable(getattr(RPCReplyListener, "forget", None))

#: ``RPC.result()`` (patch 0008): ncclient's reply handling after the wait (``RaiseMode``,
#: exemptions error by error, ``transform_reply``), for asynchronous users to call.
HAS_RPC_RESULT: bool = callable(getattr(RPC, "result", None))

#: ``rpc.MessageIdCounter`` with ``Session.set_message_id_factory`` (patch 0009): makes a
#: session's source of message-ids "1", "2"... (instead of a uuid4 each); else None.
MESSAGE_ID_COUNTER: Optional[Callable[[], Callable[[], str]]] = (
    getattr(nc_rpc, "MessageIdCounter", None)
    if callable(getattr(Session, "set_message_id_factory", None))
    else None
)

# -- ncclient 0.6.17 and 0.7.1 (ncclient/operations/rpc.py) --------------------------------


def rpc_reply(rpc: Any) -> Any:
    """The ``RPCReply`` delivered to *rpc* (``RPC._reply``, set by ``deliver_reply``)."""
    return rpc._reply


def rpc_raise_mode(rpc_or_manager: Any) -> int:
    """The ``RaiseMode`` of an ``RPC`` or of ncclient's ``Manager`` (``_raise_mode``)."""
    return int(rpc_or_manager._raise_mode)


def rpc_huge_tree(rpc: Any) -> bool:
    """Whether *rpc*'s reply is parsed with lxml's ``huge_tree`` (``RPC._huge_tree``)."""
    return bool(rpc._huge_tree)


def reply_raw(reply: Any) -> Any:
    """The text of an ``RPCReply`` (``_raw``), or the element it parses instead."""
    return reply._raw


def set_reply_raw(reply: Any, raw: Any) -> None:
    """Give ``RPCReply.parse`` *raw* (text, or an element: its ``to_ele`` takes both)."""
    reply._raw = raw


def reply_parsed(reply: Any) -> bool:
    """Whether ``RPCReply.parse`` has run (``_parsed``)."""
    return bool(reply._parsed)


def registered_rpcs(listener: RPCReplyListener) -> Dict[str, Any]:
    """The listener's RPCs by message-id (``RPCReplyListener._id2rpc``: the dict itself,
    to change under the listener's lock)."""
    found: Dict[str, Any] = listener._id2rpc
    return found


def new_reply_listener(cls: Type[L], session: Any, device_handler: Any) -> L:
    """The session's one instance of *cls*, made and registered by ncclient's
    ``RPCReplyListener.__new__`` (a singleton per session; ``__init__`` is not run again)."""
    listener: L = RPCReplyListener.__new__(cls, session, device_handler)
    return listener


# -- paramiko 3.2 to 5.1 (paramiko/channel.py, paramiko/transport.py) -----------------------


def can_send_now(channel: Any, transport: Any, size: int) -> bool:
    """Whether ``Channel.send`` takes *size* bytes at once, waiting for nothing: the peer's
    window has room (``out_window_size``) and no key exchange holds sends
    (``Transport.clear_to_send``). paramiko's public ``send_ready()`` says only that the
    window is not full."""
    return bool(channel.out_window_size >= size and transport.clear_to_send.is_set())


def send_user_message(transport: Any, message: Any) -> None:
    """Send *message* with the transport's own sender, which waits for a key exchange in
    progress (``Transport._send_user_message``; ``global_request(wait=True)`` would block
    for the reply, with no bound)."""
    transport._send_user_message(message)


def end_handshake_timer(transport: Any) -> None:
    """Cancel the 15 s timer thread of a key exchange that failed: only a completed
    exchange cancels it (``Transport.packetizer.complete_handshake``)."""
    packetizer = getattr(transport, "packetizer", None)
    if packetizer is not None:
        packetizer.complete_handshake()


def paramiko_host_key_algorithms() -> Any:
    """The host key algorithms paramiko negotiates (``Transport._key_info``: by name), or
    None if this paramiko has no such table."""
    import paramiko

    return getattr(paramiko.Transport, "_key_info", None)


# -- ncclient 0.6.17 and 0.7.1 (ncclient/transport/) ----------------------------------------


def share_notification(notification: Any, raw: str, root: Any) -> None:
    """Give an ncclient ``Notification`` made without ``__init__`` its text and parsed
    element (``_raw``, ``_root_ele``: what ``notification_xml``/``_ele`` return)."""
    notification._raw = raw
    notification._root_ele = root


#: The privates our subclasses use as their own (read, set, or override as hooks), by the
#: class that brings them in; checked against ncclient 0.6.17 and 0.7.1. The session
#: hooks (``_transport_*``, ``_send_ready``) came with ncclient 0.6.15.
INHERITED: Dict[str, FrozenSet[str]] = {
    "ncclient.capabilities.Capabilities": frozenset({"_dict"}),
    "ncclient.manager.Manager": frozenset(
        {"_device_handler", "_huge_tree", "_session", "_timeout", "_vendor_operations"}
    ),
    "ncclient.operations.rpc.RPC": frozenset({"_request"}),
    "ncclient.operations.rpc.RPCReply": frozenset({"_parsing_hook"}),
    "ncclient.operations.rpc.RPCReplyListener": frozenset({"_device_handler", "_lock"}),
    "ncclient.transport.session.Session": frozenset(
        {
            "_base", "_client_capabilities", "_closing", "_connected", "_device_handler",
            "_dispatch_error", "_dispatch_message", "_id", "_listeners", "_lock",
            "_notification_q", "_post_connect", "_q", "_send_ready", "_server_capabilities",
            "_transport_read", "_transport_register", "_transport_write",
        }
    ),
    "ncclient.transport.session.HelloHandler": frozenset({"_error_cb", "_init_cb"}),
    "ncclient.transport.ssh.SSHSession": frozenset({"_auth", "_channel", "_host", "_host_keys"}),
    "ncclient.transport.tls.TLSSession": frozenset({"_host", "_socket"}),
    "ncclient.transport.unixSocket.UnixSocketSession": frozenset({"_socket"}),
    # Twisted 22.10 and 26.10: a Logger class attribute (ncclient_twisted._logging.QuietLogger).
    "twisted.conch.ssh.transport.SSHTransportBase": frozenset({"_log"}),
    "twisted.conch.ssh.channel.SSHChannel": frozenset({"_log"}),
    "twisted.conch.ssh.connection.SSHConnection": frozenset({"_log"}),
    "twisted.conch.ssh.service.SSHService": frozenset({"_log"}),
}

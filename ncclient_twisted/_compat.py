"""Reaches into the private attributes of ncclient and paramiko, in one place, each with the
versions it was checked against (the ends of docs/compatibility.md, which nox runs).

A new ncclient or paramiko release is checked here first. Not yet here: the private
attributes our session subclasses inherit from ncclient's ``Session``/``SSHSession``
(``_q``, ``_closing``, ``_channel``, ``_transport``, ``_base``, ...), which the subclasses
use as their own.
"""

from __future__ import annotations

from typing import Any, Dict, Type, TypeVar

from ncclient.operations.rpc import RPCReplyListener

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
]

L = TypeVar("L", bound=RPCReplyListener)

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

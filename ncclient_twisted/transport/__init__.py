"""The transport layer: NETCONF sessions on ncclient's session classes, framing, the root
scan of each message, keepalives and host keys.

Nothing here knows about the reactor or Deferreds: a session is given one
:class:`~ncclient_twisted.transport.hooks.SessionHooks` at construction, through which the
bridge (:mod:`ncclient_twisted.bridge`) hears from it.
"""

"""The transport layer: NETCONF sessions on ncclient's session classes, one folder per
transport, and what both share beside them.

- :mod:`.reactor`: ``io="reactor"``, sessions that are Twisted protocols on the reactor
  thread (Conch for SSH, Twisted's TLS, Unix sockets);
- :mod:`.threads`: ``io="threads"``, ncclient's session threads and paramiko;
- shared: framing, the root scan and dispatch of each message, the hello, errors,
  keepalives, host keys and known_hosts, ssh_config, descriptor limits, and
  :class:`~ncclient_twisted.transport.session_hooks.SessionHooks`, the one seam through
  which the layer above (:mod:`ncclient_twisted.bridge`) takes part in a session.

Neither transport imports the other. Each folder's ``connectors`` modules open a session
and hand it to :func:`ncclient_twisted.assembly.open_manager`.
"""

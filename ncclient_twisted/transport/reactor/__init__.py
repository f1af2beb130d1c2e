"""The reactor transport (``io="reactor"``): NETCONF sessions that are Twisted protocols on
the reactor thread, over Twisted Conch (SSH), Twisted TLS or a Unix socket; no thread."""

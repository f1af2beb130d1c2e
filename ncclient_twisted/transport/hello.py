"""The hello exchange, as both transports bound and follow it: the default timeout, and the
pause some servers need after it."""

from __future__ import annotations

from typing import Any

#: Hello timeout used when the caller gives none (ncclient would wait forever).
DEFAULT_HELLO_TIMEOUT = 60.0


#: yuma123's netconfd (2.13) holds a request that reaches it in the same read as the
#: client's hello until more input comes (about 1 session in 20 stalls when the first
#: request follows the hello at once; ncclient's 100 ms send tick hid it). Its
#: capabilities name netconfcentral.org; for such a server the connect waits this long
#: after the hello exchange, so the hello is read alone (0 stalls in 150 sessions).
YUMA_HELLO_SETTLE = 0.02


def hello_settle_time(capabilities: Any) -> float:
    """How long to wait after the hello exchange before the first request may go."""
    if capabilities is None:
        return 0.0
    try:
        uris = list(capabilities)
    except TypeError:
        return 0.0
    return YUMA_HELLO_SETTLE if any("netconfcentral.org" in str(u) for u in uris) else 0.0

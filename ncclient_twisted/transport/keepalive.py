"""Dead-peer detection: OpenSSH's ServerAliveInterval / ServerAliveCountMax.

paramiko's own keepalive (``Transport.set_keepalive``, what ncclient's ``keepalive=``
turns on) sends ``keepalive@lag.net`` without asking for a reply: it keeps a NAT entry
open, but a peer that stopped answering (a hung device, a dropped route, a host that is
gone while TCP has not noticed) keeps the session up for ever, and its requests wait.

Here, as in OpenSSH: when nothing has been received from the server for ``interval``
seconds, a ``keepalive@openssh.com`` global request is sent with ``want-reply`` set (every
SSH server answers it, with a failure if nothing else); after ``count_max`` such probes
without a byte from the server the session ends with :class:`KeepaliveTimeoutError`.
"Received" is counted on the connection, so any traffic proves the peer alive and a busy
session is never probed. :class:`DeadPeerDetector` is the rule; each transport drives it:
the threads transport's session loop (counting on a
:class:`~ncclient_twisted.transport.threads.tcp.CountingSocket`, probing with
:func:`~ncclient_twisted.transport.threads.ssh.send_keepalive`; paramiko's thread is not
woken), the reactor transport's session on the reactor's clock.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from ncclient.transport.errors import SSHError
from twisted.logger import Logger

__all__ = [
    "DeadPeerDetector",
    "KeepaliveTimeoutError",
    "DEFAULT_KEEPALIVE_COUNT_MAX",
]

log = Logger(namespace=__name__)

#: Probes without an answer before the peer is declared dead (OpenSSH's default).
DEFAULT_KEEPALIVE_COUNT_MAX = 3
KEEPALIVE_REQUEST = "keepalive@openssh.com"


class KeepaliveTimeoutError(SSHError):
    """The server did not answer keepalives: the session was ended as dead."""


class DeadPeerDetector:
    """The keepalive state of one session, driven by its thread.

    The session loop calls :meth:`timeout` for how long it may sleep and :meth:`check`
    after each wake-up. *last_received* returns the monotonic time data last arrived;
    *probe* sends one keepalive. *now* is the clock (``time.monotonic``).
    """

    def __init__(
        self,
        interval: float,
        last_received: Callable[[], float],
        probe: Callable[[], None],
        count_max: int = DEFAULT_KEEPALIVE_COUNT_MAX,
        now: Callable[[], float] = time.monotonic,
        peer: str = "the server",
    ) -> None:
        if interval <= 0:
            raise ValueError("keepalive interval must be positive")
        if count_max < 1:
            raise ValueError("keepalive count_max must be at least 1")
        self.interval = float(interval)
        self.count_max = count_max
        self._last_received = last_received
        self._probe = probe
        self._now = now
        self._peer = peer
        self.missed = 0
        self.probes_sent = 0
        self._seen = last_received()
        self._deadline = now() + self.interval

    def timeout(self, other: Optional[float]) -> float:
        """How long the loop may sleep, given its own *other* timeout (None: none)."""
        left = max(0.0, self._deadline - self._now())
        return left if other is None else min(left, other)

    def check(self) -> None:
        """Probe or give up if the deadline has passed (raises KeepaliveTimeoutError)."""
        now = self._now()
        if now < self._deadline:
            return
        last = self._last_received()
        if last > self._seen:
            self._seen = last
            self.missed = 0
            self._deadline = last + self.interval
            if self._deadline > now:
                return
        self.missed += 1
        if self.missed > self.count_max:
            raise KeepaliveTimeoutError(
                "%s did not answer %d keepalives in %.1f s; the session is closed as dead"
                % (
                    self._peer,
                    self.count_max,
                    now - self._seen if self._seen else self.interval * self.missed,
                )
            )
        log.debug(
            "nothing from {peer} for {seconds:.1f} s: keepalive {missed}",
            peer=self._peer, seconds=self.interval, missed=self.missed,
        )
        self._probe()
        self.probes_sent += 1
        self._deadline = now + self.interval

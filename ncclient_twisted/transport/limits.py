"""Running out of file descriptors, said clearly.

A process that opens sessions until its descriptor limit meets ``EMFILE`` in whatever
call comes next (a socket, a socket pair, a pipe of paramiko's). The connect that meets
it fails with :class:`DescriptorLimitError`, which names the limit (``ulimit -n``) and
what a session needs on each transport; the sessions already up are not touched.
"""

from __future__ import annotations

import errno
import resource
from typing import Optional

from ncclient.transport.errors import SSHError

__all__ = ["DescriptorLimitError", "DESCRIPTORS_PER_SESSION", "descriptor_limit_error", "limit_error_in"]

#: File descriptors one session holds: the threads transport's socket, its wake-up
#: socket pair and paramiko's pipes; the reactor transport's one socket.
DESCRIPTORS_PER_SESSION = {"threads": 6, "reactor": 1}


class DescriptorLimitError(SSHError):
    """The process has no file descriptor left for another session."""


def descriptor_limit_error(error: object, io: str = "threads") -> Optional[DescriptorLimitError]:
    """A :class:`DescriptorLimitError` for *error* (an ``OSError``, or an errno as Twisted's
    ``ConnectError.osError`` holds it) when it is ``EMFILE``/``ENFILE``, else None."""
    code = error if isinstance(error, int) else getattr(error, "errno", None)
    if code not in (errno.EMFILE, errno.ENFILE):
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    whose = "this process" if code == errno.EMFILE else "the system"
    return DescriptorLimitError(
        "out of file descriptors (%s has used its limit: ulimit -n is %s here); each session "
        "needs about %d on io=%r (%d on io='reactor'): raise the limit, or open fewer sessions "
        "at once" % (whose, soft, DESCRIPTORS_PER_SESSION.get(io, 6), io, DESCRIPTORS_PER_SESSION["reactor"])
    )


def limit_error_in(error: BaseException, io: str = "threads") -> Optional[DescriptorLimitError]:
    """:func:`descriptor_limit_error` for *error* or what caused it (ncclient and paramiko
    wrap the ``OSError`` of a socket they could not make)."""
    seen = 0
    current: Optional[BaseException] = error
    while current is not None and seen < 8:
        if isinstance(current, DescriptorLimitError):
            return current
        found = descriptor_limit_error(current, io)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
        seen += 1
    return None

"""ncclient's ``ssh_config``: what an OpenSSH client configuration file says about a host.

ncclient's ``SSHSession.connect`` reads the file with paramiko's ``SSHConfig`` and takes
from the host's entry ``HostName``, ``User`` (when no ``username`` is given),
``IdentityFile`` (when no ``key_filename``), ``ConnectTimeout`` (when no ``timeout``),
``UserKnownHostsFile`` (when host keys are checked), ``ProxyCommand`` (when no socket is
given) and ``Compression``; nothing else (not ``Port``: the connect's ``port`` holds).
:func:`read_ssh_config` reads the same, with the same parser, for the reactor transport.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

import paramiko

__all__ = ["SSHConfigEntry", "read_ssh_config", "DEFAULT_SSH_CONFIG"]

#: The file ``ssh_config=True`` means (ncclient's choice).
DEFAULT_SSH_CONFIG = "~/.ssh/config" if sys.platform != "win32" else "~/ssh/config"


@dataclass(frozen=True)
class SSHConfigEntry:
    """What ncclient applies of one host's entry (``None``: not set)."""

    hostname: str
    user: Optional[str] = None
    identity_files: Tuple[str, ...] = ()
    connect_timeout: Optional[int] = None
    user_known_hosts_file: Optional[str] = None
    #: Set when a ``ProxyCommand`` is (``ProxyCommand none`` is none); the command is
    #: not kept: it is not shown, and the reactor transport does not run one.
    has_proxy_command: bool = False
    compression: bool = False


def read_ssh_config(ssh_config: Union[bool, str, "os.PathLike[str]"], host: Optional[str]) -> SSHConfigEntry:
    """The entry of *host* in the OpenSSH client configuration *ssh_config* (a path, or
    ``True`` for :data:`DEFAULT_SSH_CONFIG`), as ncclient reads it.

    Blocking (it reads the file; paramiko's ``Match exec`` runs a command and
    ``CanonicalizeHostname`` resolves names): call it off the reactor. A file that cannot
    be read raises ``OSError`` as in ncclient. Tokens are expanded by paramiko; ``%p``
    (only used in ``ProxyCommand``, ``ProxyJump`` and ``ControlPath``, none of which
    applies here) is 22 or the entry's ``Port``, where ncclient makes it the connect's
    port by setting a paramiko global for the lookup.
    """
    if isinstance(ssh_config, bool):
        if not ssh_config:
            raise ValueError("ssh_config=False names no file")
        path = DEFAULT_SSH_CONFIG
    else:
        path = os.fspath(ssh_config)
    config = paramiko.SSHConfig()
    with open(os.path.expanduser(path)) as f:
        config.parse(f)
    found: Any = config.lookup(host or "")
    timeout = found.get("connecttimeout")
    return SSHConfigEntry(
        hostname=str(found.get("hostname") or host or ""),
        user=found.get("user"),
        identity_files=tuple(found.get("identityfile") or ()),
        connect_timeout=int(timeout) if timeout else None,
        user_known_hosts_file=found.get("userknownhostsfile"),
        has_proxy_command=bool(found.get("proxycommand")),
        compression=found.get("compression") == "yes",
    )

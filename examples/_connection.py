"""Connection details for the examples: command-line options, or NETCONF_* variables.

Every example takes ``--host``, ``--port``, ``--username``, ``--known-hosts`` and
``--hostkey``; each defaults to the environment variable ``NETCONF_HOST``,
``NETCONF_PORT``, ``NETCONF_USERNAME``, ``NETCONF_KNOWN_HOSTS`` or ``NETCONF_HOSTKEY``.
The password comes from ``NETCONF_PASSWORD`` only, never from the command line (which
every user of the machine can read); without it, the SSH agent and ``~/.ssh`` keys are
tried, as ``ssh`` does.

The device's host key is checked as OpenSSH does: against ``~/.ssh/known_hosts``, or the
file given with ``--known-hosts``, or pinned with ``--hostkey`` (its base64, as in
``ssh-keyscan``'s output).
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the connection options."""
    p = argparse.ArgumentParser(description=description)
    env = os.environ.get
    p.add_argument("--host", default=env("NETCONF_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("NETCONF_PORT", "830")))
    p.add_argument("--username", default=env("NETCONF_USERNAME", "admin"))
    p.add_argument("--known-hosts", default=env("NETCONF_KNOWN_HOSTS"), help="known_hosts file")
    p.add_argument("--hostkey", default=env("NETCONF_HOSTKEY"), help="base64 host key to pin")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    return p


def connect_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    """``manager.connect`` keywords from the parsed options and NETCONF_PASSWORD."""
    password = os.environ.get("NETCONF_PASSWORD")
    kwargs: Dict[str, Any] = dict(
        host=args.host,
        port=args.port,
        username=args.username,
        password=password,
        timeout=args.timeout,
        allow_agent=password is None,
        look_for_keys=password is None,
    )
    if args.hostkey:
        kwargs["hostkey_b64"] = args.hostkey
    elif args.known_hosts:
        kwargs["known_hosts"] = args.known_hosts
    return kwargs

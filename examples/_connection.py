"""Connection details for the examples: command-line options, or NETCONF_* variables.

Every example takes ``--host``, ``--port``, ``--username``, ``--password`` and
``--hostkey`` (the device's base64 public key, to pin it); each defaults to the
environment variable ``NETCONF_HOST``, ``NETCONF_PORT``, ``NETCONF_USERNAME``,
``NETCONF_PASSWORD`` or ``NETCONF_HOSTKEY``. Prefer the variable for the password: the
command line is visible to every user of the machine. Without ``--hostkey`` the host key
is checked against ``~/.ssh/known_hosts``, as ncclient does.
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
    p.add_argument("--password", default=env("NETCONF_PASSWORD"), help="better: NETCONF_PASSWORD")
    p.add_argument("--hostkey", default=env("NETCONF_HOSTKEY"), help="base64 host key to pin")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    return p


def connect_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    """``manager.connect`` keywords from the parsed options."""
    kwargs: Dict[str, Any] = dict(
        host=args.host,
        port=args.port,
        username=args.username,
        password=args.password,
        timeout=args.timeout,
        allow_agent=False,
        look_for_keys=args.password is None,
    )
    if args.hostkey:
        kwargs["hostkey_b64"] = args.hostkey
    return kwargs

"""The ``ncclient-twisted`` command: NETCONF on one device or a whole inventory at once.

``ncclient-twisted demo`` shows it working on embedded servers; ``ncclient-twisted
get-config --inventory devices.yaml --out configs/`` is the everyday use. See ``--help``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Optional, Sequence

import click

from ncclient_twisted._version import __version__

from . import _demo, _operations, _serve, _subscribe

__all__ = ["cli", "exit_status", "main"]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  ncclient-twisted demo
  NCCLIENT_TWISTED_PASSWORD=admin ncclient-twisted get-config --host 192.0.2.1 -u admin
  ncclient-twisted get-config --inventory devices.yaml --out configs/ --format json
Run 'ncclient-twisted COMMAND --help' for a command's options and an example.""",
)
@click.version_option(__version__, prog_name="ncclient-twisted")
def cli() -> None:
    """NETCONF operations on one device or a whole inventory of devices at once,
    with ncclient_twisted (ncclient on Twisted).

    Credentials are never taken from the command line: a password comes from an
    environment variable (--password-env, or NCCLIENT_TWISTED_PASSWORD), a file
    (--password-file) or a prompt (--ask-password); else a key (--key), the SSH
    agent or ~/.ssh keys. Host keys are checked against ~/.ssh/known_hosts.

    Exit status: 0 when every device succeeded, 1 when any failed (listed on
    standard error), 2 for a usage error, 3 for an internal error, 130 when
    interrupted.
    """


_operations.register(cli)
_subscribe.register(cli)
_serve.register(cli)
_demo.register(cli)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """The console script's entry point: run the command, then leave the process at once.

    Once a command has finished, its output is written and its files are closed; what
    is left is the interpreter's teardown (freeing every object and module one by one, a
    tenth of a 500-device run's CPU: ``benchmarks/FLEET.md``), which a command line tool
    need not wait for. The exit status is the command's.
    """
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="ncclient-twisted")
    except SystemExit as e:
        status = exit_status(e.code)
    else:
        status = 0
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            status = status or 1
    os._exit(status)


def exit_status(code: object) -> int:
    """The process status of ``SystemExit(code)``, as Python's own exit gives it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write("%s\n" % code)
    return 1

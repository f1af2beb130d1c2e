"""The demo: NETCONF on many embedded devices at once.

``python -m ncclient_twisted.demo [--devices N]`` is ``ncclient-twisted demo [--devices N]``
(see ``ncclient_twisted._cli._demo``).
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> None:
    from ncclient_twisted._cli import main as cli_main

    cli_main(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()

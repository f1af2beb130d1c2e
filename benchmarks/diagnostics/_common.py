"""What the diagnostics share: one device served in another process, objects counted by type."""

from __future__ import annotations

import collections
import contextlib
import os
import tempfile
from typing import Any, Iterable, Iterator, Tuple

from benchmarks import fleet


def kind(o: Any) -> str:
    """An object's type, as ``module.QualifiedName``."""
    return "%s.%s" % (getattr(type(o), "__module__", "?"), type(o).__qualname__)


def by_type(objects: Iterable[Any]) -> "collections.Counter[str]":
    return collections.Counter(map(kind, objects))


def print_per_session(counts: "collections.Counter[str]", sessions: int, top: int = 25) -> None:
    for name, count in counts.most_common(top):
        print("  %7.1f %s" % (count / sessions, name))


@contextlib.contextmanager
def served_device(known: bool = True) -> Iterator[Tuple[str, int, str]]:
    """``(host, port, known_hosts path)`` of one device of ``ncclient-twisted serve`` in
    another process; its key is in the file only if *known*."""
    procs, devices, lines = fleet.start_servers(1, 1)
    host, port, _ = devices[0]
    try:
        with tempfile.NamedTemporaryFile("w", suffix="_known_hosts", delete=False) as known_hosts:
            if known:
                known_hosts.write("".join(line + "\n" for line in lines))
        try:
            yield host, port, known_hosts.name
        finally:
            os.unlink(known_hosts.name)
    finally:
        fleet.stop_servers(procs)

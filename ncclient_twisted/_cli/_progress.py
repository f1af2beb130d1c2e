"""Progress on standard error: a rich bar on a terminal, plain lines otherwise.

Plain lines (for logs and pipes) are written at each tenth of the devices and at the end::

    progress: 10/50 devices done, 0 failed
"""

from __future__ import annotations

import sys
from typing import Any, Optional, TextIO

__all__ = ["Progress", "make_progress"]


class Progress:
    """No output: ``--quiet``, or a single device."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.failed = 0

    def advance(self, ok: bool) -> None:
        self.done += 1
        if not ok:
            self.failed += 1
        self.show()

    def show(self) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress(Progress):
    def __init__(self, total: int, stream: TextIO) -> None:
        super().__init__(total)
        self.stream = stream
        self.step = max(1, total // 10)

    def show(self) -> None:
        if self.done % self.step == 0 or self.done == self.total:
            self.stream.write(
                "progress: %d/%d devices done, %d failed\n" % (self.done, self.total, self.failed)
            )
            self.stream.flush()


class RichProgress(Progress):
    def __init__(self, total: int, stream: TextIO, description: str) -> None:
        super().__init__(total)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.bar: Any = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self.task = self.bar.add_task(description, total=total, failed=0)
        self.bar.start()

    def show(self) -> None:
        self.bar.update(self.task, completed=self.done, failed=self.failed)

    def close(self) -> None:
        self.bar.stop()


def make_progress(
    total: int, *, quiet: bool = False, description: str = "devices", stream: Optional[TextIO] = None
) -> Progress:
    """The progress display for *total* devices on *stream* (standard error)."""
    stream = stream if stream is not None else sys.stderr
    if quiet or total < 2:
        return Progress(total)
    if stream.isatty():
        return RichProgress(total, stream, description)
    return PlainProgress(total, stream)

"""The ``log_events`` fixture: the twisted.logger events emitted during a test (the
library logs through ``twisted.logger``; pytest's ``caplog`` sees stdlib logging only)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Tuple, cast

import pytest
from twisted.logger import ILogObserver, LogEvent, LogLevel, formatEvent, globalLogPublisher


class LogEvents:
    """The events seen so far, from any thread, in order."""

    def __init__(self) -> None:
        self.events: List[LogEvent] = []

    def __call__(self, event: LogEvent) -> None:
        self.events.append(event)

    def records(
        self, namespace: str = "ncclient_twisted", level: Optional[LogLevel] = None
    ) -> List[Tuple[str, LogLevel, str]]:
        """(namespace, level, text) of the events under *namespace* (itself or below), at
        *level* or above if given."""
        found = []
        for event in list(self.events):
            ns = event.get("log_namespace") or ""
            if ns != namespace and not ns.startswith(namespace + "."):
                continue
            if level is not None and event["log_level"] < level:
                continue
            found.append((ns, event["log_level"], formatEvent(event)))
        return found

    def messages(self, namespace: str = "ncclient_twisted", level: Optional[LogLevel] = None) -> List[str]:
        """The texts of :meth:`records`."""
        return [text for _, _, text in self.records(namespace, level)]

    @property
    def text(self) -> str:
        """Every event's text, a line each (with its traceback, if any)."""
        lines = []
        for event in list(self.events):
            lines.append(formatEvent(event))
            failure: Any = event.get("log_failure")
            if failure is not None:
                lines.append(failure.getTraceback())
        return "\n".join(lines)


@contextmanager
def capture_log_events() -> Iterator[LogEvents]:
    """Capture twisted.logger events (all namespaces, all levels) within the block."""
    events = LogEvents()
    observer = cast(ILogObserver, events)
    globalLogPublisher.addObserver(observer)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(observer)


@pytest.fixture
def log_events() -> Iterator[LogEvents]:
    """Capture twisted.logger events (all namespaces, all levels) for the test's time."""
    with capture_log_events() as events:
        yield events

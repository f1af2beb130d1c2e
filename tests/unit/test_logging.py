"""Conch's chatter lowered to debug (QuietLogger), the channel taking exit-status, and the
stdlib bridge (log_to_stdlib): events reach stdlib handlers under their namespaces."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from twisted.conch.ssh.channel import SSHChannel
from twisted.logger import Logger, LogLevel, globalLogPublisher

import ncclient_twisted
from ncclient_twisted import _logging
from ncclient_twisted._logging import QuietLogger, StdlibByNamespace, log_handshake, log_to_stdlib
from ncclient_twisted.transport.reactor.ssh import ClientTransport, NetconfClientChannel, NetconfConnection
from ncclient_twisted.transport.reactor.userauth import UserAuth
from tests.support.logevents import LogEvents, log_events  # noqa: F401
from tests.support.readme import DOCS, blocks, section


class QuietChannel(SSHChannel):
    _log = QuietLogger()


@pytest.fixture
def handshake() -> Iterator[None]:
    """Conch's debug events made (log_handshake), for the test."""
    assert ncclient_twisted.log_handshake is log_handshake
    log_handshake(True)
    try:
        yield
    finally:
        log_handshake(False)


def test_info_is_lowered_to_debug_under_conch_s_namespace(log_events: LogEvents, handshake: None) -> None:
    channel = QuietChannel()
    channel._log.info("channel open")
    channel._log.debug("got data")
    channel._log.warn("a warning")
    channel._log.error("an error")
    records = log_events.records("twisted.conch")
    assert records == [
        ("twisted.conch.ssh.channel.SSHChannel", LogLevel.debug, "channel open"),
        ("twisted.conch.ssh.channel.SSHChannel", LogLevel.debug, "got data"),
        ("twisted.conch.ssh.channel.SSHChannel", LogLevel.warn, "a warning"),
        ("twisted.conch.ssh.channel.SSHChannel", LogLevel.error, "an error"),
    ]
    assert [e["log_source"] for e in log_events.events] == [channel] * 4


def test_debug_is_not_built_unless_wanted(log_events: LogEvents, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_logging, "_bridge", None)  # (our module's state: no stdlib bridge)
    channel = QuietChannel()

    class Exploding:
        def __repr__(self) -> str:
            raise AssertionError("formatted")

    channel._log.info("channel open")
    channel._log.debug("got data {data!r}", data=Exploding())
    channel._log.warn("a warning")
    assert log_events.records("twisted.conch") == [
        ("twisted.conch.ssh.channel.SSHChannel", LogLevel.warn, "a warning"),
    ]


def test_the_stdlib_level_makes_conch_s_debug_events(
    stdlib_records: List[logging.LogRecord], log_events: LogEvents
) -> None:
    observer = log_to_stdlib()
    try:
        QuietChannel()._log.debug("got data")  # twisted at DEBUG (the fixture)
        logging.getLogger("twisted").setLevel(logging.INFO)
        QuietChannel()._log.info("channel open")  # lowered to debug: not made
    finally:
        globalLogPublisher.removeObserver(observer)
    assert [(r.name, r.levelno, r.getMessage()) for r in stdlib_records] == [
        ("twisted.conch.ssh.channel.SSHChannel", logging.DEBUG, "got data"),
    ]
    assert len(log_events.events) == 1


@pytest.mark.parametrize("cls", [ClientTransport, NetconfConnection, NetconfClientChannel, UserAuth])
def test_our_conch_classes_log_quietly(cls: Any) -> None:
    logger = cls._log
    assert isinstance(logger, QuietLogger)
    assert logger.namespace.startswith("twisted.conch.ssh.")


class _Session:
    def connection_lost(self, reason: Any) -> None:
        pass


def test_exit_status_and_signal_are_taken(log_events: LogEvents) -> None:
    channel = NetconfClientChannel(_Session(), None)  # type: ignore[arg-type]
    assert channel.requestReceived(b"exit-status", b"\x00\x00\x00\x00")
    assert channel.requestReceived(b"exit-signal", b"")
    assert not any("unhandled request" in text for text in log_events.messages("twisted"))


@pytest.fixture
def stdlib_records() -> Iterator[List[logging.LogRecord]]:
    """Records reaching the stdlib root logger, with our loggers and Conch's at DEBUG."""
    records: List[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    levels = {name: logging.getLogger(name).level for name in ("ncclient_twisted", "twisted")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_log_to_stdlib(stdlib_records: List[logging.LogRecord]) -> None:
    assert ncclient_twisted.log_to_stdlib is log_to_stdlib
    observer = log_to_stdlib()
    try:
        assert log_to_stdlib() is observer  # once however often called
        Logger(namespace="ncclient_twisted.service").info("connected to {host}", host="192.0.2.1")
        Logger(namespace="ncclient_twisted.transport.reactor.session").debug("a detail")
        Logger(namespace="twisted.conch.ssh.transport.SSHClientTransport").warn("conch {n}", n=1)
        Logger(namespace="twisted.internet.base").info("not ours: not bridged")
        Logger(namespace="ncclient_twisted_other").info("a prefix only: not bridged")
    finally:
        globalLogPublisher.removeObserver(observer)
    Logger(namespace="ncclient_twisted.service").info("after the removal")
    got = [(r.name, r.levelno, r.getMessage()) for r in stdlib_records]
    assert got == [
        ("ncclient_twisted.service", logging.INFO, "connected to 192.0.2.1"),
        ("ncclient_twisted.transport.reactor.session", logging.DEBUG, "a detail"),
        ("twisted.conch.ssh.transport.SSHClientTransport", logging.WARNING, "conch 1"),
    ]


def test_a_failure_reaches_stdlib_with_its_traceback(
    stdlib_records: List[logging.LogRecord], log_events: LogEvents
) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        Logger(namespace="ncclient_twisted.x").failure("it failed", level=LogLevel.error)
    StdlibByNamespace()(log_events.events[0])
    (record,) = stdlib_records
    assert (record.name, record.levelno, record.getMessage()) == (
        "ncclient_twisted.x", logging.ERROR, "it failed"
    )
    assert record.exc_info is not None and record.exc_info[0] is ValueError


def test_below_the_stdlib_level_nothing_is_formatted(stdlib_records: List[logging.LogRecord]) -> None:
    logging.getLogger("ncclient_twisted").setLevel(logging.INFO)

    class Exploding:
        def __format__(self, spec: str) -> str:
            raise AssertionError("formatted")

    event = {"log_namespace": "ncclient_twisted.x", "log_level": LogLevel.debug, "log_format": "{x}"}
    StdlibByNamespace()(dict(event, x=Exploding()))
    assert stdlib_records == []


SERVICE_PAGE = DOCS / "service.md"


def readme_blocks() -> List[str]:
    """The python blocks of docs/service.md's Logging section."""
    return blocks(section(SERVICE_PAGE, "## Logging"))


def test_readme_twistd_observer_keeps_info(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = readme_blocks()
    assert len(blocks) == 2
    compile(blocks[1], str(SERVICE_PAGE), "exec")  # (it changes the process's logging: not run)
    monkeypatch.chdir(tmp_path)
    namespace: Dict[str, Any] = {}
    exec(compile(blocks[0], str(SERVICE_PAGE), "exec"), namespace)
    observer = namespace["observer"]()
    for ns, level in [("ncclient_twisted.service", LogLevel.info), ("twisted.conch.ssh.x", LogLevel.debug)]:
        observer({"log_namespace": ns, "log_level": level, "log_format": "from " + ns, "log_time": 0.0})
    debugging = blocks[0].replace("# levels.setLogLevelForNamespace", "levels.setLogLevelForNamespace")
    exec(compile(debugging, str(SERVICE_PAGE), "exec"), namespace)
    observer = namespace["observer"]()
    observer({"log_namespace": "twisted.conch.ssh.y", "log_level": LogLevel.debug, "log_format": "handshake"})
    text = (tmp_path / "twistd.log").read_text()
    assert "from ncclient_twisted.service" in text and "twisted.conch.ssh.x" not in text
    assert "handshake" in text

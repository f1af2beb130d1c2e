"""Passwords, key passphrases and private keys never show: not in logs at any level (ours,
ncclient's, paramiko's, Twisted's, the embedded server's), not in reprs, not in errors."""

from __future__ import annotations

import logging
import os
import traceback
from typing import Any, Iterator, List, cast

import pytest
import pytest_twisted
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ncclient.transport.errors import AuthenticationError, SSHError
from twisted.logger import ILogObserver, formatEvent, globalLogPublisher

from ncclient_twisted import manager, testing
from tests.support.helpers import bounded, reactor

PASSWORD = "Pw-7f3c9e1a-never-log-me"
WRONG_PASSWORD = "Pw-wrong-0b8d42-never-log-me"
PASSPHRASE = "Kp-5e61d0c2-never-log-me"
WRONG_PASSPHRASE = "Kp-wrong-a913f7-never-log-me"
CONFIG = (
    '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    '<system xmlns="urn:example:system"><hostname>secret-test</hostname></system></config>'
)
LOGGERS = ["", "ncclient", "ncclient_twisted", "paramiko", "paramiko.transport", "twisted"]


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # with the traceback, if any
        self.lines.append(repr(record.args))


@pytest.fixture
def captured() -> Iterator["Captured"]:
    """Everything logged, at DEBUG, through logging and twisted.logger."""
    handler = Capture()
    levels = {}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        levels[name] = logger.level
        logger.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    events: List[str] = []

    def observe(event: Any) -> None:
        events.append(formatEvent(event) or "")
        events.append(repr(event))
        failure = event.get("log_failure")
        if failure is not None:
            events.append(failure.getTraceback())

    observer = cast(ILogObserver, observe)
    globalLogPublisher.addObserver(observer)
    try:
        yield Captured(handler.lines, events)
    finally:
        globalLogPublisher.removeObserver(observer)
        logging.getLogger().removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


class Captured:
    """A live view of both capture lists."""

    def __init__(self, *parts: List[str]) -> None:
        self.parts = parts

    def text(self) -> str:
        return "\n".join(line for part in self.parts for line in part)


def error_text(e: BaseException) -> str:
    return "\n".join([str(e), repr(e), "".join(traceback.format_exception(type(e), e, e.__traceback__))])


def key_file(tmp_path: Any) -> "tuple[str, Any, List[str]]":
    """An encrypted private key file, its key, and distinctive fragments of it."""
    key = testing.generate_key("ecdsa")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    path = os.path.join(str(tmp_path), "id_ecdsa")
    with open(path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.BestAvailableEncryption(PASSPHRASE.encode()),
            )
        )
    raw = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    encrypted = open(path).read()
    fragments = [line for line in (raw + encrypted).splitlines() if len(line) > 40]
    fragments.append(str(key.private_numbers().private_value))
    return path, key, fragments


@pytest_twisted.ensureDeferred
async def test_no_secret_in_logs_reprs_or_errors(captured: "Captured", tmp_path: Any, io: str) -> None:
    path, key, key_fragments = key_file(tmp_path)
    server = await testing.serve(
        reactor(), users={"admin": PASSWORD}, authorized_keys={"keyuser": [key.public_key()]}
    )
    seen: List[str] = []
    try:
        # Password: success, then edit-config and get-config.
        m = await bounded(manager.connect(io=io, **server.connect_kwargs("admin", PASSWORD)))
        await bounded(m.edit_config(target="running", config=CONFIG))
        reply = await bounded(m.get_config(source="running"))
        seen += [repr(m), repr(m._session), repr(getattr(m._session, "transport", None)), repr(reply)]
        await bounded(m.close_session())
        seen.append(repr(m))
        # Password: authentication failure.
        with pytest.raises(AuthenticationError) as auth:
            await bounded(manager.connect(io=io, **server.connect_kwargs("admin", WRONG_PASSWORD)))
        seen.append(error_text(auth.value))
        # Key with passphrase: success, edit-config.
        kw = server.connect_kwargs("keyuser", PASSPHRASE, key_filename=path)
        m = await bounded(manager.connect(io=io, **kw))
        await bounded(m.edit_config(target="running", config=CONFIG))
        seen += [repr(m), repr(m._session)]
        await bounded(m.close_session())
        # Key with a wrong passphrase.
        kw = server.connect_kwargs("keyuser", WRONG_PASSPHRASE, key_filename=path)
        with pytest.raises((AuthenticationError, SSHError)) as bad_key:
            await bounded(manager.connect(io=io, **kw))
        seen.append(error_text(bad_key.value))
        # Connection refused, with a password in hand.
        port = server.port
    finally:
        await server.stop()
    with pytest.raises(SSHError) as refused:
        await bounded(manager.connect(io=io, **dict(server.connect_kwargs("admin", PASSWORD), port=port)))
    seen.append(error_text(refused.value))

    everything = captured.text() + "\n".join(seen)
    assert "DEBUG" in everything  # it captures
    assert "'log_namespace': 'ncclient_twisted." in everything  # our events too
    if io == "threads":
        assert "Authentication (password) failed" in everything  # paramiko's log
    for secret in [PASSWORD, WRONG_PASSWORD, PASSPHRASE, WRONG_PASSPHRASE] + key_fragments:
        assert secret not in everything, "a secret leaked: %s..." % secret[:12]

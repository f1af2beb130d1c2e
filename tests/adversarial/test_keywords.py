"""ncclient's keywords, present and future (issue #21, point 2).

A keyword that the installed ncclient's session ``connect`` takes and the reactor
transport does not implement makes ``io="auto"`` choose the threads transport and
``io="reactor"`` fail with ``NotImplementedError`` naming it: never silently dropped.
Shown with a session class whose ``connect`` has a keyword nobody knows yet.
``auth_handler`` (ncclient's development head) works on the reactor transport.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, Iterator, List, Optional

import pytest
import pytest_twisted
from ncclient.transport.ssh import SSHSession

from ncclient_twisted import manager
from ncclient_twisted.options import REACTOR_KEYWORDS, ConnectOptions
from ncclient_twisted.transport.threads.connectors import SSHConnector
from ncclient_twisted.transport.threads.session import WakeOnSendSession
from ncclient_twisted.transport.threads.ssh import ThreadedSSHSession
from tests.support.helpers import bounded
from tests.support.hostile_ssh import OTP, PASSWORD, HostileSSHServer

FUTURE = "quantum_key_distribution"


def _with_keyword(name: str) -> inspect.Signature:
    """ncclient's ``SSHSession.connect`` signature with one more keyword."""
    signature = inspect.signature(SSHSession.connect)
    added = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)
    return signature.replace(parameters=list(signature.parameters.values()) + [added])


class FutureSSHSession(ThreadedSSHSession):
    """An ncclient session from the future: its ``connect`` takes :data:`FUTURE`."""

    seen: List[Any] = []

    def connect(self, *args: Any, **kwds: Any) -> None:
        FutureSSHSession.seen.append(kwds.pop(FUTURE, None))
        super().connect(*args, **kwds)


FutureSSHSession.connect.__signature__ = _with_keyword(FUTURE)  # type: ignore[attr-defined]


class HeadSSHSession(ThreadedSSHSession):
    """ncclient's development head: its ``connect`` takes ``auth_handler``."""


HeadSSHSession.connect = lambda self, *a, **k: None  # type: ignore[method-assign]
HeadSSHSession.connect.__signature__ = _with_keyword("auth_handler")  # type: ignore[attr-defined]


class FutureConnector(SSHConnector):
    def session_class(self) -> "type[WakeOnSendSession]":
        return FutureSSHSession


@pytest.fixture
def hostile() -> Iterator[HostileSSHServer]:
    with HostileSSHServer() as server:
        yield server


def parse(session_class: Any, **kw: Any) -> ConnectOptions:
    return ConnectOptions.parse("ssh", session_class, (), dict(host="h", **kw))


def test_future_keyword_picks_threads_under_auto() -> None:
    assert FUTURE not in REACTOR_KEYWORDS["ssh"]
    assert parse(FutureSSHSession, **{FUTURE: 1}).io == "threads"
    assert parse(FutureSSHSession).io == "reactor"  # not given: nothing to implement


def test_future_keyword_under_reactor_names_it() -> None:
    with pytest.raises(NotImplementedError) as raised:
        parse(FutureSSHSession, io="reactor", **{FUTURE: 1})
    assert FUTURE in str(raised.value)
    assert parse(FutureSSHSession, io="threads", **{FUTURE: 1}).io == "threads"


def test_every_keyword_of_the_installed_ncclient_is_implemented() -> None:
    """Today's ncclient: io="auto" stays on the reactor for every keyword it takes."""
    names = set(inspect.signature(SSHSession.connect).parameters) - {"self", "keepalive", "unknown_host_cb"}
    assert names <= REACTOR_KEYWORDS["ssh"], names - REACTOR_KEYWORDS["ssh"]


@pytest_twisted.ensureDeferred
async def test_future_keyword_reaches_the_session(hostile: HostileSSHServer, io: str) -> None:
    """End to end: under io="auto" the future keyword goes to the (threads) session;
    asked for explicitly, io="threads" takes it and io="reactor" refuses it."""
    kw: Dict[str, Any] = dict(
        host="127.0.0.1", port=hostile.port, username="pw-ok", password=PASSWORD,
        hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=10,
    )
    kw[FUTURE] = "entangled"
    if io == "reactor":
        with pytest.raises(NotImplementedError, match=FUTURE):
            ConnectOptions.parse("ssh", FutureSSHSession, (), dict(kw, io=io))
        options = ConnectOptions.parse("ssh", FutureSSHSession, (), kw)  # io="auto"
    else:
        options = ConnectOptions.parse("ssh", FutureSSHSession, (), dict(kw, io=io))
    assert options.io == "threads"
    FutureSSHSession.seen.clear()
    m = await bounded(FutureConnector(options).connect())
    try:
        assert FutureSSHSession.seen == ["entangled"]
        assert (await bounded(m.get_config(source="running"))).ok
    finally:
        await bounded(m.close_session())


def test_auth_handler_with_todays_ncclient() -> None:
    """auth_handler: the reactor transport takes it whatever ncclient is installed;
    io="threads" only if the installed ncclient's session takes it."""

    def handler(title: str, instructions: str, prompts: Any) -> List[str]:
        return []

    assert parse(ThreadedSSHSession, auth_handler=handler).io == "reactor"
    assert parse(ThreadedSSHSession, auth_handler=handler, io="reactor").io == "reactor"
    if "auth_handler" not in inspect.signature(SSHSession.connect).parameters:
        with pytest.raises(TypeError, match="auth_handler.*io='reactor'"):
            parse(ThreadedSSHSession, auth_handler=handler, io="threads")
    # An ncclient whose session takes it: both transports.
    assert parse(HeadSSHSession, auth_handler=handler, io="threads").io == "threads"
    assert parse(HeadSSHSession, auth_handler=handler).io == "reactor"
    with pytest.raises(TypeError, match="auth_handler must be callable"):
        parse(ThreadedSSHSession, auth_handler="123456")


@pytest_twisted.ensureDeferred
async def test_auth_handler_under_auto(hostile: HostileSSHServer) -> None:
    """io="auto" with auth_handler: the reactor transport answers the two prompts."""
    answers: List[Optional[str]] = []

    def handler(title: str, instructions: str, prompts: Any) -> List[str]:
        answers.extend(p for p, _ in prompts)
        return [PASSWORD, OTP]

    m = await bounded(
        manager.connect(
            host="127.0.0.1", port=hostile.port, username="twofactor", auth_handler=handler,
            hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=10,
        )
    )
    try:
        assert type(m._session).__name__ == "ReactorSession"
        assert answers == ["Password: ", "OTP: "]
    finally:
        await bounded(m.close_session())

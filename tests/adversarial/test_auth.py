"""Authentication against a hostile peer (issue #21, point 1), on both transports.

The server (:mod:`tests.support.hostile_ssh`, asyncssh in a child process) counts every
attempt per user and method: each test checks what the server saw, not only what the
client raised. The order is ncclient's and paramiko's: keys, then ``auth_handler``, then
ONE password attempt; keyboard-interactive answered with the password only where the
server does not take ``password``.
"""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import pytest_twisted
from ncclient.transport.errors import AuthenticationError

from ncclient_twisted import manager
from ncclient_twisted.options import _connect_keywords
from ncclient_twisted.transport.threads.ssh import ThreadedSSHSession
from tests.support.helpers import bounded, wait_until
from tests.support.hostile_ssh import OTP, PASSWORD, HostileSSHServer
from tests.support.logevents import LogEvents, log_events  # noqa: F401

WRONG = "wrong-Pa55word-xyzzy"
KEY_PASSPHRASE = "key-Pa55phrase-plugh"
#: A wrong password fails at once (no retries until a timeout): the bound, with a margin
#: for a loaded machine (it takes ~10-50 ms here).
FAILS_WITHIN = 1.5


@pytest.fixture(scope="module")
def keys(tmp_path_factory: Any) -> Dict[str, str]:
    """An authorized key, encrypted with the password (ncclient opens key files with the
    password: with paramiko, a key without a passphrase fails to load when a password is
    given), and a key encrypted with another passphrase."""
    d = tmp_path_factory.mktemp("auth-keys")
    made = {}
    for name, passphrase in (("authorized", PASSWORD), ("encrypted", KEY_PASSPHRASE)):
        path = str(d / name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", path], check=True)
        made[name] = path
    return made


@pytest.fixture
def hostile(keys: Dict[str, str]) -> Iterator[HostileSSHServer]:
    with HostileSSHServer(authorized_keys=keys["authorized"] + ".pub") as server:
        yield server


def kwargs(server: HostileSSHServer, io: str, user: str, password: Any = None, **kw: Any) -> Dict[str, Any]:
    base = dict(
        host="127.0.0.1",
        port=server.port,
        username=user,
        password=password,
        hostkey_verify=False,
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
        io=io,
    )
    base.update(kw)
    return base


async def refused(
    server: HostileSSHServer, io: str, user: str, **kw: Any
) -> Tuple[AuthenticationError, float]:
    """Connect as *user*; the AuthenticationError and how long it took (seconds). Waits
    (bounded) until the server saw the connection end, so its counts are final."""
    started = time.monotonic()
    with pytest.raises(AuthenticationError) as raised:
        await bounded(manager.connect(**kwargs(server, io, user, **kw)))
    took = time.monotonic() - started
    assert await wait_until(lambda: len(server.disconnects(user)) == 1, 5), server.disconnects(user)
    return raised.value, took


async def works(server: HostileSSHServer, io: str, user: str, **kw: Any) -> None:
    m = await bounded(manager.connect(**kwargs(server, io, user, **kw)))
    try:
        await bounded(m.get_config(source="running"))
    finally:
        await bounded(m.close_session())


@pytest_twisted.ensureDeferred
async def test_wrong_password_is_one_attempt(hostile: HostileSSHServer, io: str) -> None:
    """password + keyboard-interactive offered, wrong password: one password attempt,
    no keyboard-interactive, AuthenticationError at once naming offered and tried."""
    error, took = await refused(hostile, io, "kbd", password=WRONG)
    assert took < FAILS_WITHIN, took
    counts = hostile.attempts("kbd")
    assert counts.get("password") == 1, counts
    assert "keyboard-interactive" not in counts, counts
    message = str(error)
    assert "'kbd'" in message and WRONG not in message, message
    offered = message.split("offers ", 1)[1].split(";")[0]
    assert set(offered.split(", ")) == {"password", "keyboard-interactive"}, message
    assert message.endswith("tried password"), message


@pytest_twisted.ensureDeferred
async def test_keyboard_interactive_only_is_one_attempt(hostile: HostileSSHServer, io: str) -> None:
    """keyboard-interactive only: answered with the password, once."""
    error, took = await refused(hostile, io, "kbdonly", password=WRONG)
    assert took < FAILS_WITHIN, took
    counts = hostile.attempts("kbdonly")
    assert counts.get("keyboard-interactive") == 1 and counts.get("kbd-responses") == 1, counts
    assert "password" not in counts, counts
    message = str(error)
    assert "offers keyboard-interactive;" in message, message
    assert message.endswith("tried keyboard-interactive"), message
    assert WRONG not in message


@pytest_twisted.ensureDeferred
async def test_keyboard_interactive_only_takes_the_password(hostile: HostileSSHServer, io: str) -> None:
    await works(hostile, io, "kbdonly", password=PASSWORD)
    assert hostile.attempts("kbdonly").get("keyboard-interactive") == 1


@pytest_twisted.ensureDeferred
async def test_no_method_to_try(hostile: HostileSSHServer, io: str) -> None:
    """publickey only and no key: nothing tried, said so; the password never sent."""
    error, _ = await refused(hostile, io, "keyonly", password=WRONG)
    message = str(error)
    assert "offers publickey;" in message and "tried nothing" in message, message
    assert "password" not in hostile.attempts("keyonly") and WRONG not in message


@pytest_twisted.ensureDeferred
async def test_undecryptable_key_files_are_skipped(
    hostile: HostileSSHServer, io: str, keys: Dict[str, str], tmp_path: Any, log_events: LogEvents
) -> None:
    """A key the password does not decrypt, one that is no key file and a missing one:
    skipped (logged at debug, no secret), then the password is used."""
    not_a_key = tmp_path / "not-a-key"
    not_a_key.write_text("hello\n")
    await works(
        hostile, io, "pw-ok", password=PASSWORD,
        key_filename=[keys["encrypted"], str(not_a_key), str(tmp_path / "missing")],
    )
    assert hostile.attempts("pw-ok").get("password") == 1
    if io == "reactor":
        assert "skipping the key file %s" % keys["encrypted"] in log_events.text
    assert PASSWORD not in log_events.text and KEY_PASSPHRASE not in log_events.text


@pytest_twisted.ensureDeferred
async def test_partial_success_then_password(
    hostile: HostileSSHServer, io: str, keys: Dict[str, str]
) -> None:
    """publickey accepted as a partial success, then the password."""
    await works(hostile, io, "partial", password=PASSWORD, key_filename=keys["authorized"])
    counts = hostile.attempts("partial")
    assert counts.get("publickey", 0) >= 1 and counts.get("password") == 1, counts


@pytest_twisted.ensureDeferred
async def test_auth_handler_answers_two_factor(hostile: HostileSSHServer, io: str) -> None:
    """``auth_handler`` answers keyboard-interactive's prompts (password, then an OTP),
    off the reactor thread."""
    if io == "threads" and "auth_handler" not in _connect_keywords(ThreadedSSHSession)[0]:
        import ncclient

        pytest.skip("the installed ncclient (%s) does not take auth_handler" % ncclient.__version__)
    asked: List[Any] = []

    def handler(title: str, instructions: str, prompts: List[Tuple[str, bool]]) -> List[str]:
        asked.append((list(prompts), threading.current_thread() is threading.main_thread()))
        return [PASSWORD, OTP]

    await works(hostile, io, "twofactor", auth_handler=handler)
    assert asked == [([("Password: ", False), ("OTP: ", True)], False)], asked
    assert hostile.attempts("twofactor").get("keyboard-interactive") == 1


@pytest_twisted.ensureDeferred
async def test_two_factor_without_handler_fails_once(hostile: HostileSSHServer, io: str) -> None:
    """Two prompts and only a password: one attempt, not answered with the password."""
    error, _ = await refused(hostile, io, "twofactor", password=WRONG)
    counts = hostile.attempts("twofactor")
    assert counts.get("keyboard-interactive") == 1 and "kbd-responses" not in counts, counts
    assert WRONG not in str(error)


@pytest_twisted.ensureDeferred
async def test_expired_password(hostile: HostileSSHServer, io: str) -> None:
    """The server takes the password but wants a new one: one attempt, refused at once,
    no new password sent."""
    error, took = await refused(hostile, io, "expired", password=PASSWORD)
    assert took < FAILS_WITHIN, took
    counts = hostile.attempts("expired")
    assert counts.get("password") == 1 and "password-change" not in counts, counts
    assert PASSWORD not in str(error)

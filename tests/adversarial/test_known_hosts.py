"""known_hosts as sshd(8) describes it, with OpenSSH's client as the oracle (issue #21, point 4).

For each file, ``ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o
UserKnownHostsFile=FILE`` runs against the embedded server and gives its verdict
(accepted: it got past the host key; refused: revoked, changed or unknown); both
transports (``io`` fixture) must reach the same verdict with ``known_hosts=FILE`` and
``hostkey_verify=True`` (unknown hosts refused), and refuse with the matching error.
What the server saw is checked too: no session on a refusal, and disconnect reasons that
carry nothing local (point 6).
"""

from __future__ import annotations

import base64
import os
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest
import pytest_twisted
from ncclient.transport.errors import AuthenticationError, SSHUnknownHostError
from twisted.conch.ssh import keys as conch_keys
from twisted.conch.ssh.transport import DISCONNECT_HOST_KEY_NOT_VERIFIABLE
from twisted.logger import LogLevel

from ncclient_twisted import HostKeyChangedError, HostKeyRevokedError, HostKeyUnknownError, manager, testing
from ncclient_twisted.transport.known_hosts import hash_name
from tests.support.helpers import bounded, wait_until
from tests.support.logevents import LogEvents, log_events  # noqa: F401
from tests.support.openssh_oracle import ACCEPTED, CHANGED, REVOKED, SSH, UNKNOWN, openssh_verdict
from tests.support.several_host_keys import SeveralHostKeysServer

pytestmark = pytest.mark.skipif(SSH is None, reason="OpenSSH's ssh is not installed")


def other_b64() -> str:
    """A freshly generated ed25519 public key, base64 (not the server's)."""
    return conch_keys.Key(testing.generate_key()).public().toString("openssh").decode().split()[1]


class Case(NamedTuple):
    #: ``lines(name, port, server_b64) -> file text`` (name: ``[127.0.0.1]:PORT``).
    lines: Callable[[str, int, str], str]
    #: OpenSSH 9.2's verdict (ssh-client-semantics.md), checked again by each run.
    openssh: str
    #: The 1-based line number that is warned about as unparseable, if any.
    bad_line: Optional[int] = None
    #: Our verdict where it differs from OpenSSH's on purpose (see PORTLESS).
    ours: Optional[str] = None


#: OpenSSH 9.2, finding no line for ``[host]:port``, tries the plain ``host`` lines too
#: ("found matching key w/out port" in ``ssh -v``), so a key stored for port 22 vouches
#: for every port of the host. Both transports keep the stricter rule (a non-22 port only
#: matches ``[host]:port`` lines), as they did before: they refuse where OpenSSH accepts.
PORTLESS = UNKNOWN


CASES: Dict[str, Case] = {
    "old key, then the current one": Case(
        lambda n, p, k: "%s ssh-ed25519 %s\n%s ssh-ed25519 %s\n" % (n, other_b64(), n, k), ACCEPTED
    ),
    "@revoked for another host, then the current key": Case(
        lambda n, p, k: "@revoked otherhost.example ssh-ed25519 %s\n%s ssh-ed25519 %s\n" % (k, n, k), ACCEPTED
    ),
    "@cert-authority for other hosts, then the current key": Case(
        lambda n, p, k: "@cert-authority *.example.net ssh-ed25519 %s\n%s ssh-ed25519 %s\n"
        % (other_b64(), n, k),
        ACCEPTED,
    ),
    "@revoked * the server's key, then the current key": Case(
        lambda n, p, k: "@revoked * ssh-ed25519 %s\n%s ssh-ed25519 %s\n" % (k, n, k), REVOKED
    ),
    "[127.0.0.*]:PORT": Case(lambda n, p, k: "[127.0.0.*]:%d ssh-ed25519 %s\n" % (p, k), ACCEPTED),
    "[127.0.0.?]:PORT": Case(lambda n, p, k: "[127.0.0.?]:%d ssh-ed25519 %s\n" % (p, k), ACCEPTED),
    "[127.0.0.??]:PORT (no match)": Case(
        lambda n, p, k: "[127.0.0.??]:%d ssh-ed25519 %s\n" % (p, k), UNKNOWN
    ),
    "!127.0.0.1,* (the plain name is not the one looked up)": Case(
        lambda n, p, k: "!127.0.0.1,* ssh-ed25519 %s\n" % k, ACCEPTED
    ),
    "![127.0.0.1]:PORT,!127.0.0.1,* (negated)": Case(
        lambda n, p, k: "!%s,!127.0.0.1,* ssh-ed25519 %s\n" % (n, k), UNKNOWN
    ),
    "![127.0.0.1]:PORT,* (OpenSSH: accepted w/out port)": Case(
        lambda n, p, k: "!%s,* ssh-ed25519 %s\n" % (n, k), ACCEPTED, ours=PORTLESS
    ),
    "!192.0.2.1,* (negation of another host)": Case(
        lambda n, p, k: "!192.0.2.1,* ssh-ed25519 %s\n" % k, ACCEPTED
    ),
    "hashed name": Case(lambda n, p, k: "%s ssh-ed25519 %s\n" % (hash_name(n, os.urandom(20)), k), ACCEPTED),
    "hashed name of another port": Case(
        lambda n, p, k: "%s ssh-ed25519 %s\n" % (hash_name("[127.0.0.1]:%d" % (p + 1), os.urandom(20)), k),
        UNKNOWN,
    ),
    "only an old key (changed)": Case(lambda n, p, k: "%s ssh-ed25519 %s\n" % (n, other_b64()), CHANGED),
    "comments, blank lines, a garbage line, the current key": Case(
        lambda n, p, k: "# devices\n\n   \ngarbage line\n%s ssh-ed25519 %s  the lab router\n" % (n, k),
        ACCEPTED,
        bad_line=4,
    ),
    "@cert-authority with the server's own key": Case(
        lambda n, p, k: "@cert-authority %s ssh-ed25519 %s\n" % (n, k), UNKNOWN
    ),
    "a plain host line (OpenSSH: accepted w/out port)": Case(
        lambda n, p, k: "127.0.0.1 ssh-ed25519 %s\n" % k, ACCEPTED, ours=PORTLESS
    ),
}

#: What each verdict is on our side: the exception the connect fails with (exact type).
ERRORS = {REVOKED: HostKeyRevokedError, CHANGED: HostKeyChangedError, UNKNOWN: HostKeyUnknownError}


async def our_verdict(server: testing.NetconfServer, io: str, path: str) -> Tuple[str, Optional[Exception]]:
    """Connect with *path* as known_hosts, unknown hosts refused: the verdict, and the error."""
    kwargs = server.connect_kwargs(io=io, hostkey_verify=True, known_hosts=path)
    try:
        m = await bounded(manager.connect(**kwargs))
    except SSHUnknownHostError as e:
        for verdict, cls in ERRORS.items():
            if type(e) is cls:
                return verdict, e
        raise
    assert m.connected
    await bounded(m.close_session())
    return ACCEPTED, None


def assert_nothing_local(reasons: List[Tuple[int, str]], *local: str) -> None:
    """No disconnect text the server received names anything of this process."""
    for _, text in reasons:
        for part in local:
            assert part not in text, (part, reasons)
        for word in ("Traceback", "Error", "Failure", "known_hosts", "/", "\\"):
            assert word not in text, (word, reasons)


@pytest.mark.parametrize("case", list(CASES))
@pytest_twisted.ensureDeferred
async def test_known_hosts_verdict_is_openssh_s(
    case: str, io: str, server: testing.NetconfServer, tmp_path: Any, log_events: LogEvents
) -> None:
    spec = CASES[case]
    name = "[%s]:%d" % (server.host, server.port)
    path = tmp_path / "known_hosts"
    written = spec.lines(name, server.port, server.hostkey_b64)
    path.write_text(written)

    openssh, stderr = await openssh_verdict(str(path), server.port, str(tmp_path))
    assert openssh == spec.openssh, stderr
    assert await wait_until(lambda: not server._connections)
    opened_by_openssh = len(server.disconnect_reasons)

    ours, error = await our_verdict(server, io, str(path))
    assert ours == (spec.ours or openssh), (error, stderr)

    warnings = log_events.messages("ncclient_twisted.transport.hostkeys", LogLevel.warn)
    if spec.bad_line is None:
        assert warnings == []
    else:
        assert warnings == ["%s line %d skipped: too few fields" % (path, spec.bad_line)]

    # What the server saw is complete once it has lost every connection.
    assert await wait_until(lambda: not server._connections)
    reasons = server.disconnect_reasons[opened_by_openssh:]
    if error is not None:
        assert server.sessions == {}  # refused before any session opened
        text = str(error)
        assert (ours.upper() in text) if ours != UNKNOWN else ("Unknown host key" in text)
        # What the server saw: OpenSSH's words at most, nothing of this process.
        assert_nothing_local(reasons, str(path), str(tmp_path), text, type(error).__name__)
        if io == "reactor":
            assert reasons == [(DISCONNECT_HOST_KEY_NOT_VERIFIABLE, "host key verification failed")]
        else:
            assert reasons == []  # paramiko just closes the connection, as OpenSSH does
    else:
        assert_nothing_local(reasons, str(path), str(tmp_path))
    # The file is left as it was (no accept_new here).
    assert path.read_text() == written


@pytest_twisted.ensureDeferred
async def test_accept_new_keeps_markers_and_bad_lines(
    io: str, server: testing.NetconfServer, tmp_path: Any
) -> None:
    """accept_new appends the new host's key and leaves every other line as it was;
    OpenSSH then accepts the file as written."""
    path = tmp_path / "known_hosts"
    before = (
        "@cert-authority *.example.net ssh-ed25519 %s\n"
        "@revoked otherhost.example ssh-ed25519 %s\n"
        "# a comment\n"
        "garbage line\n"
        "|1|%s|%s ssh-ed25519 %s\n"
        % (
            other_b64(),
            server.hostkey_b64,
            base64.b64encode(b"s" * 20).decode(),
            base64.b64encode(b"h" * 20).decode(),
            other_b64(),
        )
    )
    path.write_text(before)
    kwargs = server.connect_kwargs(io=io, hostkey_verify=True, known_hosts=str(path), accept_new=True)
    m = await bounded(manager.connect(**kwargs))
    await bounded(m.close_session())
    after = path.read_text()
    assert after == before + "[%s]:%d ssh-ed25519 %s\n" % (server.host, server.port, server.hostkey_b64)
    openssh, stderr = await openssh_verdict(str(path), server.port, str(tmp_path))
    assert openssh == ACCEPTED, stderr


@pytest_twisted.ensureDeferred
async def test_accept_new_refuses_a_revoked_key(
    io: str, server: testing.NetconfServer, tmp_path: Any
) -> None:
    """accept_new never stores (nor accepts) a key that an applying line revokes."""
    path = tmp_path / "known_hosts"
    before = "@revoked [127.0.0.*]:%d ssh-ed25519 %s\n" % (server.port, server.hostkey_b64)
    path.write_text(before)
    kwargs = server.connect_kwargs(io=io, hostkey_verify=True, known_hosts=str(path), accept_new=True)
    with pytest.raises(HostKeyRevokedError) as info:
        await bounded(manager.connect(**kwargs))
    assert info.value.known_hosts == str(path) and "REVOKED" in str(info.value)
    assert path.read_text() == before
    assert server.sessions == {}


# -- a server with several host keys ----------------------------------------------------

SEVERAL = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"]


@pytest.fixture
def several() -> Iterator[SeveralHostKeysServer]:
    server = SeveralHostKeysServer(SEVERAL).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("listed", SEVERAL)
@pytest_twisted.ensureDeferred
async def test_the_listed_key_type_is_negotiated(
    listed: str, io: str, several: SeveralHostKeysServer, tmp_path: Any
) -> None:
    """A server with Ed25519, ECDSA and RSA host keys, known_hosts listing one of them
    (as OpenSSH stores its first choice, Ed25519): OpenSSH and both transports negotiate
    the listed type and go on to authentication (counted on the server)."""
    path = tmp_path / "known_hosts"
    path.write_text("[127.0.0.1]:%d %s %s\n" % (several.port, listed, several.public_b64[listed]))
    openssh, stderr = await openssh_verdict(str(path), several.port, str(tmp_path))
    assert openssh == ACCEPTED, stderr
    before = several.attempts
    with pytest.raises(Exception) as info:
        await bounded(
            manager.connect(
                host="127.0.0.1", port=several.port, username="admin", password="wrong", io=io,
                hostkey_verify=True, known_hosts=str(path), allow_agent=False, look_for_keys=False,
                timeout=10,
            )
        )
    assert not isinstance(info.value, SSHUnknownHostError), repr(info.value)
    assert isinstance(info.value, AuthenticationError), repr(info.value)
    assert several.attempts > before  # past the host key: the password reached the server


@pytest_twisted.ensureDeferred
async def test_another_key_of_a_listed_type_is_changed(
    io: str, several: SeveralHostKeysServer, tmp_path: Any
) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("[127.0.0.1]:%d ssh-ed25519 %s\n" % (several.port, other_b64()))
    openssh, stderr = await openssh_verdict(str(path), several.port, str(tmp_path))
    assert openssh == CHANGED, stderr
    with pytest.raises(HostKeyChangedError):
        await bounded(
            manager.connect(
                host="127.0.0.1", port=several.port, username="admin", password="wrong", io=io,
                hostkey_verify=True, known_hosts=str(path), allow_agent=False, look_for_keys=False,
                timeout=10,
            )
        )
    assert several.attempts == 0

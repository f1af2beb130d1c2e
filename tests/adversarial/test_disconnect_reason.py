"""Nothing local leaves the process in an SSH disconnect (issue #21, point 6).

The embedded server records each disconnect message a client sends
(``NetconfServer.disconnect_reasons``); whatever the client refused or however it
closed, the text is short and fixed, as OpenSSH's, and names no file, exception or
secret, on both transports.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import pytest
import pytest_twisted
from ncclient.transport.errors import SSHUnknownHostError
from twisted.conch.ssh import keys as conch_keys
from twisted.conch.ssh.transport import DISCONNECT_HOST_KEY_NOT_VERIFIABLE

from ncclient_twisted import manager, testing
from tests.support.helpers import bounded, wait_until

#: Planted in every error the client's side raises: it must never reach the server.
MARK = "local-detail-3f9a"

#: Every text our client may send when it disconnects (Conch's fixed ones included).
FIXED = {"host key verification failed", "user closed connection"}


class LocalError(Exception):
    pass


def refusing_cb(host: str, fingerprint: str) -> bool:
    raise LocalError("%s: /home/%s/.ssh/devices.yaml unreadable" % (MARK, MARK))


def other_b64() -> str:
    return conch_keys.Key(testing.generate_key()).public().toString("openssh").decode().split()[1]


def refusals(tmp_path: Any, server: testing.NetconfServer) -> Dict[str, Dict[str, Any]]:
    changed = tmp_path / ("%s_known_hosts" % MARK)
    changed.write_text("[%s]:%d ssh-ed25519 %s\n" % (server.host, server.port, other_b64()))
    revoked = tmp_path / ("%s_revoked" % MARK)
    revoked.write_text("@revoked * ssh-ed25519 %s\n" % server.hostkey_b64)
    missing = str(tmp_path / ("%s_missing" % MARK))
    return {
        "unknown host": {"known_hosts": missing},
        "changed key": {"known_hosts": str(changed)},
        "revoked key": {"known_hosts": str(revoked)},
        "pinned key mismatch": {"hostkey_b64": other_b64(), "known_hosts": missing},
        "unknown_host_cb says no": {"known_hosts": missing, "unknown_host_cb": lambda h, f: False},
        "unknown_host_cb raises": {"known_hosts": missing, "unknown_host_cb": refusing_cb},
    }


CASES = ["unknown host", "changed key", "revoked key", "pinned key mismatch",
         "unknown_host_cb says no", "unknown_host_cb raises"]


async def reasons_after(server: testing.NetconfServer, before: int) -> List[Tuple[int, str]]:
    """The disconnects the server received since *before*, once it lost every connection."""
    assert await wait_until(lambda: not server._connections)
    return server.disconnect_reasons[before:]


@pytest.mark.parametrize("case", CASES)
@pytest_twisted.ensureDeferred
async def test_a_refused_host_key_sends_a_fixed_reason(
    case: str, io: str, server: testing.NetconfServer, tmp_path: Any
) -> None:
    kwargs = server.connect_kwargs(io=io, hostkey_verify=True, **refusals(tmp_path, server)[case])
    with pytest.raises(Exception) as info:
        await bounded(manager.connect(**kwargs))
    assert isinstance(info.value, (SSHUnknownHostError, LocalError)), repr(info.value)
    reasons = await reasons_after(server, 0)
    assert server.sessions == {}
    for _, text in reasons:
        assert MARK not in text and str(tmp_path) not in text and type(info.value).__name__ not in text
        assert text in FIXED, reasons
    if io == "reactor":
        assert reasons == [(DISCONNECT_HOST_KEY_NOT_VERIFIABLE, "host key verification failed")]
    else:
        assert reasons == []  # paramiko closes the socket without a message, as OpenSSH


@pytest_twisted.ensureDeferred
async def test_a_normal_close_sends_a_fixed_reason(
    io: str, server: testing.NetconfServer, tmp_path: Any
) -> None:
    known = tmp_path / ("%s_known_hosts" % MARK)
    known.write_text(server.known_hosts_line + "\n")
    kwargs = server.connect_kwargs(io=io, hostkey_verify=True, known_hosts=str(known))
    m = await bounded(manager.connect(**kwargs))
    await bounded(m.close_session())
    for _, text in await reasons_after(server, 0):
        assert text in FIXED and MARK not in text

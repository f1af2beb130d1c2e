"""A hostile (or quirky) NETCONF-over-SSH peer: an asyncssh server in a child process.

The tests run on Twisted's reactor and asyncssh needs asyncio, so the server runs in a
child process on 127.0.0.1, port 0. Its behaviour is picked by the user name:

=============  ======================================================================
``kbd``        ``password`` and ``keyboard-interactive`` offered (as asyncssh and many
               routers do); nothing is accepted
``kbdonly``    ``keyboard-interactive`` only, one ``Password:`` prompt; :data:`PASSWORD`
               is accepted
``pw-ok``      ``password`` and ``keyboard-interactive``; :data:`PASSWORD` is accepted
``partial``    ``publickey`` first: an authorized key is a *partial success*, then
               ``password`` (:data:`PASSWORD`) is required
``twofactor``  ``keyboard-interactive`` with two prompts (password, then OTP):
               :data:`PASSWORD` and :data:`OTP` are accepted
``keyonly``    ``publickey`` only: an authorized key is accepted
``expired``    ``password``: :data:`PASSWORD` is right but expired (the server asks for a
               new one, which it refuses)
anything else  as ``pw-ok``
=============  ======================================================================

"An authorized key" is one listed in the ``authorized_keys`` file given to
:class:`HostileSSHServer` (any key when none is given). Every attempt is counted per user
and method (``connections``: one per connection that began to authenticate;
``publickey``: each key check, a probe and its signed request apart; ``password``;
``keyboard-interactive``: each attempt, and ``kbd-responses`` for the answers to its
prompts), with the disconnect the server saw,
in a JSON file the child rewrites at every event. Once authenticated, it speaks enough
NETCONF 1.0 for a connect to finish (hello, ``get-config``/``get`` answered with empty
data, any other rpc with ``ok``, ``close-session``).

Use::

    server = HostileSSHServer(authorized_keys=path)
    server.start()                  # blocking, bounded; then server.port
    ... connect to 127.0.0.1:server.port ...
    server.attempts("kbd")          # {"connections": 1, "password": 1}
    server.disconnects("kbd")       # what the server saw end each connection
    server.stop()
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional

__all__ = ["HostileSSHServer", "PASSWORD", "OTP"]

#: The password every user that takes one accepts.
PASSWORD = "right-password"
#: The one-time password ``twofactor`` asks for after the password.
OTP = "424242"

#: Bound on the child's start and stop (seconds).
START_TIMEOUT = 30.0


class HostileSSHServer:
    """The child process and what it counted (see the module's docstring)."""

    def __init__(self, authorized_keys: Optional[str] = None) -> None:
        self.authorized_keys = authorized_keys
        self.port = 0
        self._dir = tempfile.mkdtemp(prefix="hostile-ssh-")
        self._state = os.path.join(self._dir, "state.json")
        self._proc: Optional["subprocess.Popen[str]"] = None

    def start(self) -> "HostileSSHServer":
        """Start the child and wait (bounded) until it listens; sets :attr:`port`."""
        cmd = [sys.executable, __file__, "--state", self._state]
        if self.authorized_keys:
            cmd += ["--authorized-keys", self.authorized_keys]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], START_TIMEOUT)
        line = self._proc.stdout.readline() if ready else ""
        match = re.match(r"PORT (\d+)", line)
        if match is None:
            self.stop()
            raise RuntimeError("the hostile SSH server did not start: %r" % line)
        self.port = int(match.group(1))
        return self

    def _read(self) -> Dict[str, Any]:
        try:
            with open(self._state) as f:
                state: Dict[str, Any] = json.load(f)
                return state
        except FileNotFoundError:
            return {"attempts": {}, "disconnects": {}}

    def attempts(self, user: str) -> Dict[str, int]:
        """What *user* tried so far, per method (methods never tried are absent)."""
        counts: Dict[str, int] = self._read()["attempts"].get(user, {})
        return counts

    def disconnects(self, user: str) -> List[Optional[str]]:
        """How each of *user*'s connections ended, as the server saw it: ``None`` for a
        clean close, else the error's text (e.g. the client's disconnect reason)."""
        seen: List[Optional[str]] = self._read()["disconnects"].get(user, [])
        return seen

    def stop(self) -> None:
        """End the child (bounded) and remove its files."""
        proc, self._proc = self._proc, None
        if proc is not None:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()  # the child stops when its stdin closes
            try:
                proc.wait(START_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(START_TIMEOUT)
            proc.stdout.close()
        for name in os.listdir(self._dir):
            os.unlink(os.path.join(self._dir, name))
        os.rmdir(self._dir)

    def __enter__(self) -> "HostileSSHServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# -- the child ---------------------------------------------------------------------------

_EOM = "]]>]]>"
_HELLO = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>'
    "<capability>urn:ietf:params:netconf:base:1.0</capability>"
    "</capabilities><session-id>1</session-id></hello>" + _EOM
)


def _child(state_path: str, authorized_keys: Optional[str]) -> None:  # noqa: C901
    import asyncio

    import asyncssh

    attempts: Dict[str, Dict[str, int]] = {}
    disconnects: Dict[str, List[Optional[str]]] = {}
    allowed_keys: Optional[List[bytes]] = None
    if authorized_keys:
        with open(authorized_keys) as f:
            allowed_keys = [
                asyncssh.import_public_key(line).public_data for line in f if line.strip()
            ]

    def save() -> None:
        tmp = state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"attempts": attempts, "disconnects": disconnects}, f)
        os.replace(tmp, state_path)  # readers never see half a file

    def count(user: str, method: str) -> None:
        per_user = attempts.setdefault(user, {})
        per_user[method] = per_user.get(method, 0) + 1
        save()

    def key_ok(key: Any) -> bool:
        if allowed_keys is None:
            return True
        return bool(key.public_data in allowed_keys)

    class Server(asyncssh.SSHServer):
        def __init__(self) -> None:
            self.user = ""
            self.key_passed = False  # ``partial``: the first factor is done
            self.partial_pending = False

        def connection_lost(self, exc: Optional[Exception]) -> None:
            if self.user:
                disconnects.setdefault(self.user, []).append(None if exc is None else str(exc))
                save()

        def begin_auth(self, username: str) -> bool:
            self.user = username
            count(username, "connections")
            return True

        def public_key_auth_supported(self) -> bool:
            return self.user in ("keyonly",) or (self.user == "partial" and not self.key_passed)

        def validate_public_key(self, username: str, key: Any) -> bool:
            count(username, "publickey")
            if not key_ok(key):
                return False
            if username == "partial":
                # Accepted, but not enough: the failure that follows says "partial".
                self.key_passed = True
                self.partial_pending = True
                return False
            return True

        def password_auth_supported(self) -> bool:
            if self.user == "partial":
                return self.key_passed
            return self.user not in ("kbdonly", "twofactor", "keyonly")

        def validate_password(self, username: str, password: str) -> bool:
            count(username, "password")
            if username == "expired" and password == PASSWORD:
                raise asyncssh.PasswordChangeRequired("Your password has expired. New password: ")
            return username != "kbd" and password == PASSWORD

        def change_password(self, username: str, old_password: str, new_password: str) -> bool:
            count(username, "password-change")
            return False

        def kbdint_auth_supported(self) -> bool:
            return self.user not in ("partial", "keyonly", "expired")

        def get_kbdint_challenge(self, username: str, lang: str, submethods: str) -> Any:
            count(username, "keyboard-interactive")
            prompts = [("Password: ", False)]
            if username == "twofactor":
                prompts.append(("OTP: ", True))
            return "", "", "", prompts

        def validate_kbdint_response(self, username: str, responses: Any) -> bool:
            count(username, "kbd-responses")
            if username == "kbd":
                return False
            if username == "twofactor":
                return list(responses) == [PASSWORD, OTP]
            return list(responses) == [PASSWORD]

    from asyncssh.constants import MSG_SERVICE_ACCEPT, MSG_SERVICE_REQUEST
    from asyncssh.packet import String

    class Connection(asyncssh.SSHServerConnection):
        """Sends the partial-success flag asyncssh has no API for, and accepts a second
        ``ssh-userauth`` service request as OpenSSH's sshd does (paramiko sends one
        before each method it tries; asyncssh alone would disconnect)."""

        def _service_request_again(self, pkttype: int, pktid: int, packet: Any) -> None:
            if self._auth_in_progress and self._next_service is None:
                service = packet.get_string()
                packet.check_end()
                if service == b"ssh-userauth":
                    self.send_packet(MSG_SERVICE_ACCEPT, String(service))
                    return
                raise asyncssh.ServiceNotAvailable("Unexpected service in service request")
            asyncssh.SSHServerConnection._process_service_request(self, pkttype, pktid, packet)

        _packet_handlers = dict(asyncssh.SSHServerConnection._packet_handlers)
        _packet_handlers[MSG_SERVICE_REQUEST] = _service_request_again

        def send_userauth_failure(self, partial_success: bool) -> None:
            owner = self._owner
            if isinstance(owner, Server) and owner.partial_pending:
                owner.partial_pending = False
                partial_success = True
            super().send_userauth_failure(partial_success)

    async def netconf(process: Any) -> None:
        if process.subsystem != "netconf":
            process.exit(1)
            return
        process.stdout.write(_HELLO)
        buffered = ""
        try:
            while True:
                data = await process.stdin.read(65536)
                if not data:
                    break
                buffered += data
                while _EOM in buffered:
                    message, buffered = buffered.split(_EOM, 1)
                    if "<hello" in message:
                        continue
                    found = re.search(r'message-id="([^"]*)"', message)
                    mid = found.group(1) if found else ""
                    body = "<data/>" if re.search(r"<(\w+:)?get(-config)?\b", message) else "<ok/>"
                    process.stdout.write(
                        '<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" '
                        'message-id="%s">%s</rpc-reply>%s' % (mid, body, _EOM)
                    )
                    if "close-session" in message:
                        process.exit(0)
                        return
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            pass
        process.exit(0)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        options = await asyncssh.SSHServerConnectionOptions.construct(
            server_factory=Server,
            server_host_keys=[host_key],
            process_factory=netconf,
            encoding="utf-8",
        )
        server = await loop.create_server(
            lambda: Connection(loop, options, None, None, None), "127.0.0.1", 0
        )
        save()
        print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
        # Runs until the parent closes our stdin.
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(main())


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True)
    parser.add_argument("--authorized-keys")
    arguments = parser.parse_args()
    _child(arguments.state, arguments.authorized_keys)

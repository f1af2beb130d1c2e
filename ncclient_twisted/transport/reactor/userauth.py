"""SSH user authentication on the reactor transport, as ncclient and paramiko do it:
:class:`UserAuth` (key files, the agent's keys through :class:`AgentKeys`, ``auth_handler``,
one password attempt)."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from ncclient.transport.errors import (
    AuthenticationError,
)
from twisted.conch.ssh import keys
from twisted.conch.ssh.common import getNS
from twisted.conch.ssh.connection import SSHConnection
from twisted.conch.ssh.userauth import SSHUserAuthClient
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from ncclient_twisted._logging import QuietLogger
from ncclient_twisted.transport.reactor.transports import abort_transport

__all__ = ["UserAuth"]


log = Logger(namespace=__name__)


#: ``handler(title, instructions, [(prompt, echo), ...])``, as paramiko's
#: ``auth_interactive`` and ncclient's ``auth_handler`` take it, already made to return a
#: Deferred of the answers (see :class:`UserAuth`).
InteractiveHandler = Callable[[str, str, List[Tuple[str, bool]]], "Deferred[List[str]]"]


class UserAuth(SSHUserAuthClient):
    """ncclient's (and paramiko's) authentication: public keys (key files, then the SSH
    agent's), then *auth_handler* over keyboard-interactive when given, then ONE password
    attempt; keyboard-interactive answered with the password (once) only where the server
    does not offer ``password``. :meth:`describe_failure` says what the server offered
    and what was tried, never a secret."""

    # Conch tries the methods a failure lists in this order, skipping those whose auth_*
    # returns false: keyboard-interactive comes before password for auth_handler (as in
    # ncclient), and declines when only the password would answer it and the server
    # takes the password itself.
    preferredOrder = [b"publickey", b"keyboard-interactive", b"password"]
    _log = QuietLogger()

    def __init__(
        self,
        username: str,
        connection: SSHConnection,
        password: Optional[str],
        private_keys: List[keys.Key],
        agent: Optional[AgentKeys] = None,
        auth_handler: Optional[InteractiveHandler] = None,
    ) -> None:
        SSHUserAuthClient.__init__(self, username.encode("utf-8"), connection)
        self._username = username
        self._password = password
        self._keys: List[Any] = list(private_keys) + (list(agent.keys) if agent is not None else [])
        self._agent = agent
        self._key: Optional[Any] = None
        self._password_tried = False
        self._auth_handler = auth_handler
        self._handler_tried = False
        self._kbd_password_tried = False
        #: Who answers the keyboard-interactive attempt under way: the handler or the password.
        self._kbd_by_handler = False
        #: The methods the server listed (all failures, in order) and those it lists now.
        self.offered: List[str] = []
        self._offered_now: List[bytes] = []
        #: The methods tried, in order (each once).
        self.tried: List[str] = []
        #: Whether the server took the password but wants it changed (expired).
        self.password_expired = False

    def _trying(self, method: str) -> None:
        if method not in self.tried:
            self.tried.append(method)

    def describe_failure(self) -> str:
        """Why nobody was let in: the user, the methods offered and those tried."""
        return "authentication failed for user %r: the server offers %s; tried %s" % (
            self._username,
            ", ".join(self.offered) or "nothing",
            ", ".join(self.tried) or "nothing (no key, password or auth_handler to try)",
        ) + ("; the password has expired (the server asks for a new one)" if self.password_expired else "")

    def ssh_USERAUTH_PK_OK_password(self, packet: bytes) -> None:
        # PASSWD_CHANGEREQ: nobody here can choose a new password (Conch would ask
        # getPassword twice more). Ask for the methods left, as after a failure.
        self.password_expired = True
        self.askForAuth(b"none", b"")

    def ssh_USERAUTH_FAILURE(self, packet: bytes) -> Any:
        methods = getNS(packet)[0]
        self._offered_now = [m for m in methods.split(b",") if m]
        for m in self._offered_now:
            name = m.decode("ascii", "replace")
            if name not in self.offered:
                self.offered.append(name)
        return SSHUserAuthClient.ssh_USERAUTH_FAILURE(self, packet)

    def getPublicKey(self) -> Optional[keys.Key]:
        if not self._keys:
            return None
        self._key = self._keys.pop(0)
        self._trying("publickey")
        if isinstance(self._key, bytes):  # the agent's: a public key blob
            return keys.Key.fromString(self._key)
        return self._key.public()

    def getPrivateKey(self) -> "Deferred[keys.Key]":
        assert isinstance(self._key, keys.Key)
        return succeed(self._key)

    def signData(self, publicKey: keys.Key, signData: bytes) -> "Optional[Deferred[bytes]]":
        if isinstance(self._key, bytes) and self._agent is not None:
            return self._agent.sign(self._key, signData)
        return SSHUserAuthClient.signData(self, publicKey, signData)

    def ssh_USERAUTH_SUCCESS(self, packet: bytes) -> None:
        if self._agent is not None:
            self._agent.close()
        SSHUserAuthClient.ssh_USERAUTH_SUCCESS(self, packet)

    def getPassword(self, prompt: Any = None) -> Optional["Deferred[bytes]"]:
        # One password attempt, as paramiko: a second one is what locks accounts.
        if self._password is None or self._password_tried:
            return None
        self._password_tried = True
        self._trying("password")
        return succeed(self._password.encode("utf-8"))

    def auth_keyboard_interactive(self) -> bool:
        if self._auth_handler is not None and not self._handler_tried:
            self._handler_tried = True
            self._kbd_by_handler = True
        elif (
            self._password is not None
            and not self._kbd_password_tried
            and b"password" not in self._offered_now
        ):
            # paramiko's fallback: only where the server does not take the password itself.
            self._kbd_password_tried = True
            self._kbd_by_handler = False
        else:
            return False
        self._trying("keyboard-interactive")
        return bool(SSHUserAuthClient.auth_keyboard_interactive(self))

    def getGenericAnswers(self, name: bytes, instruction: bytes, prompts: Any) -> "Deferred[List[str]]":
        if self._kbd_by_handler:
            assert self._auth_handler is not None
            prompt_list = [(p.decode("utf-8", "replace"), bool(echo)) for p, echo in prompts]
            d = self._auth_handler(
                name.decode("utf-8", "replace"), instruction.decode("utf-8", "replace"), prompt_list
            )

            def failed(f: Failure) -> Failure:
                # Its type only: the text of a handler's error may hold an answer.
                log.debug(
                    "auth_handler failed ({error}): keyboard-interactive gives up",
                    error=type(f.value).__name__,
                )
                return f

            return d.addCallbacks(lambda answers: [str(a) for a in answers], failed)
        # As paramiko's fallback: one prompt gets the password, none gets nothing, more
        # than one (a second factor) fails the attempt.
        if len(prompts) > 1 or self._password is None:
            return fail(AuthenticationError("keyboard-interactive asks more than the password"))
        return succeed([self._password for _ in prompts])


class AgentKeys:
    """The keys of a connected SSH agent (``allow_agent``): their public blobs, and
    signing through the agent (the private keys never leave it)."""

    def __init__(self, client: Any, blobs: List[bytes]) -> None:
        self._client = client
        self.keys = blobs

    def sign(self, blob: bytes, data: bytes) -> "Deferred[bytes]":
        d: "Deferred[bytes]" = self._client.signData(blob, data)
        return d

    def close(self) -> None:
        if self._client.transport is not None:
            self._client.transport.loseConnection()


def connect_agent(reactor: Any, path: str) -> "Deferred[Optional[AgentKeys]]":
    """The SSH agent listening on *path* (``$SSH_AUTH_SOCK``) and its keys; ``None`` when
    it cannot be reached or lists no key (authentication goes on without it)."""
    from twisted.conch.ssh.agent import SSHAgentClient
    from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol

    client = SSHAgentClient()

    def listed(identities: List[Any]) -> Optional[AgentKeys]:
        blobs = [blob for blob, _comment in identities]
        if not blobs:
            abort_transport(client.transport)
            return None
        return AgentKeys(client, blobs)

    def unreachable(f: Failure) -> None:
        log.debug("the SSH agent at {path} cannot be used: {error}", path=path, error=f.value)
        if client.transport is not None:
            client.transport.loseConnection()
        return None

    d = connectProtocol(UNIXClientEndpoint(reactor, path, timeout=5), client)
    d.addCallback(lambda _: client.requestIdentities()).addCallback(listed)
    return d.addErrback(unreachable)

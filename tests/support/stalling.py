"""A NETCONF server on asyncssh that plays the peers of the limit tests, run in a child
process (``python -m tests.support.stalling``), so its work never loads the test's reactor.

What a session does is picked by its username (any password is accepted):

- ``huge-chunk``: answers an rpc with the chunk header ``#4294967295`` and then streams
  filler, up to 300 MB, as fast as the client's SSH window lets it;
- ``no-eom``: offers base:1.0 only; answers an rpc with a reply that never ends (no
  ``]]>]]>``), up to 300 MB;
- ``big-<bytes>``: answers a ``get`` with a valid ``<rpc-reply>`` of about that many
  bytes, sent as base:1.1 chunks of 256 KiB (or, on base:1.0, in pieces of that size);
- anything else: answers every rpc with ``<ok/>``, counting the edit-configs and their
  bytes; its reading is paused and resumed by the ``pause`` / ``resume`` commands.

The parent reads one JSON line (``{"port": N}``), then writes commands on stdin, one a
line: ``pause``, ``resume``, ``drop`` (abort every connection), ``stats`` (answered with
one JSON line: every session's counters, what the peer saw). End of stdin stops the
server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from typing import Any, AsyncIterator, Dict, List, Optional

import asyncssh

BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"
EOM = b"]]>]]>"
#: How much a stream (of filler, or of a big reply) writes at a time.
PIECE = 256 * 1024
#: Where an endless reply gives up (bytes).
STREAM_MAX = 300 * 1000 * 1000
_MESSAGE_ID = re.compile(rb'message-id="([^"]*)"')
_OPERATION = re.compile(rb"<(?:[\w-]+:)?rpc\b[^>]*>\s*<(?:[\w-]+:)?([\w-]+)")
_HELLO = re.compile(rb"^(?:<\?xml[^>]*>)?\s*<(?:[\w-]+:)?hello\b")

SESSIONS: List["NetconfSession"] = []


def hello(base11: bool, session_id: int) -> bytes:
    caps = "".join("<capability>%s</capability>" % c for c in ([BASE10, BASE11] if base11 else [BASE10]))
    return (
        '<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>%s</capabilities>'
        "<session-id>%d</session-id></hello>" % (caps, session_id)
    ).encode() + EOM


def reply(message_id: bytes, body: bytes) -> bytes:
    return (
        b'<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="%s">%s</rpc-reply>'
        % (message_id, body)
    )


class NetconfSession(asyncssh.SSHServerSession):  # type: ignore[misc]
    def __init__(self, username: str) -> None:
        self.username = username
        self.base11_offered = username != "no-eom"
        self.chunked = False
        self.buf = b""
        self.chan: Any = None
        self.stats: Dict[str, Any] = {
            "user": username,
            "rpcs": 0,
            "edits": 0,
            "edit_bytes": 0,
            "bytes_in": 0,
            "streamed": 0,
            "lost": False,
        }
        self._writable = asyncio.Event()
        self._writable.set()
        self._task: Optional["asyncio.Task[None]"] = None
        SESSIONS.append(self)

    # -- asyncssh ------------------------------------------------------------------

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def subsystem_requested(self, subsystem: str) -> bool:
        return subsystem == "netconf"

    def session_started(self) -> None:
        self.chan.write(hello(self.base11_offered, len(SESSIONS)))

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.stats["lost"] = True
        self._writable.set()

    def data_received(self, data: bytes, datatype: Any) -> None:
        self.stats["bytes_in"] += len(data)
        self.buf += data
        while True:
            message = self._next_message()
            if message is None:
                return
            self._handle(message)

    # -- framing -------------------------------------------------------------------

    def _next_message(self) -> Optional[bytes]:
        if not self.chunked:
            i = self.buf.find(EOM)
            if i < 0:
                return None
            message, self.buf = self.buf[:i], self.buf[i + len(EOM) :]
            return message
        pieces: List[bytes] = []
        pos = 0
        while True:
            match = re.compile(rb"\n#(#|\d+)\n").match(self.buf, pos)
            if match is None:
                return None
            if match.group(1) == b"#":
                self.buf = self.buf[match.end() :]
                return b"".join(pieces)
            size = int(match.group(1))
            if len(self.buf) < match.end() + size:
                return None
            pieces.append(self.buf[match.end() : match.end() + size])
            pos = match.end() + size

    def _frame(self, message: bytes) -> bytes:
        return b"\n#%d\n%s\n##\n" % (len(message), message) if self.chunked else message + EOM

    # -- NETCONF -------------------------------------------------------------------

    def _handle(self, message: bytes) -> None:
        if _HELLO.match(message.lstrip()):
            self.chunked = self.base11_offered and BASE11.encode() in message
            return
        self.stats["rpcs"] += 1
        found = _MESSAGE_ID.search(message)
        message_id = found.group(1) if found else b""
        operation = _OPERATION.search(message)
        name = operation.group(1).decode() if operation else ""
        if name == "edit-config":
            self.stats["edits"] += 1
            self.stats["edit_bytes"] += len(message)
        if name == "close-session":
            self.chan.write(self._frame(reply(message_id, b"<ok/>")))
            self.chan.exit(0)
            return
        user = self.username
        if user == "huge-chunk":
            self._stream(b"\n#4294967295\n" + b"<x/>" * 16)
        elif user == "no-eom":
            self._stream(reply(message_id, b"<data>")[: -len(b"</rpc-reply>")])
        elif user.startswith("big-") and name == "get":
            self._big_reply(message_id, int(user[4:]))
        else:
            self.chan.write(self._frame(reply(message_id, b"<ok/>")))

    def _stream(self, head: bytes) -> None:
        async def stream() -> None:
            self.chan.write(head)
            filler = b"<filler>" + b"x" * (PIECE - 17) + b"</filler>"
            while self.stats["streamed"] < STREAM_MAX and not self.stats["lost"]:
                await self._writable.wait()
                if self.stats["lost"]:
                    return
                self.chan.write(filler)
                self.stats["streamed"] += len(filler)

        self._task = asyncio.ensure_future(stream())

    def _big_reply(self, message_id: bytes, size: int) -> None:
        item = b"<item>" + b"y" * 1000 + b"</item>"
        piece = item * (PIECE // len(item))
        count = max(1, -(-size // len(piece)))  # at least size bytes
        head = reply(message_id, b'<data><filler xmlns="urn:example:filler">')
        head, tail = head[: -len(b"</rpc-reply>")], b"</filler></data></rpc-reply>"

        async def stream() -> None:
            parts = [head] + [piece] * count + [tail]
            for part in parts:
                await self._writable.wait()
                if self.stats["lost"]:
                    return
                self.chan.write(b"\n#%d\n%s" % (len(part), part) if self.chunked else part)
                self.stats["streamed"] += len(part)
            self.chan.write(b"\n##\n" if self.chunked else EOM)

        self._task = asyncio.ensure_future(stream())


class Server(asyncssh.SSHServer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.username = ""

    def begin_auth(self, username: str) -> bool:
        self.username = username
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return True

    def kbdint_auth_supported(self) -> bool:
        return False

    def session_requested(self) -> NetconfSession:
        return NetconfSession(self.username)


def command(line: str) -> None:
    line = line.strip()
    if line == "pause":
        for s in SESSIONS:
            if s.chan is not None and not s.stats["lost"]:
                s.chan.pause_reading()
    elif line == "resume":
        for s in SESSIONS:
            if s.chan is not None and not s.stats["lost"]:
                s.chan.resume_reading()
    elif line == "drop":
        for s in SESSIONS:
            if s.chan is not None and not s.stats["lost"]:
                s.chan.get_extra_info("connection").abort()
    elif line == "stats":
        print(json.dumps([s.stats for s in SESSIONS]), flush=True)


async def main() -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(
        Server, "127.0.0.1", 0, server_host_keys=[key], encoding=None, line_editor=False
    )
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        command(line.decode())
    server.close()


# -- the parent's side ------------------------------------------------------------------


class StallingServer:
    """The child process running this server, seen from the test: :meth:`connect_kwargs`,
    :meth:`command` and :meth:`stats` (bounded waits)."""

    def __init__(self, proc: Any, port: int) -> None:
        self._proc = proc
        self.port = port

    def connect_kwargs(self, username: str, **extra: Any) -> Dict[str, Any]:
        kwargs: Dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "username": username,
            "password": "any",
            "hostkey_verify": False,
            "allow_agent": False,
            "look_for_keys": False,
            "timeout": 30.0,
        }
        kwargs.update(extra)
        return kwargs

    def command(self, line: str) -> None:
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()

    async def stats(self) -> List[Dict[str, Any]]:
        """Every session's counters, as the server saw them."""
        from twisted.internet import threads

        from tests.support.helpers import bounded

        self.command("stats")
        line = await bounded(threads.deferToThread(self._proc.stdout.readline))
        result: List[Dict[str, Any]] = json.loads(line)
        return result


@contextlib.asynccontextmanager
async def stalling_server() -> AsyncIterator[StallingServer]:
    """This server in a child process, stopped (bounded) on the way out."""
    from tests.support.helpers import child_process

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    async with child_process([sys.executable, "-m", "tests.support.stalling"], cwd=root) as (proc, ready):
        yield StallingServer(proc, ready["port"])

if __name__ == "__main__":
    asyncio.run(main())

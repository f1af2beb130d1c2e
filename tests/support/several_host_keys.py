"""An SSH server with several host keys (asyncssh, in a thread of its own), for host-key tests.

Nobody can log in: it only counts the password attempts it sees, which tells a test that
a client got past the host key (tests/adversarial/test_known_hosts.py).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Dict, List, Optional

import asyncssh

#: Bound on starting and stopping the server's thread.
START_BOUND = 10.0


class SeveralHostKeysServer:
    """An asyncssh server on 127.0.0.1 (port chosen by the OS) with one host key per
    type in *key_types*; ``public_b64[type]`` is each public key, ``attempts`` counts the
    password attempts (all refused)."""

    def __init__(self, key_types: List[str]) -> None:
        self.keys = [asyncssh.generate_private_key(t) for t in key_types]
        self.public_b64: Dict[str, str] = {
            k.get_algorithm(): k.export_public_key("openssh").decode().split()[1] for k in self.keys
        }
        self.attempts = 0
        self.port = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._listener: Any = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "SeveralHostKeysServer":
        ready = threading.Event()
        failure: List[BaseException] = []
        outer = self

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                outer.attempts += 1
                return False

        async def listen() -> None:
            self._listener = await asyncssh.listen(
                "127.0.0.1", 0, server_host_keys=self.keys, server_factory=Server,
                kbdint_auth=False, public_key_auth=False,
            )
            self.port = self._listener.sockets[0].getsockname()[1]

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(listen())
            except BaseException as e:  # reported by start()
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="several-host-keys", daemon=True)
        self._thread.start()
        if not ready.wait(START_BOUND):
            raise RuntimeError("the asyncssh server did not start in %s s" % START_BOUND)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return

        async def close() -> None:
            self._listener.close()
            await self._listener.wait_closed()
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        thread.join(START_BOUND)

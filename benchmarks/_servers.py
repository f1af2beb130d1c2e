"""The NETCONF servers the clients are measured against, each in processes of its own.

* ``netconfd``: yuma123 ``netconfd`` behind a private OpenSSH ``sshd`` on loopback
  (``tests/support/netconfd.py``).
* ``embedded``: ``ncclient_twisted.testing`` (Twisted Conch), when that package exists
  and serves; it runs in a subprocess (``python -m benchmarks._serve_embedded``) so that the client's
  figures are the client's alone.

A fresh server is started for every worker run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EMBEDDED_START_TIMEOUT = 30.0

__all__ = ["Server", "SERVER_KINDS", "available", "start"]


@dataclass
class Server:
    kind: str
    connect_kwargs: Dict[str, Any]
    #: Root process ids of the server (their descendants are counted too).
    pids: List[int]
    _stop: Callable[[], None] = field(repr=False)

    def stop(self) -> None:
        self._stop()


def _netconfd_module() -> Any:
    from tests.support import netconfd

    return netconfd


def _netconfd_available() -> Optional[str]:
    try:
        mod = _netconfd_module()
    except ImportError as e:
        return "tests/support/netconfd.py cannot be imported: %s" % e
    if not mod.netconfd_available():
        return "netconfd, sshd or netconf-subsystem is not installed"
    return None


#: sshd runs the netconf subsystem with ``$SHELL -c``; bash, when it sees it was started
#: by sshd, sources ``~/.bashrc`` unless SHLVL says it is not a top-level shell. On a
#: machine whose ``~/.bashrc`` does real work (``eval "$(pyenv init -)"`` spawns ~100
#: processes) that costs ~100 ms of server CPU per session, which would swamp the
#: connect figures. The benchmark's sshd therefore sets SHLVL.
SSHD_EXTRA_CONFIG = "SetEnv SHLVL=9\n"


def _netconfd_server_class() -> Any:
    base = _netconfd_module().NetconfdServer

    class BenchNetconfdServer(base):  # type: ignore[misc, valid-type]
        def _write_port_files(self, port: int) -> None:
            super()._write_port_files(port)
            with open(self.sshd_config, "a") as f:
                f.write(SSHD_EXTRA_CONFIG)

    return BenchNetconfdServer


def _start_netconfd() -> Server:
    server = _netconfd_server_class()()
    server.start()
    pids = [p for p in (server.sshd_pid, server.netconfd_pid) if p]
    return Server("netconfd", server.connect_kwargs(), pids, server.stop)


def _embedded_available() -> Optional[str]:
    try:
        from ncclient_twisted import testing  # noqa: F401
    except ImportError as e:
        return "ncclient_twisted.testing cannot be imported: %s" % e
    if not hasattr(testing, "serve"):
        return "ncclient_twisted.testing has no serve()"
    return None


def _start_embedded() -> Server:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._serve_embedded"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        start_new_session=True,
        text=True,
    )

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    assert proc.stdout is not None
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    ready = sel.select(EMBEDDED_START_TIMEOUT)
    sel.close()
    line = proc.stdout.readline() if ready else ""
    if not line:
        stop()
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError("embedded server did not start:\n%s" % err[-2000:])
    return Server("embedded", json.loads(line), [proc.pid], stop)


_AVAILABLE: Dict[str, Callable[[], Optional[str]]] = {
    "netconfd": _netconfd_available,
    "embedded": _embedded_available,
}
_START: Dict[str, Callable[[], Server]] = {
    "netconfd": _start_netconfd,
    "embedded": _start_embedded,
}
SERVER_KINDS = tuple(_START)


def available(kind: str) -> Optional[str]:
    """``None`` if *kind* can be started, else why not."""
    return _AVAILABLE[kind]()


def start(kind: str) -> Server:
    return _START[kind]()

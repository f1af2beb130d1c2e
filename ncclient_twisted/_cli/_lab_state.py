"""What ``serve --state-dir DIR`` keeps across restarts: the host key, the ports, the datastores.

``DIR/ssh_host_ed25519_key`` is made once (mode 0600) and served by every device;
``DIR/lab.json`` remembers the ports, so inventories and known_hosts files stay true;
``DIR/device-N/running.xml`` and ``startup.xml`` are written after each change of those
datastores (commit, copy-config, edit-config on running...) and loaded at start. Reading is
done before the reactor runs; writing on the pool, one write at a time per file.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, Optional

from cryptography.hazmat.primitives import serialization
from lxml import etree

__all__ = ["LabState", "SAVED_DATASTORES", "merge_known_hosts", "write_atomically"]

#: The datastores a lab device keeps (candidate is a scratch copy, as on a device).
SAVED_DATASTORES = ("running", "startup")
KEY_FILE = "ssh_host_ed25519_key"


def write_atomically(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write *data* to *path* through a temporary file renamed over it (blocking)."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class LabState:
    """One ``--state-dir``: blocking reads for start-up, and the writes handed to a pool."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))

    def prepare(self) -> None:
        """Create the directory and the host key if they are missing (before the reactor)."""
        os.makedirs(self.path, exist_ok=True)
        key_path = self.host_key_path
        if not os.path.exists(key_path):
            from ncclient_twisted.testing import generate_key

            pem = generate_key().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
            write_atomically(key_path, pem, 0o600)

    @property
    def host_key_path(self) -> str:
        return os.path.join(self.path, KEY_FILE)

    def ports(self, devices: int) -> Optional[List[int]]:
        """The ports of the last run with as many devices, else None."""
        try:
            with open(os.path.join(self.path, "lab.json"), encoding="utf-8") as f:
                saved = json.load(f).get("ports")
        except (OSError, ValueError, AttributeError):
            return None
        if isinstance(saved, list) and len(saved) == devices and all(isinstance(p, int) for p in saved):
            return saved
        return None

    def save_ports(self, ports: List[int]) -> None:
        """Remember the ports (blocking)."""
        write_atomically(os.path.join(self.path, "lab.json"), json.dumps({"ports": ports}).encode())

    def _file(self, device: int, datastore: str) -> str:
        return os.path.join(self.path, "device-%d" % device, datastore + ".xml")

    def load(self, device: int) -> Dict[str, bytes]:
        """The saved datastores of device number *device* (blocking)."""
        found = {}
        for name in SAVED_DATASTORES:
            try:
                with open(self._file(device, name), "rb") as f:
                    found[name] = f.read()
            except FileNotFoundError:
                continue
        return found

    def save(self, device: int, datastore: str, data: bytes) -> None:
        """Write one datastore of one device (blocking: on the pool)."""
        path = self._file(device, datastore)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomically(path, data)


class Saver:
    """Writes a device's datastore after each change, one write at a time, the last content last."""

    def __init__(self, write: Callable[[int, str, bytes], Any]) -> None:
        #: ``write(device, datastore, data)`` returns a Deferred (a pool call).
        self.write = write
        self.pending: Dict[Any, bytes] = {}
        self.busy: set = set()
        self.idle: List[Any] = []

    def changed(self, device: int, datastore: str, content: etree._Element) -> None:
        key = (device, datastore)
        self.pending[key] = etree.tostring(content, pretty_print=True)
        if key not in self.busy:
            self._next(key)

    def _next(self, key: Any) -> None:
        data = self.pending.pop(key, None)
        if data is None:
            self.busy.discard(key)
            if not self.busy:
                waiting, self.idle = self.idle, []
                for d in waiting:
                    d.callback(None)
            return
        self.busy.add(key)
        d = self.write(key[0], key[1], data)
        d.addErrback(lambda f: None)  # a lab's write failure must not stop the server
        d.addBoth(lambda _: self._next(key))

    def flushed(self) -> Any:
        """A Deferred that fires once no write is under way."""
        from twisted.internet import defer

        if not self.busy:
            return defer.succeed(None)
        d: Any = defer.Deferred()
        self.idle.append(d)
        return d


def merge_known_hosts(existing: str, lines: List[str]) -> str:
    """*existing* without the entries of the served ``[host]:port`` names, then *lines*.

    Only lines whose host field is exactly one of the served names are replaced; every
    other line (comments, other hosts, markers) is kept as it was.
    """
    served = {line.split(None, 1)[0] for line in lines}
    kept = []
    for line in existing.splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#") and fields[0] in served:
            continue
        kept.append(line)
    return "".join(line + "\n" for line in kept + lines)

"""The devices a command runs on: ``--host`` for one, ``--inventory FILE`` for many.

An inventory is YAML (or JSON) or CSV. YAML: a list of devices, or a mapping with
``devices:`` (the list) and optional ``defaults:`` (keys every device inherits)::

    defaults: {username: admin, port: 830, credentials: "env:NETCONF_PASSWORD"}
    devices:
      - host: 192.0.2.1
      - {host: 192.0.2.2, port: 2022, name: edge-2, device_params: {name: junos}}

CSV: a header line naming the columns (``host`` is required; ``port``, ``username``,
``credentials``, ``device_params`` and ``name`` are optional), one device a line. A CSV
``device_params`` is a handler name (``junos``) or a JSON object.

``credentials`` is a reference, never a secret: ``env:VAR``, ``file:PATH``, ``key:PATH``
(an SSH private key), ``agent`` (the SSH agent and ``~/.ssh`` keys) or ``prompt``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

import yaml

__all__ = ["DEFAULT_PORT", "InventoryError", "Target", "load_inventory", "parse_inventory"]

DEFAULT_PORT = 830
FIELDS = ("host", "port", "username", "credentials", "device_params", "name")


class InventoryError(ValueError):
    """An inventory that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Target:
    """One device: where it is, who we are there and how to find our credentials."""

    host: str
    port: int = DEFAULT_PORT
    username: Optional[str] = None
    credentials: Optional[str] = None
    device_params: Optional[Mapping[str, Any]] = None
    name: Optional[str] = None

    @property
    def address(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (host, self.port)

    @property
    def label(self) -> str:
        """How messages name the device: its name and address, or its address."""
        return "%s (%s)" % (self.name, self.address) if self.name else self.address

    @property
    def file_stem(self) -> str:
        """A file name for the device's output (its name, or host_port)."""
        raw = self.name or "%s_%d" % (self.host, self.port)
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in raw).lstrip(".") or "device"


def _port(value: Any, where: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise InventoryError("%s: port %r is not a number" % (where, value)) from None
    if not 0 < port < 65536:
        raise InventoryError("%s: port %d is out of range" % (where, port))
    return port


def parse_device_params(value: Any, where: str) -> Optional[Mapping[str, Any]]:
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError as e:
                raise InventoryError("%s: device_params is not valid JSON: %s" % (where, e)) from None
            if isinstance(parsed, dict):
                return parsed
        else:
            return {"name": text}
    raise InventoryError("%s: device_params must be a handler name or a mapping" % where)


def target_from_mapping(entry: Mapping[str, Any], where: str) -> Target:
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise InventoryError(
            "%s: unknown field(s) %s (known: %s)" % (where, ", ".join(unknown), ", ".join(FIELDS))
        )
    host = entry.get("host")
    if not host or not isinstance(host, str):
        raise InventoryError("%s: no host" % where)

    def text(key: str) -> Optional[str]:
        value = entry.get(key)
        return None if value is None or value == "" else str(value)

    port = entry.get("port")
    return Target(
        host=host.strip(),
        port=DEFAULT_PORT if port is None or port == "" else _port(port, where),
        username=text("username"),
        credentials=text("credentials"),
        device_params=parse_device_params(entry.get("device_params"), where),
        name=text("name"),
    )


def _parse_yaml(text: str, source: str) -> List[Target]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InventoryError("%s: not valid YAML: %s" % (source, e)) from None
    defaults: Mapping[str, Any] = {}
    if isinstance(data, Mapping):
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            raise InventoryError("%s: defaults must be a mapping" % source)
        extra = sorted(set(data) - {"defaults", "devices"})
        if extra:
            raise InventoryError("%s: unknown top-level key(s) %s" % (source, ", ".join(map(str, extra))))
        data = data.get("devices")
    if not isinstance(data, list):
        raise InventoryError("%s: expected a list of devices (or a mapping with devices:)" % source)
    targets = []
    for i, entry in enumerate(data, 1):
        where = "%s: device %d" % (source, i)
        if isinstance(entry, str):
            entry = {"host": entry}
        if not isinstance(entry, Mapping):
            raise InventoryError("%s: expected a mapping" % where)
        targets.append(target_from_mapping({**defaults, **entry}, where))
    return targets


def _parse_csv(text: str, source: str) -> List[Target]:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)), skipinitialspace=True)
    if not reader.fieldnames or "host" not in [f.strip() for f in reader.fieldnames]:
        raise InventoryError("%s: the first line must name the columns, host among them" % source)
    targets = []
    for i, row in enumerate(reader, 2):
        if None in row:
            raise InventoryError("%s: line %d: more values than columns" % (source, i))
        entry = {k.strip(): (v or "").strip() for k, v in row.items()}
        targets.append(target_from_mapping(entry, "%s: line %d" % (source, i)))
    return targets


def parse_inventory(text: str, source: str = "inventory", fmt: Optional[str] = None) -> List[Target]:
    """The devices of an inventory's *text*; *fmt* is ``csv`` or ``yaml`` (default: from *source*)."""
    if fmt is None:
        fmt = "csv" if source.lower().endswith(".csv") else "yaml"
    targets = _parse_csv(text, source) if fmt == "csv" else _parse_yaml(text, source)
    if not targets:
        raise InventoryError("%s: no devices" % source)
    seen: Dict[str, int] = {}
    for t in targets:
        seen[t.file_stem] = seen.get(t.file_stem, 0) + 1
    dups = sorted(k for k, n in seen.items() if n > 1)
    if dups:
        raise InventoryError("%s: devices listed twice: %s" % (source, ", ".join(dups)))
    return targets


def load_inventory(path: str) -> List[Target]:
    """Read and parse an inventory file (before the reactor runs)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InventoryError("%s: %s" % (path, e.strerror or e)) from None
    return parse_inventory(text, path)

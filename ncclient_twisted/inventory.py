"""Inventories: the devices of a YAML or CSV file, checked, with ``connect`` keywords for each.

The CLI's ``--inventory FILE`` reads this format, and a program can too::

    from ncclient_twisted import inventory, manager

    for target in inventory.load_inventory("devices.yaml"):
        m = await manager.connect(**target.connect_kwargs())

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
(an SSH private key), ``agent`` (the SSH agent and ``~/.ssh`` keys) or ``prompt``. Anything
else is refused when the file is loaded, and the message does not repeat it (it may be a
password written where a reference belongs). References are resolved when
:meth:`Target.connect_kwargs` or :func:`resolve_credentials` is called, not at load time.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

import yaml

__all__ = [
    "DEFAULT_PORT",
    "REFERENCE_FORMS",
    "CredentialError",
    "Credentials",
    "InventoryError",
    "Target",
    "is_reference",
    "load_inventory",
    "parse_device_params",
    "parse_inventory",
    "resolve_credentials",
]

DEFAULT_PORT = 830
FIELDS = ("host", "port", "username", "credentials", "device_params", "name")
#: The forms a ``credentials`` field may take, as messages list them.
REFERENCE_FORMS = "env:VAR, file:PATH, key:PATH, agent or prompt"
_PREFIXED = ("env", "file", "key")
_BARE = ("agent", "prompt")


class InventoryError(ValueError):
    """An inventory that cannot be used; the message names the file and the entry."""


class CredentialError(ValueError):
    """A credentials reference that cannot be resolved (the message holds no secret)."""


@dataclass(frozen=True)
class Credentials:
    """Keyword arguments for ``connect``; the password is kept out of ``repr``."""

    password: Optional[str] = field(default=None, repr=False)
    key_filename: Optional[str] = None
    agent: bool = False

    def connect_kwargs(self) -> Dict[str, Any]:
        """``password``/``key_filename``, and the agent and ``~/.ssh`` keys only for ``agent``."""
        kw: Dict[str, Any] = {"allow_agent": self.agent, "look_for_keys": self.agent}
        if self.password is not None:
            kw["password"] = self.password
        if self.key_filename is not None:
            kw["key_filename"] = self.key_filename
        return kw


def is_reference(value: str) -> bool:
    """Whether *value* has the form of a credentials reference (see :data:`REFERENCE_FORMS`)."""
    kind, colon, rest = value.partition(":")
    return value in _BARE or (bool(colon) and kind in _PREFIXED and bool(rest))


def _read_secret_file(path: str) -> str:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            return f.read().rstrip("\r\n")
    except OSError as e:
        raise CredentialError("cannot read password file %s: %s" % (path, e.strerror or e)) from None


def _from_env(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise CredentialError("environment variable %s is not set" % name)
    return value


def _no_prompt(username: str) -> str:
    raise CredentialError("credentials 'prompt' needs a prompt function (none given)")


def resolve_credentials(
    reference: str, username: Optional[str] = None, prompt: Callable[[str], str] = _no_prompt
) -> Credentials:
    """The credentials a reference names, read now (blocking: files, environment, a prompt).

    :param reference: ``env:VAR``, ``file:PATH``, ``key:PATH``, ``agent`` or ``prompt``.
    :param username: Passed to *prompt*, to say whose password is asked for.
    :param prompt: Asks for a password; called for ``prompt`` only.
    :raises CredentialError: The reference is unknown or names nothing usable; the message
        names the variable or file, never a secret, and never repeats an unknown reference.
    """
    kind, _, value = reference.partition(":")
    if not is_reference(reference):
        raise CredentialError("unknown credentials reference (use %s)" % REFERENCE_FORMS)
    if kind == "env":
        return Credentials(password=_from_env(value))
    if kind == "file":
        return Credentials(password=_read_secret_file(value))
    if kind == "key":
        path = os.path.expanduser(value)
        if not os.path.isfile(path):
            raise CredentialError("key file %s does not exist" % path)
        return Credentials(key_filename=path)
    if reference == "agent":
        return Credentials(agent=True)
    return Credentials(password=prompt(username or ""))


@dataclass(frozen=True)
class Target:
    """One device: where it is, who we are there and how to find our credentials."""

    host: str
    port: int = DEFAULT_PORT
    username: Optional[str] = None
    credentials: Optional[str] = None
    device_params: Optional[Mapping[str, Any]] = None
    name: Optional[str] = None

    def connect_kwargs(self, credentials: Optional[Credentials] = None) -> Dict[str, Any]:
        """Keywords for ``manager.connect`` (host, port, username, device_params, credentials).

        :param credentials: What to authenticate with; default: this device's reference
            resolved now (:func:`resolve_credentials`), or the SSH agent and ``~/.ssh`` keys
            when it has none, as ``ssh`` does.
        :raises CredentialError: The reference cannot be resolved.
        """
        if credentials is None:
            credentials = (
                resolve_credentials(self.credentials, self.username)
                if self.credentials
                else Credentials(agent=True)
            )
        kw: Dict[str, Any] = {"host": self.host, "port": self.port}
        if self.username is not None:
            kw["username"] = self.username
        if self.device_params is not None:
            kw["device_params"] = dict(self.device_params)
        kw.update(credentials.connect_kwargs())
        return kw

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
    """A ``device_params`` value: a handler name (``junos``), a JSON object, or a mapping."""
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


def _credentials(value: Any, where: str) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not is_reference(value):
        # Not repeated: a password written where a reference belongs would be echoed.
        raise InventoryError(
            "%s: credentials must be a reference: %s (the value is not shown)" % (where, REFERENCE_FORMS)
        )
    return value


def target_from_mapping(entry: Mapping[str, Any], where: str) -> Target:
    """One device from an inventory entry; *where* prefixes every message."""
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
        credentials=_credentials(entry.get("credentials"), where),
        device_params=parse_device_params(entry.get("device_params"), where),
        name=text("name"),
    )


#: PyYAML's safe loader, in C where PyYAML was built with libyaml (several times faster on
#: a large inventory: benchmarks/FLEET.md); the same documents load the same way with either.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml(text: str, source: str) -> List[Target]:
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as e:
        # PyYAML's own text quotes the offending line, which may hold a secret.
        mark = getattr(e, "problem_mark", None)
        place = "line %d, column %d: " % (mark.line + 1, mark.column + 1) if mark is not None else ""
        problem = getattr(e, "problem", None) or "cannot be parsed"
        raise InventoryError("%s: not valid YAML: %s%s" % (source, place, problem)) from None
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
    """The devices of the inventory file at *path* (reads it: call before the reactor runs).

    :raises InventoryError: The file cannot be read or is not a valid inventory.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InventoryError("%s: %s" % (path, e.strerror or e)) from None
    return parse_inventory(text, path)

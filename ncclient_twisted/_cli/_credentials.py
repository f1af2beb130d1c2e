"""Credentials: never on the command line.

A device's credentials come from its inventory reference (``env:VAR``, ``file:PATH``,
``key:PATH``, ``agent``, ``prompt``) or, without one, from the command's options: a
password in an environment variable (``--password-env``, default
``NCCLIENT_TWISTED_PASSWORD`` when it is set) or a file (``--password-file``), a private key
(``--key``), a prompt (``--ask-password``), else the SSH agent and ``~/.ssh`` keys, as
``ssh`` does. All of it is resolved once, before the reactor starts; a reference that
cannot be resolved fails that device only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional

__all__ = ["CredentialError", "CredentialOptions", "Credentials", "DEFAULT_PASSWORD_ENV", "resolve"]

DEFAULT_PASSWORD_ENV = "NCCLIENT_TWISTED_PASSWORD"


class CredentialError(ValueError):
    """A credentials reference that cannot be resolved (the message holds no secret)."""


@dataclass(frozen=True)
class Credentials:
    """Keyword arguments for ``connect``; the password is kept out of ``repr``."""

    password: Optional[str] = field(default=None, repr=False)
    key_filename: Optional[str] = None
    agent: bool = False

    def connect_kwargs(self) -> Dict[str, Any]:
        kw: Dict[str, Any] = {"allow_agent": self.agent, "look_for_keys": self.agent}
        if self.password is not None:
            kw["password"] = self.password
        if self.key_filename is not None:
            kw["key_filename"] = self.key_filename
        return kw


@dataclass(frozen=True)
class CredentialOptions:
    """The command line's credential options."""

    password_env: Optional[str] = None
    password_file: Optional[str] = None
    key_file: Optional[str] = None
    ask_password: bool = False


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


def _key(path: str) -> Credentials:
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise CredentialError("key file %s does not exist" % path)
    return Credentials(key_filename=path)


class _Resolver:
    def __init__(self, options: CredentialOptions, prompt: Callable[[str], str]) -> None:
        self.options = options
        self.prompt = prompt
        self.cache: Dict[str, Credentials] = {}

    def resolve(self, reference: Optional[str], username: Optional[str]) -> Credentials:
        key = reference or ""
        if key == "prompt" or (not key and self.options.ask_password):
            key = "prompt:%s" % (username or "")
        if key not in self.cache:
            self.cache[key] = self._resolve(reference, username)
        return self.cache[key]

    def _resolve(self, reference: Optional[str], username: Optional[str]) -> Credentials:
        if reference:
            kind, _, value = reference.partition(":")
            if kind == "env" and value:
                return Credentials(password=_from_env(value))
            if kind == "file" and value:
                return Credentials(password=_read_secret_file(value))
            if kind == "key" and value:
                return _key(value)
            if reference == "agent":
                return Credentials(agent=True)
            if reference == "prompt":
                return Credentials(password=self.prompt(username or ""))
            raise CredentialError(
                "unknown credentials reference %r (use env:VAR, file:PATH, key:PATH, agent or prompt)"
                % reference.split(":", 1)[0]
            )
        o = self.options
        if o.ask_password:
            return Credentials(password=self.prompt(username or ""))
        if o.password_env:
            return Credentials(password=_from_env(o.password_env))
        if o.password_file:
            return Credentials(password=_read_secret_file(o.password_file))
        if o.key_file:
            return _key(o.key_file)
        if DEFAULT_PASSWORD_ENV in os.environ:
            return Credentials(password=os.environ[DEFAULT_PASSWORD_ENV])
        return Credentials(agent=True)


def resolver(
    options: CredentialOptions, prompt: Callable[[str], str]
) -> Callable[[Optional[str], Optional[str]], Credentials]:
    """A function (reference, username) -> Credentials that asks each prompt only once."""
    return _Resolver(options, prompt).resolve


def resolve(
    reference: Optional[str],
    username: Optional[str],
    options: CredentialOptions,
    prompt: Callable[[str], str],
) -> Credentials:
    """One device's credentials (raises :class:`CredentialError`)."""
    return _Resolver(options, prompt).resolve(reference, username)

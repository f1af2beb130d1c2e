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
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from ncclient_twisted.inventory import CredentialError, Credentials, resolve_credentials

__all__ = ["CredentialError", "CredentialOptions", "Credentials", "DEFAULT_PASSWORD_ENV", "resolve"]

DEFAULT_PASSWORD_ENV = "NCCLIENT_TWISTED_PASSWORD"


@dataclass(frozen=True)
class CredentialOptions:
    """The command line's credential options."""

    password_env: Optional[str] = None
    password_file: Optional[str] = None
    key_file: Optional[str] = None
    ask_password: bool = False


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
            return resolve_credentials(reference, username, self.prompt)
        o = self.options
        if o.ask_password:
            return resolve_credentials("prompt", username, self.prompt)
        if o.password_env:
            return resolve_credentials("env:" + o.password_env)
        if o.password_file:
            return resolve_credentials("file:" + o.password_file)
        if o.key_file:
            return resolve_credentials("key:" + o.key_file)
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

"""The private keys an SSH connect on the reactor transport offers, found and loaded as
ncclient would (key files, ssh_config's ``IdentityFile``, ``~/.ssh``); blocking: run it on
the pool."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from twisted.conch.ssh import keys
from twisted.logger import Logger

log = Logger(namespace=__name__)


#: The keys ncclient's ``look_for_keys`` tries, in its order (those that exist).
DEFAULT_KEY_FILES = ("~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ed25519")


def default_key_files() -> List[str]:
    """Those of ncclient's ``look_for_keys`` files that exist."""
    import os

    return [p for p in (os.path.expanduser(f) for f in DEFAULT_KEY_FILES) if os.path.exists(p)]


def load_private_keys(
    key_filename: Any, password: Optional[str], look_for_keys: bool, config_key_files: Sequence[str] = ()
) -> List[keys.Key]:
    """The private keys to offer, as ncclient would (blocking: decrypting a key may take
    long, so call it off the reactor). *password* is the passphrase of encrypted keys, as
    in ncclient. A key that cannot be read or decrypted (a *key_filename*, then
    *config_key_files*, ssh_config's ``IdentityFile``, then ``~/.ssh``) is skipped and
    logged at debug (its path, never the passphrase), as ncclient and OpenSSH skip it:
    authentication goes on with the next key, the agent and the password."""
    import os

    named = [key_filename] if isinstance(key_filename, (str, os.PathLike)) else list(key_filename or [])
    passphrase = password.encode("utf-8") if password else None
    found: List[keys.Key] = []
    for path in named:
        try:
            found.append(keys.Key.fromFile(os.path.expanduser(os.fspath(path)), passphrase=passphrase))
        except Exception as e:  # as ncclient: whatever stops a key file, the next one is tried
            log.debug(
                "skipping the key file {path}: it cannot be loaded ({error})",
                path=path, error=type(e).__name__,
            )
    optional = [os.path.expanduser(p) for p in config_key_files]
    if look_for_keys:
        optional += [p for p in default_key_files() if p not in optional]
    for full in optional:
        path = full
        try:
            found.append(keys.Key.fromFile(full, passphrase=passphrase))
        except (OSError, keys.BadKeyError, keys.EncryptedKeyError, ValueError):
            log.debug("skipping {path}: it cannot be loaded", path=path)
    return found

"""What connect does for the oldest supported ncclient (the oldest environment of
noxfile.py runs the whole suite against it; these check the decision on any version)."""

from __future__ import annotations

from typing import Any, Dict

from ncclient_twisted.options import key_passphrase_for_old_ncclient


def decided(version: Any, *args: Any, **kwds: Any) -> Dict[str, Any]:
    key_passphrase_for_old_ncclient(args, kwds, version)
    return kwds


def test_ncclient_06_gets_an_empty_passphrase_for_keys() -> None:
    assert decided((0, 6), key_filename="k")["password"] == ""
    assert decided((0, 6), host="h")["password"] == ""  # look_for_keys defaults to True
    # An ssh_config's IdentityFile is a key file too.
    assert decided((0, 6), look_for_keys=False, ssh_config="/c")["password"] == ""


def test_nothing_changes_otherwise() -> None:
    assert "password" not in decided((0, 7), key_filename="k")
    assert decided((0, 6), key_filename="k", password="secret")["password"] == "secret"
    assert "password" not in decided((0, 6), look_for_keys=False)
    assert "password" not in decided((0, 6), "h", 830, "u", "positional-password")

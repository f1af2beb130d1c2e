"""The public inventory API (``ncclient_twisted.inventory``): loading, checking, connect keywords."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ncclient_twisted import inventory
from ncclient_twisted._cli import cli
from ncclient_twisted.inventory import CredentialError, Credentials, InventoryError, Target

SECRET = "hunter2-not-a-reference"


def test_load_gives_connect_keywords(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("LAB_PW", "from-env")
    path = tmp_path / "devices.yaml"
    path.write_text(
        "defaults: {username: admin, credentials: 'env:LAB_PW'}\n"
        "devices:\n"
        "  - host: 192.0.2.1\n"
        "  - {host: 192.0.2.2, port: 2022, device_params: junos, credentials: agent}\n"
    )
    first, second = inventory.load_inventory(str(path))
    assert first.connect_kwargs() == {
        "host": "192.0.2.1", "port": 830, "username": "admin",
        "password": "from-env", "allow_agent": False, "look_for_keys": False,
    }  # fmt: skip
    assert second.connect_kwargs() == {
        "host": "192.0.2.2", "port": 2022, "username": "admin", "device_params": {"name": "junos"},
        "allow_agent": True, "look_for_keys": True,
    }  # fmt: skip
    # Credentials given by the caller win over the device's reference.
    assert first.connect_kwargs(Credentials(password="given"))["password"] == "given"


def test_no_reference_means_agent_and_keys_as_ssh() -> None:
    kw = Target("192.0.2.9").connect_kwargs()
    assert kw == {"host": "192.0.2.9", "port": 830, "allow_agent": True, "look_for_keys": True}


@pytest.mark.parametrize("value", [SECRET, "vault:x", "env:", "key:", 123])
def test_a_non_reference_is_refused_at_load_without_repeating_it(value: Any) -> None:
    text = "- {host: a, credentials: %s}\n" % json.dumps(value)
    with pytest.raises(InventoryError) as raised:
        inventory.parse_inventory(text, "lab.yaml")
    message = str(raised.value)
    assert message == (
        "lab.yaml: device 1: credentials must be a reference: "
        "env:VAR, file:PATH, key:PATH, agent or prompt (the value is not shown)"
    )
    assert str(value) not in message.replace("env:VAR", "").replace("key:PATH", "")


def test_a_csv_credentials_column_is_checked_too() -> None:
    with pytest.raises(InventoryError, match="line 3: credentials must be a reference") as raised:
        inventory.parse_inventory("host,credentials\na,agent\nb,%s\n" % SECRET, "lab.csv")
    assert SECRET not in str(raised.value)


def test_resolve_never_repeats_an_unknown_reference() -> None:
    with pytest.raises(CredentialError) as raised:
        inventory.resolve_credentials(SECRET, "u")
    assert str(raised.value) == (
        "unknown credentials reference (use env:VAR, file:PATH, key:PATH, agent or prompt)"
    )


def test_prompt_needs_a_prompt_function() -> None:
    with pytest.raises(CredentialError, match="needs a prompt function"):
        inventory.resolve_credentials("prompt", "u")
    assert inventory.resolve_credentials("prompt", "u", lambda who: "typed-" + who).password == "typed-u"


def test_the_cli_refuses_a_plain_string_credential_before_connecting(tmp_path: Path) -> None:
    """Exit 2 at load time, one message, the value never echoed (it was once, per device)."""
    path = tmp_path / "devices.yaml"
    path.write_text("defaults: {credentials: %s}\ndevices: [192.0.2.1, 192.0.2.2]\n" % SECRET)
    result = CliRunner().invoke(cli, ["get-config", "--inventory", str(path)])
    assert result.exit_code == 2, result.output
    assert (
        "%s: device 1: credentials must be a reference: env:VAR, file:PATH, key:PATH, agent or prompt "
        "(the value is not shown)" % path
    ) in " ".join(result.output.split())
    assert SECRET not in result.output
    assert "Traceback" not in result.output


def test_a_yaml_error_names_the_place_not_the_line() -> None:
    """PyYAML's message quotes the line, which may hold a secret: only line and column are shown."""
    with pytest.raises(InventoryError) as raised:
        inventory.parse_inventory("- {host: a, credentials: %s: x}\n" % SECRET, "lab.yaml")
    assert str(raised.value).startswith("lab.yaml: not valid YAML: line 1, column "), raised.value
    assert SECRET not in str(raised.value)

"""ssh_config's entry for a host, as ncclient reads it (the reactor transport's reading)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ncclient_twisted.transport.sshconfig import SSHConfigEntry, read_ssh_config

CONFIG = """\
Host nc-alias
    HostName 192.0.2.7
    User alice
    Port 2022
    IdentityFile ~/.ssh/nc_key
    ConnectTimeout 7
    UserKnownHostsFile /tmp/nc_known_hosts
    Compression yes
    ProxyCommand none

Host nc-proxied
    ProxyCommand ssh -W %h:%p bastion

Host *
    IdentityFile ~/.ssh/other
"""


def test_what_ncclient_applies_of_an_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "config"
    path.write_text(CONFIG)
    assert read_ssh_config(str(path), "nc-alias") == SSHConfigEntry(
        hostname="192.0.2.7",
        user="alice",
        identity_files=(str(tmp_path / ".ssh/nc_key"), str(tmp_path / ".ssh/other")),
        connect_timeout=7,
        user_known_hosts_file="/tmp/nc_known_hosts",
        has_proxy_command=False,  # "none" is none
        compression=True,
    )
    proxied = read_ssh_config(path, "nc-proxied")
    assert proxied.hostname == "nc-proxied" and proxied.has_proxy_command
    assert "bastion" not in repr(proxied)  # the command is not kept
    assert read_ssh_config(path, None).hostname == ""


def test_true_is_the_users_config_and_a_missing_file_is_an_os_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError):
        read_ssh_config(True, "nc-alias")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text(CONFIG)
    assert read_ssh_config(True, "nc-alias").user == "alice"

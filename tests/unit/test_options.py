"""Connect keywords are read and checked in one place (``ncclient_twisted.options``)."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from ncclient_twisted.options import ConnectOptions
from ncclient_twisted.transport.threads.ssh import ThreadedSSHSession


def parse(*args: Any, **kwds: Any) -> ConnectOptions:
    return ConnectOptions.parse("ssh", ThreadedSSHSession, args, kwds)


def test_ncclient_and_our_keywords_are_sorted_out() -> None:
    o = parse(
        "192.0.2.1",
        port=2022,
        username="admin",
        password="secret",
        known_hosts="/tmp/kh",
        accept_new=True,
        keepalive=5,
        keepalive_count_max=2,
        manager_params={"timeout": 7, "notification_buffer": 10},
        errors_params={"raise_mode": 1},
        device_params={"name": "default"},
    )
    assert (o.host, o.port, o.known_hosts, o.accept_new) == ("192.0.2.1", 2022, "/tmp/kh", True)
    assert (o.keepalive, o.keepalive_count_max, o.notification_buffer) == (5.0, 2, 10)
    assert o.manager_params == {"timeout": 7.0} and o.raise_mode == 1
    assert set(o.session_kwds) == {"port", "username", "password"}
    assert "secret" not in repr(o)


def test_connects_timeout_is_the_managers_as_in_ncclient() -> None:
    assert parse("h", timeout=3).manager_params == {"timeout": 3.0}


@pytest.mark.parametrize(
    "kwds, error, words",
    [
        ({"no_such_keyword": 1}, TypeError, "no_such_keyword"),
        ({"manager_params": {"timeot": 1}}, TypeError, "timeot"),
        ({"errors_params": {"raise": 1}}, TypeError, "raise"),
        ({"timeout": "soon"}, TypeError, "timeout"),
        ({"keepalive": -1}, ValueError, "keepalive"),
        ({"keepalive": 5, "keepalive_count_max": 0}, ValueError, "keepalive_count_max"),
        ({"manager_params": {"notification_buffer": 0}}, ValueError, "notification_buffer"),
        ({"port": 1.5}, TypeError, "port"),
        ({"unknown_host_cb": "yes"}, TypeError, "unknown_host_cb"),
        ({"device_params": "junos"}, TypeError, "device_params"),
    ],
)
def test_a_wrong_keyword_or_value_says_which(kwds: Dict[str, Any], error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        parse("h", **kwds)


def test_too_many_positional_arguments() -> None:
    with pytest.raises(TypeError, match="positional"):
        parse(*range(40))


def test_transports_of_ncclient_we_do_not_bridge_say_so() -> None:
    with pytest.raises(NotImplementedError, match="use_libssh"):
        parse("h", use_libssh=True)
    with pytest.raises(NotImplementedError, match="ioproc"):
        parse(host="localhost", device_params={"name": "junos", "local": True})


def test_io_auto_picks_the_reactor_for_every_keyword_it_takes() -> None:
    from ncclient_twisted.options import choose_io

    assert choose_io("ssh", {"host": "h", "username": "u", "password": "p"}) == "reactor"
    assert choose_io("uds", {"path": "/x"}) == "reactor"
    for keyword, value in (("ssh_config", True), ("sock_fd", 3), ("bind_addr", "127.0.0.1"),
                           ("environment", {"A": "1"})):
        assert choose_io("ssh", {"host": "h", keyword: value}) == "reactor", keyword
    # An ssh_config is read before the choice is final (a ProxyCommand picks threads).
    options = ConnectOptions.parse("ssh", ThreadedSSHSession, (), {"host": "h", "ssh_config": "/x"})
    assert options.io == "reactor" and options.io_chosen and options.reads_ssh_config
    explicit = ConnectOptions.parse("ssh", ThreadedSSHSession, (), {"host": "h", "io": "reactor"})
    assert not explicit.io_chosen and not explicit.reads_ssh_config


def test_io_is_checked_and_auto_is_resolved_at_the_call() -> None:
    auto = ConnectOptions.parse("ssh", ThreadedSSHSession, (), {"host": "h", "hostkey_verify": False})
    assert auto.io == "reactor"
    chosen = ConnectOptions.parse("ssh", ThreadedSSHSession, (), {"host": "h", "io": "threads"})
    assert chosen.io == "threads"
    with pytest.raises(ValueError):
        ConnectOptions.parse("ssh", ThreadedSSHSession, (), {"host": "h", "io": "fibres"})


def test_each_transport_fills_its_group_with_its_defaults() -> None:
    from ncclient_twisted.options import SSHOptions, TLSOptions, UnixOptions
    from ncclient_twisted.transport.threads.sockets import ThreadedTLSSession, ThreadedUnixSocketSession

    ssh = parse("h")
    assert (ssh.host, ssh.port, ssh.timeout) == ("h", 830, None)
    assert ssh.ssh.allow_agent and ssh.ssh.hostkey_verify and ssh.ssh.look_for_keys
    assert ssh.ssh.keepalive is None and ssh.ssh.keepalive_count_max == 3 and ssh.tls == TLSOptions()
    tls = ConnectOptions.parse("tls", ThreadedTLSSession, (), {"host": "h", "certfile": "c"})
    assert (tls.host, tls.port, tls.tls.certfile, tls.tls.check_hostname) == ("h", 6513, "c", True)
    assert tls.ssh == SSHOptions()
    assert ConnectOptions.parse("tls", ThreadedTLSSession, (), {"host": "h", "port": None}).port == 6513
    uds = ConnectOptions.parse("uds", ThreadedUnixSocketSession, ("/run/nc.sock",), {"timeout": 5})
    assert uds.uds == UnixOptions(path="/run/nc.sock", timeout=5.0) and uds.port is None


def test_positional_arguments_fill_the_group_by_name() -> None:
    o = parse("h", "2022", 7)
    assert (o.ssh.host, o.ssh.port, o.ssh.timeout) == ("h", 2022, 7.0)
    assert o.args == ("h", "2022", 7)  # ncclient's, unchanged
    assert not {"host", "port", "timeout"} & set(o.session_kwds)
    with pytest.raises(ValueError, match="port"):
        parse("h", port="ssh")


def test_the_groups_repr_shows_no_secret() -> None:
    o = parse("h", password="secret", environment={"TOKEN": "secret2"})
    assert "secret" not in repr(o.ssh)


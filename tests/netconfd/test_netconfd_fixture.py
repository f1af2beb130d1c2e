"""The netconfd fixtures themselves, driven by plain synchronous ncclient.

No Twisted here: these are ordinary test functions, so pytest-twisted's
reactor is never involved.
"""

import os
import uuid

import pytest
from ncclient import manager
from ncclient.operations import RPCError
from ncclient.transport.errors import TransportError
from ncclient.xml_ import to_ele

from tests.support.netconfd import TEST_NS, _descendants, _pid_alive, _wait_pids_gone

CANDIDATE = "urn:ietf:params:netconf:capability:candidate:1.0"
VALIDATE = "urn:ietf:params:netconf:capability:validate:1.1"
STARTUP = "urn:ietf:params:netconf:capability:startup:1.0"
NAME_FILTER = ("subtree", '<top xmlns="%s"><name/></top>' % TEST_NS)


def _name_config(value):
    return ('<config><top xmlns="%s"><name>%s</name></top></config>'
            % (TEST_NS, value))


def _connect(server, **extra):
    kwargs = server.connect_kwargs()
    kwargs.update(timeout=15)
    kwargs.update(extra)
    return manager.connect(**kwargs)


def _name(m, source):
    return m.get_config(source, filter=NAME_FILTER).data_xml


def test_connect_and_get_config_running(netconfd):
    with _connect(netconfd) as m:
        caps = set(m.server_capabilities)
        assert CANDIDATE in caps
        assert VALIDATE in caps
        assert STARTUP in caps
        assert not any(":url:" in c for c in caps)
        assert any(c.startswith(TEST_NS + "?module=nctw-test") for c in caps)
        reply = m.get_config("running")
        assert reply.ok
        assert reply.data_ele.tag == (
            "{urn:ietf:params:xml:ns:netconf:base:1.0}data")


def test_lock_edit_candidate_commit_unlock(netconfd):
    value = "v-%s" % uuid.uuid4().hex
    with _connect(netconfd) as m:
        assert m.lock("candidate").ok
        try:
            assert m.edit_config(target="candidate",
                                 config=_name_config(value)).ok
            assert value in _name(m, "candidate")
            assert value not in _name(m, "running")
            assert m.commit().ok
        finally:
            assert m.unlock("candidate").ok
        assert value in _name(m, "running")
    # Visible from a new session too.
    with _connect(netconfd) as m:
        assert value in _name(m, "running")


def test_lock_twice_is_an_rpc_error(netconfd):
    with _connect(netconfd) as first, _connect(netconfd) as second:
        assert first.lock("candidate").ok
        try:
            with pytest.raises(RPCError) as info:
                second.lock("candidate")
        finally:
            first.unlock("candidate")
        assert info.value.severity == "error"
        assert info.value.tag == "lock-denied"


def test_discard_validate_copy_and_delete_startup(netconfd_private):
    with _connect(netconfd_private) as m:
        m.edit_config(target="candidate", config=_name_config("kept"))
        m.commit()
        # (Not between edit-config and commit: netconfd 2.13's validate of
        # the candidate throws away its uncommitted changes.)
        assert m.validate(source="candidate").ok
        assert m.validate(source=to_ele(_name_config("inline"))).ok
        m.edit_config(target="candidate", config=_name_config("dropped"))
        assert "dropped" in _name(m, "candidate")
        assert m.discard_changes().ok
        assert "kept" in _name(m, "candidate")
        assert "dropped" not in _name(m, "candidate")

        assert m.copy_config(source="running", target="startup").ok
        assert "kept" in _name(m, "startup")
        assert m.delete_config(target="startup").ok
        assert "kept" not in _name(m, "startup")


def test_two_private_servers_at_once(netconfd_private, netconfd_factory):
    other = netconfd_factory()
    assert other.port != netconfd_private.port
    assert other.tmpdir != netconfd_private.tmpdir
    with _connect(netconfd_private) as a, _connect(other) as b:
        a.edit_config(target="candidate", config=_name_config("on-a"))
        a.commit()
        b.edit_config(target="candidate", config=_name_config("on-b"))
        b.commit()
        assert "on-a" in _name(a, "running")
        assert "on-b" not in _name(a, "running")
        assert "on-b" in _name(b, "running")
        assert "on-a" not in _name(b, "running")


def test_host_key_verification(netconfd):
    with _connect(netconfd, hostkey_verify=True,
                  hostkey_b64=netconfd.hostkey_b64) as m:
        assert m.connected
    with _connect(netconfd, hostkey_verify=True,
                  ssh_config=netconfd.ssh_config) as m:
        assert m.connected
    with open(netconfd.known_hosts) as f:
        assert f.read().startswith("[127.0.0.1]:%d " % netconfd.port)


def test_kill_netconfd_and_restart(netconfd_private):
    with _connect(netconfd_private) as m:
        m.edit_config(target="candidate", config=_name_config("lost"))
        m.commit()
    m = _connect(netconfd_private)
    m.timeout = 15
    connection_pids = _descendants(netconfd_private.sshd_pid)
    assert connection_pids  # per-connection sshd + netconf-subsystem
    netconfd_private.kill_netconfd()
    assert not netconfd_private.netconfd_running()
    # Server side: netconf-subsystem and its sshd process go away.
    assert _wait_pids_gone(connection_pids, 15) == []
    # Client side: ncclient's session thread sees the channel close.  (An
    # RPC sent in the instant between ncclient dispatching that error and
    # marking itself disconnected is queued and never answered: it times
    # out instead of raising, so wait for the thread first.)
    m._session.join(15)
    assert not m.connected
    with pytest.raises(TransportError):
        m.get_config("running")
    port = netconfd_private.port
    netconfd_private.restart()
    assert netconfd_private.port == port
    with _connect(netconfd_private) as m:
        assert "lost" not in _name(m, "running")  # restarts empty


def test_stop_leaves_nothing_behind(netconfd_factory):
    server = netconfd_factory()
    m = _connect(server)  # deliberately left open
    assert m.connected
    pids = [server.sshd_pid, server.netconfd_pid]
    pids += _descendants(server.sshd_pid)  # per-connection sshd, subsystem
    assert len(pids) >= 4
    tmpdir = server.tmpdir
    server.stop()
    assert not any(_pid_alive(pid) for pid in pids)
    assert not os.path.exists(tmpdir)
    server.stop()  # idempotent

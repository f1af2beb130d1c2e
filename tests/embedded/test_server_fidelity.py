"""
The embedded server as real as a device (issue 17), each item checked with the
client that showed it: OpenSSH's ``ssh -tt -s netconf`` (pty, exit-status), raw
bytes and plain ncclient (DTDs, ``<config>`` in ``<config>``, no :interleave,
XPath names), our manager (``get-schema``, ``/netconf-state``).

Self-contained: the server runs in the test's reactor; blocking clients run in a
thread, OpenSSH in a child process; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any, AsyncIterator, Callable, List, Optional, Tuple, TypeVar

import paramiko
import pytest
import pytest_twisted
from lxml import etree
from ncclient import manager as nc_manager
from ncclient.operations import RPCError
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from ncclient_twisted import manager, testing
from ncclient_twisted.testing import _schemas
from tests.support.helpers import ProcessOutput
from tests.support.hostkeys import write_private_key
from tests.support.server import fast_ncclient  # noqa: F401  (autouse fixture)

reactor: Any = _reactor
T = TypeVar("T")

#: Upper bound (seconds) of any single wait.
TIMEOUT = 15.0
BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NCM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"
EX = "urn:example:fidelity"
CONFIG = '<top xmlns="%s"><hostname>r1</hostname><mtu>1500</mtu></top>' % EX


# -- helpers (copied small, so that this module stands alone) -------------------------------


def bounded(d: "Deferred[T]", seconds: float = TIMEOUT) -> "Deferred[T]":
    return d.addTimeout(seconds, reactor)


def in_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> "Deferred[T]":
    return bounded(deferToThread(func, *args, **kwargs), 2 * TIMEOUT)


@contextlib.asynccontextmanager
async def running(**kwargs: Any) -> AsyncIterator[testing.NetconfServer]:
    kwargs.setdefault("config", CONFIG)
    server = await testing.serve(reactor, **kwargs)
    try:
        yield server
    finally:
        await bounded(server.stop())


class Plain:
    """Plain (blocking) ncclient, each call in a thread."""

    def __init__(self, server: testing.NetconfServer) -> None:
        self.server = server
        self.m: Any = None

    async def __aenter__(self) -> "Plain":
        self.m = await in_thread(nc_manager.connect, **self.server.connect_kwargs(timeout=TIMEOUT))
        return self

    async def __aexit__(self, *exc: object) -> None:
        m = self.m
        if m is not None and m._session._transport is not None:
            await in_thread(m._session.close)

    def call(self, name: str, *args: Any, **kwargs: Any) -> "Deferred[Any]":
        return in_thread(getattr(self.m, name), *args, **kwargs)


class Raw:
    """NETCONF over paramiko, bytes in and out (for what ncclient cannot send)."""

    def __init__(self, server: testing.NetconfServer, base: str = "1.1") -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
        self.transport = paramiko.Transport(self.sock)
        self.buffer = b""
        try:
            self.transport.start_client(timeout=TIMEOUT)
            self.transport.auth_password("admin", server.users["admin"])
            self.channel = self.transport.open_session(timeout=TIMEOUT)
            self.channel.settimeout(TIMEOUT)
            self.channel.invoke_subsystem("netconf")
            caps = BASE10 if base == "1.0" else BASE11
            self.channel.sendall(
                (
                    '<hello xmlns="%s"><capabilities><capability>%s</capability></capabilities></hello>]]>]]>'
                    % (BASE_NS, caps)
                ).encode()
            )
            self.chunked = False
            self.server_hello = self.read()
            self.chunked = base == "1.1"
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        self.transport.close()
        self.sock.close()

    def _fill(self) -> None:
        data = self.channel.recv(65536)
        if not data:
            raise EOFError("closed; buffered %r" % self.buffer[:200])
        self.buffer += data

    def send(self, message: bytes) -> None:
        if self.chunked:
            self.channel.sendall(b"\n#%d\n" % len(message) + message + b"\n##\n")
        else:
            self.channel.sendall(message + b"]]>]]>")

    def read(self) -> bytes:
        if not self.chunked:
            for _ in range(10000):
                if b"]]>]]>" in self.buffer:
                    break
                self._fill()
            message, _, self.buffer = self.buffer.partition(b"]]>]]>")
            return message.strip()
        parts: List[bytes] = []
        for _ in range(10000):
            match = re.match(rb"\n#(#|\d+)\n", self.buffer)
            if match is None:
                self._fill()
                continue
            if match.group(1) == b"#":
                self.buffer = self.buffer[match.end() :]
                return b"".join(parts)
            size = int(match.group(1))
            if len(self.buffer) < match.end() + size:
                self._fill()
                continue
            parts.append(self.buffer[match.end() : match.end() + size])
            self.buffer = self.buffer[match.end() + size :]
        raise AssertionError("no complete message")

    def rpc(self, body: str, prolog: str = "", message_id: str = "1") -> etree._Element:
        self.send(
            ('%s<rpc xmlns="%s" message-id="%s">%s</rpc>' % (prolog, BASE_NS, message_id, body)).encode()
        )
        return etree.fromstring(self.read())


@contextlib.asynccontextmanager
async def raw(server: testing.NetconfServer, base: str = "1.1") -> AsyncIterator[Raw]:
    client = await in_thread(Raw, server, base)
    try:
        yield client
    finally:
        await in_thread(client.close)


def xpath_filter(select: str, **prefixes: str) -> str:
    """An XPath ``<filter>`` with namespace prefixes (as ncclient 0.6.17 takes it too)."""
    declarations = "".join(' xmlns:%s="%s"' % item for item in prefixes.items())
    return '<filter type="xpath"%s select="%s"/>' % (declarations, select)


def error_tags(reply: etree._Element) -> List[str]:
    return [e.text or "" for e in reply.iter("{%s}error-tag" % BASE_NS)]


# -- 1 and 5: OpenSSH's ssh -tt -s netconf: pty granted, exit-status 0 ----------------------


def _ssh_files(tmp_path: Path, server: testing.NetconfServer, key: Any) -> Tuple[str, str]:
    key_file = write_private_key(tmp_path / "id_ed25519", key)
    known = tmp_path / "known_hosts"
    known.write_text(server.known_hosts_line + "\n")
    return key_file, str(known)


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH's ssh client is not installed")
@pytest.mark.parametrize("tty", ["-tt", "-T"])
@pytest_twisted.ensureDeferred
async def test_openssh_pty_and_exit_status(tmp_path: Path, tty: str) -> None:
    key = testing.generate_key()
    async with running(authorized_keys={"admin": [key]}) as server:
        key_file, known = _ssh_files(tmp_path, server, key)
        ssh = shutil.which("ssh")
        assert ssh is not None
        args = [ssh, "-F", "/dev/null", tty, "-p", str(server.port)]
        for option in (
            "BatchMode=yes",
            "StrictHostKeyChecking=yes",
            "UserKnownHostsFile=" + known,
            "GlobalKnownHostsFile=/dev/null",
            "IdentitiesOnly=yes",
            "IdentityFile=" + key_file,
            "PasswordAuthentication=no",
            "KbdInteractiveAuthentication=no",
            "ConnectTimeout=10",
        ):
            args += ["-o", option]
        args += ["admin@127.0.0.1", "-s", "netconf"]
        proc = ProcessOutput()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "TERM": "dumb"}
        transport = reactor.spawnProcess(proc, ssh, args, env=env)
        try:
            transport.write(
                (
                    '<hello xmlns="%s"><capabilities><capability>%s</capability></capabilities></hello>]]>]]>'
                    '<rpc xmlns="%s" message-id="1">'
                    "<get-config><source><running/></source></get-config></rpc>]]>]]>"
                    '<rpc xmlns="%s" message-id="2"><close-session/></rpc>]]>]]>'
                    % (BASE_NS, BASE10, BASE_NS, BASE_NS)
                ).encode()
            )
            code = await bounded(proc.ended)
        finally:
            if not proc.ended.called:
                transport.signalProcess("KILL")
                await bounded(proc.ended)
    assert b"PTY allocation request failed" not in proc.err, proc.err
    messages = [m.strip() for m in proc.out.split(b"]]>]]>") if m.strip()]
    assert len(messages) == 3, proc.out
    assert etree.fromstring(messages[0]).tag == "{%s}hello" % BASE_NS
    assert b"<hostname>r1</hostname>" in messages[1]
    assert etree.fromstring(messages[2]).find("{%s}ok" % BASE_NS) is not None
    # exit-status 0 before the channel closed: a clean exit, not 255.
    assert code == 0, (code, proc.err)


# -- 2: a DTD in an <rpc> --------------------------------------------------------------------

_EDIT = (
    "<edit-config><target><running/></target><config>"
    '<top xmlns="%s"><hostname>&y;</hostname></top></config></edit-config>' % EX
)


@pytest.mark.parametrize("base,tag", [("1.1", "malformed-message"), ("1.0", "operation-failed")])
@pytest.mark.parametrize(
    "doctype",
    ['<!DOCTYPE rpc [<!ENTITY y "boom">]>', '<!DOCTYPE rpc [<!ENTITY y SYSTEM "file:///etc/hostname">]>'],
)
@pytest_twisted.ensureDeferred
async def test_dtd_is_refused_and_nothing_is_stored(base: str, tag: str, doctype: str) -> None:
    async with running() as server:
        async with raw(server, base) as client:
            reply = await in_thread(client.rpc, _EDIT, '<?xml version="1.0"?>' + doctype)
            assert reply.tag == "{%s}rpc-reply" % BASE_NS
            assert reply.get("message-id") == "1"
            assert error_tags(reply) == [tag]
            assert reply.find(".//{%s}error-type" % BASE_NS).text == "rpc"  # type: ignore[union-attr]
            # The session goes on.
            ok = await in_thread(client.rpc, "<get-config><source><running/></source></get-config>", "", "2")
            assert b"&y;" not in etree.tostring(ok)
        assert b"&y;" not in etree.tostring(server.get_config())
        # Any other session parses what get-config returns.
        async with Plain(server) as plain:
            reply = await plain.call("get_config", source="running")
            assert "<hostname>r1</hostname>" in reply.data_xml


@pytest_twisted.ensureDeferred
async def test_dtd_in_the_client_hello_closes_the_session() -> None:
    async with running() as server:

        def hello_with_dtd() -> bytes:
            sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
            transport = paramiko.Transport(sock)
            try:
                transport.start_client(timeout=TIMEOUT)
                transport.auth_password("admin", "admin")
                channel = transport.open_session(timeout=TIMEOUT)
                channel.settimeout(TIMEOUT)
                channel.invoke_subsystem("netconf")
                channel.sendall(
                    (
                        '<!DOCTYPE hello [<!ENTITY c "%s">]><hello xmlns="%s"><capabilities>'
                        "<capability>&c;</capability></capabilities></hello>]]>]]>" % (BASE11, BASE_NS)
                    ).encode()
                )
                data = b""
                for _ in range(1000):
                    piece = channel.recv(65536)
                    if not piece:
                        break
                    data += piece
                return data
            finally:
                transport.close()
                sock.close()

        received = await in_thread(hello_with_dtd)
        assert received.count(b"]]>]]>") == 1  # the server hello, then the channel closed
        assert server.sessions == {}


# -- 4: <config> in <config>; stray xmlns:nc ---------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_config_in_config_is_refused() -> None:
    nested = '<config xmlns="%s"><config><top xmlns="%s"><hostname>r2</hostname></top></config></config>' % (
        BASE_NS,
        EX,
    )
    async with running() as server:
        before = etree.tostring(server.get_config())
        async with Plain(server) as plain:
            with pytest.raises(RPCError) as info:
                await plain.call("edit_config", target="running", config=nested)
            assert info.value.tag == "unknown-element"
            with pytest.raises(RPCError):
                await plain.call("edit_config", target="candidate", config=nested)
            reply = await plain.call("get_config", source="running")
            assert "r2" not in reply.data_xml
        assert etree.tostring(server.get_config()) == before
        async with raw(server) as client:
            copy = await in_thread(
                client.rpc,
                "<copy-config><target><candidate/></target><source>%s</source></copy-config>" % nested,
            )
            assert error_tags(copy) == ["unknown-element"]


@pytest_twisted.ensureDeferred
async def test_no_stray_xmlns_nc_once_operation_is_removed() -> None:
    edit = (
        "<edit-config><target><running/></target><config>"
        '<top xmlns="%s" xmlns:nc="%s" nc:operation="replace"><hostname>r3</hostname>'
        '<if xmlns:nc="%s" nc:operation="create"><name>e0</name></if></top>'
        '<other xmlns="urn:example:other" xmlns:nc="%s" xmlns:t="urn:example:t" nc:operation="merge">'
        "<kind>t:x</kind></other></config></edit-config>" % (EX, BASE_NS, BASE_NS, BASE_NS)
    )
    async with running() as server:
        async with raw(server) as client:
            reply = await in_thread(client.rpc, edit)
            assert reply.find("{%s}ok" % BASE_NS) is not None, etree.tostring(reply)
            client.send(
                (
                    '<rpc xmlns="%s" message-id="2">'
                    "<get-config><source><running/></source></get-config></rpc>" % BASE_NS
                ).encode()
            )
            data = await in_thread(client.read)
        assert b"r3" in data and b"xmlns:nc" not in data and b"operation" not in data
        assert b'xmlns:t="urn:example:t"' in data  # a prefix used in text stays
        stored = etree.tostring(server.get_config())
        assert b"xmlns:nc" not in stored


# -- 6: no :interleave ------------------------------------------------------------------------


@pytest.mark.parametrize("interleave", [False, True])
@pytest_twisted.ensureDeferred
async def test_subscribed_session_without_interleave(interleave: bool) -> None:
    async with running(interleave=interleave) as server:
        async with Plain(server) as plain:
            assert (":interleave" in plain.m.server_capabilities) is interleave
            await plain.call("create_subscription")
            if interleave:
                reply = await plain.call("get_config", source="running")
                assert "r1" in reply.data_xml
            else:
                with pytest.raises(RPCError) as info:
                    await plain.call("get_config", source="running")
                assert info.value.tag == "operation-failed"
                with pytest.raises(RPCError):
                    await plain.call("lock", target="running")
                assert server.locks["running"] is None
            sid = int(plain.m.session_id)
            closed = server.sessions[sid].when_closed()
            await plain.call("close_session")
            await bounded(closed)


@pytest_twisted.ensureDeferred
async def test_without_interleave_raw_bytes() -> None:
    async with running(interleave=False) as server:
        async with raw(server) as client:
            sub = await in_thread(
                client.rpc, '<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/>'
            )
            assert sub.find("{%s}ok" % BASE_NS) is not None
            reply = await in_thread(
                client.rpc, "<get-config><source><running/></source></get-config>", "", "2"
            )
            assert reply.get("message-id") == "2" and error_tags(reply) == ["operation-failed"]


# -- 7: unprefixed XPath names ----------------------------------------------------------------


@pytest.mark.parametrize("lenient", [True, False])
@pytest_twisted.ensureDeferred
async def test_unprefixed_xpath_names(lenient: bool) -> None:
    async with running(xpath_local_names=lenient) as server:
        async with Plain(server) as plain:
            reply = await plain.call("get_config", source="running", filter=("xpath", "/top/hostname"))
            assert ("<hostname>r1</hostname>" in reply.data_xml) is lenient
            assert "mtu" not in reply.data_xml
            prefixed = await plain.call(
                "get_config", source="running", filter=xpath_filter("/ex:top/ex:mtu", ex=EX)
            )
            assert "<mtu>1500</mtu>" in prefixed.data_xml
            # An attribute or a function name is not an element name test.
            mixed = await plain.call(
                "get_config", source="running", filter=("xpath", "/top[count(mtu) = 1]/mtu")
            )
            assert ("<mtu>1500</mtu>" in mixed.data_xml) is lenient


def test_local_name_xpath_rewrite() -> None:
    from ncclient_twisted.testing._subtree import local_name_xpath

    assert local_name_xpath("/top") == "/*[local-name()='top']"
    assert local_name_xpath("/ex:top/@name") == "/ex:top/@name"
    assert (
        local_name_xpath("//a[b = 'x' and c]")
        == "//*[local-name()='a'][*[local-name()='b'] = 'x' and *[local-name()='c']]"
    )
    assert local_name_xpath("count(/a) div 2") == "count(/*[local-name()='a']) div 2"
    assert (
        local_name_xpath("/a/text() | child::b") == "/*[local-name()='a']/text() | child::*[local-name()='b']"
    )


# -- 3: schemas and ietf-netconf-monitoring ---------------------------------------------------

IMPLEMENTED = [
    "ietf-netconf",
    "ietf-netconf-monitoring",
    "notifications",
    "nc-notifications",
    "ietf-subscribed-notifications",
    "ietf-netconf-notifications",
]

EXAMPLE_YANG = """
module example-fidelity {
  yang-version 1.1;
  namespace "urn:example:fidelity";
  prefix ex;
  revision 2024-01-01 { description "Test."; }
  container top { leaf hostname { type string; } leaf mtu { type uint16; } }
}
"""


@pytest_twisted.ensureDeferred
async def test_get_schema_and_netconf_state(tmp_path: Path) -> None:
    extra_file = tmp_path / "example-extra.yang"
    extra_file.write_text('module example-extra { namespace "urn:example:extra"; prefix x; }\n')
    async with running(schemas={"example-fidelity": EXAMPLE_YANG, "example-extra": extra_file}) as server:
        m = await bounded(manager.connect(**server.connect_kwargs(timeout=TIMEOUT)))
        try:
            caps = list(m.server_capabilities)
            for name in IMPLEMENTED + ["example-fidelity", "example-extra"]:
                assert any("?module=%s&" % name in c or c.endswith("?module=" + name) for c in caps), name
            netconf = next(c for c in caps if "module=ietf-netconf&" in c)
            assert "features=writable-running,candidate,confirmed-commit" in netconf
            assert "urn:example:fidelity?module=example-fidelity&revision=2024-01-01" in caps
            # The modules they import are advertised too (yangcli loads them all).
            assert any("module=ietf-yang-types&" in c for c in caps)
            assert any("module=ietf-network-instance&" in c for c in caps)

            for name in IMPLEMENTED + ["ietf-yang-types", "ietf-inet-types", "ietf-netconf-acm"]:
                reply = await bounded(m.get_schema(name))
                assert re.search(r"^\s*module %s\s*\{" % re.escape(name), reply.data, re.M), name
            text = (await bounded(m.get_schema("example-fidelity", version="2024-01-01", format="yang"))).data
            assert text.strip() == EXAMPLE_YANG.strip()
            assert "example-extra" in (await bounded(m.get_schema("example-extra"))).data
            with pytest.raises(RPCError) as info:
                await bounded(m.get_schema("no-such-module"))
            assert info.value.tag == "invalid-value"
            with pytest.raises(RPCError) as info:
                await bounded(m.get_schema("ietf-netconf", format="yin"))
            assert info.value.tag == "invalid-value"

            await bounded(m.lock(target="candidate"))
            state_filter = '<netconf-state xmlns="%s"/>' % NCM_NS
            reply = await bounded(m.get(filter=("subtree", state_filter)))
            root = etree.fromstring(reply.data_xml.encode())
            ns = {"ncm": NCM_NS}
            schemas = root.xpath("//ncm:schemas/ncm:schema", namespaces=ns)
            identifiers = {s.findtext("{%s}identifier" % NCM_NS) for s in schemas}
            assert set(IMPLEMENTED) <= identifiers and "example-fidelity" in identifiers
            assert "ietf-yang-types" in identifiers and "ietf-inet-types" in identifiers
            for s in schemas:
                assert s.findtext("{%s}location" % NCM_NS) == "NETCONF"
                assert s.findtext("{%s}format" % NCM_NS) == "ncm:yang"
            sessions = root.xpath("//ncm:sessions/ncm:session", namespaces=ns)
            assert [int(s.findtext("{%s}session-id" % NCM_NS)) for s in sessions] == [int(m.session_id)]
            assert sessions[0].findtext("{%s}username" % NCM_NS) == "admin"
            assert sessions[0].findtext("{%s}transport" % NCM_NS) == "ncm:netconf-ssh"
            assert int(sessions[0].findtext("{%s}in-rpcs" % NCM_NS)) >= 3
            assert int(sessions[0].findtext("{%s}out-rpc-errors" % NCM_NS)) == 2
            datastores = {
                d.findtext("{%s}name" % NCM_NS): d for d in root.xpath("//ncm:datastore", namespaces=ns)
            }
            assert set(datastores) == {"running", "candidate", "startup"}
            owner = datastores["candidate"].findtext(".//{%s}locked-by-session" % NCM_NS)
            assert owner == m.session_id
            assert datastores["running"].find("{%s}locks" % NCM_NS) is None
            assert (
                root.xpath("//ncm:capabilities/ncm:capability/text()", namespaces=ns) == server.capabilities
            )
            assert root.find(".//{%s}statistics/{%s}in-sessions" % (NCM_NS, NCM_NS)) is not None

            # XPath, as yangcli asks; and an unfiltered <get> has it too, get-config not.
            reply = await bounded(m.get(filter=xpath_filter("/ncm:netconf-state/ncm:datastores", ncm=NCM_NS)))
            assert "<name>candidate</name>" in reply.data_xml and "schemas" not in reply.data_xml
            assert "netconf-state" in (await bounded(m.get())).data_xml
            assert "netconf-state" not in (await bounded(m.get_config(source="running"))).data_xml
            await bounded(m.unlock(target="candidate"))
        finally:
            await bounded(m.close_session())


def test_shipped_modules_parse_and_are_complete() -> None:
    shipped = _schemas._shipped()
    for name, revision in _schemas.IMPLEMENTED:
        assert shipped[name].version == revision
    # Every import of a shipped module is shipped (get-schema can serve the closure).
    for schema in shipped.values():
        for imported in re.findall(r"^\s*import\s+([\w.-]+)", schema.text, re.M):
            assert imported in shipped, (schema.identifier, imported)
    files = {p.name for p in _schemas.YANG_DIR.glob("*.yang")}
    assert files == {"%s@%s.yang" % (s.identifier, s.version) for s in shipped.values()}


def test_bad_schemas_are_refused() -> None:
    with pytest.raises(ValueError):
        testing.NetconfServer(reactor, schemas={"other-name": EXAMPLE_YANG})
    with pytest.raises(ValueError):
        testing.NetconfServer(reactor, schemas={"x": "not yang {"})


@pytest_twisted.ensureDeferred
async def test_without_interleave_no_subscribed_notifications_module() -> None:
    async with running(interleave=False) as server:
        assert not any("ietf-subscribed-notifications" in c for c in server.capabilities)
        assert any("module=notifications&" in c for c in server.capabilities)


# -- the one definition of the options ------------------------------------------------------


def test_serve_takes_the_server_keywords() -> None:
    serve_params = inspect.signature(testing.serve).parameters
    server_params = inspect.signature(testing.NetconfServer).parameters
    assert list(serve_params) == list(server_params)
    assert serve_params["tls_port"].annotation == server_params["tls_port"].annotation
    assert "schemas" in serve_params and "xpath_local_names" in serve_params
    assert "xpath_local_names" in (testing.serve.__doc__ or "")


@pytest_twisted.ensureDeferred
async def test_serve_forwards_keywords() -> None:
    server: Optional[testing.NetconfServer] = None
    async with running(users={"u": "p"}, candidate=False, startup=False) as server:
        assert server.users == {"u": "p"}
        assert set(server.locks) == {"running"}
    with pytest.raises(TypeError):
        testing.serve(reactor, no_such_option=1)  # type: ignore[call-arg]

"""The examples of README.md and docs/ run as written against the embedded server (the
README's quick start also against `ncclient-twisted serve`, and against netconfd in
tests/netconfd/test_readme_netconfd.py)."""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytest_twisted
from twisted.internet import defer

from tests.support.readme import DOCS, README, doc_block, readme_block

EXAMPLE_CONFIG = (
    '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    '<system xmlns="urn:example:system"><hostname>demo</hostname></system></config>'
)


TESTING = DOCS / "testing.md"


def run_python(cwd: Any, *args: str, env: Optional[Dict[str, str]] = None) -> str:
    """Standard output of this Python running *args* in *cwd*, which must exit 0 within 120 s."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, *args], cwd=str(cwd), env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_embedded_server_pytest_example_runs(tmp_path: Any) -> None:
    """docs/testing.md's pytest module, run by pytest (with pytest-twisted) as a user runs it."""
    (tmp_path / "test_docs_pytest_example.py").write_text(doc_block(TESTING, "## With pytest"))
    out = run_python(tmp_path, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_docs_pytest_example.py")
    assert "1 passed" in out


def test_embedded_server_trial_example_runs(tmp_path: Any) -> None:
    module = tmp_path / "test_readme_trial_example.py"
    module.write_text("CONFIG = %r\n%s" % (EXAMPLE_CONFIG, doc_block(TESTING, "## With trial")))
    # The trial command's entry point; ``-m twisted.trial`` goes through pkg_resources
    # in Twisted 22.10, which cannot find today's zope.interface distribution.
    trial = "from twisted.scripts.trial import run; run()"
    out = run_python(tmp_path, "-c", trial, "test_readme_trial_example")
    assert "PASSED (successes=1)" in out


NOTIFICATIONS = DOCS / "notifications.md"


@pytest_twisted.ensureDeferred
async def test_notification_examples_run_as_written() -> None:
    """docs/notifications.md's two examples, against the embedded server."""
    from twisted.internet import reactor

    from ncclient_twisted import manager, testing

    server = await testing.serve(reactor)
    try:
        namespace: Dict[str, Any] = {}
        exec(compile(doc_block(NOTIFICATIONS, "# Notifications", 0), str(NOTIFICATIONS), "exec"), namespace)
        real_connect = manager.connect

        def connect(**kw: Any) -> Any:
            # Once subscribed, the server sends an event, then a config change.
            def spy(m: Any) -> Any:
                subscribe = m.create_subscription

                def subscribed(*a: Any, **k: Any) -> Any:
                    def then(reply: Any) -> Any:
                        server.publish('<tick xmlns="urn:example:events"/>')
                        server.publish(
                            '<netconf-config-change '
                            'xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"/>'
                        )
                        return reply

                    return subscribe(*a, **k).addCallback(then)

                m.create_subscription = subscribed
                return m

            return real_connect(**kw).addCallback(spy)

        namespace["manager"] = type("M", (), {"connect": staticmethod(connect)})
        await defer.ensureDeferred(namespace["watch"](reactor, **server.connect_kwargs())).addTimeout(
            30, reactor
        )

        exec(compile(doc_block(NOTIFICATIONS, "# Notifications", 1), str(NOTIFICATIONS), "exec"), namespace)
        m = await manager.connect(**server.connect_kwargs()).addTimeout(30, reactor)
        establish = m.establish_subscription

        def established(*a: Any, **k: Any) -> Any:
            def suspend(sub: Any) -> Any:
                reactor.callLater(0, server.suspend_subscription, sub.id)
                return sub

            return establish(*a, **k).addCallback(suspend)

        m.establish_subscription = established
        assert await defer.ensureDeferred(namespace["subscribe"](m)).addTimeout(30, reactor) == "deleted"
        await m.close_session().addTimeout(30, reactor)
    finally:
        await server.stop()


# -- docs/security.md's host keys and docs/service.md, against the embedded server ---------

SECURITY = DOCS / "security.md"
SERVICE = DOCS / "service.md"


class Inventory:
    def __init__(self, fingerprints: Dict[str, str]) -> None:
        self.fingerprints = fingerprints

    def fingerprint_of(self, host: str) -> "defer.Deferred[str]":
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        return deferLater(reactor, 0.01, lambda: self.fingerprints.get(host, ""))


@pytest_twisted.ensureDeferred
async def test_host_keys_examples_run(tmp_path: Any, capsys: Any) -> None:
    import pytest
    from twisted.internet import reactor

    from ncclient_twisted import HostKeyChangedError, testing

    namespace: Dict[str, Any] = {}
    for i in range(2):
        block = doc_block(SECURITY, "## Trust on first use, or your inventory decides", i)
        exec(compile(block, str(SECURITY), "exec"), namespace)
    namespace["KNOWN_HOSTS"] = str(tmp_path / "known_hosts")
    server = await testing.serve(reactor, users={"admin": "admin"})
    port = server.port
    try:
        m = await defer.ensureDeferred(namespace["connect_device"]("127.0.0.1", port))
        await m.close_session()
        assert (tmp_path / "known_hosts").read_text() == server.known_hosts_line + "\n"
        namespace["inventory"] = Inventory({"127.0.0.1": server.fingerprint})
        (tmp_path / "known_hosts").unlink()
        m = await defer.ensureDeferred(namespace["connect_checked"]("127.0.0.1", port))
        await m.close_session()
        m = await defer.ensureDeferred(
            namespace["connect_checked"]("127.0.0.1", port, server.hostkey_b64))
        await m.close_session()
    finally:
        await server.stop()
    other = await testing.serve(reactor, users={"admin": "admin"}, port=port,
                                host_key=testing.generate_key())
    try:
        with pytest.raises(HostKeyChangedError):
            await defer.ensureDeferred(namespace["connect_device"]("127.0.0.1", port))
        assert "refusing 127.0.0.1" in capsys.readouterr().out
    finally:
        await other.stop()


@pytest_twisted.ensureDeferred
async def test_service_example_runs(tmp_path: Any, capsys: Any) -> None:
    from twisted.internet import reactor

    from ncclient_twisted import testing

    namespace: Dict[str, Any] = {}
    exec(compile(doc_block(SERVICE, "# Running in a service"), str(SERVICE), "exec"), namespace)
    servers = [await testing.serve(reactor, users={"admin": "admin"}) for _ in range(2)]
    inventory = namespace["inventory_service"](
        [("dev%d" % i, s.host, s.port) for i, s in enumerate(servers)],
        str(tmp_path / "known_hosts"),
    )
    inventory.startService()
    watching = [defer.ensureDeferred(namespace["watch"](svc)) for svc in inventory]
    try:
        for svc in inventory:
            await svc.when_connected().addTimeout(30, reactor)
        for _ in range(100):  # resubscribe() runs before when_connected fires
            if all(s.sessions and all(x.subscribed for x in s.sessions.values()) for s in servers):
                break
            await deferLater(reactor, 0.02)
        servers[1].publish('<link-down xmlns="urn:example:events"><if>eth1</if></link-down>')
        for _ in range(200):
            if "eth1" in capsys.readouterr().out:
                break
            await deferLater(reactor, 0.02)
        else:
            raise AssertionError("the event was not printed")
    finally:
        await inventory.stopService()
        await defer.gatherResults(watching).addTimeout(30, reactor)
        for s in servers:
            await s.stop()


def deferLater(reactor: Any, seconds: float) -> "defer.Deferred[None]":
    from twisted.internet import task

    return task.deferLater(reactor, seconds, lambda: None)


# -- the README's quick start, against `ncclient-twisted serve` as the README starts it -----


def test_quick_start_runs_against_ncclient_twisted_serve(tmp_path: Any) -> None:
    """The README's serve command, first script and shell line (and docs/manager.md's
    inlineCallbacks version of the script), with only the port changed."""
    import json
    import os
    import re
    import select
    import subprocess
    import sys

    commands = readme_block_sh("## Quick start", 0)
    assert "ncclient-twisted serve --port 8300" in commands
    serve = subprocess.Popen(
        [sys.executable, "-m", "ncclient_twisted", "serve", "--port", "0", "--json", "--exit-on-eof"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([serve.stdout], [], [], 60)
        assert ready and serve.stdout is not None, "serve printed nothing in 60 s"
        port = json.loads(serve.stdout.readline())[0]["port"]

        inline_callbacks = doc_block(DOCS / "manager.md", "## With `inlineCallbacks`")
        for name, script in [("quick_start.py", readme_block("## Quick start")),
                             ("inline_callbacks.py", inline_callbacks)]:
            assert "port=8300" in script
            (tmp_path / name).write_text(script.replace("port=8300", "port=%d" % port))
            assert "<data" in run_python(tmp_path, name)

        shell = readme_block_sh("## Quick start", 1).strip()
        assert shell.startswith("NCCLIENT_TWISTED_PASSWORD=admin ncclient-twisted "), shell
        args = shell.split()[2:]
        args[args.index("8300")] = str(port)
        out = run_python(tmp_path, "-m", "ncclient_twisted", *args,
                         env=dict(os.environ, NCCLIENT_TWISTED_PASSWORD="admin"))
        assert re.search(r"<top xmlns=\"urn:example:top\">\s*<name>demo</name>", out), out
    finally:
        assert serve.stdin is not None
        serve.stdin.close()
        try:
            serve.wait(30)
        finally:
            if serve.poll() is None:
                serve.kill()
                serve.wait(30)
            for stream in (serve.stdout, serve.stderr):
                if stream is not None:
                    stream.close()


def readme_block_sh(heading: str, index: int) -> str:
    return doc_block(README, heading, index, "sh")

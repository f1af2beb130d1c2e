"""The README's examples run as written against the embedded server (the quick start,
against netconfd: tests/netconfd/test_readme_netconfd.py)."""

from __future__ import annotations

from typing import Any, Dict

import pytest_twisted
from twisted.internet import defer

from tests.support.readme import README, readme_block

EXAMPLE_CONFIG = (
    '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    '<system xmlns="urn:example:system"><hostname>demo</hostname></system></config>'
)


@pytest_twisted.ensureDeferred
async def test_embedded_server_pytest_example_runs() -> None:
    namespace: Dict[str, Any] = {"CONFIG": EXAMPLE_CONFIG}
    exec(compile(readme_block("## Testing your code"), str(README), "exec"), namespace)
    await namespace["test_hostname_is_set"]()


def test_embedded_server_trial_example_runs(tmp_path: Any) -> None:
    import subprocess
    import sys

    module = tmp_path / "test_readme_trial_example.py"
    module.write_text(
        "CONFIG = %r\n%s" % (EXAMPLE_CONFIG, readme_block("## Testing your code", 1))
    )
    proc = subprocess.run(
        # The trial command's entry point; ``-m twisted.trial`` goes through pkg_resources
        # in Twisted 22.10, which cannot find today's zope.interface distribution.
        [sys.executable, "-c", "from twisted.scripts.trial import run; run()",
         "test_readme_trial_example"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED (successes=1)" in proc.stdout


@pytest_twisted.ensureDeferred
async def test_notification_examples_run_as_written() -> None:
    """The README's two notification examples, against the embedded server."""
    from twisted.internet import reactor

    from ncclient_twisted import manager, testing

    server = await testing.serve(reactor)
    try:
        namespace: Dict[str, Any] = {}
        exec(compile(readme_block("## Notifications", 0), str(README), "exec"), namespace)
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

        exec(compile(readme_block("## Notifications", 1), str(README), "exec"), namespace)
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


# -- "Host keys" and "Running in a service", against the embedded server ------------------


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
        exec(compile(readme_block("## Host keys", i), str(README), "exec"), namespace)
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
    exec(compile(readme_block("## Running in a service"), str(README), "exec"), namespace)
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

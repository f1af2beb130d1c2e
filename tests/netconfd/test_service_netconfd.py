"""ManagerService against netconfd, whose netconf subsystem is killed and restarted.

Backoff runs on a task.Clock the test advances; the network runs on the real reactor.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet import task

from ncclient_twisted import ManagerService
from tests.support.helpers import bounded
from tests.support.service_fakes import Policy


@pytest_twisted.ensureDeferred
async def test_service_through_netconfd_restart(netconfd_private: Any) -> None:
    clock = task.Clock()
    policy = Policy()
    svc = ManagerService(
        dict(
            netconfd_private.connect_kwargs(), hostkey_verify=True, known_hosts=netconfd_private.known_hosts
        ),
        retry_policy=policy,
        clock=clock,
    )
    svc.startService()
    try:
        m0 = await bounded(svc.when_connected())
        assert (await bounded(m0.get_config(source="running"))).ok
        failed = policy.next_failure()
        netconfd_private.kill_netconfd()
        await bounded(failed)
        # sshd still accepts, but the netconf subsystem fails: an attempt fails, backs off.
        failed = policy.next_failure()
        clock.advance(1.0)
        assert await bounded(failed) == 2
        netconfd_private.restart()
        clock.advance(2.0)
        m1 = await bounded(svc.when_connected())
        assert m1 is not m0
        assert (await bounded(m1.get_config(source="running"))).ok
    finally:
        await bounded(svc.stopService())

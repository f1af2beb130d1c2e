"""``demo``: NETCONF on N embedded devices at once.

It starts N embedded NETCONF servers (``ncclient-twisted serve``) in a child process, so the
figures are the client's, then for every device, concurrently: connect, get-config, lock the
candidate, edit-config, commit, unlock, subscribe (replaying from just before the edit) and
wait for the ``netconf-config-change`` notification, close. Progress on standard error; a summary table
on standard output; exit status 0 when every device succeeded.
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

import click
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from ncclient_twisted._types import ICommandReactor
from ncclient_twisted.inventory import Target

from ._common import setup_logging
from ._credentials import Credentials
from ._errors import describe
from ._output import Outcome, Output
from ._progress import make_progress
from ._runner import HostKeySettings, Settings, Stop, Timer, run_devices, run_reactor

__all__ = ["register", "report", "device_script"]

USER = PASSWORD = "demo"
PASSWORD_ENV = "NCCLIENT_TWISTED_DEMO_PASSWORD"
DEMO_NS = "urn:ncclient-twisted:demo"
CONFIG = (
    '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    '<system xmlns="%s"><hostname>%%s</hostname></system></config>' % DEMO_NS
)
#: Bound on connecting and on each RPC; and on the wait for the notification.
TIMEOUT = 30.0
NOTIFICATION_TIMEOUT = 10.0


class _Servers(ProcessProtocol):
    """The child process running the servers: its first stdout line lists them."""

    def __init__(self) -> None:
        self.listed: "Deferred[List[Dict[str, Any]]]" = Deferred()
        self.ended: "Deferred[None]" = Deferred()
        self._buffer = b""

    def outReceived(self, data: bytes) -> None:
        if self.listed.called:
            return
        self._buffer += data
        if b"\n" in self._buffer:
            line = self._buffer.split(b"\n", 1)[0]
            try:
                self.listed.callback(json.loads(line))
            except ValueError:
                self.listed.errback(RuntimeError("the server process printed %r" % line[:200]))

    def processEnded(self, reason: Failure) -> None:
        if not self.listed.called:
            self.listed.errback(RuntimeError("the server process ended before listing its servers"))
        self.ended.callback(None)


def start_servers(reactor: ICommandReactor, count: int) -> "Tuple[_Servers, Any]":
    proto = _Servers()
    env = dict(os.environ, **{PASSWORD_ENV: PASSWORD})
    args = [sys.executable, "-m", "ncclient_twisted", "serve", "--devices", str(count), "--json",
            "--exit-on-eof", "--username", USER, "--password-env", PASSWORD_ENV]  # fmt: skip
    transport = reactor.spawnProcess(proto, sys.executable, args, env=env, childFDs={0: "w", 1: "r", 2: 2})
    return proto, transport


def _rfc3339(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def device_script(m: Any, timer: Timer, target: Target) -> Optional[str]:
    """One device's demo: get-config, lock, edit, commit, unlock, then subscribe with replay
    from just before the edit and wait for the ``netconf-config-change`` it caused."""
    since = _rfc3339(time.time() - 1)
    await timer(m.get_config(source="running"))
    await timer(m.lock("candidate"))
    try:
        await timer(m.edit_config(target="candidate", config=CONFIG % (target.name or target.host)))
        await timer(m.commit())
    finally:
        await timer(m.unlock("candidate"))
    await timer(m.create_subscription(start_time=since))
    for _ in range(100):  # other notifications may come first; bounded
        n = await m.take_notification(timeout=NOTIFICATION_TIMEOUT)
        if n is None:
            break
        if "netconf-config-change" in n.notification_xml:
            return None
    raise RuntimeError("no netconf-config-change notification within %g s" % NOTIFICATION_TIMEOUT)


def report(
    devices: int, latencies: Sequence[float], outcomes: Sequence[Outcome], wall: float, out: TextIO
) -> None:
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1000 if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
    failures = [o for o in outcomes if not o.ok]
    rows = [
        ("devices", "%d" % devices),
        ("RPCs", "%d" % len(lat)),
        ("failures", "%d" % len(failures)),
        ("RPC latency p50", "%.2f ms" % p50),
        ("RPC latency p99", "%.2f ms" % p99),
        ("RPCs/s", "%.0f" % (len(lat) / wall if wall else 0)),
        ("wall time", "%.2f s" % wall),
    ]
    width = max(len(k) for k, _ in rows)
    out.write("\n")
    for k, v in rows:
        out.write("%-*s  %s\n" % (width, k, v))
    out.flush()


async def demo_main(reactor: ICommandReactor, stop: Stop, devices: int, quiet: bool) -> int:
    proto, transport = start_servers(reactor, devices)
    try:
        try:
            servers = await proto.listed.addTimeout(TIMEOUT, reactor)
        except Exception as e:
            sys.stderr.write(
                "ncclient-twisted demo: the embedded servers did not start: %s\n" % describe(e, TIMEOUT)
            )
            return 1
        targets = [
            Target(host=s["host"], port=s["port"], username=USER, name="device-%d" % i) for i, s in enumerate(
                servers
            )
        ]
        creds = Credentials(password=PASSWORD)
        # The servers share one host key: pin it.
        settings = Settings(
            timeout=TIMEOUT, concurrency=devices, host_keys=HostKeySettings(
                pinned_b64=servers[0]["hostkey_b64"]
            )
        )
        latencies: List[float] = []
        progress = make_progress(devices, quiet=quiet, description="demo")

        start = time.perf_counter()
        outcomes = await run_devices(
            reactor, targets, {t: creds for t in targets}, device_script, settings, Output(quiet=quiet),
            progress, stop,
            latencies=latencies,
        )  # fmt: skip
        wall = time.perf_counter() - start
    finally:
        if transport.pid is not None:
            transport.closeStdin()
        await defer.DeferredList([proto.ended], consumeErrors=True).addTimeout(10, reactor)
    report(devices, latencies, outcomes, wall, sys.stdout)
    for o in outcomes:
        if not o.ok:
            sys.stderr.write("FAILED %s: %s\n" % (o.target.label, o.error))
    return 1 if any(not o.ok for o in outcomes) else 0


def register(cli: click.Group) -> None:
    @cli.command("demo", epilog="""\b
Example:
  ncclient-twisted demo --devices 50""")
    @click.option("--devices", type=click.IntRange(1, 1000), default=20, show_default=True,
                  help="How many devices.")
    @click.option("--quiet", "-q", is_flag=True, help="No progress, only the summary.")
    @click.option("--verbose", "-v", count=True, help="Log ncclient's and ncclient_twisted's messages.")
    def demo(devices: int, quiet: bool, verbose: int) -> None:
        """NETCONF on N embedded devices at once: connect, get-config, lock, edit-config,
        commit, unlock, subscribe, the config-change notification, close; then a summary."""
        setup_logging(verbose)

        async def main(reactor: ICommandReactor, stop: Stop) -> int:
            return await demo_main(reactor, stop, devices, quiet)

        run_reactor(main)

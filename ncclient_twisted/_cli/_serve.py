"""``serve``: embedded NETCONF servers (``ncclient_twisted.testing``) in the foreground."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional

import click
import yaml
from twisted.internet import defer
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from ncclient_twisted._types import ICommandReactor

from ._common import setup_logging
from ._credentials import DEFAULT_PASSWORD_ENV
from ._lab_state import SAVED_DATASTORES, LabState, Saver, merge_known_hosts, write_atomically
from ._runner import Stop, run_reactor

__all__ = ["register", "serve_forever", "server_record"]

DEFAULT_USER = DEFAULT_PASSWORD = "admin"
#: The namespace of the ``--heartbeat`` event.
HEARTBEAT_NS = "urn:ncclient-twisted:lab"


class _EndOfInput(Protocol):
    """Fires *done* when standard input closes (the parent of ``--exit-on-eof`` went away)."""

    def __init__(self, done: Stop) -> None:
        self.done = done

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.done.fire()


def server_record(server: Any, username: str) -> Dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "username": username,
        "hostkey_b64": server.hostkey_b64,
        "fingerprint_sha256": server.fingerprint_sha256,
        "known_hosts_line": server.known_hosts_line,
    }


def _write(path: str, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


def _inventory(records: List[Dict[str, Any]], credentials: Optional[str]) -> str:
    devices = []
    for i, r in enumerate(records):
        d: Dict[str, Any] = {"name": "device-%d" % i, "host": r["host"], "port": r["port"]}
        devices.append(d)
    defaults: Dict[str, Any] = {"username": records[0]["username"]}
    if credentials:
        defaults["credentials"] = credentials
    return yaml.safe_dump({"defaults": defaults, "devices": devices}, sort_keys=False)


async def serve_forever(
    reactor: ICommandReactor,
    stop: Stop,
    *,
    devices: int,
    port: int,
    username: str,
    password: str,
    as_json: bool,
    known_hosts: Optional[str],
    inventory_out: Optional[str],
    credentials_ref: Optional[str],
    exit_on_eof: bool,
    shown_password: Optional[str],
    state: Optional[LabState] = None,
    heartbeat: Optional[float] = None,
) -> int:
    from twisted.internet import task

    from ncclient_twisted import defer_to_pool, testing

    write: Callable[[str], None] = _write_stdout
    if exit_on_eof:
        from twisted.internet import stdio

        # StandardIO owns standard output too (non-blocking): write through it.
        stdio_transport: Any = stdio.StandardIO(_EndOfInput(stop), reactor=reactor)

        def write(text: str) -> None:
            stdio_transport.write(text.encode("utf-8"))

    ports = [port if devices == 1 else 0] * devices
    saved: List[Dict[str, bytes]] = [{} for _ in range(devices)]
    if state is not None:
        ports = state.ports(devices) or ports
        if port and devices == 1:
            ports = [port]
        saved = await defer_to_pool(reactor, lambda: [state.load(i) for i in range(devices)])
    try:
        servers = await defer.gatherResults(
            [
                defer.ensureDeferred(
                    testing.serve(
                        reactor,
                        users={username: password},
                        port=ports[i],
                        host_key=state.host_key_path if state is not None else None,
                        config=saved[i].get("running"),
                    )
                )
                for i in range(devices)
            ],
            consumeErrors=True,
        )
    except Exception as e:
        error = getattr(e, "subFailure", None)
        reason = error.value if error is not None else e
        sys.stderr.write("ncclient-twisted serve: %s\n" % reason)
        if state is not None and isinstance(reason, OSError):
            sys.stderr.write(
                "(the ports of %s/lab.json: free them, or remove that file for new ones)\n" % state.path
            )
        return 1
    saver: Optional[Saver] = None
    beat: Optional[task.LoopingCall] = None
    try:
        if state is not None:
            saver = _keep_state(reactor, state, servers, saved)
            await defer_to_pool(reactor, state.save_ports, [s.port for s in servers])
        if heartbeat:
            beat = _heartbeat(servers)
            beat.clock = reactor
            beat.start(heartbeat, now=False)
        records = [server_record(s, username) for s in servers]
        if known_hosts:
            await defer_to_pool(
                reactor, _update_known_hosts, known_hosts, [r["known_hosts_line"] for r in records]
            )
        if inventory_out:
            await defer_to_pool(reactor, _write, inventory_out, _inventory(records, credentials_ref))
        write(
            json.dumps(records) + "\n"
            if as_json
            else _describe(records, shown_password, known_hosts, inventory_out)
        )
        await stop.wait()
    finally:
        if beat is not None and beat.running:
            beat.stop()
        await defer.DeferredList([s.stop() for s in servers], consumeErrors=True)
        if saver is not None:
            await saver.flushed()
    return 0


def _keep_state(
    reactor: ICommandReactor, state: LabState, servers: List[Any], saved: List[Dict[str, bytes]]
) -> Saver:
    """Load the saved startup datastores and save running and startup after each change."""
    from ncclient_twisted import defer_to_pool

    saver = Saver(lambda device, name, data: defer_to_pool(reactor, state.save, device, name, data))
    for i, server in enumerate(servers):
        if "startup" in saved[i]:
            server.set_config(saved[i]["startup"], "startup")

        def changed(datastore: str, i: int = i, server: Any = server) -> None:
            if datastore in SAVED_DATASTORES:
                saver.changed(i, datastore, server.get_config(datastore))

        server.on_datastore_change(changed)
    return saver


def _heartbeat(servers: List[Any]) -> Any:
    """A LoopingCall that makes every server publish a numbered heartbeat event."""
    from twisted.internet import task

    count = [0]

    def beat() -> None:
        count[0] += 1
        for server in servers:
            server.publish('<heartbeat xmlns="%s"><count>%d</count></heartbeat>' % (HEARTBEAT_NS, count[0]))

    return task.LoopingCall(beat)


def _update_known_hosts(path: str, lines: List[str]) -> None:
    """Add or replace the served ports' entries of *path*, keeping every other line."""
    try:
        with open(path, encoding="utf-8") as f:
            existing = f.read()
    except FileNotFoundError:
        existing = ""
    _write(path, merge_known_hosts(existing, lines))


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _describe(
    records: List[Dict[str, Any]],
    password: Optional[str],
    known_hosts: Optional[str],
    inventory: Optional[str],
) -> str:
    first = records[0]
    secret = "password %s" % password if password is not None else "its password from the environment"
    lines = ["NETCONF server on %s:%d" % (r["host"], r["port"]) for r in records]
    lines.append("user %s, %s; host key %s" % (first["username"], secret, first["fingerprint_sha256"]))
    keys = "--known-hosts %s" % known_hosts if known_hosts else "--no-host-key-check"
    env = "%s=%s " % (DEFAULT_PASSWORD_ENV, password) if password is not None else ""
    if inventory:
        lines.append("Try:  %sncclient-twisted get-config --inventory %s %s" % (env, inventory, keys))
    else:
        lines.append("Try:  %sncclient-twisted get-config --host %s --port %d -u %s %s"
                     % (env, first["host"], first["port"], first["username"], keys))  # fmt: skip
    lines.append("Ctrl-C stops.")
    return "".join(line + "\n" for line in lines)


def register(cli: click.Group) -> None:
    @cli.command(
        "serve",
        epilog="""\b
Examples:
  ncclient-twisted serve                       # one server, user admin, password admin
  ncclient-twisted serve --devices 50 --inventory-out lab.yaml --known-hosts lab_known_hosts
  NCCLIENT_TWISTED_PASSWORD=admin ncclient-twisted get-config --inventory lab.yaml \\
      --known-hosts lab_known_hosts""",
    )
    @click.option(
        "--devices", type=click.IntRange(1, 1000), default=1, show_default=True, help="How many servers."
    )
    @click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=0,
        help="Port of a single server (default: any free one).",
    )
    @click.option(
        "--username", "-u", default=DEFAULT_USER, show_default=True, help="The user the servers accept."
    )
    @click.option(
        "--password-env",
        metavar="VAR",
        help="Take the user's password from this environment variable (default: password admin).",
    )
    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON line: a list of host, port, username, host key.",
    )
    @click.option(
        "--known-hosts",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Add the servers' known_hosts lines to FILE (replacing only their ports' lines).",
    )
    @click.option(
        "--state-dir",
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="Keep the host key, the ports and the running and startup datastores in DIR across restarts.",
    )
    @click.option(
        "--heartbeat",
        type=click.FloatRange(min=0.01),
        metavar="SECONDS",
        help='Publish a <heartbeat xmlns="%s"> event every SECONDS.' % HEARTBEAT_NS,
    )
    @click.option(
        "--inventory-out",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Write a YAML inventory of the servers to FILE.",
    )
    @click.option("--exit-on-eof", is_flag=True, help="Stop when standard input closes (for scripts).")
    @click.option("--verbose", "-v", count=True, help="Log the server's messages.")
    def serve(
        devices: int,
        port: int,
        username: str,
        password_env: Optional[str],
        as_json: bool,
        known_hosts: Optional[str],
        inventory_out: Optional[str],
        exit_on_eof: bool,
        verbose: int,
        state_dir: Optional[str],
        heartbeat: Optional[float],
    ) -> None:
        """Run embedded NETCONF servers on 127.0.0.1 until Ctrl-C, to try commands and scripts against.

        Running, candidate and startup datastores (in memory, or kept in --state-dir),
        locks, commit, notifications: ncclient_twisted.testing over real SSH. The servers
        send netconf-config-change after each change of running and
        netconf-confirmed-commit events by themselves; --heartbeat adds a periodic event.
        """
        if port and devices > 1:
            raise click.UsageError("--port is for a single server")
        setup_logging(verbose)
        if password_env:
            if password_env not in os.environ:
                raise click.UsageError("environment variable %s is not set" % password_env)
            password, shown, ref = os.environ[password_env], None, "env:%s" % password_env
        else:
            password, shown, ref = DEFAULT_PASSWORD, DEFAULT_PASSWORD, None

        state = LabState(state_dir) if state_dir else None
        if state is not None:
            try:
                state.prepare()
            except OSError as e:
                raise click.UsageError("--state-dir %s: %s" % (state_dir, e.strerror or e)) from None

        async def main(reactor: ICommandReactor, stop: Stop) -> int:
            return await serve_forever(
                reactor,
                stop,
                devices=devices,
                port=port,
                username=username,
                password=password,
                as_json=as_json,
                known_hosts=known_hosts,
                inventory_out=inventory_out,
                credentials_ref=ref,
                exit_on_eof=exit_on_eof,
                shown_password=shown,
                state=state,
                heartbeat=heartbeat,
            )

        run_reactor(main)

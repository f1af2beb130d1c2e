"""The options every device subcommand shares, and running a subcommand on its devices."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

import click

from ncclient_twisted._types import ICommandReactor
from ncclient_twisted.inventory import (
    DEFAULT_PORT,
    InventoryError,
    Target,
    load_inventory,
    parse_device_params,
)

from ._credentials import CredentialError, CredentialOptions, Credentials, resolver
from ._errors import describe
from ._output import Output
from ._progress import make_progress
from ._runner import Action, HostKeySettings, Settings, Stop, run_devices, run_reactor, settle_start_up

__all__ = ["Common", "device_options", "run_action", "read_xml_arg", "setup_logging"]

F = Callable[..., Any]


def _opt(*args: Any, **kw: Any) -> Callable[[F], F]:
    return click.option(*args, show_default=kw.pop("show_default", False), **kw)


TARGET_OPTIONS = [
    _opt("--host", metavar="HOST", help="One device: its address or name."),
    _opt("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
         help="Its NETCONF over SSH port."),
    _opt("--username", "-u", metavar="USER", help="Its user name (default: yours, as ssh)."),
    _opt("--device-params", metavar="NAME|JSON",
         help="ncclient device handler: a name (junos, nexus...) or a JSON object."),
    _opt("--inventory", type=click.Path(dir_okay=False), metavar="FILE",
         help="Many devices: a YAML or CSV file (host, port, username, credentials, device_params, name)."),
    _opt("--concurrency", type=click.IntRange(1, 10000), default=50, show_default=True,
         help="Devices in progress at once."),
    _opt("--timeout", type=click.FloatRange(0.1, None), default=30.0, show_default=True,
         help="Seconds for connecting and for each RPC."),
    _opt("--io", type=click.Choice(["auto", "threads", "reactor"]), default="auto", show_default=True,
         help="reactor: sessions on the reactor thread; threads: ncclient's session threads; auto: "
             "reactor unless a device needs threads (e.g. ssh_config)."),
]
CREDENTIAL_OPTIONS = [
    _opt("--password-env", metavar="VAR",
         help="Read the password from this environment variable (NCCLIENT_TWISTED_PASSWORD is used when "
             "set)."),
    _opt("--password-file", type=click.Path(dir_okay=False), metavar="FILE",
         help="Read the password from this file."),
    _opt("--key", "key_file", type=click.Path(dir_okay=False), metavar="FILE", help="SSH private key file."),
    _opt("--ask-password", is_flag=True, help="Prompt for the password (once)."),
]
HOST_KEY_OPTIONS = [
    _opt("--known-hosts", type=click.Path(dir_okay=False), metavar="FILE",
         help="Check host keys against this known_hosts file instead of ~/.ssh/known_hosts."),
    _opt("--accept-new", is_flag=True,
         help="Store the key of a host not yet known (as ssh's StrictHostKeyChecking=accept-new); a changed "
             "key is still refused."),
    _opt("--no-host-key-check", is_flag=True,
         help="Do not check host keys at all (only on a network you trust)."),
]
OUTPUT_OPTIONS = [
    _opt("--out", "out_dir", type=click.Path(file_okay=False), metavar="DIR",
         help="Write each device's reply to DIR/<device>.xml."),
    _opt("--format", "fmt", type=click.Choice(["xml", "json"]), default="xml", show_default=True,
         help="xml: the replies; json: one line per device (host, ok, error, latency_s, and the "
              "reply, or its file with --out)."),
    _opt("--quiet", "-q", is_flag=True, help="No progress and no summary, only failures."),
    _opt("--verbose", "-v", count=True, help="Log ncclient's and ncclient_twisted's messages (-vv: debug)."),
]
COMMON_KEYS = [
    "host", "port", "username", "device_params", "inventory", "concurrency", "timeout", "io",
    "password_env", "password_file", "key_file", "ask_password",
    "known_hosts", "accept_new", "no_host_key_check",
    "out_dir", "fmt", "quiet", "verbose",
]  # fmt: skip


@dataclass
class Common:
    """The shared options of one invocation."""

    targets: List[Target]
    credentials: Dict[Target, Union[Credentials, CredentialError]]
    settings: Settings
    output: Output
    quiet: bool
    verbose: int


def setup_logging(verbose: int) -> None:
    """stdlib logging to stderr with -v; Twisted's log into it; else nothing at all."""
    from twisted.logger import globalLogBeginner

    from ncclient_twisted._logging import StdlibByNamespace

    root = logging.getLogger()
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        level = logging.DEBUG if verbose > 1 else logging.INFO
        for name in ("ncclient", "ncclient_twisted"):
            logging.getLogger(name).setLevel(level)
        root.setLevel(logging.WARNING)
        # Each event to the stdlib logger named by its namespace (ncclient_twisted.service,
        # ...), under the levels set above.
        observer: Any = StdlibByNamespace()
        globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    else:
        root.addHandler(logging.NullHandler())
        logging.getLogger("ncclient").setLevel(logging.CRITICAL + 1)
        logging.getLogger("paramiko").setLevel(logging.CRITICAL + 1)
        globalLogBeginner.beginLoggingTo([], redirectStandardIO=False)


def _targets(kw: Dict[str, Any]) -> List[Target]:
    """The devices: ``--host`` or the inventory (``--username``/``--device-params`` fill its gaps)."""
    if kw["inventory"] and kw["host"]:
        raise click.UsageError("give --host or --inventory, not both")
    if not kw["inventory"] and not kw["host"]:
        raise click.UsageError("give the device: --host HOST (or --inventory FILE for many)")
    try:
        params = parse_device_params(kw["device_params"], "--device-params")
        if not kw["inventory"]:
            return [Target(host=kw["host"], port=kw["port"], username=kw["username"], device_params=params)]
        targets = load_inventory(kw["inventory"])
    except InventoryError as e:
        raise click.UsageError(str(e)) from None
    return [
        dataclasses.replace(t, username=t.username or kw["username"], device_params=t.device_params or params)
        for t in targets
    ]


def _prompt(username: str) -> str:
    if not sys.stdin.isatty():
        raise CredentialError("a password prompt needs a terminal")
    return click.prompt("Password for %s" % (username or "the devices"), hide_input=True, err=True)


def _host_keys(kw: Dict[str, Any]) -> HostKeySettings:
    if kw["no_host_key_check"]:
        if kw["accept_new"] or kw["known_hosts"]:
            raise click.UsageError("--no-host-key-check cannot go with --accept-new or --known-hosts")
        return HostKeySettings(check=False)
    known_hosts = os.path.expanduser(kw["known_hosts"]) if kw["known_hosts"] else None
    return HostKeySettings(known_hosts=known_hosts, accept_new=kw["accept_new"])


def common_from(kw: Dict[str, Any], suffix: str = ".xml") -> Common:
    """Pop the shared options out of *kw* and check them (before the reactor runs)."""
    opts = {k: kw.pop(k) for k in COMMON_KEYS}
    targets = _targets(opts)
    settings = Settings(
        timeout=opts["timeout"], concurrency=opts["concurrency"], host_keys=_host_keys(opts), io=opts["io"]
    )
    cred_options = CredentialOptions(
        password_env=opts["password_env"],
        password_file=opts["password_file"],
        key_file=opts["key_file"],
        ask_password=opts["ask_password"],
    )
    resolve = resolver(cred_options, _prompt)
    credentials: Dict[Target, Union[Credentials, CredentialError]] = {}
    for t in targets:
        try:
            credentials[t] = resolve(t.credentials, t.username)
        except CredentialError as e:
            credentials[t] = e
    output = Output(fmt=opts["fmt"], out_dir=opts["out_dir"], quiet=opts["quiet"], suffix=suffix)
    try:
        output.prepare()
    except OSError as e:
        raise click.UsageError("--out %s: %s" % (opts["out_dir"], e.strerror or e)) from None
    return Common(targets, credentials, settings, output, opts["quiet"], opts["verbose"])


def device_options(f: F) -> F:
    """Add the shared options to a subcommand."""
    for option in reversed(TARGET_OPTIONS + CREDENTIAL_OPTIONS + HOST_KEY_OPTIONS + OUTPUT_OPTIONS):
        f = option(f)
    return f


def run_action(
    common: Common,
    make_action: Callable[[Any], Action],
    description: str = "devices",
    stop_is_success: bool = False,
    counts: Optional[Dict[Target, int]] = None,
) -> None:
    """Run the action on every device under the reactor; exit with the status.

    *counts* (for streamed output) is each device's number of items, for the summary.
    """

    setup_logging(common.verbose)

    async def main(reactor: ICommandReactor, stop: Stop) -> int:
        progress = make_progress(len(common.targets), quiet=common.quiet, description=description)
        start = time.perf_counter()
        try:
            outcomes = await run_devices(
                reactor,
                common.targets,
                common.credentials,
                make_action(reactor),
                common.settings,
                common.output,
                progress,
                stop,
                stop_is_success=stop_is_success,
            )
        except Exception as e:  # a bug of ours: one line, the traceback with -v
            logging.getLogger(__name__).debug("internal error", exc_info=e)
            sys.stderr.write("ncclient-twisted: internal error: %s (run with -v for details)\n" % describe(e))
            return 3
        if counts is not None:
            for o in outcomes:
                o.count = counts.get(o.target, 0)
                path = common.output.path_for(o.target)
                if o.count and path is not None:
                    o.file = path
        interrupted = stop.fired and not stop_is_success
        return common.output.finish(outcomes, time.perf_counter() - start, interrupted)

    settle_start_up()
    run_reactor(main)


def read_xml_arg(value: Optional[str], what: str) -> Optional[str]:
    """XML given as text, ``@FILE`` or ``-`` (standard input); checked to be well-formed."""
    if value is None:
        return None
    if value == "-":
        text = sys.stdin.read()
    elif value.startswith("@"):
        try:
            with open(os.path.expanduser(value[1:]), encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise click.BadParameter("%s: %s" % (value[1:], e.strerror or e), param_hint=what) from None
    else:
        text = value
    from lxml import etree

    try:
        etree.fromstring(text.strip().encode("utf-8"))
    except etree.XMLSyntaxError as e:
        raise click.BadParameter("not well-formed XML: %s" % e, param_hint=what) from None
    return text.strip()


def pass_common(suffix: str = ".xml") -> Callable[[F], F]:
    """Decorate a subcommand body ``f(common, **own_options)``."""

    def deco(f: F) -> F:
        @functools.wraps(f)
        def wrapper(**kw: Any) -> Any:
            return f(common_from(kw, suffix), **kw)

        return device_options(wrapper)

    return deco

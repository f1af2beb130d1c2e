"""``subscribe``: RFC 5277 notifications printed as they arrive."""

from __future__ import annotations

import datetime
import re
import time
from typing import Any, Dict, Optional, Sequence

import click
from lxml import etree

from ncclient_twisted import defer_to_pool
from ncclient_twisted._types import ICommandReactor
from ncclient_twisted.inventory import Target

from ._common import Common, pass_common, read_xml_arg, run_action
from ._operations import make_filter, with_filter
from ._output import pretty
from ._runner import Action, Timer

__all__ = ["register", "parse_until"]

NOTIFICATION_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([smh]?)\s*$")


def parse_until(value: str, now: Optional[float] = None) -> float:
    """Seconds from *now* to ``--until``: a duration (``90``, ``90s``, ``5m``, ``1h``) or an ISO 8601 time."""
    now = time.time() if now is None else now
    m = _DURATION.match(value)
    if m:
        return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    try:
        when = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "not a duration (90s, 5m, 1h) nor an ISO 8601 time", param_hint="--until"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()
    return max(0.0, when.timestamp() - now)


def _event_time(xml: str) -> Optional[str]:
    try:
        root = etree.fromstring(xml.encode("utf-8"))
    except etree.XMLSyntaxError:
        return None
    el = root.find("{%s}eventTime" % NOTIFICATION_NS)
    return el.text if el is not None else None


def register(cli: click.Group) -> None:
    @cli.command("subscribe", epilog="""\b
Examples:
  ncclient-twisted subscribe --host 192.0.2.1 -u admin            # until Ctrl-C
  ncclient-twisted subscribe --inventory devices.yaml --count 1 --until 5m --format json""")
    @click.option("--stream", metavar="NAME", help="The event stream (default: NETCONF).")
    @with_filter
    @click.option("--start-time", metavar="TIME",
                  help="Replay events since this RFC 3339 time (:interleave/replay).")
    @click.option("--count", type=click.IntRange(1, None),
                  help="Stop after this many notifications per device.")
    @click.option("--until", "until", metavar="DURATION|TIME",
                  help="Stop after a duration (90s, 5m, 1h) or at a time.")
    @pass_common()
    def subscribe(
        common: Common,
        stream: Optional[str],
        subtree: Optional[str],
        xpath: Optional[str],
        ns: Sequence[str],
        start_time: Optional[str],
        count: Optional[int],
        until: Optional[str],
    ) -> None:
        """<create-subscription>, then print notifications as they arrive (Ctrl-C stops)."""
        flt = make_filter(read_xml_arg(subtree, "--filter"), xpath, ns)
        deadline = time.monotonic() + parse_until(until) if until else None
        several = len(common.targets) > 1
        output = common.output
        counts: Dict[Target, int] = {}

        def make(reactor: ICommandReactor) -> Action:

            async def action(m: Any, timer: Timer, target: Target) -> Optional[str]:
                await timer(m.create_subscription(filter=flt, stream_name=stream, start_time=start_time))
                counts[target] = 0
                while count is None or counts[target] < count:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    n = await m.take_notification(timeout=remaining)
                    if n is None:
                        break
                    counts[target] += 1
                    xml = n.notification_xml
                    text = await pretty(reactor, xml)
                    if output.out_dir is not None:
                        await defer_to_pool(reactor, output.append, target, text)
                    else:
                        output.stream(
                            target, text, several, {"event_time": _event_time(xml), "notification": xml}
                        )
                return None

            return action

        run_action(common, make, description="subscribed", stop_is_success=True, counts=counts)

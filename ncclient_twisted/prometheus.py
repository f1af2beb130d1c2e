"""The process's NETCONF figures (:mod:`ncclient_twisted.stats`) as Prometheus metrics.

Needs the ``prometheus`` extra (``pip install ncclient_twisted[prometheus]``)::

    from prometheus_client.twisted import MetricsResource
    from twisted.web.resource import Resource
    from ncclient_twisted import prometheus

    prometheus.register()                       # once, into prometheus_client's registry
    root = Resource()
    root.putChild(b"metrics", MetricsResource())   # scraped on the reactor thread

Serve the metrics from the reactor (``MetricsResource``), not from prometheus_client's own
HTTP thread: the figures are read where they are written.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

from ncclient_twisted.stats import process_stats

__all__ = ["StatsCollector", "register"]

PREFIX = "ncclient_twisted_"

#: Counters of every session of the process: (SessionStats field, metric name, help).
_COUNTERS = (
    ("requests", "requests", "NETCONF requests made"),
    ("replies", "replies", "Requests answered with a reply"),
    ("rpc_errors", "rpc_errors", "Requests failed with an rpc-error"),
    ("timeouts", "timeouts", "Requests failed for want of a reply in time"),
    ("cancels", "cancels", "Requests cancelled by the caller"),
    ("failures", "request_failures", "Requests failed otherwise (session ended, reply malformed...)"),
    ("stray_replies_dropped", "stray_replies_dropped", "Replies dropped: no request waited for them"),
    ("notifications_delivered", "notifications_delivered", "Notifications received by sessions"),
    ("notifications_dropped", "notifications_dropped", "Notifications dropped: a buffer was full"),
    ("bytes_received", "received_bytes", "NETCONF bytes received"),
    ("bytes_sent", "sent_bytes", "NETCONF bytes sent"),
)

#: The states a ManagerService can be in, each a label value of ``service_state``.
_SERVICE_STATES = ("STOPPED", "CONNECTING", "CONNECTED", "WAITING")


class StatsCollector(Collector):
    """A prometheus_client collector of :func:`~ncclient_twisted.stats.process_stats`."""

    def collect(self) -> Iterator[Any]:
        stats = process_stats()
        totals = stats.totals
        for field, name, help_text in _COUNTERS:
            yield CounterMetricFamily(PREFIX + name, help_text, value=getattr(totals, field))
        yield CounterMetricFamily(
            PREFIX + "connect_failures", "Connects that failed", value=stats.connect_failures
        )
        yield GaugeMetricFamily(
            PREFIX + "pending_requests", "Requests waiting for a reply", value=totals.pending
        )
        sessions = GaugeMetricFamily(PREFIX + "sessions", "Sessions by state", labels=["state"])
        for kind in ("connecting", "open"):
            sessions.add_metric([kind], stats.sessions[kind])
        yield sessions
        yield CounterMetricFamily(
            PREFIX + "sessions_ended", "Sessions that have ended", value=stats.sessions["ended"]
        )

        state = GaugeMetricFamily(
            PREFIX + "service_state", "1 for the state each ManagerService is in", labels=["service", "state"]
        )
        reconnects = CounterMetricFamily(PREFIX + "service_reconnects", "Reconnects", labels=["service"])
        failures = GaugeMetricFamily(
            PREFIX + "service_consecutive_failures", "Failed attempts in a row", labels=["service"]
        )
        backoff = GaugeMetricFamily(
            PREFIX + "service_backoff_seconds", "Delay before the next attempt", labels=["service"]
        )
        for service in stats.services:
            label = service.name or ""
            for name in _SERVICE_STATES:
                state.add_metric([label, name], 1.0 if service.state == name else 0.0)
            reconnects.add_metric([label], service.reconnects)
            failures.add_metric([label], service.consecutive_failures)
            backoff.add_metric([label], service.backoff_s)
        yield from (state, reconnects, failures, backoff)


def register(registry: Optional[CollectorRegistry] = None) -> StatsCollector:
    """Register a :class:`StatsCollector` in *registry* (default: prometheus_client's).

    :returns: The collector (``registry.unregister(it)`` removes it).
    """
    collector = StatsCollector()
    (registry if registry is not None else REGISTRY).register(collector)
    return collector

"""
``ietf-netconf-monitoring`` (RFC 6022): the ``/netconf-state`` state data that
``<get>`` returns (capabilities, datastores and their locks, schemas, sessions,
statistics) and the counters behind it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Mapping, Optional, Protocol, Sequence

from ._notifications import format_time
from ._schemas import NCM_NS, Schema
from ._xml import escape_text

if TYPE_CHECKING:
    from ._datastore import Datastore


class Counters:
    """The per-session (and per-server) counters of RFC 6022."""

    __slots__ = ("in_rpcs", "in_bad_rpcs", "out_rpc_errors", "out_notifications")

    def __init__(self) -> None:
        self.in_rpcs = 0
        self.in_bad_rpcs = 0
        self.out_rpc_errors = 0
        self.out_notifications = 0

    def xml(self) -> str:
        return (
            "<in-rpcs>%d</in-rpcs><in-bad-rpcs>%d</in-bad-rpcs>"
            "<out-rpc-errors>%d</out-rpc-errors><out-notifications>%d</out-notifications>"
            % (self.in_rpcs, self.in_bad_rpcs, self.out_rpc_errors, self.out_notifications)
        )


class Statistics(Counters):
    """The server-wide ``/netconf-state/statistics``."""

    __slots__ = ("start_time", "in_bad_hellos", "in_sessions", "dropped_sessions")

    def __init__(self, start_time: float) -> None:
        super().__init__()
        self.start_time = start_time
        self.in_bad_hellos = 0
        self.in_sessions = 0
        self.dropped_sessions = 0

    def xml(self) -> str:
        return (
            "<statistics><netconf-start-time>%s</netconf-start-time>"
            "<in-bad-hellos>%d</in-bad-hellos><in-sessions>%d</in-sessions>"
            "<dropped-sessions>%d</dropped-sessions>%s</statistics>"
            % (
                format_time(self.start_time),
                self.in_bad_hellos,
                self.in_sessions,
                self.dropped_sessions,
                super().xml(),
            )
        )


class SessionRow(Protocol):
    """What a session shows in ``/netconf-state/sessions``."""

    @property
    def session_id(self) -> int: ...

    @property
    def username(self) -> str: ...

    @property
    def source_host(self) -> Optional[str]: ...

    @property
    def transport(self) -> str: ...

    @property
    def login_time(self) -> float: ...

    @property
    def counters(self) -> Counters: ...


def _leaf(name: str, value: str) -> str:
    return "<%s>%s</%s>" % (name, escape_text(value), name)


def netconf_state(
    *,
    capabilities: Sequence[str],
    datastores: Iterable["Datastore"],
    schemas: Iterable[Schema],
    sessions: Iterable[SessionRow],
    statistics: Statistics,
    lock_times: Mapping[str, float],
) -> bytes:
    """Serialise ``<netconf-state>`` (in its own default namespace)."""
    parts: List[str] = ['<netconf-state xmlns="%s" xmlns:ncm="%s">' % (NCM_NS, NCM_NS)]
    parts.append("<capabilities>")
    parts.extend(_leaf("capability", c) for c in capabilities)
    parts.append("</capabilities><datastores>")
    for ds in datastores:
        parts.append("<datastore>" + _leaf("name", ds.name))
        if ds.lock_owner is not None:
            parts.append(
                "<locks><global-lock><locked-by-session>%d</locked-by-session>"
                "<locked-time>%s</locked-time></global-lock></locks>"
                % (ds.lock_owner, format_time(lock_times.get(ds.name, statistics.start_time)))
            )
        parts.append("</datastore>")
    parts.append("</datastores><schemas>")
    for schema in schemas:
        parts.append(
            "<schema>%s%s<format>ncm:yang</format>%s<location>NETCONF</location></schema>"
            % (
                _leaf("identifier", schema.identifier),
                _leaf("version", schema.version),
                _leaf("namespace", schema.namespace),
            )
        )
    parts.append("</schemas><sessions>")
    for row in sessions:
        parts.append(
            "<session><session-id>%d</session-id>%s%s%s%s%s</session>"
            % (
                row.session_id,
                _leaf("transport", row.transport),
                _leaf("username", row.username),
                _leaf("source-host", row.source_host) if row.source_host else "",
                _leaf("login-time", format_time(row.login_time)),
                row.counters.xml(),
            )
        )
    parts.append("</sessions>")
    parts.append(statistics.xml())
    parts.append("</netconf-state>")
    return "".join(parts).encode("utf-8")

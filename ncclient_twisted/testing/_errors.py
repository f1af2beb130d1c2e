"""
``<rpc-error>`` values (RFC 6241 section 4.3).
"""

from __future__ import annotations

from typing import Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from lxml import etree

from ._xml import BASE_NS, escape_text

ErrorInfo = Union[Mapping[str, str], Sequence[Tuple[str, str]], "etree._Element", None]


class NetconfError(Exception):
    """
    An ``<rpc-error>``.

    Raise it from a custom RPC handler (see ``serve(handlers=...)``) to make
    the server answer with this error; it is also used internally for every
    protocol error the server reports.

    :param tag: the ``error-tag``, e.g. ``"operation-failed"``.
    :param message: the human readable ``error-message``.
    :param error_type: ``transport``, ``rpc``, ``protocol`` or ``application``.
    :param severity: ``error`` or ``warning``.
    :param app_tag: the optional ``error-app-tag``.
    :param path: the optional ``error-path``.
    :param info: the ``error-info`` content: a mapping or a sequence of
        ``(name, text)`` pairs, becoming elements in the NETCONF base namespace
        (``{"session-id": "3"}``, ``[("bad-element", "config")]``), or an
        ``error-info`` element to copy verbatim.
    """

    def __init__(
        self,
        tag: str,
        message: Optional[str] = None,
        *,
        error_type: str = "application",
        severity: str = "error",
        app_tag: Optional[str] = None,
        path: Optional[str] = None,
        info: ErrorInfo = None,
    ) -> None:
        super().__init__(message or tag)
        self.tag = tag
        self.message = message
        self.error_type = error_type
        self.severity = severity
        self.app_tag = app_tag
        self.path = path
        self.info = info

    def __repr__(self) -> str:
        return "NetconfError(%r, %r, error_type=%r)" % (self.tag, self.message, self.error_type)

    def to_xml(self) -> bytes:
        """Serialise as an ``<rpc-error>`` element in the default namespace."""
        parts: List[str] = [
            "<rpc-error><error-type>",
            escape_text(self.error_type),
            "</error-type><error-tag>",
            escape_text(self.tag),
            "</error-tag><error-severity>",
            escape_text(self.severity),
            "</error-severity>",
        ]
        if self.app_tag is not None:
            parts += ["<error-app-tag>", escape_text(self.app_tag), "</error-app-tag>"]
        if self.path is not None:
            parts += ["<error-path>", escape_text(self.path), "</error-path>"]
        if self.message is not None:
            parts += ['<error-message xml:lang="en">', escape_text(self.message), "</error-message>"]
        out = "".join(parts).encode("utf-8")
        info = self.info
        if isinstance(info, etree._Element):
            out += etree.tostring(info)
        elif info:
            items: Iterable[Tuple[str, str]] = info.items() if isinstance(info, Mapping) else info
            body = "".join(
                "<%s>%s</%s>" % (name, escape_text(str(value)), name) for name, value in items
            )
            out += ("<error-info>%s</error-info>" % body).encode("utf-8")
        return out + b"</rpc-error>"


class NetconfErrors(Exception):
    """Several errors reported in one reply (``continue-on-error``)."""

    def __init__(self, errors: Sequence[NetconfError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = list(errors)


def errors_body(errors: Sequence[NetconfError]) -> bytes:
    """Concatenate the ``<rpc-error>`` elements of *errors*."""
    return b"".join(e.to_xml() for e in errors)


__all__ = ["NetconfError", "NetconfErrors", "errors_body", "BASE_NS"]

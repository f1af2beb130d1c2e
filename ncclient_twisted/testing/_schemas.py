"""
YANG schemas of the embedded server: the modules of what it implements, whose
text ships in ``yang/`` (with the modules they import), and those a test adds
with ``serve(schemas=...)``.  They are advertised in the hello (RFC 6020
5.6.4), listed in ``/netconf-state/schemas`` and served by ``<get-schema>``
(RFC 6022).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ._errors import NetconfError

NCM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
SN_NS = "urn:ietf:params:xml:ns:yang:ietf-subscribed-notifications"

#: A schema for ``serve(schemas=...)``: YANG text, or the path of a ``.yang`` file.
SchemaInput = Union[str, "os.PathLike[str]"]

YANG_DIR = Path(__file__).parent / "yang"

_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_HEADER = re.compile(r"^\s*(module|submodule)\s+([A-Za-z_][\w.-]*)", re.M)
_NAMESPACE = re.compile(r"\bnamespace\s+[\"']?([^\"';\s]+)")
_BELONGS_TO = re.compile(r"\bbelongs-to\s+[\"']?([A-Za-z_][\w.-]*)")
_REVISION = re.compile(r"\brevision\s+[\"']?(\d{4}-\d{2}-\d{2})")

#: The modules of what the server implements: (name, revision).  The
#: subscribed-notifications one only with ``interleave``.
IMPLEMENTED = (
    ("ietf-netconf", "2011-06-01"),
    ("ietf-netconf-monitoring", "2010-10-04"),
    ("notifications", "2008-07-14"),
    ("nc-notifications", "2008-07-14"),
    ("ietf-netconf-notifications", "2012-02-06"),
    ("ietf-subscribed-notifications", "2019-09-09"),
)
#: The features of ietf-subscribed-notifications the server implements.
SN_FEATURES = ("encode-xml", "replay", "subtree", "xpath")


class Schema:
    """One YANG module or submodule."""

    __slots__ = ("identifier", "version", "namespace", "text", "submodule", "features")

    def __init__(
        self,
        identifier: str,
        version: str,
        namespace: str,
        text: str,
        submodule: bool = False,
        features: Tuple[str, ...] = (),
    ) -> None:
        self.identifier = identifier
        self.version = version
        self.namespace = namespace
        self.text = text
        self.submodule = submodule
        self.features = features

    def capability(self) -> str:
        """The hello capability of a module (RFC 6020 5.6.4)."""
        uri = "%s?module=%s" % (self.namespace, self.identifier)
        if self.version:
            uri += "&revision=" + self.version
        if self.features:
            uri += "&features=" + ",".join(self.features)
        return uri


def parse_yang(text: str) -> Tuple[str, str, bool, str]:
    """
    ``(name, revision, is_submodule, namespace or belongs-to module)`` of a
    YANG module's text; the revision is the first one given ("" if none).
    """
    bare = _COMMENTS.sub("", text)
    header = _HEADER.search(bare)
    if header is None:
        raise ValueError("not a YANG module: no 'module NAME {' or 'submodule NAME {'")
    submodule = header.group(1) == "submodule"
    body = bare[header.end() :]
    found = (_BELONGS_TO if submodule else _NAMESPACE).search(body)
    if found is None:
        missing = "belongs-to" if submodule else "namespace"
        raise ValueError("YANG %s %s has no %s" % (header.group(1), header.group(2), missing))
    revision = _REVISION.search(body)
    return header.group(2), revision.group(1) if revision else "", submodule, found.group(1)


def _read(source: SchemaInput) -> str:
    if isinstance(source, str) and ("{" in source or "\n" in source):
        return source
    with open(os.fspath(source), encoding="utf-8") as f:
        return f.read()


class Schemas:
    """The schemas of one server, and the capabilities they advertise."""

    def __init__(
        self,
        *,
        ietf_netconf_features: Iterable[str],
        interleave: bool,
        extra: Optional[Mapping[str, SchemaInput]] = None,
    ) -> None:
        self.all: List[Schema] = []
        self.advertised: List[Schema] = []
        shipped = _shipped()
        implemented = [m for m in IMPLEMENTED if interleave or m[0] != "ietf-subscribed-notifications"]
        for name, _revision in implemented:
            schema = shipped[name]
            if name == "ietf-netconf":
                schema = _with_features(schema, tuple(ietf_netconf_features))
            elif name == "ietf-subscribed-notifications":
                schema = _with_features(schema, SN_FEATURES)
            self.advertised.append(schema)
        needed = _imports_closure([s.identifier for s in self.advertised], shipped)
        imported = [shipped[n] for n in needed if n not in dict(implemented)]
        self.all = list(self.advertised) + imported
        # The modules they import are advertised too, as netconfd does: clients such
        # as yangcli load every module of the hello (with get-schema) and fail on an
        # import they cannot find.
        self.advertised += imported
        for key, source in (extra or {}).items():
            self.add(key, _read(source))

    def add(self, key: str, text: str) -> None:
        name, revision, submodule, ref = parse_yang(text)
        wanted, _, wanted_revision = key.partition("@")
        if wanted != name or (wanted_revision and wanted_revision != revision):
            kind = "submodule" if submodule else "module"
            raise ValueError("schemas[%r] holds YANG %s %s@%s" % (key, kind, name, revision))
        namespace = ref
        if submodule:
            parent = next((s for s in self.all if s.identifier == ref and not s.submodule), None)
            namespace = parent.namespace if parent is not None else ""
        schema = Schema(name, revision, namespace, text, submodule)
        # A test's module replaces a shipped one of the same name and revision.
        self.all = [s for s in self.all if (s.identifier, s.version) != (name, revision)]
        self.advertised = [s for s in self.advertised if (s.identifier, s.version) != (name, revision)]
        self.all.append(schema)
        if not submodule:
            self.advertised.append(schema)

    def capabilities(self) -> List[str]:
        return [s.capability() for s in self.advertised]

    def find(self, identifier: str, version: Optional[str]) -> Schema:
        """The schema ``<get-schema>`` asks for (RFC 6022 3.1)."""
        found = [s for s in self.all if s.identifier == identifier and (not version or s.version == version)]
        if not found:
            raise NetconfError(
                "invalid-value",
                "no such schema: %s%s" % (identifier, "@" + version if version else ""),
                error_type="protocol",
                info=[("bad-element", "identifier")],
            )
        if len(found) > 1:
            raise NetconfError(
                "operation-failed",
                "more than one version of %s: give the version" % identifier,
                error_type="protocol",
                app_tag="data-not-unique",
            )
        return found[0]


def _with_features(schema: Schema, features: Tuple[str, ...]) -> Schema:
    return Schema(schema.identifier, schema.version, schema.namespace, schema.text, False, features)


_IMPORT = re.compile(r"^\s*(?:import|include)\s+([A-Za-z_][\w.-]*)", re.M)


def _imports_closure(names: Iterable[str], shipped: Mapping[str, Schema]) -> List[str]:
    order: List[str] = []
    todo = list(names)
    while todo:
        name = todo.pop(0)
        if name in order or name not in shipped:
            continue
        order.append(name)
        todo.extend(_IMPORT.findall(_COMMENTS.sub("", shipped[name].text)))
    return order


_SHIPPED: Dict[str, Schema] = {}


def _shipped() -> Mapping[str, Schema]:
    """The YANG modules shipped in ``yang/``, read once per process."""
    if not _SHIPPED:
        for path in sorted(YANG_DIR.glob("*.yang")):
            text = path.read_text(encoding="utf-8")
            name, revision, submodule, ref = parse_yang(text)
            _SHIPPED[name] = Schema(name, revision, ref, text, submodule)
    return _SHIPPED


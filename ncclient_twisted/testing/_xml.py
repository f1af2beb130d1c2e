"""
Small XML helpers shared by the layers of the test server.

Everything XML in the server is lxml.  Requests are parsed exactly once with
a hardened parser (no entity expansion, no network access); replies are
mostly assembled from byte strings, with lxml serialising the data parts.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any, Dict, Iterator, Optional, Union

from lxml import etree

BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NOTIFICATION_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NETMOD_NOTIFICATION_NS = "urn:ietf:params:xml:ns:netmod:notification"
NC_NOTIFICATIONS_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"

BASE_1_0 = "urn:ietf:params:netconf:base:1.0"
BASE_1_1 = "urn:ietf:params:netconf:base:1.1"

#: Anything the public API accepts as XML: text, UTF-8 bytes or an element.
XmlInput = Union[str, bytes, "etree._Element"]


def qn(namespace: str, local: str) -> str:
    """Return the Clark notation ``{namespace}local``."""
    return "{%s}%s" % (namespace, local)


def nc(local: str) -> str:
    """Return the Clark notation of *local* in the NETCONF base namespace."""
    return "{%s}%s" % (BASE_NS, local)


def localname(tag: str) -> str:
    """Return the local part of a Clark-notation tag."""
    if tag[:1] == "{":
        return tag[tag.index("}") + 1 :]
    return tag


def namespace_of(tag: str) -> Optional[str]:
    """Return the namespace of a Clark-notation tag, or None."""
    if tag[:1] == "{":
        return tag[1 : tag.index("}")]
    return None


def make_parser() -> etree.XMLParser:
    """Return the hardened parser used for everything that comes from outside."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
        remove_blank_text=True,
        remove_comments=True,
        remove_pis=True,
    )


_PARSER = make_parser()


def to_element(xml: XmlInput, parser: Optional[etree.XMLParser] = None) -> etree._Element:
    """Parse *xml* (text or bytes), or return a deep copy of an element."""
    if isinstance(xml, etree._Element):
        return deepcopy(xml)
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    if not isinstance(xml, bytes):
        raise TypeError("expected an XML string, bytes or an lxml element, got %r" % (xml,))
    return etree.fromstring(xml.strip(), parser if parser is not None else _PARSER)


def children(element: etree._Element) -> Iterator[etree._Element]:
    """Iterate over the element children of *element* (no comments or PIs)."""
    return element.iterchildren(etree.Element)


def first_child(element: etree._Element) -> Optional[etree._Element]:
    """Return the first element child of *element*, or None."""
    for child in element.iterchildren(etree.Element):
        return child
    return None


def is_leaf(element: etree._Element) -> bool:
    """True if *element* has no element children."""
    return first_child(element) is None


def text_of(element: etree._Element) -> str:
    """Return the whitespace-stripped text of *element*."""
    text = element.text
    return text.strip() if text else ""


def serialize(element: etree._Element) -> bytes:
    """
    Serialise *element* so that it can be embedded under an element whose
    default namespace is the NETCONF base namespace.

    lxml does not emit ``xmlns=""`` for an element without a namespace, so
    such an element would silently end up in the base namespace; we add the
    undeclaration ourselves.
    """
    data: bytes = etree.tostring(element)
    if element.tag[:1] != "{" and isinstance(element.tag, str):
        name = element.tag.encode("utf-8")
        data = b"<" + name + b' xmlns=""' + data[1 + len(name) :]
    return data


def attributes(element: etree._Element) -> Dict[str, str]:
    """The attributes of *element* as a plain ``{name: value}`` dict."""
    return {str(k): str(v) for k, v in element.attrib.items()}


#: A namespace map; keys are prefixes, None for the default namespace.
NsMap = Dict[Any, str]


def namespaces(element: etree._Element, *, without: Optional[NsMap] = None) -> NsMap:
    """
    The namespace declarations in scope for *element*, except the NETCONF
    base namespace and those already declared identically in *without*.
    """
    return {
        prefix: uri
        for prefix, uri in element.nsmap.items()
        if uri != BASE_NS and (without is None or without.get(prefix) != uri)
    }


def copy_in_scope(element: etree._Element) -> etree._Element:
    """
    Deep-copy *element*, keeping every namespace declaration that is in scope
    for it (lxml drops prefixes that are only used in text content, such as
    identityref values like ``ianaift:ethernetCsmacd``).  Declarations of
    the NETCONF base namespace are not carried over.
    """
    copied = deepcopy(element)
    have: NsMap = dict(copied.nsmap)
    missing = {p: u for p, u in namespaces(element, without=have).items() if p is not None}
    if not missing:
        return copied
    nsmap: NsMap = dict(missing)
    nsmap.update(have)
    fresh = etree.Element(copied.tag, attrib=attributes(copied), nsmap=nsmap)
    fresh.text = copied.text
    for child in list(copied):
        fresh.append(child)
    return fresh


def strip_attribute(element: etree._Element, name: str) -> None:
    """Remove attribute *name* from *element* and all its descendants."""
    for node in element.iter(etree.Element):
        if name in node.attrib:
            del node.attrib[name]


def escape_text(value: str) -> str:
    """Escape *value* for use as XML character data."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attr(value: str) -> str:
    """Escape *value* for use inside a double-quoted XML attribute."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )

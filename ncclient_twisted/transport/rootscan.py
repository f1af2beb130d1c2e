"""The root element of a NETCONF message, found without parsing the message.

ncclient's listeners are called with ``(tag, attributes)`` of the message's root element,
which ncclient finds with ``parse_root`` (an ``iterparse`` over the whole text). Every
listener only needs the root's qualified tag and its ``message-id``, so :func:`scan_root`
reads the start tag with a regular expression and falls back to
:func:`~ncclient_twisted.transport.framing.message_root` (an incremental parse of the
start tag only) for anything unusual (a DOCTYPE, a prefix it cannot resolve on the root,
a comment or processing instruction before the root). Its cost per message is measured
in ``benchmarks/``.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from ncclient_twisted.transport.framing import message_root

__all__ = ["scan_root"]

Root = Tuple[str, Dict[str, str]]

_NAME = r"[A-Za-z_][\w.\-]*"
_START = re.compile(
    r"\s*(?:<\?xml\s[^?]*\?>\s*)?<(?:(" + _NAME + r"):)?(" + _NAME + r")([^<>]*)>",
    re.S,
)
_ATTR = re.compile(r"(?:(" + _NAME + r"):)?(" + _NAME + r")\s*=\s*(?:\"([^\"<]*)\"|'([^'<]*)')")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&apos;": "'"}
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|apos);")
_WHITESPACE = re.compile(r"\r\n|[\t\n\r]")
_OTHER_REF = re.compile(r"&(?!(?:lt|gt|amp|quot|apos);)")


def _unescape(value: str) -> Optional[str]:
    if _WHITESPACE.search(value):
        value = _WHITESPACE.sub(" ", value)  # attribute-value normalisation, as XML says
    if "&" not in value:
        return value
    if _OTHER_REF.search(value):
        return None  # a character reference: let lxml decode it
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(0)], value)


#: Start tags without attributes other than namespace declarations (a notification's,
#: a hello's) repeat message after message: their result is kept.
_CACHE: Dict[str, Root] = {}
_CACHE_SIZE = 256


#: The last start tag found in the cache: a burst of notifications repeats it, and
#: ``startswith`` costs less than the regular expression. (If *raw* starts with a start
#: tag the expression matched, the expression matches that same start tag in *raw*.)
_last_hit: Optional[Tuple[str, str]] = None


#: A reply's start tag differs from the last one's by its attribute values (message-id,
#: a server's ``last-modified``...): start tags are kept with their values cut out (see
#: :func:`_template_entry`).
_VALUE = re.compile(r"""=\s*("[^"<&\t\n\r]*"|'[^'<&\t\n\r]*')""")  # quotes included
_NAME_BEFORE = re.compile(r"(?:(" + _NAME + r"):)?(" + _NAME + r")\s*$")
#: template -> (root's tag, each value's attribute name or None, each None's value)
Template = Tuple[str, Tuple[Optional[str], ...], Tuple[str, ...]]
_BY_TEMPLATE: Dict[str, Template] = {}


def _scan(raw: str) -> Optional[Root]:
    global _last_hit
    last = _last_hit
    if last is not None and raw.startswith(last[0]):
        return last[1], {}
    match = _START.match(raw)
    if match is None:
        return None
    start_tag = match.group(0)
    hit = _CACHE.get(start_tag)
    if hit is not None:
        _last_hit = (start_tag, hit[0])
        return hit[0], {}
    parts = _VALUE.split(start_tag)
    template = "".join(parts[0::2]) if len(parts) > 1 else None
    if template is not None:
        entry = _BY_TEMPLATE.get(template)
        if entry is not None:
            tag, names, kept = entry
            attrs: Dict[str, str] = {}
            for name, value, same in zip(names, parts[1::2], kept):
                if name is not None:
                    attrs[name] = value[1:-1]
                elif value != same:
                    break  # another namespace: not this template
            else:
                return tag, attrs
    found = _parse_start(*match.groups())
    if found is None:
        return None
    if not found[1]:
        if len(_CACHE) < _CACHE_SIZE:
            _CACHE[start_tag] = found
    elif template is not None and template not in _BY_TEMPLATE and len(_BY_TEMPLATE) < _CACHE_SIZE:
        entry = _template_entry(parts, found)
        if entry is not None:
            _BY_TEMPLATE[template] = entry
    return found


def _template_entry(parts: List[str], found: Root) -> Optional[Template]:
    """What a start tag split by :data:`_VALUE` (text, value, text, ...) keeps as its
    template: the values of unprefixed attributes vary, the others (namespace
    declarations, the XML declaration's, prefixed attributes) must be as they are now.
    None when the varying values are not exactly *found*'s attributes (a value the
    expression cannot cut out, one that needs unescaping)."""
    tag, attrs = found
    names: List[Optional[str]] = []
    kept: List[str] = []
    in_declaration = parts[0].lstrip().startswith("<?xml")
    for text, value in zip(parts[0::2], parts[1::2]):
        if in_declaration and "?>" in text:
            in_declaration = False
        before = _NAME_BEFORE.search(text)
        if before is None:
            return None
        prefix, name = before.groups()
        if in_declaration or prefix is not None or name == "xmlns":
            names.append(None)
            kept.append(value)
        else:
            names.append(name)
            kept.append("")
    varying = [(n, v[1:-1]) for n, v in zip(names, parts[1::2]) if n is not None]
    if dict(varying) != attrs or len(varying) != len(attrs):
        return None
    return tag, tuple(names), tuple(kept)


def _parse_start(prefix: Optional[str], local: str, rest: str) -> Optional[Root]:
    rest = rest.rstrip()
    if rest.endswith("/"):
        rest = rest[:-1]
    elif rest and not rest[0].isspace():
        return None
    namespaces: Dict[Optional[str], str] = {}
    plain: Dict[str, str] = {}
    qualified = []
    consumed = 0
    for attr in _ATTR.finditer(rest):
        if rest[consumed : attr.start()].strip():
            return None  # something that is not an attribute
        consumed = attr.end()
        aprefix, aname = attr.group(1), attr.group(2)
        value = _unescape(attr.group(3) if attr.group(3) is not None else attr.group(4))
        if value is None:
            return None
        if aprefix is None and aname == "xmlns":
            namespaces[None] = value
        elif aprefix == "xmlns":
            namespaces[aname] = value
        elif aprefix is None:
            plain[aname] = value
        else:
            qualified.append((aprefix, aname, value))
    if rest[consumed:].strip():
        return None
    ns = namespaces.get(prefix)
    if ns is None and prefix is not None:
        return None  # declared on an ancestor? There is none: let lxml say what it is.
    tag = "{%s}%s" % (ns, local) if ns else local
    for aprefix, aname, value in qualified:
        if aprefix == "xml":
            plain["{http://www.w3.org/XML/1998/namespace}" + aname] = value
            continue
        ans = namespaces.get(aprefix)
        if ans is None:
            return None
        plain["{%s}%s" % (ans, aname)] = value
    return tag, plain


def scan_root(raw: str) -> Root:
    """``(qualified tag, attributes)`` of *raw*'s root element, as ncclient's ``parse_root``
    gives; raises ``MalformedReplyError`` as :func:`message_root` does."""
    found = _scan(raw)
    if found is not None:
        return found
    return message_root(raw)

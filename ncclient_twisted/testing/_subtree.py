"""
Filtering: RFC 6241 section 6 subtree filters, and XPath filters (the
``:xpath`` capability) evaluated with lxml.

The filters compute a *selection*: for a data node either ``True`` (the
whole subtree is selected) or a dict mapping some of its children to their
own selections.  The selection is then materialised as a pruned copy, in
document order.
"""

from __future__ import annotations

import re
from copy import deepcopy
from functools import lru_cache
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

from lxml import etree

from ._errors import NetconfError
from ._xml import BASE_NS, attributes, children, copy_in_scope, is_leaf, localname, namespaces, text_of

#: ``True``: the whole subtree; a dict: only these children (recursively).
Selection = Union[bool, Dict["etree._Element", "Selection"]]

_BASE_PREFIX = "{%s}" % BASE_NS
_IGNORED_FILTER_ATTRIBUTES = frozenset({"{%s}operation" % BASE_NS})


class Pattern:
    """
    One node of a subtree filter, pre-digested (RFC 6241 6.2): how to
    match its name, its attribute match expressions, and its kind.
    """

    __slots__ = ("tag", "local", "attributes", "text", "content", "selection", "containment")

    def __init__(self, element: etree._Element) -> None:
        tag: str = element.tag
        # A filter node without a namespace matches that name in any
        # namespace.  So does one in the NETCONF base namespace, which is
        # where namespace-less filter content of a naive client ends up.
        if tag[:1] == "{" and not tag.startswith(_BASE_PREFIX):
            self.tag: Optional[str] = tag
        else:
            self.tag = None
        self.local = localname(tag)
        self.attributes = [
            (str(k), str(v)) for k, v in element.attrib.items() if k not in _IGNORED_FILTER_ATTRIBUTES
        ]
        self.text = text_of(element)
        self.content, self.selection, self.containment = compile_patterns(children(element))

    def matches(self, data: etree._Element) -> bool:
        """Namespace selection and attribute match expressions (6.2.1, 6.2.2)."""
        if self.tag is not None:
            if data.tag != self.tag:
                return False
        else:
            tag = data.tag
            if not isinstance(tag, str) or tag[tag.rfind("}") + 1 :] != self.local:
                return False
        for name, value in self.attributes:
            if data.get(name) != value:
                return False
        return True


Compiled = Tuple[List[Pattern], List[Pattern], List[Pattern]]


def compile_patterns(elements: Iterable[etree._Element]) -> Compiled:
    """Classify a sibling set into content match, selection and containment nodes."""
    content: List[Pattern] = []
    selection: List[Pattern] = []
    containment: List[Pattern] = []
    for element in elements:
        pattern = Pattern(element)
        if pattern.content or pattern.selection or pattern.containment:
            containment.append(pattern)
        elif pattern.text:
            content.append(pattern)
        else:
            selection.append(pattern)
    return content, selection, containment


def _merge(a: Optional[Selection], b: Selection) -> Selection:
    if a is None:
        return b
    if a is True or b is True:
        return True
    assert isinstance(a, dict) and isinstance(b, dict)
    merged = dict(a)
    for node, sel in b.items():
        merged[node] = _merge(merged.get(node), sel)
    return merged


def select_children(data: etree._Element, compiled: Compiled) -> Optional[Selection]:
    """
    Apply a compiled sibling set to the children of *data*.

    Returns None when a content match node fails (so *data* itself is not
    selected), ``True`` when the whole of *data* is selected, or a dict of
    selected children (empty when nothing matched).
    """
    content, selection, containment = compiled
    data_children = list(children(data))
    result: Dict[etree._Element, Selection] = {}

    for pattern in content:
        wanted = pattern.text
        found = False
        for node in data_children:
            if pattern.matches(node) and text_of(node) == wanted and is_leaf(node):
                result[node] = True
                found = True
        if not found:
            return None
    if content and not selection and not containment:
        # Only content match nodes: the whole parent is selected (6.2.5).
        return True

    for pattern in selection:
        for node in data_children:
            if pattern.matches(node):
                result[node] = True

    for pattern in containment:
        sub_patterns = (pattern.content, pattern.selection, pattern.containment)
        for node in data_children:
            if not pattern.matches(node):
                continue
            sub = select_children(node, sub_patterns)
            if sub is None or (sub is not True and not sub):
                continue
            result[node] = _merge(result.get(node), sub)
    return result


def _materialise(parent_out: etree._Element, node: etree._Element, sel: Selection, top: bool) -> None:
    if sel is True:
        parent_out.append(copy_in_scope(node) if top else deepcopy(node))
        return
    assert isinstance(sel, dict)
    if top:
        out = etree.SubElement(parent_out, node.tag, attrib=attributes(node), nsmap=namespaces(node))
    else:
        out = etree.SubElement(parent_out, node.tag, attrib=attributes(node))
    for child in children(node):
        child_sel = sel.get(child)
        if child_sel is not None:
            _materialise(out, child, child_sel, False)


def materialise(root: etree._Element, sel: Optional[Selection]) -> etree._Element:
    """Return a new element like *root* holding the selected part of it."""
    out = etree.Element(root.tag)
    if sel is None:
        return out
    if sel is True:
        for child in children(root):
            out.append(copy_in_scope(child))
        return out
    assert isinstance(sel, dict)
    for child in children(root):
        child_sel = sel.get(child)
        if child_sel is not None:
            _materialise(out, child, child_sel, True)
    return out


def subtree_select(root: etree._Element, filter_element: etree._Element) -> Optional[Selection]:
    """Compute the selection of the subtree filter *filter_element* on *root*'s children."""
    patterns = list(children(filter_element))
    if not patterns:
        # RFC 6241 6.4.2: an empty filter selects nothing.
        return None
    return select_children(root, compile_patterns(patterns))


def subtree_filter(root: etree._Element, filter_element: etree._Element) -> etree._Element:
    """
    Apply the subtree filter *filter_element* (its children are the filter
    expressions) to the children of *root*; return a pruned copy of *root*.
    """
    return materialise(root, subtree_select(root, filter_element))


def _bad_xpath(message: str) -> NetconfError:
    """The ``invalid-value`` error of a filter whose XPath ``select`` cannot be used."""
    return NetconfError(
        "invalid-value",
        message,
        error_type="protocol",
        info=[("bad-attribute", "select"), ("bad-element", "filter")],
    )


def compile_xpath(select: str, namespaces: Dict[str, str]) -> etree.XPath:
    """Compile a filter's XPath *select*; a bad expression is an ``invalid-value`` error."""
    try:
        return etree.XPath(select, namespaces=namespaces)
    except etree.XPathSyntaxError as exc:
        raise _bad_xpath("invalid XPath expression: %s" % exc) from None


_XPATH_TOKEN = re.compile(
    r"""(?P<space>\s+)"""
    r"""|(?P<literal>"[^"]*"|'[^']*')"""
    r"""|(?P<number>\d+(?:\.\d*)?|\.\d+)"""
    r"""|(?P<variable>\$[^\W\d][\w.\-]*(?::[^\W\d][\w.\-]*)?)"""
    r"""|(?P<qname>[^\W\d][\w.\-]*:(?:\*|[^\W\d][\w.\-]*))"""
    r"""|(?P<name>[^\W\d][\w.\-]*)"""
    r"""|(?P<punct>//|::|\.\.|!=|<=|>=|[/().\[\]@,|+\-=<>*])"""
)
# After these (or nothing) a name is a name test, and "*" a wildcard (XPath 1.0 3.7).
_BEFORE_OPERAND = frozenset(
    {"@", "::", "(", "[", ",", "/", "//", "|", "+", "-", "=", "!=", "<", "<=", ">", ">="}
    | {"and", "or", "mod", "div", "*op"}
)


@lru_cache(maxsize=256)
def local_name_xpath(select: str) -> str:
    """
    Rewrite the unprefixed element name tests of an XPath 1.0 expression
    (``/top/name``) so that they match by local name in any namespace
    (``/*[local-name()='top']/*[local-name()='name']``), as netconfd does.
    Prefixed names, attributes, functions, axes, literals are left alone.
    """
    tokens: List[Tuple[str, str]] = []
    position = 0
    while position < len(select):
        match = _XPATH_TOKEN.match(select, position)
        if match is None:
            return select  # not XPath as we know it: let lxml report it
        kind = match.lastgroup or ""
        tokens.append((kind, match.group()))
        position = match.end()
    out: List[str] = []
    previous: Optional[str] = None  # the previous token's role, as _BEFORE_OPERAND spells it
    attribute_axis = False
    for index, (kind, text) in enumerate(tokens):
        if kind == "space":
            out.append(text)
            continue
        following = next((t for k, t in tokens[index + 1 :] if k != "space"), None)
        operand_expected = previous is None or previous in _BEFORE_OPERAND
        if kind == "name":
            if not operand_expected:
                role = text  # an operator name: and, or, mod, div
            elif following == "(":
                role = "function"
            elif following == "::":
                attribute_axis = text in ("attribute", "namespace")
                role = "axis"
            else:
                if previous != "@" and not (previous == "::" and attribute_axis):
                    text = "*[local-name()='%s']" % text
                role = "step"
            out.append(text)
            previous = role
            continue
        if text == "*" and kind == "punct":
            previous = "step" if operand_expected else "*op"
        elif kind == "punct":
            previous = text
        else:
            previous = "step"
        out.append(text)
    return "".join(out)


def xpath_filter(
    root: etree._Element, select: str, namespaces: Dict[str, str], *, local_names: bool = False
) -> etree._Element:
    """
    Apply an XPath filter to the children of *root*.

    With *local_names*, unprefixed element names match in any namespace
    (see :func:`local_name_xpath`).

    Each top-level child is evaluated as its own document, so absolute paths
    such as ``/if:interfaces/if:interface`` work as they do on a device.
    Selected nodes are returned with their ancestors and their subtrees.
    """
    out = etree.Element(root.tag)
    xpath = compile_xpath(local_name_xpath(select) if local_names else select, namespaces)
    for child in children(root):
        copy = copy_in_scope(child)
        doc = etree.ElementTree(copy)
        try:
            result = xpath(doc)
        except etree.XPathEvalError as exc:
            raise _bad_xpath("cannot evaluate XPath expression: %s" % exc) from None
        if not isinstance(result, list):
            raise _bad_xpath("the XPath expression does not select nodes")
        sel: Optional[Selection] = None
        for item in result:
            if isinstance(item, etree._Element):
                node: Optional[etree._Element] = item
            else:
                getparent = getattr(item, "getparent", None)
                node = getparent() if getparent is not None else None
            if node is None or not isinstance(node.tag, str):
                continue
            path: List[etree._Element] = []
            current: Optional[etree._Element] = node
            while current is not None:
                path.append(current)
                current = current.getparent()
            path.reverse()  # path[0] is `copy`
            nested: Selection = True
            for ancestor in reversed(path[1:]):
                nested = {ancestor: nested}
            sel = _merge(sel, nested)
        if sel is None:
            continue
        if sel is True:
            out.append(copy)
        else:
            holder = etree.Element("holder")
            _materialise(holder, copy, sel, True)
            out.append(holder[0])
    return out


def notification_matcher(filter_element: etree._Element) -> Callable[[etree._Element], bool]:
    """
    Compile a subtree or XPath *filter_element* into a predicate telling
    whether it selects anything of a ``<notification>`` element.
    """
    if filter_element.get("type", "subtree") == "xpath":
        select = filter_element.get("select") or ""
        namespaces = {p: u for p, u in filter_element.nsmap.items() if p is not None}

        def by_xpath(notification: etree._Element) -> bool:
            # Both "/ev:link-down" (the event as the document) and
            # "/ncEvent:notification/ev:link-down" select the event.
            holder = etree.Element("holder")
            holder.append(deepcopy(notification))
            for child in children(notification):
                if localname(child.tag) != "eventTime":
                    holder.append(deepcopy(child))
            return len(xpath_filter(holder, select, namespaces)) > 0

        return by_xpath
    patterns = list(children(filter_element))
    if not patterns:
        return lambda notification: False
    compiled = compile_patterns(patterns)

    def by_subtree(notification: etree._Element) -> bool:
        sel = select_children(notification, compiled)
        return sel is True or bool(sel)

    return by_subtree


def matches_notification(notification: etree._Element, filter_element: etree._Element) -> bool:
    """True if a subtree or XPath *filter_element* selects anything of *notification*."""
    return notification_matcher(filter_element)(notification)

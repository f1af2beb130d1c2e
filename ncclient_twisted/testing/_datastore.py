"""
In-memory configuration datastores and the ``<edit-config>`` algorithm.

There is no YANG schema, so list entries are recognised with a heuristic:
an element's *identity* is its qualified tag plus the text of its first
child element whose local name is ``name``, ``id`` or ``key``, if it has
one, otherwise the tag alone.  ``<interface><name>eth0</name>...`` and
``<interface><name>eth1</name>...`` are therefore two entries of one list,
while ``<mtu>`` or ``<interfaces>`` are single nodes that a merge updates in
place.  Leaf-lists (several siblings with the same tag and no key child)
cannot be told apart from a leaf; a merge overwrites the first one.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Callable, Dict, List, Optional, Tuple

from lxml import etree

from ._errors import NetconfError, NetconfErrors
from ._xml import (
    BASE_NS,
    XmlInput,
    attributes,
    children,
    copy_in_scope,
    first_child,
    localname,
    namespaces,
    serialize,
    strip_attribute,
    text_of,
    to_element,
)

OPERATION_ATTRIBUTE = "{%s}operation" % BASE_NS
KEY_NAMES = ("name", "id", "key")
OPERATIONS = frozenset({"merge", "replace", "create", "delete", "remove", "none"})

Identity = Tuple[str, Optional[str]]


def identity(element: etree._Element) -> Identity:
    """The identity of *element* under the list-key heuristic (module docstring)."""
    for child in element.iterchildren(etree.Element):
        tag = child.tag
        if tag[tag.rfind("}") + 1 :] in KEY_NAMES:
            return (element.tag, text_of(child))
    return (element.tag, None)


def new_root() -> etree._Element:
    """An empty datastore root (an un-namespaced ``<data>`` container)."""
    return etree.Element("data")


def root_from_xml(xml: Optional[XmlInput]) -> etree._Element:
    """
    Build a datastore root from user input: a ``<config>`` or ``<data>``
    wrapper (in any namespace) whose children are the top-level nodes, or a
    single top-level element.
    """
    root = new_root()
    if xml is None:
        return root
    element = to_element(xml)
    if localname(element.tag) in ("config", "data"):
        for child in children(element):
            root.append(copy_in_scope(child))
    else:
        root.append(copy_in_scope(element))
    return root


class Datastore:
    """One configuration datastore: a root element plus lock and cache state."""

    def __init__(self, name: str, root: Optional[etree._Element] = None) -> None:
        self.name = name
        self.root: etree._Element = root if root is not None else new_root()
        self.version = 0
        self.lock_owner: Optional[int] = None
        self._serialized: Optional[bytes] = None
        #: Called with this datastore after each change of its content.
        self.listeners: List[Callable[["Datastore"], None]] = []

    def changed(self) -> None:
        """Record that the content changed (invalidates caches, tells the listeners)."""
        self.version += 1
        self._serialized = None
        for listener in list(self.listeners):
            listener(self)

    def replace(self, root: etree._Element) -> None:
        """Replace the whole content with *root* (which is taken, not copied)."""
        self.root = root
        self.changed()

    def copy(self) -> etree._Element:
        """A deep copy of the root."""
        return deepcopy(self.root)

    def serialized_children(self) -> bytes:
        """The serialised top-level nodes, cached until the next change."""
        data = self._serialized
        if data is None:
            data = self._serialized = b"".join(serialize(c) for c in children(self.root))
        return data


def _clean_copy(element: etree._Element) -> etree._Element:
    copied = copy_in_scope(element)
    strip_attribute(copied, OPERATION_ATTRIBUTE)
    drop_base_declarations(copied)
    return copied


def drop_base_declarations(element: etree._Element) -> None:
    """
    Remove the declarations of the NETCONF base namespace (``xmlns:nc``) that
    only served ``nc:operation`` attributes from *element* and its subtree;
    every other declaration stays (prefixes may be used in text, such as
    identityref values).
    """
    keep = set()
    found = False
    for node in element.iter(etree.Element):
        for prefix, uri in node.nsmap.items():
            if uri == BASE_NS:
                found = True
            elif prefix is not None:
                keep.add(prefix)
    if found:
        etree.cleanup_namespaces(element, keep_ns_prefixes=sorted(keep))


def check_config_content(config: etree._Element) -> None:
    """
    Refuse top-level content of a ``<config>`` that is not data: an element in
    the NETCONF base namespace (or an un-namespaced ``config``/``data``), as a
    ``<config>`` wrapped in another ``<config>`` gives.
    """
    for child in children(config):
        tag = child.tag
        name = localname(tag)
        if tag.startswith("{%s}" % BASE_NS) or (tag[:1] != "{" and name in ("config", "data")):
            raise NetconfError(
                "unknown-element",
                "<%s> in the NETCONF base namespace is not configuration data "
                "(a <config> inside <config>?)" % name,
                error_type="application",
                info=[("bad-element", name)],
            )


def _path(parent_path: str, element: etree._Element) -> str:
    key = identity(element)[1]
    name = localname(element.tag)
    if key is not None:
        for child in element.iterchildren(etree.Element):
            if localname(child.tag) in KEY_NAMES:
                return "%s/%s[%s=%r]" % (parent_path, name, localname(child.tag), key)
    return "%s/%s" % (parent_path, name)


class Editor:
    """
    Applies the children of a ``<config>`` element to a datastore root, in
    place (RFC 6241 section 7.2).

    With ``continue_on_error`` the errors are collected in :attr:`errors`;
    otherwise the first error is raised (leaving earlier changes applied:
    the caller implements ``rollback-on-error`` with a copy).
    """

    def __init__(self, continue_on_error: bool = False) -> None:
        self.continue_on_error = continue_on_error
        self.errors: List[NetconfError] = []
        self.changes: List[Tuple[etree._Element, str]] = []  # top-level (edit node, operation)
        self._indexes: Dict[etree._Element, Dict[Identity, etree._Element]] = {}
        self._seen: Dict[etree._Element, bool] = {}

    # -- child lookup with a per-parent index for long lists ------------------

    def _index(self, parent: etree._Element) -> Optional[Dict[Identity, etree._Element]]:
        index = self._indexes.get(parent)
        if index is None and len(parent) > 16 and self._seen.setdefault(parent, False):
            index = {}
            for child in children(parent):
                index.setdefault(identity(child), child)
            self._indexes[parent] = index
        return index

    def _find(self, parent: etree._Element, element: etree._Element) -> Optional[etree._Element]:
        ident = identity(element)
        index = self._index(parent)
        if index is not None:
            return index.get(ident)
        self._seen[parent] = True  # index it if it is searched again
        tag = element.tag
        for child in parent.iterchildren(tag):
            if identity(child) == ident:
                return child
        return None

    def _insert(self, parent: etree._Element, node: etree._Element) -> None:
        parent.append(node)
        index = self._indexes.get(parent)
        if index is not None:
            index.setdefault(identity(node), node)

    def _remove(self, parent: etree._Element, node: etree._Element) -> None:
        index = self._indexes.get(parent)
        if index is not None:
            ident = identity(node)
            if index.get(ident) is node:
                del index[ident]
        self._indexes.pop(node, None)
        parent.remove(node)

    def _replace(self, parent: etree._Element, old: etree._Element, new: etree._Element) -> None:
        index = self._indexes.get(parent)
        parent.replace(old, new)
        self._indexes.pop(old, None)
        if index is not None:
            ident = identity(old)
            if index.get(ident) is old:
                del index[ident]
            index.setdefault(identity(new), new)

    # -- the algorithm ----------------------------------------------------------

    def apply(self, target: etree._Element, config: etree._Element, default_operation: str) -> None:
        """Apply the children of *config* to *target* (a datastore root)."""
        for edit in children(config):
            op = edit.get(OPERATION_ATTRIBUTE, default_operation)
            self.changes.append((edit, op))
            self._guarded(target, edit, default_operation, "")

    def _guarded(self, parent: etree._Element, edit: etree._Element, inherited: str, path: str) -> None:
        try:
            self._edit(parent, edit, inherited, path)
        except NetconfError as err:
            if not self.continue_on_error:
                raise
            self.errors.append(err)

    def _edit_children(self, target: etree._Element, edit: etree._Element, inherited: str, path: str) -> None:
        for child in children(edit):
            self._guarded(target, child, inherited, path)

    def _edit(self, parent: etree._Element, edit: etree._Element, inherited: str, parent_path: str) -> None:
        op = edit.get(OPERATION_ATTRIBUTE)
        if op is None:
            op = inherited
        elif op not in OPERATIONS:
            raise NetconfError(
                "bad-attribute",
                "invalid operation %r" % op,
                error_type="protocol",
                info=[("bad-attribute", "operation"), ("bad-element", localname(edit.tag))],
            )
        path = _path(parent_path, edit)
        existing = self._find(parent, edit)

        if op == "merge":
            if existing is None:
                if first_child(edit) is None:
                    self._insert(parent, _clean_copy(edit))
                    return
                existing = etree.SubElement(
                    parent,
                    edit.tag,
                    attrib={k: v for k, v in attributes(edit).items() if k != OPERATION_ATTRIBUTE},
                    nsmap=namespaces(edit, without=dict(parent.nsmap)),
                )
                index = self._indexes.get(parent)
                if index is not None:
                    index.setdefault(identity(edit), existing)
            elif first_child(edit) is None:
                # A leaf (or an empty container, which must not wipe children).
                if text_of(edit) or first_child(existing) is None:
                    existing.text = edit.text
                for name, value in attributes(edit).items():
                    if name != OPERATION_ATTRIBUTE:
                        existing.set(name, value)
                return
            self._edit_children(existing, edit, "merge", path)
        elif op == "replace":
            node = _clean_copy(edit)
            if existing is None:
                self._insert(parent, node)
            else:
                self._replace(parent, existing, node)
        elif op == "create":
            if existing is not None:
                raise NetconfError(
                    "data-exists",
                    "%s already exists" % path,
                    path=path,
                    info=[("bad-element", localname(edit.tag))],
                )
            self._insert(parent, _clean_copy(edit))
        elif op == "delete":
            if existing is None:
                raise NetconfError(
                    "data-missing",
                    "%s does not exist" % path,
                    path=path,
                    info=[("bad-element", localname(edit.tag))],
                )
            self._remove(parent, existing)
        elif op == "remove":
            if existing is not None:
                self._remove(parent, existing)
        else:  # "none"
            if first_child(edit) is None:
                return
            if existing is None:
                # Navigate through a detached shell: operations below that
                # would need this level to exist are reported (RFC 6241 7.2).
                shell = etree.Element(edit.tag)
                self._edit_children(shell, edit, "none", path)
                if len(shell):
                    raise NetconfError(
                        "data-missing",
                        "%s does not exist" % path,
                        path=path,
                        info=[("bad-element", localname(edit.tag))],
                    )
                return
            self._edit_children(existing, edit, "none", path)


def edit(
    target: etree._Element,
    config: etree._Element,
    *,
    default_operation: str = "merge",
    error_option: str = "stop-on-error",
) -> Tuple[etree._Element, List[Tuple[etree._Element, str]]]:
    """
    Apply *config* to *target* according to *error_option*.

    Returns the new root (either *target*, edited in place, or a copy) and
    the list of top-level edits.  Raises :class:`NetconfError` or
    :class:`NetconfErrors`; with ``stop-on-error`` and ``continue-on-error``
    *target* then holds the changes made before (or besides) the errors, with
    ``rollback-on-error`` it is untouched.
    """
    rollback = error_option == "rollback-on-error"
    work = deepcopy(target) if rollback else target
    editor = Editor(continue_on_error=error_option == "continue-on-error")
    editor.apply(work, config, default_operation)
    if editor.errors:
        if len(editor.errors) == 1:
            raise editor.errors[0]
        raise NetconfErrors(editor.errors)
    return work, editor.changes


def merge_into(target: etree._Element, source: etree._Element) -> None:
    """Merge the children of *source* into *target* (used for state data)."""
    Editor().apply(target, source, "merge")

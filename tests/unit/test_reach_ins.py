"""Every use of a private attribute of ncclient, paramiko or Twisted is in ``_compat.py``
or listed there (``INHERITED``), and what is listed exists in the installed versions."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pathlib
import textwrap
from typing import Dict, Iterator, List, Set, Tuple

from ncclient_twisted import _compat

PACKAGE = pathlib.Path(_compat.__file__).parent
FOREIGN = ("ncclient", "paramiko", "twisted")
#: The embedded server (``testing/``) is a server, not the client: it is left out.
SKIPPED = ("testing",)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _foreign(cls: type) -> bool:
    return (cls.__module__ or "").split(".")[0] in FOREIGN


def _name_of(cls: type) -> str:
    return "%s.%s" % (cls.__module__, cls.__qualname__)


def _self_uses(cls: type) -> Dict[str, int]:
    """The private names *cls*'s own body uses on ``self`` (attributes, ``getattr(self,
    "_x")``) or defines (methods, class attributes), with a line of each."""
    try:
        lines, first = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    tree = ast.parse(textwrap.dedent("".join(lines)))
    found: Dict[str, int] = {}
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    for node in body.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _private(node.name):
            found.setdefault(node.name, first + node.lineno - 1)
    for node in ast.walk(body):
        name = None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            name = node.attr
        elif _is_getattr_on(node, "self"):
            name = node.args[1].value  # type: ignore[attr-defined]
        if name is not None and _private(name):
            found.setdefault(name, first + node.lineno - 1)
    return found


def _is_getattr_on(node: ast.AST, obj: str = "") -> bool:
    """``getattr(x, "_name", ...)`` / ``hasattr`` / ``setattr`` (on ``obj`` if given)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr", "setattr")
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
        and (not obj or (isinstance(node.args[0], ast.Name) and node.args[0].id == obj))
    )


@functools.lru_cache(maxsize=None)
def _privates(cls: type) -> Set[str]:
    """The private names a foreign class defines or sets on ``self``."""
    names = {n for n in vars(cls) if _private(n)}
    return names | set(_self_uses(cls))


def _modules() -> Iterator[object]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[1] in SKIPPED or parts[-1] == "__main__":
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield importlib.import_module(name)


def _our_classes() -> Iterator[type]:
    for module in _modules():
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == module.__name__:  # type: ignore[attr-defined]
                yield obj


def inherited_uses() -> Dict[Tuple[str, str], List[str]]:
    """(foreign class that brings it in, private name) -> where our classes use it as
    their own."""
    uses: Dict[Tuple[str, str], List[str]] = {}
    for cls in _our_classes():
        foreign = [b for b in cls.__mro__ if _foreign(b)]
        if not foreign:
            continue
        for ours in (b for b in cls.__mro__ if not _foreign(b) and b is not object):
            for name, line in _self_uses(ours).items():
                owner = next((f for f in reversed(foreign) if name in _privates(f)), None)
                if owner is not None:
                    where = "%s:%d" % (inspect.getsourcefile(ours), line)
                    uses.setdefault((_name_of(owner), name), []).append(where)
    return uses


def test_every_inherited_private_in_use_is_listed_in_compat() -> None:
    missing = {
        key: where
        for key, where in inherited_uses().items()
        if key[1] not in _compat.INHERITED.get(key[0], ())
    }
    assert not missing, "list these in _compat.INHERITED (with the versions checked): %r" % missing


def test_every_listed_private_exists_in_the_installed_versions() -> None:
    absent = []
    for owner, names in _compat.INHERITED.items():
        module, _, qualname = owner.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), qualname)
        except (ImportError, AttributeError):
            absent.append(owner)  # ncclient 0.6.x has no TLS session: only then
            continue
        absent.extend("%s.%s" % (owner, n) for n in sorted(names - _privates(cls)))
    assert not absent, absent


def _is_super(node: ast.AST) -> bool:
    """``super()``, or ``cast(T, super())``."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        return False
    if node.func.id == "cast" and len(node.args) == 2:
        return _is_super(node.args[1])
    return node.func.id == "super"


def _foreign_private_names() -> Set[str]:
    names: Set[str] = set()
    for cls in _our_classes():
        for base in cls.__mro__:
            if _foreign(base):
                names |= _privates(base)
    return names


def test_no_private_of_ncclient_paramiko_or_twisted_on_other_objects() -> None:
    """Outside ``_compat.py`` no ``obj._x`` (obj not ``self``) names a private of theirs,
    but those of our own classes listed here."""
    #: Names of theirs too, that these places use on objects of our classes.
    ours = {
        ("service.py", "_connected"),  # ManagerService's transition table
    }
    theirs = _foreign_private_names()
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in SKIPPED or path.name == "_compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name, obj = None, None
            if isinstance(node, ast.Attribute):
                name, obj = node.attr, node.value
            elif _is_getattr_on(node):
                name, obj = node.args[1].value, node.args[0]  # type: ignore[attr-defined]
            if name is None or not _private(name) or name not in theirs:
                continue
            if isinstance(obj, ast.Name) and obj.id in ("self", "cls"):
                continue
            if _is_super(obj):
                continue
            if (path.name, name) not in ours:
                found.append("%s:%d %s" % (rel, node.lineno, name))
    assert not found, "route these through _compat.py: %s" % found

"""README.md and docs/*.md stay true: every python block compiles, every path they name
exists (a ``file.py::test_name`` names a test that exists), and the performance figures are
the ones docs/figures.py generates from benchmarks/RESULTS.json.

The blocks that can run are run against the embedded server or netconfd by
tests/embedded/test_readme.py, test_readme_transports.py, test_asyncio_reactor.py,
tests/netconfd/test_readme_netconfd.py, tests/unit/test_logging.py and test_cli_unit.py.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Iterator, List, Optional, Set, Tuple

import pytest

from tests.support.readme import DOCS, ROOT, blocks, fenced, pages

REPO_PATH = re.compile(r"`((?:tests|examples|benchmarks|ncclient_twisted|docs)/[^`\s]*)`")
BARE_TEST = re.compile(r"`(test_\w+\.py)::(\w+)")
CONTINUED = re.compile(r"`::(\w+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _ids(paths: List[Path]) -> List[str]:
    return [p.name for p in paths]


@pytest.mark.parametrize("page", pages(), ids=_ids(pages()))
def test_every_python_block_compiles(page: Path) -> None:
    for code in blocks(page.read_text()):
        # Blocks show awaits at top level, as in a coroutine's body.
        compile(code, str(page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _prose(page: Path) -> str:
    """The page without its fenced blocks: shell lines name files a reader would create."""
    text = page.read_text()
    for _, code in fenced(text):
        text = text.replace(code, "")
    return text


def _anchors(page: Path) -> Set[str]:
    """The anchors of *page*'s headings, as GitHub and MyST make them."""
    return {
        re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        for m in re.finditer(r"^#+ (.*)$", _prose(page), re.M)
    }


def _test_names(path: Path) -> Set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _named(page: Path) -> Iterator[Tuple[str, Optional[str]]]:
    """(repo path, test name or None) for each path the page names, in order."""
    for line in _prose(page).splitlines():
        last: Optional[str] = None
        for m in re.finditer(REPO_PATH.pattern + "|" + BARE_TEST.pattern + "|" + CONTINUED.pattern, line):
            if m.group(1):
                path, _, test = m.group(1).partition("::")
                last = path
                yield path, test or None
            elif m.group(2):
                found = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob(m.group(2)))
                assert found, "%s names %s, which is nowhere under tests/" % (page.name, m.group(2))
                # The file of that name that holds the test, where several have the name.
                last = next((f for f in found if m.group(3) in _test_names(ROOT / f)), found[0])
                yield last, m.group(3)
            else:
                assert last, "%s: %r follows no file" % (page.name, m.group(0))
                yield last, m.group(4)


@pytest.mark.parametrize("page", pages(), ids=_ids(pages()))
def test_every_path_named_exists(page: Path) -> None:
    missing = []
    for path, test in _named(page):
        if path.startswith("docs/_build"):
            continue  # what make docs writes
        target = ROOT / path.rstrip("/")
        if "*" in path:
            if not list(ROOT.glob(path)):
                missing.append(path)
        elif not target.exists():
            missing.append(path)
        elif test is not None and test.split("[")[0] not in _test_names(target):
            missing.append("%s::%s" % (path, test))
    for link in LINK.findall(_prose(page)):
        if re.match(r"^[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        path = page.parent / target if target else page
        if not path.exists():
            missing.append(link)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            missing.append(link)
    assert missing == [], "%s names what does not exist" % page.name


def test_the_paths_check_sees_the_tables_test_names() -> None:
    named = list(_named(DOCS / "guarantees.md"))
    test = "test_a_base10_stream_without_end_of_message_ends_at_the_limit"
    assert ("tests/adversarial/test_limits.py", test) in named


def _figures() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_figures", DOCS / "figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_performance_figures_are_generated_from_results_json() -> None:
    figures = _figures()
    page = (DOCS / "performance.md").read_text()
    assert page.count("<!-- figures: end -->") == 2
    data = json.loads((ROOT / "benchmarks" / "RESULTS.json").read_text())
    assert figures.render(page, data) == page, "run python docs/figures.py"


#: A measured figure: a decimal with a unit, a rate, or a ratio.
FIGURE = re.compile(r"\d+\.\d+ ?(?:ms|s|KiB|MiB)\b|\d[\d,]* ?(?:RPC/s|requests/s)|\d+(?:\.\d+)?×")


#: Figures that are constants, each checked against its code below: the reactor's work
#: slice, and ncclient's session TICK (which paramiko's socket poll matches).
CONSTANTS = {"0.5 ms", "0.1 s"}

#: docs/upstream.md is about the upstream patches, measured against ncclient itself.
CHECKED = [p for p in pages() if p.name != "upstream.md"]


@pytest.mark.parametrize("page", CHECKED, ids=_ids(CHECKED))
def test_no_hand_typed_benchmark_figures(page: Path) -> None:
    text = re.sub(r"<!-- figures: \w+ -->.*?<!-- figures: end -->", "", page.read_text(), flags=re.S)
    assert [f for f in FIGURE.findall(text) if f not in CONSTANTS] == []


def test_the_constants_the_docs_name_are_the_code_s() -> None:
    from ncclient.transport.session import TICK

    from ncclient_twisted.transport.reactor.scheduler import WORK_SLICE

    assert (WORK_SLICE, TICK) == (0.0005, 0.1)


def test_the_work_budget_the_docs_name_is_the_schedulers() -> None:
    """Every "N ms (of work) per reactor turn" is the WorkScheduler's slice."""
    from ncclient_twisted.transport.reactor.scheduler import WORK_SLICE

    named = [
        (page.name, float(ms))
        for page in pages()
        for ms in re.findall(r"(\d+(?:\.\d+)?) ms (?:of work )?(?:per reactor turn|a turn)",
                             re.sub(r"\s+", " ", page.read_text()))
    ]
    assert len(named) >= 5
    assert [(name, ms) for name, ms in named if ms != WORK_SLICE * 1000] == []

"""docs/transports.md's TLS and call-home examples run as written (on pytest-twisted's reactor)."""

from __future__ import annotations

import re
from typing import Any, Dict

import pytest
import pytest_twisted
from twisted.internet import defer

from tests.support.readme import DOCS, doc_block

TRANSPORTS = DOCS / "transports.md"


def example(heading: str) -> str:
    """The first python block under *heading*, without its ``task.react`` line."""
    block = doc_block(TRANSPORTS, heading)
    assert "task.react(" in block
    return re.sub(r"^task\.react\(.*$", "", block, flags=re.M)


@pytest.mark.parametrize("heading", ["## TLS", "## Call home"])
@pytest_twisted.ensureDeferred
async def test_docs_example_runs(heading: str, capsys: Any) -> None:
    from twisted.internet import reactor

    namespace: Dict[str, Any] = {}
    exec(compile(example(heading), str(TRANSPORTS), "exec"), namespace)
    await defer.ensureDeferred(namespace["main"](reactor)).addTimeout(30, reactor)
    assert capsys.readouterr().out.strip() == "True"

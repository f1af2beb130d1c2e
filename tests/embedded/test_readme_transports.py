"""The README's TLS and call-home examples run as written (on pytest-twisted's reactor)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict

import pytest
import pytest_twisted
from twisted.internet import defer

README = Path(__file__).resolve().parents[2] / "README.md"


def example(heading: str) -> str:
    """The first python block under *heading*, without its ``task.react`` line."""
    section = README.read_text().split("\n" + heading + "\n", 1)[1]
    block = section.split("```python\n")[1].split("```", 1)[0]
    assert "task.react(" in block
    return re.sub(r"^task\.react\(.*$", "", block, flags=re.M)


@pytest.mark.parametrize("heading", ["## TLS", "## Call home"])
@pytest_twisted.ensureDeferred
async def test_readme_example_runs(heading: str, capsys: Any) -> None:
    from twisted.internet import reactor

    namespace: Dict[str, Any] = {}
    exec(compile(example(heading), str(README), "exec"), namespace)
    await defer.ensureDeferred(namespace["main"](reactor)).addTimeout(30, reactor)
    assert capsys.readouterr().out.strip() == "True"

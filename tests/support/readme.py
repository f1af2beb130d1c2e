"""The README's code blocks, for the tests that run them."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(heading: str, index: int = 0) -> str:
    """The *index*-th python code block under the README's *heading*."""
    section = README.read_text().split(heading, 1)[1]
    return section.split("```python\n")[index + 1].split("```", 1)[0]

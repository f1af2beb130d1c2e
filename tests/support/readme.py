"""The code blocks of README.md and docs/*.md, for the tests that check and run them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"



def pages() -> List[Path]:
    """README.md and every page of docs/."""
    return [README] + sorted(DOCS.glob("*.md"))


def section(page: Path, heading: str) -> str:
    """The text under *heading* (a whole line: ``## TLS``) up to the next heading of its level or above."""
    text = "\n" + page.read_text()
    level = len(heading) - len(heading.lstrip("#"))
    body = text.split("\n" + heading + "\n", 1)[1]
    kept: List[str] = []
    in_code = False
    for line in body.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"^#{1,%d} " % level, line):
            break
        kept.append(line)
    return "".join(kept)


def fenced(text: str) -> List[Tuple[str, str]]:
    """(info string, code) of every fenced block of *text*, indented ones (in list items) dedented."""
    found: List[Tuple[str, str]] = []
    lines = iter(text.splitlines(keepends=True))
    for line in lines:
        opening = re.match(r"^( *)```(\S*)", line)
        if not opening:
            continue
        indent, info, code = opening.group(1), opening.group(2), []
        for inner in lines:
            if inner.strip() == "```" and inner.startswith(indent + "```"):
                break
            code.append(inner[len(indent):] if inner.startswith(indent) else inner)
        found.append((info, "".join(code)))
    return found


def blocks(text: str, language: str = "python") -> List[str]:
    """The code blocks of *text* in *language*, in order."""
    return [code for info, code in fenced(text) if info == language]


def doc_block(page: Path, heading: str, index: int = 0, language: str = "python") -> str:
    """The *index*-th *language* code block under *heading* of *page*."""
    return blocks(section(page, heading), language)[index]


def readme_block(heading: str, index: int = 0) -> str:
    """The *index*-th python code block under the README's *heading*."""
    return doc_block(README, heading, index)

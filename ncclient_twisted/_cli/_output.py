"""What a command prints and writes: replies, per-device files, JSON lines, failures.

Standard output carries the replies (``--format xml``, pretty-printed; with several
devices each is preceded by an ``<!-- device -->`` comment) or one JSON summary line per
device (``--format json``: host, port, name, ok, error, ``latency_s`` in seconds, and the
reply: under ``reply`` without ``--out``, else its ``file``). With ``--out DIR`` each
device's reply goes to ``DIR/<device>.xml`` instead of standard output.
Standard error carries progress, the failures (``FAILED device: reason``) and, for several
devices, a summary line. Nothing here ever sees a password.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, TextIO

from lxml import etree

from ncclient_twisted import defer_to_pool
from ncclient_twisted._types import ICommandReactor
from ncclient_twisted.inventory import Target

__all__ = ["Outcome", "Output", "pretty_xml", "pretty", "store_outcome"]

_PARSER = etree.XMLParser(remove_blank_text=True, resolve_entities=False, huge_tree=True)


def pretty_xml(text: str) -> str:
    """*text* re-indented (unchanged if it is not XML); run it off the reactor."""
    try:
        root = etree.fromstring(text.encode("utf-8") if isinstance(text, str) else text, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return text if text.endswith("\n") else text + "\n"
    return etree.tostring(root, pretty_print=True, encoding="unicode")


#: Texts up to this many characters are re-indented on the reactor thread (well under a
#: millisecond); larger ones on a pool thread. The handoff to the pool and back costs more
#: than re-indenting a small reply, and most replies and notifications are small.
PRETTY_ON_REACTOR_MAX = 16 * 1024


async def pretty(reactor: ICommandReactor, text: str) -> str:
    """:func:`pretty_xml` of *text*, never holding the reactor more than a moment."""
    if len(text) <= PRETTY_ON_REACTOR_MAX:
        return pretty_xml(text)
    return str(await defer_to_pool(reactor, pretty_xml, text))


#: Files up to this many characters are written on the reactor thread (a tenth of a
#: millisecond on a local disk, its page cache); larger ones on a pool thread. The handoff to
#: a pool thread and back costs a run over many devices more than the write: each is a
#: switch of the GIL from the busy reactor thread and back.
WRITE_ON_REACTOR_MAX = 16 * 1024


async def store_outcome(reactor: ICommandReactor, output: "Output", outcome: "Outcome") -> None:
    """:meth:`Output.store` of *outcome*, never holding the reactor more than a moment."""
    if outcome.output is not None and len(outcome.output) <= WRITE_ON_REACTOR_MAX:
        output.store(outcome)
    else:
        await defer_to_pool(reactor, output.store, outcome)


@dataclass
class Outcome:
    """How one device did."""

    target: Target
    ok: bool
    error: Optional[str] = None
    latency: Optional[float] = None
    output: Optional[str] = None
    file: Optional[str] = None
    count: Optional[int] = None

    def summary(self, with_reply: bool = False) -> Dict[str, Any]:
        """The JSON line of ``--format json``; *with_reply* adds the reply's text (no ``--out``)."""
        d: Dict[str, Any] = {
            "host": self.target.host,
            "port": self.target.port,
            "name": self.target.name,
            "ok": self.ok,
            "error": self.error,
            "latency_s": round(self.latency, 6) if self.latency is not None else None,
        }
        if with_reply and self.output is not None:
            d["reply"] = self.output
        if self.file is not None:
            d["file"] = self.file
        if self.count is not None:
            d["notifications"] = self.count
        return d


def _write_file(path: str, text: str, append: bool = False) -> None:
    tmp = path + ".tmp"
    if append:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
        return
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class Output:
    """Where results go; one per command run."""

    def __init__(
        self,
        fmt: str = "xml",
        out_dir: Optional[str] = None,
        quiet: bool = False,
        suffix: str = ".xml",
        stdout: Optional[TextIO] = None,
        stderr: Optional[TextIO] = None,
    ) -> None:
        self.fmt = fmt
        self.out_dir = out_dir
        self.quiet = quiet
        self.suffix = suffix
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr

    def path_for(self, target: Target) -> Optional[str]:
        if self.out_dir is None:
            return None
        return os.path.join(self.out_dir, target.file_stem + self.suffix)

    def prepare(self) -> None:
        """Create ``--out DIR`` (before the reactor runs)."""
        if self.out_dir is not None:
            os.makedirs(self.out_dir, exist_ok=True)

    def store(self, outcome: Outcome, append: bool = False) -> None:
        """Write *outcome*'s output to its file, if ``--out`` (blocking: on a pool thread).

        The text is then dropped from the outcome (its summary names the file): a backup
        of thousands of devices keeps no configuration in memory once it is written."""
        path = self.path_for(outcome.target)
        if path is not None and outcome.output is not None:
            _write_file(path, outcome.output, append)
            outcome.file = path
            outcome.output = None

    def append(self, target: Target, text: str) -> None:
        """Append a streamed item to the device's file (blocking: on a pool thread)."""
        path = self.path_for(target)
        if path is not None:
            _write_file(path, text, append=True)

    def stream(self, target: Target, text: str, several: bool, record: Dict[str, Any]) -> None:
        """Print one streamed item (a notification) as it arrives."""
        if self.fmt == "json":
            self.stdout.write(
                json.dumps(dict(host=target.host, port=target.port, name=target.name, **record)) + "\n"
            )
        else:
            if several:
                self.stdout.write("<!-- %s -->\n" % target.label)
            self.stdout.write(text)
        self.stdout.flush()

    def finish(self, outcomes: Sequence[Outcome], wall: float, interrupted: bool = False) -> int:
        """Print the results, failures and summary; the exit status."""
        several = len(outcomes) > 1
        for o in outcomes:
            if self.fmt == "json":
                self.stdout.write(json.dumps(o.summary(with_reply=self.out_dir is None)) + "\n")
            elif o.ok and o.output is not None and self.out_dir is None:
                if several:
                    self.stdout.write("<!-- %s -->\n" % o.target.label)
                self.stdout.write(o.output)
        self.stdout.flush()
        failed: List[Outcome] = [o for o in outcomes if not o.ok]
        for o in failed:
            self.stderr.write("FAILED %s: %s\n" % (o.target.label, o.error))
        if several and not self.quiet:
            self.stderr.write(
                "%d devices: %d ok, %d failed, %.2f s\n" % (
                    len(outcomes), len(outcomes) - len(failed), len(failed), wall
                )
            )
        self.stderr.flush()
        if interrupted:
            return 130
        return 1 if failed else 0

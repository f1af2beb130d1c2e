"""The machine and software the figures were measured on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from typing import List, Optional, Tuple

__all__ = ["collect", "PACKAGES"]

#: (label, distribution name) of the Python packages that matter to the figures.
PACKAGES: Tuple[Tuple[str, str], ...] = (
    ("ncclient_twisted", "ncclient-twisted"),
    ("ncclient", "ncclient"),
    ("paramiko", "paramiko"),
    ("twisted", "twisted"),
    ("netconf_client", "netconf-client"),
    ("lxml", "lxml"),
    ("cryptography", "cryptography"),
)
#: (label, Debian package) of the server side.
SERVER_PACKAGES: Tuple[Tuple[str, str], ...] = (
    ("netconfd (yuma123)", "netconfd"),
    ("OpenSSH server", "openssh-server"),
)


def _first_line_with(path: str, prefix: str) -> Optional[str]:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _deb_version(package: str) -> str:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "not installed"


def _git(*args: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(["git", "-C", root] + list(args), capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _source_version() -> str:
    """The commit the measured ncclient_twisted comes from, and whether it was modified."""
    head = _git("log", "-1", "--format=%h %s")
    if not head:
        return "unknown (not a git checkout)"
    dirty = _git("status", "--porcelain", "--", "ncclient_twisted")
    return "git %s%s" % (head, " (+ uncommitted changes in ncclient_twisted/)" if dirty else "")


def collect() -> List[Tuple[str, str]]:
    """(label, value) pairs, in display order."""
    mem_kb = (_first_line_with("/proc/meminfo", "MemTotal") or "0 kB").split()[0]
    mem = "%.1f GiB" % (int(mem_kb) / 1024 ** 2) if mem_kb.isdigit() and int(mem_kb) else None
    info: List[Tuple[str, str]] = [
        ("CPU", _first_line_with("/proc/cpuinfo", "model name") or platform.processor()),
        ("Cores", "%d logical, %d usable by this process"
         % (os.cpu_count() or 0, len(os.sched_getaffinity(0)))),
        ("Memory", mem or "unknown"),
        ("OS", _os_name()),
        ("Kernel", platform.release()),
        ("Python", "%s %s" % (platform.python_implementation(), sys.version.split()[0])),
        ("GIL switch interval", "%g ms" % (sys.getswitchinterval() * 1000)),
    ]
    info += [(label, _version(dist)) for label, dist in PACKAGES]
    info.append(("ncclient_twisted source", _source_version()))
    info += [(label, _deb_version(pkg)) for label, pkg in SERVER_PACKAGES]
    return info

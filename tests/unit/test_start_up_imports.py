"""What ``from ncclient_twisted import manager`` loads: the default transport's modules
(Conch's among them) and ncclient's default device handler, at the program's start-up,
so that the first connect imports nothing on the reactor thread (25-60 ms it would stall
every other connection). Checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

LOADED_AT_START_UP = [
    "ncclient.devices.default",
    "ncclient_twisted.transport.reactor.ssh_connector",
    "ncclient_twisted.transport.reactor.ssh",
    "ncclient_twisted.transport.reactor.session",
    "ncclient_twisted.transport.reactor.userauth",
    "ncclient_twisted.transport.reactor.keys",
    "twisted.conch.ssh.transport",
    "twisted.conch.ssh.connection",
    "twisted.conch.ssh.userauth",
    "twisted.internet.endpoints",
]


def test_the_default_transport_loads_with_the_manager() -> None:
    code = (
        "import json, sys\n"
        "from ncclient_twisted import manager\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = set(json.loads(out.stdout))
    assert [m for m in LOADED_AT_START_UP if m not in loaded] == []

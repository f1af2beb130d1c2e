"""Unit tests of the command's own logic: inventories, credentials, messages, output, progress, help."""

from __future__ import annotations

import io
import json
import socket
import threading
from pathlib import Path
from typing import Any, List

import click
import pytest
import pytest_twisted
from click.testing import CliRunner
from ncclient.operations import RPCError, TimeoutExpiredError
from ncclient.transport.errors import AuthenticationError, SSHUnknownHostError
from ncclient.xml_ import to_ele
from twisted.internet import defer

from ncclient_twisted._cli import cli, exit_status
from ncclient_twisted._cli._credentials import CredentialError, CredentialOptions, resolve
from ncclient_twisted._cli._errors import describe
from ncclient_twisted._cli._operations import config_element, rpc_element
from ncclient_twisted._cli._output import (
    PRETTY_ON_REACTOR_MAX,
    WRITE_ON_REACTOR_MAX,
    Outcome,
    Output,
    pretty,
    pretty_xml,
    store_outcome,
)
from ncclient_twisted._cli._progress import PlainProgress, Progress, make_progress
from ncclient_twisted._cli._subscribe import parse_until
from ncclient_twisted.inventory import InventoryError, Target, parse_inventory
from ncclient_twisted.transport.errors import HostResolutionError
from tests.support.cli import cli_env, run_cli_sync
from tests.support.readme import DOCS, doc_block

# -- inventories -----------------------------------------------------------------------------


def test_yaml_inventory_with_defaults() -> None:
    targets = parse_inventory(
        """
defaults: {username: admin, credentials: "env:PW"}
devices:
  - host: 192.0.2.1
  - {host: 192.0.2.2, port: 2022, name: edge, device_params: {name: junos}, username: ops}
  - 192.0.2.3
""",
        "lab.yaml",
    )
    assert targets == [
        Target("192.0.2.1", 830, "admin", "env:PW"),
        Target("192.0.2.2", 2022, "ops", "env:PW", {"name": "junos"}, "edge"),
        Target("192.0.2.3", 830, "admin", "env:PW"),
    ]
    assert targets[1].label == "edge (192.0.2.2:2022)"
    assert targets[0].label == "192.0.2.1:830"
    assert targets[0].file_stem == "192.0.2.1_830"


def test_csv_inventory() -> None:
    targets = parse_inventory(
        "# a comment\nhost, port, username, credentials, device_params\n"
        "r1, 830, admin, key:~/.ssh/id_ed25519, junos\n"
        'r2,,, agent, "{""name"": ""nexus""}"\n',
        "devices.csv",
    )
    assert targets == [
        Target("r1", 830, "admin", "key:~/.ssh/id_ed25519", {"name": "junos"}),
        Target("r2", 830, None, "agent", {"name": "nexus"}),
    ]


@pytest.mark.parametrize(
    "text, source, message",
    [
        ("devices: []", "x.yaml", "no devices"),
        ("- {port: 830}", "x.yaml", "device 1: no host"),
        ("- {host: a, port: seventy}", "x.yaml", "port 'seventy' is not a number"),
        ("- {host: a, port: 70000}", "x.yaml", "out of range"),
        ("- {host: a, password: hunter2}", "x.yaml", "unknown field(s) password"),
        ("- {host: a}\n- {host: a}", "x.yaml", "listed twice"),
        ("name,port\nx,1\n", "x.csv", "host among them"),
        ("host\na,b\n", "x.csv", "line 2: more values"),
        ("[unclosed", "x.yaml", "not valid YAML"),
    ],
)
def test_bad_inventories(text: str, source: str, message: str) -> None:
    with pytest.raises(InventoryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_inventory(text, source)


# -- credentials ----------------------------------------------------------------------------------


def no_prompt(username: str) -> str:
    raise AssertionError("no prompt expected")


def test_credential_references(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PW", "from-env")
    (tmp_path / "pw").write_text("from-file\n")
    (tmp_path / "key").write_text("not really a key")
    opts = CredentialOptions()
    assert resolve("env:PW", "u", opts, no_prompt).password == "from-env"
    assert resolve("file:%s" % (tmp_path / "pw"), "u", opts, no_prompt).password == "from-file"
    key = resolve("key:%s" % (tmp_path / "key"), "u", opts, no_prompt)
    assert key.key_filename == str(tmp_path / "key") and key.password is None
    assert resolve("agent", "u", opts, no_prompt).connect_kwargs() == {
        "allow_agent": True, "look_for_keys": True
    }
    assert resolve("prompt", "u", opts, lambda u: "typed-" + u).password == "typed-u"
    assert "from-env" not in repr(resolve("env:PW", "u", opts, no_prompt))
    for bad, message in [("env:NOPE", "NOPE is not set"), ("file:/nonexistent/pw", "cannot read"),
                         ("key:/nonexistent/key", "does not exist"),
                         ("vault:x", "unknown credentials")]:  # fmt: skip
        with pytest.raises(CredentialError, match=message):
            resolve(bad, "u", opts, no_prompt)


def test_credentials_from_options(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("NCCLIENT_TWISTED_PASSWORD", raising=False)
    monkeypatch.setenv("MY_PW", "x")
    assert resolve(None, "u", CredentialOptions(password_env="MY_PW"), no_prompt).password == "x"
    assert resolve(None, "u", CredentialOptions(), no_prompt).agent  # like ssh: agent and ~/.ssh keys
    monkeypatch.setenv("NCCLIENT_TWISTED_PASSWORD", "default-env")
    creds = resolve(None, "u", CredentialOptions(), no_prompt)
    assert creds.password == "default-env"
    assert creds.connect_kwargs() == {"allow_agent": False, "look_for_keys": False, "password": "default-env"}


# -- messages -------------------------------------------------------------------------------------


def test_one_line_descriptions() -> None:
    rpc_error = RPCError(to_ele(
        '<rpc-error xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><error-type>protocol</error-type>'
        "<error-tag>lock-denied</error-tag><error-severity>error</error-severity>"
        "<error-message>held by 7</error-message></rpc-error>"
    ))  # fmt: skip
    assert describe(rpc_error) == "rpc-error: lock-denied: held by 7"
    assert describe(AuthenticationError("bad things")) == "authentication failed: bad things"
    assert describe(TimeoutExpiredError("x"), 2.5) == "timeout after 2.5 s"
    assert describe(ConnectionRefusedError(111, "Connection refused")) == "connection refused"
    assert describe(
        socket.gaierror(-2, "Name or service not known")
    ) == "could not resolve hostname: Name or service not known"
    assert describe(
        HostResolutionError.of("h.invalid", -2, "Name or service not known")
    ) == "Could not resolve hostname h.invalid: Name or service not known"
    assert describe(SSHUnknownHostError("[h]:830", "aa:bb")).startswith("host key not trusted (MD5 aa:bb)")
    assert describe(ValueError("odd\nsecond line")) == "ValueError: odd"


# -- output ---------------------------------------------------------------------------------------


def test_pretty_xml() -> None:
    assert pretty_xml("<a><b>x</b></a>") == "<a>\n  <b>x</b>\n</a>\n"
    assert pretty_xml("not xml") == "not xml\n"


def test_small_replies_are_reindented_without_the_pool() -> None:
    # No reactor is given: a small text must not be handed to a pool thread at all.
    d = defer.ensureDeferred(pretty(None, "<a><b>x</b></a>"))  # type: ignore[arg-type]
    assert d.called and d.result == "<a>\n  <b>x</b>\n</a>\n"


@pytest_twisted.ensureDeferred
async def test_large_replies_are_reindented_on_a_pool_thread(monkeypatch: Any) -> None:
    from twisted.internet import reactor

    from ncclient_twisted._cli import _output

    threads: List[int] = []

    def spy(text: str) -> str:
        threads.append(threading.get_ident())
        return pretty_xml(text)

    monkeypatch.setattr(_output, "pretty_xml", spy)
    small = "<a><b>x</b></a>"
    big = "<a>" + "<b>x</b>" * (PRETTY_ON_REACTOR_MAX // 8) + "</a>"
    assert await pretty(reactor, small) == pretty_xml(small)
    assert await pretty(reactor, big) == pretty_xml(big)
    assert threads[0] == threading.get_ident() and threads[1] != threading.get_ident()


@pytest_twisted.ensureDeferred
async def test_small_files_are_written_on_the_reactor_large_ones_on_a_pool_thread(
    monkeypatch: Any, tmp_path: Any
) -> None:
    from twisted.internet import reactor

    from ncclient_twisted._cli import _output

    threads: List[int] = []
    write = _output._write_file

    def spy(path: str, text: str, append: bool = False) -> None:
        threads.append(threading.get_ident())
        write(path, text, append)

    monkeypatch.setattr(_output, "_write_file", spy)
    output = Output(out_dir=str(tmp_path))
    small = Outcome(Target("192.0.2.1", name="small"), True, output="<a/>")
    big = Outcome(Target("192.0.2.2", name="big"), True, output="x" * (WRITE_ON_REACTOR_MAX + 1))
    d = defer.ensureDeferred(store_outcome(reactor, output, small))
    assert d.called  # written at once, no handoff
    await d
    await store_outcome(reactor, output, big)
    assert threads[0] == threading.get_ident() and threads[1] != threading.get_ident()
    assert (tmp_path / "small.xml").read_text() == "<a/>" and small.output is None and small.file


@pytest.mark.parametrize("code, status", [(None, 0), (0, 0), (1, 1), (130, 130), ("boom", 1)])
def test_exit_status_of_system_exit(code: Any, status: int, capsys: Any) -> None:
    assert exit_status(code) == status
    assert capsys.readouterr().err == ("boom\n" if code == "boom" else "")


def test_config_and_rpc_elements() -> None:
    wrapped = config_element('<top xmlns="urn:t"/>')
    assert wrapped.tag == "{urn:ietf:params:xml:ns:netconf:base:1.0}config" and len(wrapped) == 1
    assert config_element('<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>').tag.endswith("config")
    op = rpc_element('<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>')
    assert op.tag == "{urn:ietf:params:xml:ns:netconf:base:1.0}get"
    with pytest.raises(click.BadParameter):
        rpc_element('<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/><get/></rpc>')


def test_finish_json_lines_failures_and_exit_status() -> None:
    out, err = io.StringIO(), io.StringIO()
    a, b = Target("a", name="A"), Target("b")
    status = Output("json", stdout=out, stderr=err).finish(
        [Outcome(a, True, latency=0.0012345678), Outcome(b, False, "authentication failed")], 1.0
    )
    assert status == 1
    first, second = [json.loads(line) for line in out.getvalue().splitlines()]
    assert first == {"host": "a", "port": 830, "name": "A", "ok": True, "error": None, "latency_s": 0.001235}
    assert second["error"] == "authentication failed"
    assert "FAILED b:830: authentication failed\n" in err.getvalue()
    assert "2 devices: 1 ok, 1 failed" in err.getvalue()
    assert Output(stdout=io.StringIO(), stderr=io.StringIO()).finish(
        [Outcome(a, True, output="<x/>\n")], 0
    ) == 0
    assert Output(stdout=io.StringIO(), stderr=io.StringIO()).finish([Outcome(a, False, "x")], 0, True) == 130


def test_xml_output_of_several_devices_is_labelled() -> None:
    out = io.StringIO()
    Output(stdout=out, stderr=io.StringIO()).finish(
        [Outcome(Target("a"), True, output="<x/>\n"), Outcome(Target("b"), True, output="<y/>\n")], 0
    )
    assert out.getvalue() == "<!-- a:830 -->\n<x/>\n<!-- b:830 -->\n<y/>\n"


# -- progress ------------------------------------------------------------------------------------


def test_plain_progress_lines() -> None:
    stream = io.StringIO()
    progress = make_progress(20, stream=stream)
    assert isinstance(progress, PlainProgress)
    for i in range(20):
        progress.advance(ok=i != 3)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "progress: 2/20 devices done, 0 failed"
    assert lines[-1] == "progress: 20/20 devices done, 1 failed"
    assert len(lines) == 10


def test_no_progress_when_quiet_or_single() -> None:
    assert type(make_progress(50, quiet=True, stream=io.StringIO())) is Progress
    assert type(make_progress(1, stream=io.StringIO())) is Progress


def test_rich_progress_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = make_progress(3, stream=stream, description="devices")
    for _ in range(3):
        progress.advance(ok=True)
    progress.close()
    assert type(progress).__name__ == "RichProgress"


# -- --until ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, seconds", [("90", 90), ("90s", 90), ("5m", 300), ("1h", 3600), ("0.5", 0.5)])
def test_until_durations(value: str, seconds: float) -> None:
    assert parse_until(value, now=0) == seconds


def test_until_time() -> None:
    assert parse_until("1970-01-01T00:01:40Z", now=40) == 60
    with pytest.raises(click.BadParameter):
        parse_until("tomorrow")


# -- help and usage errors ------------------------------------------------------------------------

SUBCOMMANDS = [
    "demo", "get", "get-config", "edit-config", "copy-config", "delete-config", "lock", "unlock",
    "commit", "discard-changes", "validate", "rpc", "capabilities", "subscribe", "serve",
]  # fmt: skip


def test_every_subcommand_is_there() -> None:
    assert sorted(cli.commands) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_help_of_every_subcommand_has_an_example(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert "ncclient-twisted %s" % name in result.output


def test_main_help_in_a_subprocess() -> None:
    r = run_cli_sync(["--help"], cli_env())
    assert r.code == 0, r
    for name in SUBCOMMANDS:
        assert name in r.out


@pytest.mark.parametrize(
    "args, message",
    [
        (["get-config"], "give the device"),
        (["get-config", "--host", "h", "--inventory", "x.yaml"], "not both"),
        (["get-config", "--inventory", "/nonexistent.yaml"], "/nonexistent.yaml"),
        (["get-config", "--host", "h", "--no-host-key-check", "--accept-new"], "cannot go with"),
        (["edit-config", "--host", "h", "--config", "<unclosed"], "not well-formed XML"),
        (["get", "--host", "h", "--filter", "<a/>", "--xpath", "/a"], "not both"),
        (["edit-config", "--host", "h", "--config", "<a/>", "--target", "running", "--commit"], "candidate"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: List[str], message: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


# -- docs/cli.md's examples ------------------------------------------------------------------------


def test_readme_inventory_examples_parse() -> None:
    page = DOCS / "cli.md"
    yaml_text = doc_block(page, "# The `ncclient-twisted` command", 0, "yaml")
    csv_text = doc_block(page, "# The `ncclient-twisted` command", 0, "text")  # (Pygments has no csv)
    from_yaml = parse_inventory(_dedent(yaml_text), "cli.yaml")
    from_csv = parse_inventory(_dedent(csv_text), "cli.csv")
    assert from_yaml == from_csv
    assert from_yaml[1] == Target("192.0.2.2", 2022, "admin", "key:~/.ssh/edge", {"name": "junos"}, "edge-2")


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)


def test_settle_start_up_freezes_with_both_transports_loaded() -> None:
    """Before a run over devices: both transports are loaded (with the manager), and what
    start-up made is frozen (the collector's full collections skip it)."""
    import gc
    import sys

    from ncclient_twisted._cli._runner import settle_start_up

    try:
        settle_start_up()
        for module in (
            "ncclient_twisted.transport.reactor.ssh_connector",
            "ncclient_twisted.transport.threads.connectors",
        ):
            assert module in sys.modules
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()

"""The NETCONF operation subcommands: get, get-config, edit-config ... rpc, capabilities."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Tuple

import click
from lxml import etree

from ncclient_twisted._types import ICommandReactor
from ncclient_twisted.inventory import Target

from ._common import Common, pass_common, read_xml_arg, run_action
from ._output import pretty
from ._runner import Action, Timer

__all__ = ["register"]

BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
DATASTORE = click.Choice(["running", "candidate", "startup"])

#: What a subcommand sends: a function of the manager returning the reply's Deferred.
Call = Callable[[Any], Any]


def reply_text(reply: Any, data: bool) -> str:
    if data and hasattr(reply, "data_xml"):
        return str(reply.data_xml)
    xml = getattr(reply, "xml", None)
    return str(xml if xml is not None else reply)


def reply_action(call: Call, data: bool = False) -> Callable[[Any], Action]:
    """An action that sends one RPC and prints its reply (the ``<data>`` for *data*)."""

    def make(reactor: ICommandReactor) -> Action:
        async def action(m: Any, timer: Timer, target: Target) -> Optional[str]:
            reply = await timer(call(m))
            return await pretty(reactor, reply_text(reply, data))

        return action

    return make


def _element(text: str) -> Any:
    return etree.fromstring(text.encode("utf-8"))


def _local(el: Any) -> str:
    return etree.QName(el).localname


def config_element(text: str) -> Any:
    """*text* as a ``<config>`` element (wrapped in one if it is not)."""
    el = _element(text)
    if _local(el) == "config":
        return el
    # None is lxml's key for the default namespace; lxml-stubs type nsmap keys as str only.
    wrapper = etree.Element("{%s}config" % BASE_NS, nsmap={None: BASE_NS})  # type: ignore[dict-item]
    wrapper.append(el)
    return wrapper


def rpc_element(text: str) -> Any:
    """The operation element of *text* (a bare operation or a whole ``<rpc>``)."""
    el = _element(text)
    if _local(el) == "rpc":
        children = [c for c in el if isinstance(c.tag, str)]
        if len(children) != 1:
            raise click.BadParameter("an <rpc> must hold exactly one operation", param_hint="RPC")
        return children[0]
    return el


def make_filter(
    subtree: Optional[str], xpath: Optional[str], ns: Sequence[str] = ()
) -> Optional[Tuple[str, Any]]:
    if subtree and xpath:
        raise click.UsageError("give --filter or --xpath, not both")
    if ns and not xpath:
        raise click.UsageError("--ns goes with --xpath")
    if subtree:
        return ("subtree", subtree)
    if xpath:
        nsmap = {}
        for item in ns:
            prefix, sep, uri = item.partition("=")
            if not sep or not prefix or not uri:
                raise click.BadParameter("%r is not PREFIX=URI" % item, param_hint="--ns")
            nsmap[prefix] = uri
        return ("xpath", (nsmap, xpath) if nsmap else xpath)
    return None


FILTER_OPTIONS = [
    click.option("--filter", "subtree", metavar="XML|@FILE",
                 help="A subtree filter (XML text, @FILE, or - for stdin)."),
    click.option("--xpath", metavar="EXPR", help="An XPath filter (the device must support :xpath)."),
    click.option("--ns", multiple=True, metavar="PREFIX=URI",
                 help="A namespace prefix of the --xpath (repeatable)."),
]


def with_filter(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(FILTER_OPTIONS):
        f = option(f)
    return f


def register(cli: click.Group) -> None:
    """Add the operation subcommands to *cli*."""

    @cli.command("get", epilog="""\b
Example:
  NCCLIENT_TWISTED_PASSWORD=admin ncclient-twisted get --host 192.0.2.1 -u admin \\
      --filter '<interfaces xmlns="urn:ietf:params:xml:ns:yang:ietf-interfaces"/>'""")
    @with_filter
    @pass_common()
    def get(common: Common, subtree: Optional[str], xpath: Optional[str], ns: Sequence[str]) -> None:
        """<get>: configuration and state data."""
        flt = make_filter(read_xml_arg(subtree, "--filter"), xpath, ns)
        run_action(common, reply_action(lambda m: m.get(filter=flt), data=True))

    @cli.command("get-config", epilog="""\b
Examples:
  ncclient-twisted get-config --inventory devices.yaml --out configs/ --source running
  ncclient-twisted get-config --host 192.0.2.1 -u admin --xpath /if:interfaces \\
      --ns if=urn:ietf:params:xml:ns:yang:ietf-interfaces""")
    @click.option("--source", type=DATASTORE, default="running", show_default=True, help="The datastore.")
    @with_filter
    @pass_common()
    def get_config(
        common: Common, source: str, subtree: Optional[str], xpath: Optional[str], ns: Sequence[str]
    ) -> None:
        """<get-config>: a datastore's configuration."""
        flt = make_filter(read_xml_arg(subtree, "--filter"), xpath, ns)
        run_action(common, reply_action(lambda m: m.get_config(source=source, filter=flt), data=True))

    @cli.command("edit-config", epilog="""\b
Example:
  ncclient-twisted edit-config --host 192.0.2.1 -u admin --key ~/.ssh/id_ed25519 \\
      --config @change.xml --commit""")
    @click.option("--config", "config_arg", required=True, metavar="XML|@FILE|-",
                  help="The configuration: <config> or its content, as text, @FILE, or - for stdin.")
    @click.option("--target", type=DATASTORE, default="candidate", show_default=True,
                  help="The datastore to edit.")
    @click.option("--default-operation", type=click.Choice(["merge", "replace", "none"]),
                  help="Default operation.")
    @click.option("--test-option", type=click.Choice(["test-then-set", "set", "test-only"]),
                  help="Test option.")
    @click.option("--error-option", type=click.Choice(
        ["stop-on-error", "continue-on-error", "rollback-on-error"]
    ),
                  help="Error option.")
    @click.option("--commit", "and_commit", is_flag=True,
                  help="Lock the target, edit, commit, unlock (all in one session; candidate only).")
    @pass_common()
    def edit_config(
        common: Common,
        config_arg: str,
        target: str,
        default_operation: Optional[str],
        test_option: Optional[str],
        error_option: Optional[str],
        and_commit: bool,
    ) -> None:
        """<edit-config>: change a datastore."""
        text = read_xml_arg(config_arg, "--config")
        assert text is not None
        if and_commit and target != "candidate":
            raise click.UsageError("--commit is for --target candidate")

        def edit(m: Any) -> Any:
            return m.edit_config(
                config=config_element(text),
                target=target,
                default_operation=default_operation,
                test_option=test_option,
                error_option=error_option,
            )

        if not and_commit:
            run_action(common, reply_action(edit))
            return

        def make(reactor: ICommandReactor) -> Action:
            async def action(m: Any, timer: Timer, t: Target) -> Optional[str]:
                await timer(m.lock(target))
                try:
                    await timer(edit(m))
                    reply = await timer(m.commit())
                except BaseException:
                    # All or nothing: drop the half-made change, then let go; the first
                    # error is the one reported.
                    if m.connected:
                        for undo in (m.discard_changes, lambda: m.unlock(target)):
                            try:
                                await undo()
                            except Exception:
                                pass
                    raise
                await timer(m.unlock(target))
                return await pretty(reactor, reply_text(reply, False))

            return action

        run_action(common, make)

    @cli.command("copy-config", epilog="""\b
Example:
  ncclient-twisted copy-config --inventory devices.csv --source running --target startup""")
    @click.option("--source", type=DATASTORE, required=True, help="The datastore to copy.")
    @click.option("--target", type=DATASTORE, required=True, help="The datastore to replace.")
    @pass_common()
    def copy_config(common: Common, source: str, target: str) -> None:
        """<copy-config>: replace a datastore with another."""
        run_action(common, reply_action(lambda m: m.copy_config(source=source, target=target)))

    @cli.command("delete-config", epilog="""\b
Example:
  ncclient-twisted delete-config --host 192.0.2.1 -u admin --target startup""")
    @click.option("--target", type=click.Choice(["startup", "candidate"]), required=True,
                  help="The datastore to delete.")
    @pass_common()
    def delete_config(common: Common, target: str) -> None:
        """<delete-config>: delete a datastore (never running)."""
        run_action(common, reply_action(lambda m: m.delete_config(target=target)))

    for name, verb in (("lock", "lock"), ("unlock", "unlock")):
        _lock_command(cli, name, verb)

    @cli.command("commit", epilog="""\b
Example:
  ncclient-twisted commit --inventory devices.yaml --confirmed --confirm-timeout 120""")
    @click.option("--confirmed", is_flag=True, help="A confirmed commit (:confirmed-commit).")
    @click.option("--confirm-timeout", type=click.IntRange(1, None),
                  help="Seconds before a confirmed commit is rolled back.")
    @click.option("--persist", metavar="ID",
                  help="Make the confirmed commit survive the session, under this id.")
    @click.option("--persist-id", metavar="ID", help="Confirm the persistent commit with this id.")
    @pass_common()
    def commit(
        common: Common,
        confirmed: bool,
        confirm_timeout: Optional[int],
        persist: Optional[str],
        persist_id: Optional[str],
    ) -> None:
        """<commit>: make the candidate the running configuration."""
        run_action(
            common,
            reply_action(
                lambda m: m.commit(
                    confirmed=confirmed, timeout=confirm_timeout, persist=persist, persist_id=persist_id
                )
            ),
        )

    @cli.command("discard-changes", epilog="""\b
Example:
  ncclient-twisted discard-changes --host 192.0.2.1 -u admin""")
    @pass_common()
    def discard_changes(common: Common) -> None:
        """<discard-changes>: reset the candidate to running."""
        run_action(common, reply_action(lambda m: m.discard_changes()))

    @cli.command("validate", epilog="""\b
Example:
  ncclient-twisted validate --host 192.0.2.1 -u admin --config @new.xml""")
    @click.option("--source", type=DATASTORE, default="candidate", show_default=True,
                  help="The datastore to validate.")
    @click.option("--config", "config_arg", metavar="XML|@FILE|-",
                  help="Validate this configuration instead.")
    @pass_common()
    def validate(common: Common, source: str, config_arg: Optional[str]) -> None:
        """<validate>: check a datastore or a configuration."""
        text = read_xml_arg(config_arg, "--config")
        run_action(
            common, reply_action(lambda m: m.validate(source=config_element(text) if text else source))
        )

    @cli.command("rpc", epilog="""\b
Examples:
  ncclient-twisted rpc --host 192.0.2.1 -u admin request.xml
  echo '<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">
          <identifier>ietf-interfaces</identifier></get-schema>' |
      ncclient-twisted rpc --host 192.0.2.1 -u admin -""")
    @click.argument("request", metavar="FILE|-", default="-")
    @pass_common()
    def rpc(common: Common, request: str) -> None:
        """Any RPC, from FILE or standard input (the operation or a whole <rpc>)."""
        text = read_xml_arg(request if request == "-" else "@" + request, "FILE")
        assert text is not None
        rpc_element(text)  # checked before connecting
        run_action(common, reply_action(lambda m: m.rpc(rpc_element(text))))

    @cli.command("capabilities", epilog="""\b
Example:
  ncclient-twisted capabilities --host 192.0.2.1 -u admin""")
    @pass_common(suffix=".txt")
    def capabilities(common: Common) -> None:
        """The device's capabilities (from its hello), one a line."""

        def make(reactor: ICommandReactor) -> Action:
            async def action(m: Any, timer: Timer, target: Target) -> Optional[str]:
                return "".join("%s\n" % c for c in m.server_capabilities)

            return action

        run_action(common, make)


def _lock_command(cli: click.Group, name: str, verb: str) -> None:
    @cli.command(name, epilog="""\b
Example:
  ncclient-twisted %s --inventory devices.yaml --target candidate""" % name)
    @click.option("--target", type=DATASTORE, default="candidate", show_default=True, help="The datastore.")
    @pass_common()
    def command(common: Common, target: str) -> None:
        run_action(common, reply_action(lambda m: getattr(m, verb)(target)))

    command.help = (
        "<lock>: check that a datastore can be locked (the lock ends with the session)."
        if verb == "lock"
        else "<unlock>: unlock a datastore (only a lock of this session can be)."
    )

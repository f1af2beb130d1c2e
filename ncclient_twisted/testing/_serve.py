"""
:func:`serve`: start a test server, with the parameters of :class:`NetconfServer`
(one definition of them) and their documentation.
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Callable

from twisted.internet.defer import Deferred

from ._server import NetconfServer

if TYPE_CHECKING:
    if sys.version_info >= (3, 10):
        from typing import ParamSpec
    else:
        from typing_extensions import ParamSpec
    _P = ParamSpec("_P")

def _starter(cls: "Callable[_P, NetconfServer]") -> "Callable[_P, Deferred[NetconfServer]]":
    """``serve`` from the server class: the same parameters, one definition of them."""

    def serve(*args: "_P.args", **kwargs: "_P.kwargs") -> "Deferred[NetconfServer]":
        return cls(*args, **kwargs).start()

    serve.__doc__ = _SERVE_DOC
    # help() and Sphinx show NetconfServer's parameters, and what serve returns.
    signature = inspect.signature(cls).replace(return_annotation="Deferred[NetconfServer]")
    serve.__signature__ = signature  # type: ignore[attr-defined]
    return serve


_SERVE_DOC = """
    Start a NETCONF test server; returns a Deferred firing with the
    :class:`NetconfServer` once it listens.  *reactor* must provide
    ``IReactorTCP`` and ``IReactorTime``.

    Keyword arguments (all optional; the same as :class:`NetconfServer`):

    - ``users``: ``{username: password}`` (default ``{"admin": "admin"}``).
    - ``authorized_keys``: ``{username: [key, ...]}``; keys are Conch keys,
      ``cryptography`` keys or OpenSSH public key lines.
    - ``host`` (default ``"127.0.0.1"``) and ``port`` (default 0: the OS picks).
    - ``host_key``: a private key (Conch, ``cryptography``, PEM text) or the
      path of a key file; default: an ed25519 key generated once per process
      and shared by all servers.
    - ``config``: initial running configuration (XML text or element, a
      ``<config>``/``<data>`` wrapper or one top-level element); candidate
      and startup start as copies.
    - ``state``: state data merged into the running config by ``<get>``.
    - ``base_versions``: advertised base versions, ``("1.0", "1.1")`` by
      default; ``("1.0",)`` forces end-of-message framing.
    - ``writable_running``, ``candidate``, ``startup``: enable the
      capabilities of those names (all True by default).
    - ``extra_capabilities``: more capability URIs for the hello.
    - ``max_chunk_size``: the largest chunk sent with base:1.1 framing.
    - ``clock``: an ``IReactorTime`` for confirmed-commit timeouts, fault
      delays and event times (default: the reactor; ``task.Clock`` in tests).
    - ``handlers``: custom RPCs, ``{"{namespace}name" or "name": handler}``;
      ``handler(session, operation_element)`` returns None (``<ok/>``), reply
      content as XML text or elements, or a Deferred of those, and may raise
      :class:`NetconfError`.
    - ``replay_log_size``: how many events the replay log keeps.
    - ``interleave``: advertise ``:interleave`` and RFC 8639 subscribed notifications
      (default True; False makes a server that only offers RFC 5277, and, as
      such a device does, answers a session with a subscription in force with
      an ``<rpc-error>`` to anything but ``<close-session>``).
    - ``tls``: :class:`Certificates` (see :func:`generate_certificates`) to
      serve NETCONF over TLS (RFC 7589) on ``tls_port`` too (default 0: the
      OS picks; ``server.tls_port``).  Clients must present a certificate
      signed by the CA; its common name is the username.  Needs pyOpenSSL
      (``twisted[tls]``).
    - ``unix_socket``: a path to serve NETCONF on a Unix socket too (as
      ncclient's ``connect_uds`` speaks it: NETCONF framing, no SSH).
    - ``schemas``: more YANG modules, ``{name: YANG text or path of a .yang
      file}``: advertised in the hello (modules, not submodules), listed in
      ``/netconf-state/schemas`` and served by ``<get-schema>``, besides the
      modules of what the server implements (ietf-netconf,
      ietf-netconf-monitoring, notifications, nc-notifications,
      ietf-subscribed-notifications, ietf-netconf-notifications) and those
      they import, whose text ships with the package.
    - ``xpath_local_names``: in XPath filters, an unprefixed name (``/top``)
      matches an element of that local name in any namespace, as netconfd
      does (default True; False: only elements in no namespace, as XPath 1.0
      has it).
    """

serve = _starter(NetconfServer)

"""
An embedded NETCONF server for tests, on Twisted Conch.

It speaks real NETCONF over real SSH on the loopback interface, so any
client (ncclient, ncclient-twisted, netconf-client, ...) can be tested
against it, from trial or pytest::

    from ncclient_twisted import testing

    server = await testing.serve(reactor, users={"admin": "admin"},
                                 config="<top xmlns='urn:example'/>")
    try:
        kwargs = server.connect_kwargs()   # for ncclient.manager.connect(**kwargs)
        ...
    finally:
        await server.stop()

What it implements:

- SSH with password and public-key users, a host key generated once per
  process (or given), its fingerprints (``server.fingerprint``, the MD5 form
  ncclient's ``unknown_host_cb`` receives; ``server.fingerprint_sha256``)
  and base64 public key (``server.hostkey_b64``).
- RFC 6242 framing: end-of-message for base:1.0, chunked for base:1.1
  (chosen from both hellos; ``base_versions=`` sets what the server offers).
- running, candidate and startup datastores in memory; get (with state
  data), get-config, edit-config (all operations, default operations, test
  and error options), copy-config, delete-config, lock, unlock, commit,
  confirmed commit (with persist), cancel-commit, discard-changes,
  validate, close-session, kill-session; subtree and XPath filters.
- NETCONF over TLS (RFC 7589, mutual X.509) with ``serve(tls=...)`` and
  certificates from :func:`generate_certificates`; NETCONF on a Unix
  socket with ``serve(unix_socket=path)``.
- Call home (RFC 8071): ``server.call_home(host, port, "ssh" | "tls")``.
- RFC 5277 notifications with replay, RFC 6470 ``netconf-config-change``
  and ``netconf-confirmed-commit`` events, and ``server.publish()``.
- Fault injection (:class:`Fault`) per server or per session, and
  ``server.stop_answering()`` (a hung device: TCP up, nothing answered, SSH
  keepalives included) / ``resume_answering()``.

There is no YANG: list entries are recognised by their ``name``, ``id`` or
``key`` child (see ``ncclient_twisted.testing._datastore``).

Nothing here imports the global reactor: pass yours to :func:`serve`.
"""

from ._certificates import Certificates, generate_certificates
from ._errors import NetconfError
from ._faults import Fault, Faults
from ._keys import generate_key
from ._serve import serve
from ._server import NetconfServer
from ._session import Session

__all__ = [
    "Certificates",
    "Fault",
    "Faults",
    "NetconfError",
    "NetconfServer",
    "Session",
    "generate_certificates",
    "generate_key",
    "serve",
]

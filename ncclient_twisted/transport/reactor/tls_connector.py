"""The reactor transport's TLS connector: :class:`ReactorTLSConnector`, NETCONF over TLS
(RFC 7589, mutual X.509) with Twisted's TLS (``twisted[tls]``, that is pyOpenSSL)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Dict

from ncclient.transport.errors import TLSError
from twisted.internet.defer import Deferred, fail

from ncclient_twisted.transport.reactor.connectors import (
    ReactorConnector,
    _adopt,
    _connect_error,
    _tcp_endpoint,
)

if TYPE_CHECKING:
    from ncclient_twisted.transport.reactor.session import ReactorSession

__all__ = ["ReactorTLSConnector"]



class ReactorTLSConnector(ReactorConnector):
    """NETCONF over TLS (RFC 7589): ncclient's ``connect_tls`` arguments (``host``,
    ``port``, ``certfile``, ``keyfile``, ``ca_certs``, ``check_hostname``,
    ``server_hostname``, ``timeout``, ``protocol``: see :func:`tls_versions`; ``bind_addr``
    as on the threads transport) with Twisted's TLS, which needs ``twisted[tls]``."""

    transport = "tls"
    error = TLSError

    def _describe(self) -> str:
        return "%s:%s" % (self.options.tls.host, self.options.tls.port)

    def _tls_options(self, host: str) -> Any:
        o = self.options.tls
        try:
            from twisted.internet import ssl
        except ImportError as e:  # pragma: no cover - twisted[tls] is in the test extra
            raise NotImplementedError("io='reactor' over TLS needs twisted[tls] (pyOpenSSL): %s" % e) from e
        certfile, keyfile, ca_certs = o.certfile, o.keyfile, o.ca_certs
        if not certfile:
            raise TLSError("Missing client certificate file")
        try:
            cert_pem = open(certfile, "rb").read()
            key_pem = open(keyfile, "rb").read() if keyfile else cert_pem
            client = ssl.PrivateCertificate.loadPEM(cert_pem + b"\n" + key_pem)
        except OSError:
            raise TLSError("Private key / certificate pair not found") from None
        except Exception:
            raise TLSError("Bad client private key / certificate pair") from None
        if ca_certs:
            try:
                pems = open(ca_certs, "rb").read()
            except OSError:
                raise TLSError("CA certificate file not found") from None
            try:
                trust = ssl.trustRootFromCertificates(
                    [ssl.Certificate.loadPEM(b"-----BEGIN CERTIFICATE-----" + part)
                     for part in pems.split(b"-----BEGIN CERTIFICATE-----")[1:]]
                )  # fmt: skip
            except Exception:
                raise TLSError("Bad Certification Authority file") from None
        else:
            trust = ssl.platformTrust()
        versions = tls_versions(o.protocol)
        if o.check_hostname:
            name = o.server_hostname or host
            return ssl.optionsForClientTLS(
                name, trustRoot=trust, clientCertificate=client, extraCertificateOptions=versions
            )
        return ssl.CertificateOptions(
            privateKey=client.privateKey.original, certificate=client.original, trustRoot=trust, **versions
        )

    def _open(self, session: "ReactorSession", ready: "Deferred[None]") -> "Deferred[Any]":
        from twisted.internet.endpoints import wrapClientTLS

        from ncclient_twisted.transport.reactor.stream import NetconfStreamProtocol

        o = self.options.tls
        host, port = o.host, o.port
        if not host:
            return fail(TLSError("Missing host"))
        try:
            options = self._tls_options(host)
        except Exception:
            return fail()
        factory = self._factory(lambda: NetconfStreamProtocol(session, ready, TLSError))
        if o.sock is not None:  # call home: the connection accepted
            from twisted.protocols.tls import TLSMemoryBIOFactory

            tls = TLSMemoryBIOFactory(options, True, factory)
            return _adopt(self.reactor, o.sock, tls)
        tcp = _tcp_endpoint(self.reactor, host, port, self._timeout, o.bind_addr)
        endpoint = wrapClientTLS(options, tcp)
        return endpoint.connect(factory).addErrback(_connect_error, host, port, TLSError)


def tls_versions(protocol: Any) -> Dict[str, Any]:
    """ncclient's TLS ``protocol`` (the ``ssl.PROTOCOL_*`` constant its ``SSLContext`` is
    made with) as the TLS versions Twisted's ``CertificateOptions`` allow.

    ``PROTOCOL_TLS_CLIENT`` (the threads transport's default), ``PROTOCOL_TLS`` and
    ``None``: Twisted's defaults, TLS 1.2 and up, as Python's (its context's minimum is
    TLS 1.2). ``PROTOCOL_TLSv1``, ``PROTOCOL_TLSv1_1``, ``PROTOCOL_TLSv1_2``: that version
    only (OpenSSL may refuse the older ones, on either transport). ``PROTOCOL_TLS_SERVER``
    is ``TLSError`` (a client cannot handshake with it: the threads transport's handshake
    fails), anything else ``ValueError`` (as ``ssl.SSLContext`` raises).
    """
    import ssl

    from twisted.internet.ssl import TLSVersion

    if protocol is None or protocol in (ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS):
        return {}
    for name, version in (
        ("PROTOCOL_TLSv1", TLSVersion.TLSv1_0),
        ("PROTOCOL_TLSv1_1", TLSVersion.TLSv1_1),
        ("PROTOCOL_TLSv1_2", TLSVersion.TLSv1_2),
    ):
        constant = getattr(ssl, name, None)
        if constant is not None and protocol == constant:
            newest = version
            if _maximum_is_excluded():  # older Twisted: the one after it is the bound
                versions = list(TLSVersion.iterconstants())
                newest = versions[versions.index(version) + 1]
            return {"insecurelyLowerMinimumTo": version, "lowerMaximumSecurityTo": newest}
    if protocol == ssl.PROTOCOL_TLS_SERVER:
        raise TLSError("protocol PROTOCOL_TLS_SERVER is for servers; a client uses PROTOCOL_TLS_CLIENT")
    raise ValueError("protocol must be one of ssl's PROTOCOL_* constants for a client, not %r" % (protocol,))


@functools.lru_cache(maxsize=1)
def _maximum_is_excluded() -> bool:
    """Whether this Twisted's ``lowerMaximumSecurityTo`` excludes the version it names
    (Twisted 22.10 does: TLS 1.2 as the maximum allowed no version at all), seen in the
    options of a context it makes."""
    from OpenSSL import SSL
    from twisted.internet.ssl import CertificateOptions, TLSVersion

    context = CertificateOptions(lowerMaximumSecurityTo=TLSVersion.TLSv1_2).getContext()
    return bool(context.set_options(0) & SSL.OP_NO_TLSv1_2)  # set_options returns them

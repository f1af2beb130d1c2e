"""``flush_now`` puts what a TCP transport holds on the wire without a reactor turn."""

from __future__ import annotations

import socket

import pytest_twisted
from twisted.internet import protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from ncclient_twisted.transport.reactor.transports import flush_now


@pytest_twisted.ensureDeferred
async def test_what_was_written_is_sent_before_the_reactor_runs_again() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = protocol.Protocol()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", listener.getsockname()[1]), client)
    server, _ = listener.accept()  # the handshake is done: accept does not wait
    server.setblocking(False)
    try:
        assert client.transport is not None
        client.transport.write(b"first")
        try:
            server.recv(64)
            raise AssertionError("written before any flush")
        except BlockingIOError:
            pass  # a plain write waits for the reactor's next poll
        flush_now(client.transport)
        assert server.recv(64) == b"first"
        client.transport.loseConnection()
        flush_now(client.transport)  # a closing connection is left to the reactor
    finally:
        server.close()
        listener.close()

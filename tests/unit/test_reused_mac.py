"""ReusedMACCiphers (the reactor transport's ciphers): the MACs of Conch's SSHCiphers,
from one keyed HMAC per direction."""

from __future__ import annotations

import os

import pytest
from twisted.conch.ssh.transport import SSHCiphers

from ncclient_twisted.transport.reactor.ssh import ReusedMACCiphers


@pytest.mark.parametrize("mac", sorted(SSHCiphers.macMap))
def test_the_same_macs_as_conch_s(mac: bytes) -> None:
    keys = [os.urandom(64) for _ in range(5)]
    keys.append(keys[4])  # the same MAC key both ways: what one side makes, it verifies
    conch = SSHCiphers(b"aes256-ctr", b"aes256-ctr", mac, mac)
    ours = ReusedMACCiphers(b"aes256-ctr", b"aes256-ctr", mac, mac)
    conch.setKeys(*keys)
    ours.setKeys(*keys)
    for seqid, data in [(3, b"packet"), (4, b""), (2**32 - 1, os.urandom(40000)), (3, b"packet")]:
        mac_value = ours.makeMAC(seqid, data)
        assert mac_value == conch.makeMAC(seqid, data)
        assert ours.verify(seqid, data, mac_value) and conch.verify(seqid, data, mac_value)
        if mac_value:
            assert not ours.verify((seqid + 1) % 2**32, data, mac_value)
            assert not ours.verify(seqid, data + b"x", mac_value)
            assert not ours.verify(seqid, data, mac_value[:-1] + bytes([mac_value[-1] ^ 1]))
        else:  # "none"
            assert not ours.verify(seqid, data, b"x")

"""The known_hosts parser and matcher (ncclient_twisted.transport.known_hosts) alone.

OpenSSH's own verdicts against a live server are in tests/adversarial/test_known_hosts.py.
"""

from __future__ import annotations

import base64
import os
import struct
from typing import Any

import paramiko
import pytest
from twisted.logger import LogLevel

from ncclient_twisted.transport import hostkeys
from ncclient_twisted.transport.known_hosts import (
    ACCEPTED,
    CHANGED,
    REVOKED,
    UNKNOWN,
    KnownHosts,
    hash_name,
    host_name,
    match_patterns,
)
from tests.support.logevents import LogEvents, log_events  # noqa: F401


def blob(kind: str = "ssh-ed25519", body: bytes = b"") -> bytes:
    """A key blob naming *kind*, unique per call unless *body* is given."""
    body = body or os.urandom(32)
    return struct.pack(">I", len(kind)) + kind.encode() + struct.pack(">I", len(body)) + body


def line(hosts: str, key: bytes, marker: str = "", kind: str = "ssh-ed25519") -> str:
    return ("%s %s %s %s comment\n" % (marker, hosts, kind, base64.b64encode(key).decode())).lstrip()


NAME = "[127.0.0.1]:2022"


def parse(text: str) -> KnownHosts:
    return KnownHosts.parse(text.encode())


def test_host_name() -> None:
    assert host_name("r1", 22) == "r1" and host_name("r1", 830) == "[r1]:830"


@pytest.mark.parametrize(
    "patterns, name, expected",
    [
        ("[127.0.0.*]:2022", NAME, True),
        ("[127.0.0.?]:2022", NAME, True),
        ("[127.0.0.??]:2022", NAME, False),
        ("[127.0.0.1]:20*", NAME, True),
        ("127.0.0.1", NAME, False),  # a non-22 port only matches [host]:port
        ("!127.0.0.1,*", "127.0.0.1", False),  # a negated match makes the line not apply
        ("!127.0.0.2,*", "127.0.0.1", True),
        ("!127.0.0.1", "127.0.0.1", False),  # negation alone never matches
        ("ROUTER1", "router1", True),  # names are case-insensitive
        ("*.example.net", "r1.example.net", True),
        ("*.example.net", "example.net", False),
        ("r[12]", "r1", False),  # brackets are literal, not a character class
        ("r.1", "rx1", False),  # a dot is literal
    ],
)
def test_match_patterns(patterns: str, name: str, expected: bool) -> None:
    assert match_patterns(name, patterns.split(",")) is expected


def test_several_keys_per_host_any_one_accepts() -> None:
    old, new = blob(), blob()
    known = parse(line(NAME, old) + line(NAME, new))
    assert known.verdict(NAME, new) == ACCEPTED and known.verdict(NAME, old) == ACCEPTED
    assert known.verdict(NAME, blob()) == CHANGED
    assert known.verdict("[127.0.0.1]:2023", new) == UNKNOWN


def test_changed_only_for_a_key_of_the_same_type() -> None:
    known = parse(line(NAME, blob("ssh-rsa"), kind="ssh-rsa"))
    assert known.verdict(NAME, blob()) == UNKNOWN
    assert known.verdict(NAME, blob("ssh-rsa")) == CHANGED


def test_revoked() -> None:
    key = blob()
    # Listed as a plain key too: revoked wins.
    assert parse(line("*", key, "@revoked") + line(NAME, key)).verdict(NAME, key) == REVOKED
    # A revocation for another host changes nothing.
    assert parse(line("otherhost", key, "@revoked") + line(NAME, key)).verdict(NAME, key) == ACCEPTED
    assert parse(line("*", blob(), "@revoked") + line(NAME, key)).verdict(NAME, key) == ACCEPTED
    known = parse(line(NAME, key, "@revoked"))
    assert known.verdict(NAME, key) == REVOKED and known.host_keys(NAME) == []


def test_a_cert_authority_never_vouches_for_a_plain_key() -> None:
    key = blob()
    known = parse(line("*", key, "@cert-authority"))
    assert not known.problems and len(known.entries) == 1
    assert known.verdict(NAME, key) == UNKNOWN
    # ... nor counts as a stored key of the same type.
    assert known.verdict(NAME, blob()) == UNKNOWN
    assert parse(line("*", key, "@cert-authority") + line(NAME, key)).verdict(NAME, key) == ACCEPTED


def test_hashed_names() -> None:
    key = blob()
    hashed = hash_name(NAME, os.urandom(20))
    known = parse(line(hashed, key))
    assert known.verdict(NAME, key) == ACCEPTED
    assert known.verdict("[127.0.0.1]:2023", key) == UNKNOWN
    # ssh-keygen -H output for "[127.0.0.1]:2022", computed independently.
    salt = b"0123456789abcdefghij"
    assert hash_name(NAME, salt) == "|1|MDEyMzQ1Njc4OWFiY2RlZmdoaWo=|" + base64.b64encode(
        __import__("hmac").new(salt, NAME.encode(), "sha1").digest()
    ).decode()


def test_comments_blank_and_bad_lines() -> None:
    key = blob()
    text = (
        "# a comment\n"
        "\n"
        "   \t\n"
        "    # indented comment\n"
        "garbage\n"  # line 5: too few fields
        "@bogus * ssh-ed25519 %s\n" % base64.b64encode(key).decode()  # 6: unknown marker
        + "%s ssh-ed25519 not-base64!!\n" % NAME  # 7
        + "%s ssh-rsa %s\n" % (NAME, base64.b64encode(key).decode())  # 8: type mismatch
        + "|1|bad|hash ssh-ed25519 %s\n" % base64.b64encode(key).decode()  # 9: bad hash
        + "@revoked\n"  # 10
        + line(NAME, key)
    )
    known = KnownHosts.parse(text.encode() + b"\xff\xfe not text\n")
    assert [n for n, _ in known.problems] == [5, 6, 7, 8, 9, 10, 12]
    assert [e.lineno for e in known.entries] == [11]
    assert known.verdict(NAME, key) == ACCEPTED


def test_missing_file_is_empty(tmp_path: Any) -> None:
    assert KnownHosts.read(str(tmp_path / "none")).entries == []


# -- the paramiko-facing adapter (both transports decide through it) --------------------


def pkey() -> paramiko.PKey:
    from twisted.conch.ssh import keys as conch_keys

    from ncclient_twisted import testing

    return paramiko.Ed25519Key(data=conch_keys.Key(testing.generate_key()).public().blob())


def test_adapter_for_ncclient(tmp_path: Any, log_events: LogEvents) -> None:
    path = tmp_path / "known_hosts"
    current, old, revoked = pkey(), pkey(), pkey()
    path.write_text(
        line("otherhost", current.asbytes(), "@revoked")
        + "garbage\n"
        + line(NAME, old.asbytes())
        + line("[127.0.0.*]:2022", current.asbytes())
        + line("*", revoked.asbytes(), "@revoked")
        + line(NAME, revoked.asbytes())
    )
    keys = hostkeys.PortAwareHostKeys(2022, str(path))
    hostkeys.PortAwareHostKeys(2022, str(path))  # read again: no second warning
    warnings = log_events.messages("ncclient_twisted.transport.hostkeys", LogLevel.warn)
    assert warnings == ["%s line 2 skipped: too few fields" % path]
    assert keys  # ncclient's "if self._host_keys:"
    assert keys.check(NAME, current) and keys.check(NAME, old)
    assert not keys.check("127.0.0.1", current)  # port 2022: only [host]:port
    assert keys.verdict(NAME, revoked) == REVOKED and not keys.check(NAME, revoked)
    assert keys.verdict(NAME, pkey()) == CHANGED
    # What ncclient prefers to negotiate: the types of the usable keys.
    assert list(keys.lookup(NAME)) == ["ssh-ed25519"]
    assert keys.lookup("127.0.0.1") is None


def test_accept_new_keeps_the_other_lines(tmp_path: Any) -> None:
    path = tmp_path / "known_hosts"
    before = line("*.example.net", pkey().asbytes(), "@cert-authority") + line(
        "*", pkey().asbytes(), "@revoked"
    ) + "# keep me\nnot parsed\n"
    path.write_text(before)
    key = pkey()
    hostkeys.store_host_key(str(path), "127.0.0.1", 2022, key)
    after = path.read_text()
    assert after.startswith(before)
    assert after[len(before):] == "%s ssh-ed25519 %s\n" % (NAME, key.get_base64())
    hostkeys.store_host_key(str(path), "127.0.0.1", 2022, key)  # known: nothing added
    assert path.read_text() == after


def test_accept_new_never_stores_a_revoked_key(tmp_path: Any) -> None:
    path = tmp_path / "known_hosts"
    key = pkey()
    path.write_text(line("*", key.asbytes(), "@revoked"))
    with pytest.raises(hostkeys.HostKeyRevokedError) as info:
        hostkeys.store_host_key(str(path), "127.0.0.1", 2022, key)
    assert "REVOKED" in str(info.value) and info.value.fingerprint_sha256 in str(info.value)
    assert path.read_text().count("\n") == 1


def test_lookup_files_an_rsa_key_under_what_paramiko_negotiates(tmp_path: Any) -> None:
    rsa = paramiko.RSAKey.generate(1024)
    path = tmp_path / "known_hosts"
    path.write_text("%s ssh-rsa %s\n" % (NAME, rsa.get_base64()))
    keys = hostkeys.PortAwareHostKeys(2022, str(path))
    # ncclient hands these names to paramiko as the preferred host key algorithms.
    assert set(keys.lookup(NAME)) <= {"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}
    assert "rsa-sha2-512" in keys.lookup(NAME) and keys.check(NAME, rsa)


def test_known_types_are_negotiated_first() -> None:
    from ncclient_twisted.transport.reactor.ssh import prefer_host_key_types

    conch = [b"ecdsa-sha2-nistp256", b"rsa-sha2-512", b"rsa-sha2-256", b"ssh-rsa", b"ssh-ed25519"]
    assert prefer_host_key_types(conch, ["ssh-ed25519"])[0] == b"ssh-ed25519"
    assert prefer_host_key_types(conch, ["ssh-rsa"]) == [
        b"rsa-sha2-512", b"rsa-sha2-256", b"ssh-rsa", b"ecdsa-sha2-nistp256", b"ssh-ed25519"
    ]
    assert prefer_host_key_types(conch, []) == conch
    assert sorted(prefer_host_key_types(conch, ["ssh-ed25519", "ecdsa-sha2-nistp256"])) == sorted(conch)


# -- lookups and reads cached (a fleet's connects share one file) ------------------------


def test_lookups_keep_file_order_across_plain_wildcard_negated_and_hashed_lines() -> None:
    keys = [blob() for _ in range(7)]
    known = parse(
        line("*", keys[0])
        + line("[127.0.0.1]:2022,other", keys[1])
        + line(hash_name(NAME, b"salt" * 5), keys[2])
        + line("[127.0.0.1]:2022,![127.0.0.*]:2022", keys[3])  # negated: never applies
        + line("OTHER,[127.0.0.1]:2022", keys[4])
        + line("[127.0.0.1]:20222", keys[5])
        + line("[127.0.0.1]:2022", keys[6])
    )
    expected = [keys[i] for i in (0, 1, 2, 4, 6)]
    for _ in range(2):  # the second time from the cache
        assert [e.blob for e in known.for_host(NAME)] == expected
        assert [e.blob for e in known.for_host(NAME.upper())] == expected  # case-insensitive
        assert [e.blob for e in known.for_host("other")] == [keys[0], keys[1], keys[4]]
        assert [e.blob for e in known.for_host("nothing")] == [keys[0]]
    assert [e.blob for e in known.entries if e.matches(NAME)] == expected
    known.for_host(NAME).clear()  # a caller's copy
    assert len(known.for_host(NAME)) == 5


def test_a_file_is_read_again_only_when_it_changed(tmp_path: Any) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(line(NAME, blob()))
    hour_ago = os.stat(path).st_mtime - 3600
    os.utime(path, (hour_ago, hour_ago))
    first = hostkeys.read_known_hosts(str(path))
    assert hostkeys.read_known_hosts(str(path)) is first  # same signature
    os.utime(path, (hour_ago + 1, hour_ago + 1))
    assert hostkeys.read_known_hosts(str(path)) is first  # touched, same content: parsed once
    key = blob()
    path.write_text(line(NAME, key))  # same size, modified just now: read again
    second = hostkeys.read_known_hosts(str(path))
    assert [e.blob for e in second.entries] == [key]
    other = blob()
    with open(path, "r+") as f:  # again, within the same clock tick maybe: still read
        f.write(line(NAME, other))
    assert [e.blob for e in hostkeys.read_known_hosts(str(path)).entries] == [other]

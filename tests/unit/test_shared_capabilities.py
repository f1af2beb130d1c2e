"""Parsed capabilities shared between sessions (``transport.capabilities``, issue #25): one
parse per list of URIs, each session its own ncclient ``Capabilities`` that copies the
parse on its first change; the server's hello parsed as ncclient parses it."""

from __future__ import annotations

from typing import Any, List

import pytest
from ncclient.capabilities import Capabilities, Capability
from ncclient.transport.session import HelloHandler

from ncclient_twisted.transport.capabilities import CapabilityCache, SharedCapabilities, shared_capabilities
from ncclient_twisted.transport.hello import SharedHelloHandler, parse_hello

URIS = [
    "urn:ietf:params:netconf:base:1.0",
    "urn:ietf:params:netconf:base:1.1",
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:url:1.0?scheme=http,ftp",
    "urn:example:system?module=example-system&revision=2024-01-01",
]
NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


def hello(uris: List[str], session_id: str = "7", ns: str = NS) -> str:
    caps = "".join("<capability>%s</capability>" % u.replace("&", "&amp;") for u in uris)
    sid = "<session-id>%s</session-id>" % session_id if session_id else ""
    return '<hello xmlns="%s"><capabilities>%s</capabilities>%s</hello>' % (ns, caps, sid)


def as_ncclient(caps: Capabilities) -> Any:
    """What a user sees of *caps*."""
    return (
        list(caps),
        len(caps),
        repr(caps),
        [(c.namespace_uri, c.parameters) for c in (caps[u] for u in caps)],
        ":candidate" in caps,
        ":base:1.1" in caps,
        "urn:ietf:params:netconf:capability:url:1.0?scheme=http,ftp" in caps,
        "urn:other" in caps,
    )


def test_the_same_list_shares_one_parse() -> None:
    cache = CapabilityCache()
    a, b = cache.get(URIS), cache.get(list(URIS))
    assert a is not b
    assert isinstance(a, Capabilities) and isinstance(b, Capabilities)
    assert vars(a)["_dict"] is vars(b)["_dict"]
    assert len(cache) == 1


def test_it_behaves_as_ncclients() -> None:
    shared = CapabilityCache().get(URIS)
    assert as_ncclient(shared) == as_ncclient(Capabilities(URIS))
    assert shared[":url"].parameters == {"scheme": "http,ftp"}
    assert isinstance(shared[":candidate"], Capability)
    with pytest.raises(KeyError):
        shared["urn:other"]


def test_add_and_remove_change_one_session_only() -> None:
    cache = CapabilityCache()
    a, b, c = cache.get(URIS), cache.get(URIS), cache.get(URIS)
    a.add("urn:example:more")
    b.remove("urn:ietf:params:netconf:capability:candidate:1.0")
    assert "urn:example:more" in a and "urn:example:more" not in b
    assert ":candidate" in a and ":candidate" not in b
    assert as_ncclient(c) == as_ncclient(Capabilities(URIS))
    assert as_ncclient(cache.get(URIS)) == as_ncclient(Capabilities(URIS))
    expected = Capabilities(URIS)
    expected.add("urn:example:more")
    assert as_ncclient(a) == as_ncclient(expected)


def test_different_lists_are_parsed_apart() -> None:
    cache = CapabilityCache()
    a, b = cache.get(URIS), cache.get(URIS[:2])
    c = cache.get(list(reversed(URIS)))
    assert list(a) == URIS and list(b) == URIS[:2] and list(c) == list(reversed(URIS))
    assert len({id(vars(x)["_dict"]) for x in (a, b, c)}) == 3
    assert len(cache) == 3


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = CapabilityCache(size=3)
    lists = [URIS[:1] + ["urn:example:%d" % n] for n in range(5)]
    first = cache.get(lists[0])
    for uris in lists[1:3]:
        cache.get(uris)
    cache.get(lists[0])  # used again: kept
    cache.get(lists[3])  # the least recently used (lists[1]) goes
    assert len(cache) == 3
    assert vars(cache.get(lists[0]))["_dict"] is vars(first)["_dict"]
    for uris in lists:
        cache.get(uris)
    assert len(cache) == 3


def test_an_uri_ncclient_cannot_parse_fails_as_in_ncclient_and_is_not_kept() -> None:
    cache = CapabilityCache()
    with pytest.raises(AttributeError):
        Capabilities([None])
    with pytest.raises(AttributeError):
        cache.get([None])  # type: ignore[list-item]
    assert len(cache) == 0


def test_the_module_cache_serves_both_lists_of_a_session() -> None:
    a, b = shared_capabilities(URIS), shared_capabilities(URIS)
    assert isinstance(a, SharedCapabilities)
    assert vars(a)["_dict"] is vars(b)["_dict"]


@pytest.mark.parametrize("ns", [NS, ""])
def test_a_hello_is_parsed_as_ncclient_parses_it(ns: str) -> None:
    raw = hello(URIS, ns=ns) if ns else hello(URIS).replace(' xmlns="%s"' % NS, "")
    sid, caps = parse_hello(raw)
    theirs_sid, theirs = HelloHandler.parse(raw)
    assert sid == theirs_sid == "7"
    assert as_ncclient(caps) == as_ncclient(theirs)
    assert vars(caps)["_dict"] is vars(parse_hello(raw)[1])["_dict"]


def test_a_hello_without_session_id_or_with_other_elements() -> None:
    raw = hello(URIS, session_id="").replace(
        "<capabilities>", "<!-- c --><other>x</other><capabilities><other>y</other>"
    )
    sid, caps = parse_hello(raw)
    theirs_sid, theirs = HelloHandler.parse(raw)
    assert sid == theirs_sid == 0
    assert as_ncclient(caps) == as_ncclient(theirs)


def test_the_handler_calls_back_as_ncclients() -> None:
    got: List[Any] = []
    handler = SharedHelloHandler(lambda sid, caps: got.append((sid, list(caps))), got.append)
    handler.callback(("{%s}rpc-reply" % NS, {}), "<rpc-reply/>")  # not a hello: ignored
    assert got == []
    handler.callback(("{%s}hello" % NS, {}), hello(URIS))
    assert got == [("7", URIS)]
    handler.callback(("{%s}hello" % NS, {}), "<hello><capabilities><capability/></capabilities></hello>")
    assert isinstance(got[-1], AttributeError)  # ncclient's: Capability.from_uri(None)
    handler.callback(("{%s}hello" % NS, {}), "not xml")
    assert isinstance(got[-1], Exception)

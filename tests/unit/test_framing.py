"""What the transport reads from a hello (``transport.framing``)."""

from ncclient_twisted.transport.framing import announces_base

MODULE = "urn:ietf:params:xml:ns:netconf:base:1.0?module=ietf-netconf&revision=2011-06-01"


def test_a_base_capability_is_the_capability_not_the_namespace() -> None:
    assert announces_base(["urn:ietf:params:netconf:base:1.1"])
    assert announces_base(["urn:ietf:params:netconf:base:1.0", "urn:example:x"])
    assert not announces_base([MODULE])
    assert not announces_base([])

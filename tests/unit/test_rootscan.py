"""scan_root gives what ncclient's parse_root gives, without parsing the message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ncclient.xml_ import parse_root

from ncclient_twisted.transport.rootscan import _scan, scan_root

CASES = [
    '<?xml version="1.0" encoding="UTF-8"?><rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"'
    ' message-id="urn:uuid:1234"><ok/></rpc-reply>',
    '<nc:rpc-reply xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:message-id="101"'
    ' xmlns:junos="http://xml.juniper.net/junos"><ok/></nc:rpc-reply>',
    "<rpc-reply message-id='a&amp;b&lt;' xmlns='urn:x'/>",
    '<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"><eventTime>x</eventTime>'
    '</notification>',
    '\n  <hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities/></hello>',
    '<rpc-reply\n  xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"\n  message-id="7"\n>\n<data/></rpc-reply>',
    '<a xml:lang="en" b="1"/>',
    "<plain>text</plain>",
]

FALLBACK = [
    '<rpc-reply message-id="a&#65;b" xmlns="urn:x"/>',  # character reference
    '<!-- comment --><x/>',
    '<x:rpc-reply xmlns="urn:y" message-id="1"/>',  # prefix not declared on the root
]


def _normal(root):
    return root[0], dict(root[1])


@pytest.mark.parametrize("raw", CASES)
def test_scan_matches_parse_root(raw: str) -> None:
    assert _scan(raw) is not None
    assert _normal(scan_root(raw)) == _normal(parse_root(raw))


@pytest.mark.parametrize("raw", FALLBACK)
def test_unusual_messages_fall_back_to_parse_root(raw: str) -> None:
    assert _scan(raw) is None
    assert _normal(scan_root(raw)) == _normal(parse_root(raw))


def test_a_dtd_is_refused_never_parsed() -> None:
    from ncclient_twisted.transport.framing import MalformedReplyError

    with pytest.raises(MalformedReplyError) as e:
        scan_root('<!DOCTYPE x [<!ENTITY a "aaaa">]><rpc-reply message-id="1">&a;</rpc-reply>')
    assert e.value.dtd and e.value.message_id == "1"


def test_not_xml_raises_as_parse_root_does() -> None:
    with pytest.raises(Exception):  # noqa: B017 - whatever parse_root raises, unspecified by ncclient
        scan_root("this is not xml")


_names = st.from_regex(r"[a-z][a-z0-9\-]{0,8}", fullmatch=True)
_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n"), max_size=12
)


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.one_of(st.none(), _names),
    local=_names,
    ns=st.from_regex(r"urn:[a-z]{1,6}(:[a-z0-9]{1,4}){0,2}", fullmatch=True),
    attrs=st.dictionaries(_names, _values, max_size=4),
    quote=st.sampled_from(['"', "'"]),
    self_closing=st.booleans(),
)
def test_scan_agrees_with_lxml(prefix, local, ns, attrs, quote, self_closing) -> None:
    from xml.sax.saxutils import quoteattr

    qname = "%s:%s" % (prefix, local) if prefix else local
    decl = ' xmlns%s="%s"' % (":" + prefix if prefix else "", ns)
    parts = "".join(
        " %s=%s" % (k, quoteattr(v, {"\n": "\n", "\t": "\t"})) for k, v in attrs.items() if k != "xmlns"
    )
    raw = "<%s%s%s%s" % (qname, decl, parts, "/>" if self_closing else "><c/></%s>" % qname)
    assert _normal(scan_root(raw)) == _normal(parse_root(raw))


def test_replies_that_differ_by_message_id_only_agree_with_parse_root() -> None:
    # The second and later use the kept start tag with its message-id cut out.
    head = (
        '<nc:rpc-reply xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" message-id=%s>'
        "<ok/></nc:rpc-reply>"
    )
    for value in ['"1"', '"urn:uuid:2"', "'3'", '"a&amp;b"', '"4 5"', '"x\ty"', '""', '"66"']:
        raw = head % value
        assert _normal(scan_root(raw)) == _normal(parse_root(raw)), raw


def test_message_id_text_inside_another_attribute_is_never_cut_out() -> None:
    tricky = '<rpc-reply xmlns="urn:x message-id=\'%s\'" message-id="%s"><ok/></rpc-reply>'
    for n in ("1", "1", "2", "2"):
        raw = tricky % (n, n)
        assert _normal(scan_root(raw)) == _normal(parse_root(raw)), raw


@settings(max_examples=200, deadline=None)
@given(
    ns=st.from_regex(r"urn:[a-z]{1,6}(:[a-z0-9]{1,4}){0,2}", fullmatch=True),
    ids=st.lists(_values, min_size=2, max_size=4),
)
def test_a_run_of_replies_agrees_with_lxml(ns, ids) -> None:
    from xml.sax.saxutils import quoteattr

    for value in ids:
        raw = '<rpc-reply xmlns="%s" message-id=%s><ok/></rpc-reply>' % (
            ns,
            quoteattr(value, {"\n": "\n", "\t": "\t"}),
        )
        assert _normal(scan_root(raw)) == _normal(parse_root(raw))



def test_replies_with_more_varying_attributes_agree_with_parse_root() -> None:
    # netconfd's replies carry last-modified beside message-id: both vary, the template
    # keeps the namespaces (a reply in another namespace is not taken for the kept one).
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rpc-reply xmlns:nc="%s"\n  message-id=%s\n'
        '  last-modified="%s"\n  xmlns="%s">\n  <data/>\n</rpc-reply>'
    )
    base = "urn:ietf:params:xml:ns:netconf:base:1.0"
    cases = [
        (base, '"urn:uuid:1"', "2026-12-04T06:30:31Z", base),
        (base, '"urn:uuid:2"', "2026-12-04T06:30:32Z", base),
        (base, "'3'", "x", base),
        (base, '"4"', "y", "urn:other"),  # same template, another default namespace
        (base, '"a&amp;b"', "z", base),  # a value to unescape: the slow path
        (base, '"5"', "a\tb", base),
        ("urn:other", '"6"', "w", base),
    ]
    for nc, msgid, modified, ns in cases:
        raw = head % (nc, msgid, modified, ns)
        assert _normal(scan_root(raw)) == _normal(parse_root(raw)), raw


@settings(max_examples=200, deadline=None)
@given(
    ns=st.sampled_from(["urn:a", "urn:b"]),
    prefixed_ns=st.sampled_from(["urn:p", "urn:q"]),
    ids=st.lists(st.tuples(_values, _values, _values), min_size=2, max_size=4),
)
def test_a_run_of_replies_with_several_attributes_agrees_with_lxml(ns, prefixed_ns, ids) -> None:
    from xml.sax.saxutils import quoteattr

    def q(value: str) -> str:
        return quoteattr(value, {"\n": "\n", "\t": "\t"})

    for msgid, other, prefixed in ids:
        raw = '<?xml version="1.0"?><rpc-reply xmlns="%s" xmlns:p="%s" message-id=%s b=%s p:c=%s/>' % (
            ns,
            prefixed_ns,
            q(msgid),
            q(other),
            q(prefixed),
        )
        assert _normal(scan_root(raw)) == _normal(parse_root(raw))

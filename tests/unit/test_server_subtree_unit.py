"""Unit tests of subtree/XPath filtering and of the edit-config algorithm (no network)."""

from __future__ import annotations

from typing import List

import pytest
from lxml import etree

from ncclient_twisted.testing import NetconfError
from ncclient_twisted.testing._datastore import edit, identity, root_from_xml
from ncclient_twisted.testing._errors import NetconfErrors
from ncclient_twisted.testing._subtree import matches_notification, subtree_filter, xpath_filter

T = "http://example.com/schema/1.2/config"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"

# The example data of RFC 6241 section 6.4.
DATA = """
<data>
<top xmlns="http://example.com/schema/1.2/config">
  <users>
    <user>
      <name>root</name><type>superuser</type><full-name>Charlie Root</full-name>
      <company-info><dept>1</dept><id>1</id></company-info>
    </user>
    <user>
      <name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name>
      <company-info><dept>2</dept><id>2</id></company-info>
    </user>
    <user>
      <name>barney</name><type>admin</type><full-name>Barney Rubble</full-name>
      <company-info><dept>2</dept><id>3</id></company-info>
    </user>
  </users>
  <interfaces>
    <interface ifName="eth0"><ifInErrors>45621</ifInErrors></interface>
    <interface ifName="eth1"><ifInErrors>2</ifInErrors></interface>
  </interfaces>
</top>
<other xmlns="urn:other"><x>1</x></other>
</data>
"""


def root() -> etree._Element:
    return root_from_xml(DATA)


def run(filter_xml: str) -> etree._Element:
    return subtree_filter(
        root(), etree.fromstring('<filter xmlns="%s" type="subtree">%s</filter>' % (NC, filter_xml))
    )


def names(out: etree._Element) -> List[str]:
    return [e.text for e in out.iter("{%s}name" % T)]


def leaves(out: etree._Element, user: str) -> List[str]:
    for u in out.iter("{%s}user" % T):
        if u.findtext("{%s}name" % T) == user:
            return sorted(etree.QName(e).localname for e in u.iter() if len(e) == 0)
    raise AssertionError("user %s not selected" % user)


def test_empty_filter_selects_nothing() -> None:  # 6.4.2
    assert len(run("")) == 0


def test_selection_node_selects_subtree() -> None:  # 6.4.3
    out = run('<top xmlns="%s"><users/></top>' % T)
    assert names(out) == ["root", "fred", "barney"]
    assert out.find(".//{%s}interfaces" % T) is None
    assert out.find("{urn:other}other") is None


def test_containment_and_selection() -> None:  # 6.4.4
    out = run('<top xmlns="%s"><users><user><name/></user></users></top>' % T)
    assert names(out) == ["root", "fred", "barney"]
    assert out.find(".//{%s}type" % T) is None


def test_content_match_selects_whole_entry() -> None:  # 6.4.5
    out = run('<top xmlns="%s"><users><user><name>fred</name></user></users></top>' % T)
    assert names(out) == ["fred"]
    assert leaves(out, "fred") == ["dept", "full-name", "id", "name", "type"]


def test_content_match_with_selection_nodes() -> None:  # 6.4.6
    out = run('<top xmlns="%s"><users><user><name>fred</name><type/><full-name/></user></users></top>' % T)
    assert leaves(out, "fred") == ["full-name", "name", "type"]


def test_multiple_subtrees() -> None:  # 6.4.7
    out = run(
        '<top xmlns="%s"><users>'
        "<user><name>root</name><company-info/></user>"
        "<user><name>fred</name><company-info><id/></company-info></user>"
        "<user><name>barney</name><type>superuser</type><company-info><dept/></company-info></user>"
        "</users></top>" % T
    )
    assert names(out) == ["root", "fred"]  # barney is not a superuser
    assert leaves(out, "root") == ["dept", "id", "name"]
    assert leaves(out, "fred") == ["id", "name"]


def test_attribute_match() -> None:  # 6.4.8
    out = run('<t:top xmlns:t="%s"><t:interfaces><t:interface ifName="eth0"/></t:interfaces></t:top>' % T)
    interfaces = out.findall(".//{%s}interface" % T)
    assert [i.get("ifName") for i in interfaces] == ["eth0"]
    assert interfaces[0].findtext("{%s}ifInErrors" % T) == "45621"


def test_namespace_selection() -> None:
    assert len(run('<top xmlns="urn:wrong"/>')) == 0
    out = run('<other xmlns="urn:other"/>')
    assert [e.tag for e in out] == ["{urn:other}other"]
    # A filter node without a namespace matches any namespace.
    unqualified = run('<top xmlns=""><users><user><name>barney</name></user></users></top>')
    assert names(unqualified) == ["barney"]
    # ... and so does one in the NETCONF base namespace (a naive client's filter).
    assert names(run("<top><users><user><name>fred</name></user></users></top>")) == ["fred"]


def test_failed_content_match_selects_nothing() -> None:
    assert len(run('<top xmlns="%s"><users><user><name>wilma</name></user></users></top>' % T)) == 0


def test_overlapping_filters_are_merged() -> None:
    out = run(
        '<top xmlns="%s"><users><user><name>fred</name><type/></user>'
        "<user><name>fred</name><full-name/></user></users></top>" % T
    )
    assert leaves(out, "fred") == ["full-name", "name", "type"]
    assert len(out.findall(".//{%s}user" % T)) == 1


def test_result_keeps_document_order_and_namespaces() -> None:
    src = root_from_xml(
        '<config><if xmlns="urn:if" xmlns:ianaift="urn:iana"><i><name>a</name><type>ianaift:eth</type></i>'
        '</if></config>'
    )
    out = subtree_filter(src, etree.fromstring('<filter><if xmlns="urn:if"><i><type/></i></if></filter>'))
    typ = out.find(".//{urn:if}type")
    assert typ is not None and typ.text == "ianaift:eth"
    # The prefix used in the value is still declared in the output.
    assert etree.fromstring(etree.tostring(out)).find(".//{urn:if}type").nsmap["ianaift"] == "urn:iana"  # type: ignore[union-attr]


def test_xpath_filter() -> None:
    out = xpath_filter(root(), "/t:top/t:users/t:user[t:name='barney']/t:type", {"t": T})
    assert names(out) == []
    assert [e.text for e in out.iter("{%s}type" % T)] == ["admin"]
    whole = xpath_filter(root(), "/o:other", {"o": "urn:other"})
    assert [e.tag for e in whole] == ["{urn:other}other"]
    with pytest.raises(NetconfError) as info:
        xpath_filter(root(), "/t:top[", {"t": T})
    assert info.value.tag == "invalid-value"


def test_notification_match() -> None:
    notification = etree.fromstring(
        '<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"><eventTime>x</eventTime>'
        '<link-down xmlns="urn:ev"><if>eth0</if></link-down></notification>'
    )
    assert matches_notification(
        notification, etree.fromstring('<filter><link-down xmlns="urn:ev"/></filter>')
    )
    assert matches_notification(
        notification, etree.fromstring('<filter><link-down xmlns="urn:ev"><if>eth0</if></link-down></filter>')
    )
    assert not matches_notification(
        notification, etree.fromstring('<filter><link-down xmlns="urn:ev"><if>eth1</if></link-down></filter>')
    )
    assert not matches_notification(
        notification, etree.fromstring('<filter><link-up xmlns="urn:ev"/></filter>')
    )
    xpath = '<filter xmlns:ev="urn:ev" type="xpath" select="%s"/>'
    assert matches_notification(notification, etree.fromstring(xpath % "//ev:link-down[ev:if='eth0']"))
    assert not matches_notification(notification, etree.fromstring(xpath % "//ev:link-up"))
    assert matches_notification(notification, etree.fromstring(xpath % "/ev:link-down"))


# -- edit-config ------------------------------------------------------------------------------

CFG = """
<config><top xmlns="urn:ex">
  <interface><name>eth0</name><mtu>1500</mtu></interface>
  <interface><name>eth1</name><mtu>9000</mtu></interface>
  <user><id>7</id><shell>sh</shell></user>
  <hostname>r1</hostname>
</top></config>
"""


def cfg() -> etree._Element:
    return root_from_xml(CFG)


def config(body: str) -> etree._Element:
    return etree.fromstring(
        '<config xmlns="%s" xmlns:nc="%s"><top xmlns="urn:ex">%s</top></config>' % (NC, NC, body)
    )


def mtu(r: etree._Element, name: str) -> "str | None":
    for i in r.iter("{urn:ex}interface"):
        if i.findtext("{urn:ex}name") == name:
            return i.findtext("{urn:ex}mtu")
    return None


def test_identity_heuristic() -> None:
    el = etree.fromstring("<i xmlns='urn:x'><mtu>1</mtu><name>a</name><id>2</id></i>")
    assert identity(el) == ("{urn:x}i", "a")
    assert identity(etree.fromstring("<u><key>k</key></u>")) == ("u", "k")
    assert identity(etree.fromstring("<c><x/></c>")) == ("c", None)


def test_merge_updates_and_adds_list_entries() -> None:
    r, changes = edit(cfg(), config("<interface><name>eth0</name><mtu>1400</mtu></interface>"
                                    "<interface><name>eth2</name><mtu>1</mtu></interface>"))
    assert (mtu(r, "eth0"), mtu(r, "eth1"), mtu(r, "eth2")) == ("1400", "9000", "1")
    assert [op for _, op in changes] == ["merge"]


def test_merge_of_empty_container_keeps_children() -> None:
    r, _ = edit(cfg(), config("<interface><name>eth0</name></interface>"))
    assert mtu(r, "eth0") == "1500"


def test_replace() -> None:
    r, _ = edit(cfg(), config('<interface nc:operation="replace"><name>eth0</name></interface>'))
    assert mtu(r, "eth0") is None and mtu(r, "eth1") == "9000"
    assert r.find(".//{urn:ex}interface").get("{%s}operation" % NC) is None  # type: ignore[union-attr]


def test_default_operation_replace_replaces_everything() -> None:
    r, _ = edit(etree.Element("data"), config("<hostname>r2</hostname>"), default_operation="replace")
    assert r.findtext(".//{urn:ex}hostname") == "r2" and mtu(r, "eth0") is None


def test_create_and_data_exists() -> None:
    r, _ = edit(cfg(), config('<user nc:operation="create"><id>8</id></user>'))
    assert [u.findtext("{urn:ex}id") for u in r.iter("{urn:ex}user")] == ["7", "8"]
    with pytest.raises(NetconfError) as info:
        edit(cfg(), config('<user nc:operation="create"><id>7</id></user>'))
    assert info.value.tag == "data-exists" and info.value.error_type == "application"


def test_delete_remove_and_data_missing() -> None:
    r, _ = edit(cfg(), config('<interface nc:operation="delete"><name>eth1</name></interface>'))
    assert mtu(r, "eth1") is None
    with pytest.raises(NetconfError) as info:
        edit(cfg(), config('<interface nc:operation="delete"><name>eth9</name></interface>'))
    assert info.value.tag == "data-missing"
    r, _ = edit(cfg(), config('<interface nc:operation="remove"><name>eth9</name></interface>'
                              '<hostname nc:operation="remove"/>'))
    assert r.find(".//{urn:ex}hostname") is None


def test_default_operation_none() -> None:
    r, _ = edit(cfg(), config("<hostname>ignored</hostname><interface><name>eth0</name>"
                              '<mtu nc:operation="replace">1</mtu></interface>'), default_operation="none")
    assert r.findtext(".//{urn:ex}hostname") == "r1" and mtu(r, "eth0") == "1"
    with pytest.raises(NetconfError) as info:
        edit(cfg(), config('<interface><name>eth5</name><mtu nc:operation="merge">1</mtu></interface>'),
             default_operation="none")
    assert info.value.tag == "data-missing"


def test_bad_operation_attribute() -> None:
    with pytest.raises(NetconfError) as info:
        edit(cfg(), config('<hostname nc:operation="frobnicate">x</hostname>'))
    assert info.value.tag == "bad-attribute"


def test_error_options() -> None:
    bad = config('<hostname>r9</hostname><user nc:operation="create"><id>7</id></user>'
                 '<interface nc:operation="delete"><name>nope</name></interface><user nc:operation="create">'
                 '<id>9</id></user>')
    original = cfg()
    with pytest.raises(NetconfError):
        edit(original, bad, error_option="stop-on-error")
    assert original.findtext(".//{urn:ex}hostname") == "r9"  # changes before the error stay
    assert len(list(original.iter("{urn:ex}user"))) == 1

    original = cfg()
    with pytest.raises(NetconfErrors) as many:
        edit(original, bad, error_option="continue-on-error")
    assert [e.tag for e in many.value.errors] == ["data-exists", "data-missing"]
    assert len(list(original.iter("{urn:ex}user"))) == 2  # later edits applied

    original = cfg()
    with pytest.raises(NetconfError):
        edit(original, bad, error_option="rollback-on-error")
    assert original.findtext(".//{urn:ex}hostname") == "r1"


def test_large_list_uses_index() -> None:
    entries = "".join("<interface><name>if%d</name><mtu>1</mtu></interface>" % i for i in range(2000))
    r = root_from_xml('<top xmlns="urn:ex">%s</top>' % entries)
    edits = "".join("<interface><name>if%d</name><mtu>2</mtu></interface>" % i for i in range(0, 2000, 2))
    r, _ = edit(r, config(edits + '<interface nc:operation="delete"><name>if1</name></interface>'))
    assert mtu(r, "if0") == "2" and mtu(r, "if3") == "1" and mtu(r, "if1") is None
    assert len(list(r.iter("{urn:ex}interface"))) == 1999

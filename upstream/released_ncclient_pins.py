"""pytest plugin for upstream/apply-and-test: the tests of this project that pin what
*released* ncclient does where the patch series changes it on purpose.

    pytest -p released_ncclient_pins --pinned=deselect tests   # the suite without them
    pytest -p released_ncclient_pins --pinned=only tests       # only them

Each entry is (module file name, test function name or "*" for all), so that moving test modules between
folders does not lose them; an entry that matches no collected test is an error (the list
is stale), not a silent no-op.
"""

from __future__ import annotations

from typing import Any, List

# (module, function): what released ncclient does, and what the series does instead.
PINNED = {
    # patch 1: a reply with an unknown message-id ends a plain ncclient session
    # (OperationError "Unknown 'message-id'"); patched, it is logged and dropped.
    ("test_server_faults.py", "test_unknown_message_id"),
    # patch 1: the second copy of a reply ends a plain ncclient session; patched, dropped.
    ("test_server_faults.py", "test_duplicate_reply"),
    # patch 3: plain ncclient waits for ever for a chunk header that never becomes valid
    # (the request times out); patched, NetconfFramingError ends the session at once.
    ("test_server_faults.py", "test_bad_chunk_header"),
    # patch 2 and a server bug: yuma123's netconfd holds a request that reaches it in the
    # same read as the client's hello until more input comes (see YUMA_HELLO_SETTLE in
    # our session module). Released ncclient's 100 ms send tick hid it; patched, plain
    # ncclient's first request can follow the hello at once and stall (about 1 session
    # in 20). These tests drive netconfd with plain ncclient; ours settle, so the rest
    # of the netconfd tests stay in the suite.
    ("test_netconfd_fixture.py", "*"),
}


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--pinned", choices=("deselect", "only"), default=None,
                     help="deselect, or keep only, the tests that pin released ncclient")


def pytest_collection_modifyitems(config: Any, items: List[Any]) -> None:
    mode = config.getoption("--pinned")
    if mode is None:
        return
    matched = set()
    keep, drop = [], []
    for item in items:
        key = (item.path.name, getattr(item, "originalname", item.name))
        if key not in PINNED:
            key = (item.path.name, "*")
        if key in PINNED:
            matched.add(key)
            (keep if mode == "only" else drop).append(item)
        else:
            (drop if mode == "only" else keep).append(item)
    stale = PINNED - matched
    if stale:
        raise RuntimeError("upstream/released_ncclient_pins.py: no such tests: %s" % sorted(stale))
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep

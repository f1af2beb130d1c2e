"""ConnectSlots: at most limit() holders, the others in order; a waiter that gives up
loses its place; a release counts once."""

from __future__ import annotations

from typing import Any, List

import pytest
from twisted.internet.defer import CancelledError

from ncclient_twisted.bridge.slots import ConnectSlots


def test_holders_are_bounded_and_the_others_wait_in_order() -> None:
    limit = [2]
    slots = ConnectSlots(lambda: limit[0])
    got: List[Any] = []
    ds = [slots.acquire() for _ in range(5)]
    for n, d in enumerate(ds):
        d.addCallback(lambda release, n=n: got.append((n, release)))
    assert [n for n, _ in got] == [0, 1] and slots.held == 2 and slots.waiting == 3
    got[0][1]()
    got[0][1]()  # a second release of the same slot counts for nothing
    assert [n for n, _ in got] == [0, 1, 2] and slots.held == 2
    limit[0] = 4  # a larger pool: read when the next slot is given
    got[1][1]()
    assert [n for n, _ in got] == [0, 1, 2, 3, 4] and slots.held == 3 and slots.waiting == 0


def test_a_waiter_that_gives_up_loses_its_place() -> None:
    slots = ConnectSlots(lambda: 1)
    releases: List[Any] = []
    slots.acquire().addCallback(releases.append)
    gave_up = slots.acquire()
    later = slots.acquire()
    later.addCallback(releases.append)
    gave_up.cancel()
    with pytest.raises(CancelledError):
        gave_up.result.raiseException()
    gave_up.addErrback(lambda f: None)
    releases[0]()
    assert len(releases) == 2 and slots.held == 1 and slots.waiting == 0

"""benchmarks.run's patched clients: run with another python, only when one is given."""

from __future__ import annotations

import sys

import pytest

from benchmarks import run
from benchmarks._catalog import CLIENTS_BY_NAME, PATCHED_CLIENTS, QUICK

PATCHED = [c.name for c in PATCHED_CLIENTS]


def test_without_a_patched_python_the_patched_clients_are_left_out() -> None:
    args = run.parse_args(["--only", "sequential"])
    _, clients = run.selection(args)
    assert not set(PATCHED) & set(clients) and "ours-reactor" in clients


def test_asking_for_a_patched_client_needs_a_patched_python() -> None:
    with pytest.raises(SystemExit):
        run.parse_args(["--clients", "ours-patched"])


def test_patched_clients_run_with_the_patched_python() -> None:
    args = run.parse_args(["--only", "sequential,inflight", "--patched-python", "/p/python"])
    scenarios, clients = run.selection(args)
    jobs = run.plan(["embedded"], scenarios, clients, QUICK, args.patched_python)
    python = {(j.client, j.scenario): j.python for j in jobs}
    assert python[("ours-patched", "inflight")] == "/p/python"
    assert python[("ncclient-patched", "sequential")] == "/p/python"
    assert ("ncclient-patched", "inflight") not in python
    assert python[("ours-reactor", "inflight")] == sys.executable
    assert all(CLIENTS_BY_NAME[c].patched for c in PATCHED)

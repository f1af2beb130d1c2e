"""The benchmark's lateness probe: an idle reactor in another process, started and
stopped within bounds, reporting over the window it was given (here, not in tests/unit:
it starts a child process and imports the benchmarks)."""

from __future__ import annotations

import os

from benchmarks._floor import FloorProbe


def test_the_probe_reports_over_its_window_and_leaves_no_process() -> None:
    probe = FloorProbe(0.001)
    probe.start()
    proc = probe._proc
    assert proc is not None and proc.poll() is None
    probe.open()
    probe.close()
    metrics = probe.stop()
    assert set(metrics) == {"floor_lateness_p99_ms", "floor_lateness_max_ms"}
    assert all(v >= 0.0 for v in metrics.values())
    assert proc.poll() is not None  # reaped
    assert not os.path.exists(probe._path)
    assert probe.stop() == {}  # once

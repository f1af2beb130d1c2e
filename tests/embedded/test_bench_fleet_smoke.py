"""The fleet benchmark (``benchmarks/fleet.py``) in its quick mode, for our reactor client on
five devices: the run ends, and its record and report have their shape (not its timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_quick_run_of_the_reactor_client_writes_its_record(tmp_path: Path) -> None:
    report = tmp_path / "FLEET.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.fleet", "--quick", "--devices", "5", "--concurrency", "5",
         "--clients", "reactor", "--output", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((tmp_path / "FLEET.json").read_text())
    assert record["meta"]["rounds"] == 1 and record["meta"]["servers"] == 2
    [row] = record["rows"]
    assert row["client"] == "reactor" and row["devices"] == 5 and row["concurrency"] == 5
    assert row["ok"] == 5 and row["failed"] == 0 and row["first_error"] is None and "error" not in row
    for key in ("wall_s", "cpu_s", "cpu_ms_per_device", "process_wall_s", "process_cpu_s", "peak_rss_mib",
                "lateness_max_ms", "lateness_p99_ms"):
        assert isinstance(row[key], (int, float)) and row[key] >= 0, key
    assert row["process_cpu_s"] >= row["cpu_s"]
    text = report.read_text()
    assert "## 5 devices, at most 5 at once" in text and "## Targets (issue #25)" in text

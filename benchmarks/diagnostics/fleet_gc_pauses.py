"""Diagnostic, not part of any report: the fleet's io=reactor row at 2,000 devices (200 at
once), every garbage collection timed with ``gc.callbacks``: what bounds its reactor lateness.

    .venv/bin/python -m benchmarks.diagnostics.fleet_gc_pauses [normal|freeze|semaphore] [DEVICES] [census]

``freeze`` moves what start-up made (the imports of the client's modules included) into the
permanent generation before the job (``gc.freeze()``).
``semaphore`` runs the job in the shape the fleet benchmark had before: a coroutine per device
made up front, waiting in a ``DeferredSemaphore`` (the benchmark now runs as many workers as the
concurrency, each taking the next device). ``census`` also counts, by type, what the largest
generation-2 collection scanned beyond what is left after the run (its counting makes the
pauses longer: read their times from a run without it).
"""

from __future__ import annotations

import collections
import gc
import sys
import tempfile
import time
from typing import Any, Dict, List, Tuple

from benchmarks import fleet
from benchmarks.diagnostics._common import by_type


def main(mode: str = "normal", devices: str = "2000", census: str = "") -> None:
    pauses: List[Tuple[int, float]] = []
    started = [0.0]
    peak = [0]
    largest: "collections.Counter[str]" = collections.Counter()

    def timed(phase: str, info: Dict[str, Any]) -> None:
        if phase == "start":
            if info["generation"] == 2:
                tracked = gc.get_objects()
                if census and len(tracked) > peak[0]:
                    largest.clear()
                    largest.update(by_type(tracked))
                peak[0] = max(peak[0], len(tracked))
                del tracked
            started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], (time.perf_counter() - started[0]) * 1000))

    procs, targets, lines = fleet.start_servers(2, int(devices))
    try:
        with tempfile.NamedTemporaryFile("w", suffix="_known_hosts", delete=False) as known_hosts:
            known_hosts.write("".join(line + "\n" for line in lines))
        gc.callbacks.append(timed)
        spec = {"client": "reactor", "devices": targets, "concurrency": 200,
                "known_hosts": known_hosts.name, "username": fleet.USERNAME,
                "shape": "semaphore" if mode == "semaphore" else "workers",
                "freeze": mode == "freeze"}  # fmt: skip
        out = fleet.worker(spec)
        gc.callbacks.remove(timed)
    finally:
        fleet.stop_servers(procs)
    longest = sorted(pauses, key=lambda p: -p[1])[:4]
    shown = {k: out.get(k) for k in ("wall_s", "cpu_ms_per_device", "lateness_max_ms", "lateness_p99_ms")}
    print(mode, shown)
    print("longest collections (generation, ms):", [(g, round(ms, 1)) for g, ms in longest])
    print("generation-2 collections:", sum(1 for g, _ in pauses if g == 2),
          "; objects tracked at their start, at most:", peak[0])  # fmt: skip
    print("time in collections (ms) by generation:",
          {g: round(sum(ms for gen, ms in pauses if gen == g)) for g in (0, 1, 2)})
    if census:
        gc.collect()
        grown = largest - by_type(gc.get_objects())
        print("the largest generation-2 collection scanned %d objects, %d beyond what is left after the run:"
              % (sum(largest.values()), sum(grown.values())))  # fmt: skip
        for kind, count in grown.most_common(20):
            print("  %7d %s" % (count, kind))


if __name__ == "__main__":
    main(*sys.argv[1:4])

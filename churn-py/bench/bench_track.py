"""churnlens from Python: track rates, analysis Python vs Rust, and the posthog /
segment-analytics-python clients' enqueue rates as the reference users know.

Run with ``./dev bench-python`` (release build). Prints medians of several runs.

* batch: ``track_batch(list_of_dicts)`` of N prebuilt dicts; "enqueue" is the call's
  own time (validated and queued, the same point posthog/segment measure). Run twice:
  on a SQLite file (then "stored" adds the ``flush()`` until everything is durable) and
  on ``Analytics.in_memory()`` (the binding plus the core's tracker, no disk).
* single: N ``track(...)`` calls with a small properties dict, ``Analytics.in_memory()``.
* per CPU second: events per second of process CPU time (all threads, including the
  writer thread storing them), the figure to judge speed by on a busy machine.
* posthog / segment: their ``capture`` / ``track`` into the in-process queue with
  sending disabled (``send=False``, a dummy host, queue large enough, never flushed).
* analysis: the same analyses timed from Python (``Analytics.active_users`` ...,
  including the auto flush/refresh and the dict conversion) and from Rust (the
  ``py_bench_analysis`` example over the same SQLite file); ratio Python / Rust, by
  wall clock and by the calling thread's CPU time (steady when the machine is busy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import churnlens

DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01


def median_times(fn: Callable[[], Any], runs: int) -> Tuple[float, float]:
    """Medians of (wall seconds, this thread's CPU seconds) over ``runs`` calls."""
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - t)
    return statistics.median(wall), statistics.median(cpu)


def events(n: int, users: int) -> List[Dict[str, Any]]:
    """n events over 90 days; a few per user per day, some page views."""
    out: List[Dict[str, Any]] = []
    for i in range(n):
        u = i % users
        ts = T0 + (i * 7919 % (90 * DAY_MS // 60_000)) * 60_000
        if i % 4 == 0:
            out.append({"type": "page", "name": f"/p{i % 20}", "user_id": f"u{u}",
                        "timestamp": ts, "properties": {"path": f"/p{i % 20}"}})
        else:
            out.append({"event": "click", "user_id": f"u{u}", "timestamp": ts,
                        "properties": {"button": "buy", "n": i % 10}})
    return out


def bench_batch(n: int, runs: int, on_file: bool) -> Dict[str, float]:
    data = events(n, 5_000)
    enq, stored, cpu = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "b.db") if on_file else None
            a = churnlens.Analytics(path, queue_capacity=n + 1, batch_size=10_000)
            t, c = time.perf_counter(), time.process_time()
            r = a.track_batch(data)
            t1 = time.perf_counter()
            a.flush()
            t2, c2 = time.perf_counter(), time.process_time()
            assert r["accepted"] == n, r["rejected"][:3]
            enq.append(n / (t1 - t))
            stored.append(n / (t2 - t))
            cpu.append(n / max(c2 - c, 1e-9))
            a.close()
    return {"enqueue_per_s": statistics.median(enq), "stored_per_s": statistics.median(stored),
            "per_cpu_s": statistics.median(cpu)}


def bench_single(n: int, runs: int) -> Dict[str, float]:
    rates, cpu = [], []
    for _ in range(runs):
        a = churnlens.Analytics.in_memory(queue_capacity=n + 1, batch_size=10_000)
        track = a.track
        props = {"button": "buy", "n": 3}
        t, c = time.perf_counter(), time.process_time()
        for i in range(n):
            track("click", user_id="u1", properties=props)
        rates.append(n / (time.perf_counter() - t))
        a.flush()
        cpu.append(n / max(time.process_time() - c, 1e-9))
        a.close()
    return {"per_s": statistics.median(rates), "per_cpu_s": statistics.median(cpu)}


def bench_posthog(n: int, runs: int) -> Optional[float]:
    try:
        from posthog import Posthog  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    rates = []
    for _ in range(runs):
        ph = Posthog("phc_dummy", host="http://127.0.0.1:9", send=False,
                     max_queue_size=n + 1, sync_mode=False)
        props = {"button": "buy", "n": 3}
        t = time.perf_counter()
        for _ in range(n):
            ph.capture("click", distinct_id="u1", properties=props)
        rates.append(n / (time.perf_counter() - t))
    return statistics.median(rates)


def bench_segment(n: int, runs: int) -> Optional[float]:
    try:
        from segment.analytics import Client  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    rates = []
    for _ in range(runs):
        c = Client("dummy", host="http://127.0.0.1:9", send=False, max_queue_size=n + 1)
        props = {"button": "buy", "n": 3}
        t = time.perf_counter()
        for _ in range(n):
            c.track("u1", "click", props)
        rates.append(n / (time.perf_counter() - t))
    return statistics.median(rates)


def bench_analysis(n: int, runs: int, rust_bench: Optional[str]) -> Dict[str, Any]:
    tmp = tempfile.mkdtemp()
    db = os.path.join(tmp, "a.db")
    a = churnlens.Analytics(db, queue_capacity=n + 1, batch_size=10_000)
    a.track_batch(events(n, 20_000))
    a.flush()
    a.active_users()  # load the engine once, as the Rust side does before timing
    timed = {
        "active_users": median_times(lambda: a.active_users(period="day"), runs),
        "sessions": median_times(lambda: a.sessions(), runs),
        "retention": median_times(lambda: a.retention(period="week"), runs),
    }
    py: Dict[str, float] = {}
    for k, (wall, cpu) in timed.items():
        py[f"{k}_ms"] = 1000 * wall
        py[f"{k}_cpu_ms"] = 1000 * cpu
    out: Dict[str, Any] = {"events": n, "python": py}
    if rust_bench:
        res = subprocess.run([rust_bench, db, str(runs)], check=True, capture_output=True,
                             text=True)
        rust = json.loads(res.stdout)
        out["rust"] = rust
        out["ratio"] = {k: py[k] / rust[k] for k in py if rust.get(k)}
    return out


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--analysis-events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rust-bench", default=None)
    args = ap.parse_args()
    n, runs = args.events, args.runs
    print(f"churnlens {churnlens.__version__}, Python {sys.version.split()[0]}, "
          f"{n} events per track run, median of {runs} runs")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs at start")
    b = bench_batch(n, runs, on_file=True)
    print(f"track_batch  enqueue {b['enqueue_per_s']:>12,.0f} events/s   goal 500,000   "
          f"(SQLite file; stored: {b['stored_per_s']:,.0f}/s; "
          f"{b['per_cpu_s']:,.0f} per CPU second incl. storing)")
    m = bench_batch(n, runs, on_file=False)
    print(f"track_batch  enqueue {m['enqueue_per_s']:>12,.0f} events/s   goal 500,000   "
          f"(in_memory; {m['per_cpu_s']:,.0f} per CPU second incl. storing)")
    s = bench_single(n, runs)
    print(f"track        single  {s['per_s']:>12,.0f} events/s   goal 200,000   "
          f"(in_memory; {s['per_cpu_s']:,.0f} per CPU second incl. storing)")
    ph = bench_posthog(n, runs)
    print(f"posthog      capture {ph:>12,.0f} events/s   (send=False)" if ph else
          "posthog      not installed")
    sg = bench_segment(n, runs)
    print(f"segment      track   {sg:>12,.0f} events/s   (send=False)" if sg else
          "segment      not installed")
    an = bench_analysis(args.analysis_events, max(runs, 7), args.rust_bench)
    print(f"analysis over {an['events']:,} events (median ms): Python vs Rust")
    for k in ("active_users", "sessions", "retention"):
        v, c = an["python"][f"{k}_ms"], an["python"][f"{k}_cpu_ms"]
        if "rust" in an:
            r = an["rust"]
            cpu = (f"   cpu: python {c:8.2f} rust {r[k + '_cpu_ms']:8.2f} "
                   f"ratio {an['ratio'][k + '_cpu_ms']:.3f}") if k + "_cpu_ms" in r else ""
            print(f"  {k:<13} python {v:9.2f}  rust {r[k + '_ms']:9.2f}  "
                  f"ratio {an['ratio'][k + '_ms']:.3f}   goal <= 1.05{cpu}")
        else:
            print(f"  {k:<13} python {v:9.2f}  (no --rust-bench given)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")

if __name__ == "__main__":
    main()

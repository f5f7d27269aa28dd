"""churnlens from Python: track rates, analysis Python vs Rust, and the posthog /
segment-analytics-python clients' enqueue rates as the reference users know.

Run with ``./dev bench-python`` (release build). Prints medians of several runs.

* batch: ``track_batch(list_of_dicts)`` of N prebuilt dicts; "enqueue" is the call's
  own time (validated and queued, the same point posthog/segment measure), "stored"
  adds the ``flush()`` until everything is durable in the SQLite file.
* single: N ``track(...)`` calls with a small properties dict.
* posthog / segment: their ``capture`` / ``track`` into the in-process queue with
  sending disabled (``send=False``, a dummy host, queue large enough, never flushed).
* analysis: the same analyses timed from Python (``Analytics.active_users`` ...,
  including the auto flush/refresh and the dict conversion) and from Rust (the
  ``py_bench_analysis`` example over the same SQLite file); ratio Python / Rust.
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
from typing import Any, Callable, Dict, List, Optional

import churnlens

DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01


def median_time(fn: Callable[[], Any], runs: int) -> float:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


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


def bench_batch(n: int, runs: int) -> Dict[str, float]:
    data = events(n, 5_000)
    enq, stored = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            a = churnlens.Analytics(os.path.join(tmp, "b.db"), queue_capacity=n + 1,
                                    batch_size=10_000)
            t = time.perf_counter()
            r = a.track_batch(data)
            t1 = time.perf_counter()
            a.flush()
            t2 = time.perf_counter()
            assert r["accepted"] == n, r["rejected"][:3]
            enq.append(n / (t1 - t))
            stored.append(n / (t2 - t))
            a.close()
    return {"enqueue_per_s": statistics.median(enq), "stored_per_s": statistics.median(stored)}


def bench_single(n: int, runs: int) -> Dict[str, float]:
    rates = []
    for _ in range(runs):
        a = churnlens.Analytics.in_memory(queue_capacity=n + 1, batch_size=10_000)
        track = a.track
        props = {"button": "buy", "n": 3}
        t = time.perf_counter()
        for i in range(n):
            track("click", user_id="u1", properties=props)
        rates.append(n / (time.perf_counter() - t))
        a.close()
    return {"per_s": statistics.median(rates)}


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
    py = {
        "active_users_ms": 1000 * median_time(lambda: a.active_users(period="day"), runs),
        "sessions_ms": 1000 * median_time(lambda: a.sessions(), runs),
        "retention_ms": 1000 * median_time(lambda: a.retention(period="week"), runs),
    }
    a.close()
    out: Dict[str, Any] = {"events": n, "python": py}
    if rust_bench:
        res = subprocess.run([rust_bench, db, str(runs)], check=True, capture_output=True,
                             text=True)
        rust = json.loads(res.stdout)
        out["rust"] = rust
        out["ratio"] = {k: py[k] / rust[k] for k in py}
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
    b = bench_batch(n, runs)
    print(f"track_batch  enqueue {b['enqueue_per_s']:>12,.0f} events/s   "
          f"(stored in SQLite: {b['stored_per_s']:,.0f}/s)   goal 500,000")
    s = bench_single(n, runs)
    print(f"track        single  {s['per_s']:>12,.0f} events/s   goal 200,000")
    ph = bench_posthog(n, runs)
    print(f"posthog      capture {ph:>12,.0f} events/s   (send=False)" if ph else
          "posthog      not installed")
    sg = bench_segment(n, runs)
    print(f"segment      track   {sg:>12,.0f} events/s   (send=False)" if sg else
          "segment      not installed")
    an = bench_analysis(args.analysis_events, max(runs, 7), args.rust_bench)
    print(f"analysis over {an['events']:,} events (median ms): Python vs Rust")
    for k, v in an["python"].items():
        if "rust" in an:
            print(f"  {k[:-3]:<13} python {v:9.2f}  rust {an['rust'][k]:9.2f}  "
                  f"ratio {an['ratio'][k]:.3f}   goal <= 1.05")
        else:
            print(f"  {k[:-3]:<13} python {v:9.2f}  (no --rust-bench given)")


if __name__ == "__main__":
    main()

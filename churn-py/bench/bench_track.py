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
  including the auto flush/refresh and the dict conversion) and from Rust (the same
  flush + refresh + analysis through churn-core's API, ``_bench_rust_analysis``), in
  this process, calls alternated; medians and the ratio Python / Rust, by wall clock
  ("paired": the median of each round's Python / Rust wall ratio) and by the calling
  thread's CPU time (steady when the machine is busy).
* "call's thread": events per CPU second of the thread calling ``track_batch`` alone
  (the writer thread stores on another core meanwhile): the enqueue rate a quiet
  machine gives.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import churnlens

DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01


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
    enq, stored, cpu, caller = [], [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "b.db") if on_file else None
            a = churnlens.Analytics(path, queue_capacity=n + 1, batch_size=10_000)
            t, c = time.perf_counter(), time.process_time()
            tc = time.thread_time()
            r = a.track_batch(data)
            tc1, t1 = time.thread_time(), time.perf_counter()
            a.flush()
            t2, c2 = time.perf_counter(), time.process_time()
            assert r["accepted"] == n, r["rejected"][:3]
            enq.append(n / (t1 - t))
            stored.append(n / (t2 - t))
            cpu.append(n / max(c2 - c, 1e-9))
            caller.append(n / max(tc1 - tc, 1e-9))
            a.close()
    return {"enqueue_per_s": statistics.median(enq), "stored_per_s": statistics.median(stored),
            "per_cpu_s": statistics.median(cpu), "caller_per_cpu_s": statistics.median(caller)}


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


ANALYSES = {
    "active_users": {"period": "day"},
    "sessions": {},
    "retention": {"period": "week"},
}


def bench_analysis(n: int, runs: int) -> Dict[str, Any]:
    """Each analysis ``runs`` times from Python and ``runs`` times from Rust, alternated
    call by call (which goes first flips every round), over one SQLite file of ``n``
    events. Both sides do a fresh-answer call's whole work: flush, refresh, analysis;
    Python adds its keyword arguments and the report as dicts, Rust builds the request
    in Rust and keeps the report a Rust value (``_bench_rust_analysis``)."""
    from churnlens import _churnlens

    tmp = tempfile.mkdtemp()
    db = os.path.join(tmp, "a.db")
    a = churnlens.Analytics(db, queue_capacity=n + 1, batch_size=10_000)
    a.track_batch(events(n, 20_000))
    a.flush()
    rust = _churnlens._bench_rust_analysis  # type: ignore[attr-defined]
    out: Dict[str, Any] = {"events": n, "runs": runs}
    for name, kw in ANALYSES.items():
        method = getattr(a, name)
        calls = {"python": lambda: method(**kw), "rust": lambda: rust(a, name)}
        for f in calls.values():  # warm-up: engine load, lazily read columns, caches
            f()
        wall: Dict[str, List[float]] = {"python": [], "rust": []}
        cpu: Dict[str, List[float]] = {"python": [], "rust": []}
        for i in range(runs):
            for side in (("python", "rust") if i % 2 == 0 else ("rust", "python")):
                f = calls[side]
                t, c = time.perf_counter(), time.thread_time()
                r = f()
                cpu[side].append(time.thread_time() - c)
                wall[side].append(time.perf_counter() - t)
                del r
        out[name] = {f"{side}_{kind}": 1000 * statistics.median(v[side])
                     for kind, v in (("ms", wall), ("cpu_ms", cpu)) for side in v}
        # Each round's Python / Rust wall time (the two calls ran back to back): steadier
        # than the ratio of medians when the machine's load drifts.
        out[name]["paired"] = statistics.median(
            p / r for p, r in zip(wall["python"], wall["rust"]))
    a.close()
    return out


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--analysis-events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--analysis-runs", type=int, default=41)
    ap.add_argument("--parts", default="track,peers,analysis",
                    help="comma-separated subset of track,peers,analysis")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    n, runs = args.events, args.runs
    print(f"churnlens {churnlens.__version__}, Python {sys.version.split()[0]}, "
          f"{n} events per track run, median of {runs} runs")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs at start")
    if "track" in parts:
        bench_track(n, runs)
    if "peers" in parts:
        bench_peers(n, runs)
    if "analysis" in parts:
        print_analysis(args.analysis_events, args.analysis_runs)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


def bench_track(n: int, runs: int) -> None:
    b = bench_batch(n, runs, on_file=True)
    print(f"track_batch  enqueue {b['enqueue_per_s']:>12,.0f} events/s   goal 500,000   "
          f"(SQLite file; stored: {b['stored_per_s']:,.0f}/s; "
          f"{b['per_cpu_s']:,.0f} per CPU second incl. storing; "
          f"call's thread {b['caller_per_cpu_s']:,.0f} per CPU second)")
    m = bench_batch(n, runs, on_file=False)
    print(f"track_batch  enqueue {m['enqueue_per_s']:>12,.0f} events/s   goal 500,000   "
          f"(in_memory; {m['per_cpu_s']:,.0f} per CPU second incl. storing; "
          f"call's thread {m['caller_per_cpu_s']:,.0f} per CPU second)")
    s = bench_single(n, runs)
    print(f"track        single  {s['per_s']:>12,.0f} events/s   goal 200,000   "
          f"(in_memory; {s['per_cpu_s']:,.0f} per CPU second incl. storing)")


def bench_peers(n: int, runs: int) -> None:
    ph = bench_posthog(n, runs)
    print(f"posthog      capture {ph:>12,.0f} events/s   (send=False)" if ph else
          "posthog      not installed")
    sg = bench_segment(n, runs)
    print(f"segment      track   {sg:>12,.0f} events/s   (send=False)" if sg else
          "segment      not installed")


def print_analysis(events: int, runs: int) -> None:
    an = bench_analysis(events, runs)
    print(f"analysis over {an['events']:,} events, SQLite file: median of {an['runs']} calls "
          "each side, Python and Rust alternated in this process; goal ratio <= 1.05")
    print(f"  {'':<13} {'rust ms':>9} {'python ms':>10} {'ratio':>7} {'paired':>7}   "
          f"{'rust cpu':>9} {'python cpu':>10} {'ratio':>7}  runs")
    for k in ANALYSES:
        r = an[k]
        print(f"  {k:<13} {r['rust_ms']:9.3f} {r['python_ms']:10.3f} "
              f"{r['python_ms'] / r['rust_ms']:7.3f} {r['paired']:7.3f}   {r['rust_cpu_ms']:9.3f} "
              f"{r['python_cpu_ms']:10.3f} {r['python_cpu_ms'] / r['rust_cpu_ms']:7.3f}  "
              f"{an['runs']}")


if __name__ == "__main__":
    main()

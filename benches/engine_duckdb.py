#!/usr/bin/env python3
"""The engine bench: churnlens vs DuckDB on the same synthetic events, in one run.

1. Runs the churnlens side (`engine_bench`, Rust): it generates the deterministic data
   set, writes it as CSV (untimed), loads the engine and times each analysis (median of
   --runs), and writes the results as JSON.
2. Loads the CSV into an in-memory DuckDB table (timed apart, as the load), runs the
   same analyses in SQL (median of --runs, warm), per ../shared/DEFINITIONS.md.
3. Checks that every result is EXACTLY equal on both sides (exit 1 otherwise), then
   prints the ratio churnlens time / DuckDB time per analysis and the peak memory.

Analyses: DAU for every day, MAU per calendar month, sessions (30-minute gap:
count, persons, total and lower-median duration, pages per session, bounces, per
day), the 3-step 7-day ordered funnel signup -> feature_used -> purchase (persons per
step, in progress at the range end), weekly first-time retention (cohort of the first
active event, triangle of counts), monthly revenue and churn rate (revenue, payments,
paying and active persons, churned persons and churn rate). "Active" = every event
except email_sent (the engine's default non-interactive list; the data has no other).

Usage: engine_duckdb.py --bin target/release/engine_bench --events 1000000 [--runs 5]
"""

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import duckdb

DAY = 86_400_000
WINDOW = 7 * DAY

Q_DAU = """
SELECT ts // 86400000 AS d, count(DISTINCT user_id)
FROM events WHERE event <> 'email_sent' GROUP BY d ORDER BY d
"""

Q_MAU = """
SELECT date_trunc('month', epoch_ms(ts)) AS m, count(DISTINCT user_id)
FROM events WHERE event <> 'email_sent' GROUP BY m ORDER BY m
"""

# One row per day plus the totals row (d IS NULL), in one query.
Q_SESSIONS = """
WITH a AS (
  SELECT user_id, ts, event = 'page_view' AS pv,
         ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) AS gap
  FROM events WHERE event <> 'email_sent'),
b AS (
  SELECT user_id, ts, pv,
         sum(CASE WHEN gap IS NULL OR gap > 1800000 THEN 1 ELSE 0 END)
           OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid
  FROM a),
s AS (
  SELECT user_id, min(ts) // 86400000 AS d, max(ts) - min(ts) AS dur,
         count(*) AS n, sum(pv::INT) AS pages
  FROM b GROUP BY user_id, sid)
SELECT d, count(*), count(DISTINCT user_id), sum(dur), quantile_disc(dur, 0.5),
       sum(pages), count(*) FILTER (WHERE n = 1 AND pages = 1)
FROM s GROUP BY GROUPING SETS ((d), ()) ORDER BY d NULLS FIRST
"""

# Ordered funnel (ClickHouse windowFunnel semantics): from each signup, the earliest
# feature_used at or after it within the window, then the earliest purchase at or after
# that within the window (greedy earliest is optimal for an ordered chain); a person's
# level is the best over their signups; "in progress" = not converted with a window
# still open at the range end.
Q_FUNNEL = f"""
WITH bounds AS (SELECT max(ts) + 1 AS hi FROM events),
s1 AS (SELECT user_id, ts AS t1 FROM events WHERE event = 'signup'),
s2 AS (
  SELECT s1.user_id, s1.t1, min(e.ts) AS t2
  FROM s1 CROSS JOIN bounds
  LEFT JOIN events e ON e.user_id = s1.user_id AND e.event = 'feature_used'
       AND e.ts >= s1.t1 AND e.ts <= s1.t1 + {WINDOW} AND e.ts < bounds.hi
  GROUP BY s1.user_id, s1.t1),
s3 AS (
  SELECT s2.user_id, s2.t1, s2.t2, min(e.ts) AS t3
  FROM s2 CROSS JOIN bounds
  LEFT JOIN events e ON e.user_id = s2.user_id AND e.event = 'purchase'
       AND e.ts >= s2.t2 AND e.ts <= s2.t1 + {WINDOW} AND e.ts < bounds.hi
  GROUP BY s2.user_id, s2.t1, s2.t2),
lvl AS (
  SELECT user_id,
         max(1 + (t2 IS NOT NULL)::INT + (t3 IS NOT NULL)::INT) AS level,
         bool_or(t1 + {WINDOW} >= (SELECT hi FROM bounds)) AS open
  FROM s3 GROUP BY user_id)
SELECT count(*) FILTER (WHERE level >= 1), count(*) FILTER (WHERE level >= 2),
       count(*) FILTER (WHERE level >= 3), count(*) FILTER (WHERE open AND level < 3)
FROM lvl
"""

# ISO weeks: epoch day 0 (1970-01-01) was a Thursday, so week = (day + 3) // 7.
Q_RETENTION = """
WITH a AS (
  SELECT DISTINCT user_id, (ts // 86400000 + 3) // 7 AS w
  FROM events WHERE event <> 'email_sent'),
f AS (SELECT user_id, min(w) AS c FROM a GROUP BY user_id)
SELECT f.c, a.w - f.c AS k, count(*) FROM a JOIN f USING (user_id)
GROUP BY ALL ORDER BY 1, 2
"""

Q_REVENUE = """
WITH m AS (
  SELECT user_id, date_trunc('month', epoch_ms(ts)) AS m, event, amount
  FROM events WHERE event <> 'email_sent'),
per AS (
  SELECT m, coalesce(sum(amount) FILTER (WHERE event = 'purchase'), 0) AS revenue,
         count(*) FILTER (WHERE event = 'purchase') AS payments,
         count(DISTINCT user_id) FILTER (WHERE event = 'purchase') AS paying,
         count(DISTINCT user_id) AS active
  FROM m GROUP BY m),
um AS (SELECT DISTINCT user_id, m FROM m),
ch AS (
  SELECT a.m, count(*) AS churned FROM um a
  LEFT JOIN um b ON a.user_id = b.user_id AND b.m = a.m + INTERVAL 1 MONTH
  WHERE b.user_id IS NULL GROUP BY a.m)
SELECT per.m, per.revenue, per.payments, per.paying, per.active, coalesce(ch.churned, 0)
FROM per LEFT JOIN ch USING (m) ORDER BY per.m
"""

QUERIES = {
    "dau": Q_DAU,
    "mau": Q_MAU,
    "sessions": Q_SESSIONS,
    "funnel": Q_FUNNEL,
    "retention": Q_RETENTION,
    "revenue": Q_REVENUE,
}


def day_label(d):
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(d))).isoformat()


def days_between(lo, hi):
    """Every epoch day from lo to hi, both included."""
    return [day_label(d) for d in range(lo, hi + 1)]


def shape(name, rows, span):
    """DuckDB rows -> the shape `engine_bench` writes (every period of the range)."""
    lo_day, hi_day = span
    if name == "dau":
        got = {day_label(d): n for d, n in rows}
        return [[d, got.get(d, 0)] for d in days_between(lo_day, hi_day)]
    if name == "mau":
        return [[m.strftime("%Y-%m"), n] for m, n in rows]
    if name == "sessions":
        total = rows[0]
        per = {day_label(r[0]): r[1] for r in rows[1:]}
        n = total[1]
        return {
            "sessions": n,
            "users": total[2],
            "total_duration_ms": int(total[3]),
            "median_duration_ms": int(total[4]) if n else None,
            "pages_per_session": int(total[5]) / n if n else None,
            "bounces": total[6],
            "per_day": [[d, per.get(d, 0)] for d in days_between(lo_day, hi_day)],
        }
    if name == "funnel":
        a, b, c, open_ = rows[0]
        return {"users": [a, b, c], "in_progress": open_}
    if name == "retention":
        first_w, last_w = (lo_day + 3) // 7, (hi_day + 3) // 7
        counts = {(c, k): n for c, k, n in rows}
        out = []
        for c in range(first_w, last_w + 1):
            width = last_w - c + 1
            start = day_label(c * 7 - 3)
            row = [counts.get((c, k), 0) for k in range(width)]
            out.append([start, row[0], row])
        return out
    if name == "revenue":
        out = []
        for i, (m, rev, pays, paying, active, churned) in enumerate(rows):
            last = i == len(rows) - 1
            out.append([
                m.strftime("%Y-%m"), float(rev), pays, paying, active,
                None if last else churned,
                None if last or active == 0 else churned / active,
            ])
        return out
    raise ValueError(name)


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def mib(b):
    return f"{b / 2**20:,.0f} MiB"


def diff(a, b, path="$"):
    """First difference between two JSON values, or None."""
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                       and not isinstance(a, bool) and not isinstance(b, bool)):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            d = diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the engine_bench binary")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", default=None, help="directory for the CSV and JSON")
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads")
    args = ap.parse_args()

    work = args.work or tempfile.mkdtemp(prefix="engine-bench-")
    os.makedirs(work, exist_ok=True)
    csv = os.path.join(work, f"events-{args.events}.csv")
    out = os.path.join(work, f"churnlens-{args.events}.json")
    print(f"churnlens: {args.bin} --events {args.events} --runs {args.runs}", file=sys.stderr)
    subprocess.run([args.bin, "--events", str(args.events), "--runs", str(args.runs),
                    "--csv", csv, "--out", out], check=True)
    with open(out) as f:
        cl = json.load(f)

    con = duckdb.connect(":memory:")
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    t = time.perf_counter()
    con.execute(
        "CREATE TABLE events AS SELECT * FROM read_csv(?, header = true, columns = "
        "{'user_id': 'VARCHAR', 'ts': 'BIGINT', 'event': 'VARCHAR', 'amount': 'DOUBLE', "
        "'path': 'VARCHAR'})", [csv])
    load_ms = (time.perf_counter() - t) * 1e3
    lo, hi = con.execute("SELECT min(ts) // 86400000, max(ts) // 86400000 FROM events").fetchone()

    timings, results = {}, {}
    for name, q in QUERIES.items():
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            rows = con.execute(q).fetchall()
            times.append((time.perf_counter() - t) * 1e3)
        timings[name] = statistics.median(times)
        results[name] = shape(name, rows, (lo, hi))
    duck_rss = peak_rss()

    bad = [f"{name}: {d}" for name in QUERIES
           if (d := diff(cl["results"][name], results[name]))]
    if bad:
        print("RESULTS DIFFER between churnlens and DuckDB:", file=sys.stderr)
        for b in bad:
            print("  " + b, file=sys.stderr)
        sys.exit(1)

    n = cl["events"]
    print(f"\n{n:,} events, {cl['users']:,} users; every result equal in both "
          f"(median of {args.runs} warm runs; DuckDB {duckdb.__version__}, {threads} threads; "
          f"churnlens 1 thread); load average {os.getloadavg()[0]:.1f}")
    print(f"{'analysis':<10} {'churnlens ms':>13} {'DuckDB ms':>10} {'ratio':>7}")
    for name in QUERIES:
        a, b = cl["timings_ms"][name], timings[name]
        print(f"{name:<10} {a:>13.1f} {b:>10.1f} {a / b:>7.2f}")
    cl_load = cl["load_ms"] + cl["props_ms"]
    print(f"{'load':<10} {cl_load:>13.1f} {load_ms:>10.1f} {cl_load / load_ms:>7.2f}"
          f"   (churnlens: Engine::load {cl['load_ms']:.0f} ms + first fetch of paths/amounts "
          f"{cl['props_ms']:.0f} ms, from an in-memory store; DuckDB: CSV file -> table)")
    print(f"peak memory: churnlens {mib(cl['peak_rss'])} (process, incl. the "
          f"{mib(cl['rss_before_load'])} source data held by the in-memory store; engine "
          f"view {mib(cl['engine_bytes'])}, {cl['column_bytes_per_event']:.1f} B/event "
          f"columns); DuckDB {mib(duck_rss)} (Python process)")
    if not cl.get("peak_rss_reset"):
        print("note: could not reset the churnlens peak before the load; it includes "
              "generation", file=sys.stderr)


if __name__ == "__main__":
    main()

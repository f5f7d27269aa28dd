#!/usr/bin/env python3
"""Baseline for the ingest bench: Python's stdlib sqlite3 `executemany`.

Reads the rows written by the `ingest` binary (one JSON array a line) before any clock
starts, then for each run creates a fresh database with a table equivalent to
churnlens's events table (same columns, event name as plain text, the same unique and
secondary indexes, WAL, the same `synchronous`), and inserts the rows in batches, one
transaction per batch, with `INSERT OR IGNORE` (dedup on message_id). Prints JSON:
{"events_per_s": [...], "events_per_cpu_s": [...], "sqlite_version": "..."}.
"""

import argparse
import json
import os
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    project      INTEGER NOT NULL,
    message_id   TEXT NOT NULL,
    event        TEXT NOT NULL,
    user_id      TEXT,
    anonymous_id TEXT,
    ts           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    session_id   TEXT,
    properties   TEXT,
    context      TEXT
);
CREATE UNIQUE INDEX events_message ON events (project, message_id);
CREATE INDEX events_time ON events (project, ts);
CREATE INDEX events_user ON events (project, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX events_anonymous ON events (project, anonymous_id)
    WHERE anonymous_id IS NOT NULL;
"""

INSERT = (
    "INSERT OR IGNORE INTO events (project, message_id, event, user_id, anonymous_id, "
    "ts, received_at, session_id, properties, context) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def one_run(rows, path, batch, synchronous):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.executescript(SCHEMA)
    start, cpu0 = time.perf_counter(), time.process_time()
    for i in range(0, len(rows), batch):
        conn.execute("BEGIN")
        conn.executemany(INSERT, rows[i : i + batch])
        conn.execute("COMMIT")
    took = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    (n,) = conn.execute("SELECT count(*) FROM events").fetchone()
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    if n != len(rows):
        sys.exit(f"stored {n} of {len(rows)} rows")
    return len(rows) / took, len(rows) / max(cpu, 1e-9)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--synchronous", default="full", choices=["normal", "full"])
    a = p.parse_args()
    with open(a.rows, encoding="utf-8") as f:
        rows = [tuple(json.loads(line)) for line in f]
    path = os.path.join(a.dir, "python-baseline.db")
    runs = [one_run(rows, path, a.batch, a.synchronous.upper()) for _ in range(a.runs)]
    json.dump(
        {
            "events_per_s": [r[0] for r in runs],
            "events_per_cpu_s": [r[1] for r in runs],
            "sqlite_version": sqlite3.sqlite_version,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Baseline for the PostgreSQL ingest bench: row-by-row INSERT from Python psycopg 3.

Reads the rows written by `pg_bench` (one JSON array a line: message_id, event, user_id,
anonymous_id, ts, received_at, session_id, properties, context) before the clock starts,
makes a table like churnlens's layout-2 events table (same columns, properties and
context as text, unique (project, message_id), indexes on user, anonymous id and time)
in the (fresh) database at --url, and inserts the rows one `INSERT ... ON CONFLICT DO
NOTHING` at a time, committing every --batch rows: what an app writing events from
Python does. Prints JSON: {"seconds", "client_cpu_s", "server_cpu_s", "psycopg"}.
"""

import argparse
import json
import time

import psycopg

SCHEMA = """
CREATE TABLE events (
    project      text NOT NULL,
    seq          bigserial,
    message_id   text NOT NULL,
    ts           bigint NOT NULL,
    event        text NOT NULL,
    user_id      text,
    anonymous_id text,
    received_at  bigint NOT NULL,
    session_id   text,
    properties   text,
    context      text,
    PRIMARY KEY (project, seq),
    UNIQUE (project, message_id)
);
CREATE INDEX events_user ON events (project, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX events_anon ON events (project, anonymous_id) WHERE anonymous_id IS NOT NULL;
CREATE INDEX events_ts ON events (project, ts);
"""

INSERT = (
    "INSERT INTO events (project, message_id, event, user_id, anonymous_id, ts, "
    "received_at, session_id, properties, context) "
    "VALUES ('default', %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (project, message_id) DO NOTHING"
)


def backend_cpu(pid):
    """CPU seconds of the server backend `pid` (from /proc; 0 if not local)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100.0
    except OSError:
        return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--rows", required=True)
    ap.add_argument("--batch", type=int, default=10_000)
    a = ap.parse_args()
    with open(a.rows) as f:
        rows = [tuple(json.loads(line)) for line in f]
    with psycopg.connect(a.url) as conn:
        conn.execute(SCHEMA)
        conn.commit()
        pid = conn.info.backend_pid
        server0 = backend_cpu(pid)
        start, cpu0 = time.perf_counter(), time.process_time()
        with conn.cursor() as cur:
            for i, row in enumerate(rows, 1):
                cur.execute(INSERT, row)
                if i % a.batch == 0:
                    conn.commit()
        conn.commit()
        seconds = time.perf_counter() - start
        client = time.process_time() - cpu0
        server = backend_cpu(pid) - server0
        (stored,) = conn.execute("SELECT count(*) FROM events").fetchone()
    assert stored == len(rows), (stored, len(rows))
    print(json.dumps({
        "seconds": seconds,
        "client_cpu_s": client,
        "server_cpu_s": server,
        "psycopg": psycopg.__version__,
    }))


if __name__ == "__main__":
    main()

"""Real-SDK ingestion test: start `churn serve` on a temp store, send through
segment-analytics-python, posthog (Python) and posthog-node pointed at it by host only,
stop the server with SIGTERM (it stores everything accepted), then check the store:
every event exactly once with the right user, name, properties and timestamp, identify
traits applied and alias links made.

usage: run.py CHURN_BINARY NODE_DIR   (run with the venv that has the SDKs)
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

import senders

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    raise SystemExit(f"sdk test FAILED: {msg}")


def start_server(churn, db):
    proc = subprocess.Popen([churn, "--db", db, "serve", "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    url = None
    while url is None:
        line = proc.stderr.readline()
        if not line:
            fail(f"churn serve exited early (code {proc.poll()})")
        if line.startswith("churnlens listening on "):
            url = line.split()[3]
        if time.time() > deadline:
            fail("churn serve did not start within 30 s")
    while True:  # wait for /health
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.time() > deadline:
            fail("/health did not answer within 30 s")
        time.sleep(0.1)
    return proc, url


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        rest = proc.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("churn serve did not exit within 30 s of SIGTERM")
    if proc.returncode != 0 or "every accepted event is stored" not in rest:
        fail(f"churn serve exit {proc.returncode}: {rest}")


def read_keys(db):
    keys = {}
    with open(db + ".keys") as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                keys[k] = v
    return keys


def check_store(churn, db, events, traits, aliases):
    out = subprocess.run([churn, "--db", db, "export", "--format", "ndjson"], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    stored = [json.loads(line) for line in out.splitlines() if line.strip()]
    by_id = {}
    for e in stored:
        mid = e.get("message_id")
        if mid in by_id:
            fail(f"message {mid} stored twice")
        by_id[mid] = e
    for want in events:
        got = by_id.get(want["message_id"])
        if got is None:
            fail(f"missing {want}")
        if got.get("user_id") != want["user"]:
            fail(f"user of {want['message_id']}: {got.get('user_id')} != {want['user']}")
        if got.get("event") != want["name"]:
            fail(f"name of {want['message_id']}: {got.get('event')} != {want['name']}")
        props = got.get("properties") or {}
        for k, v in want["props"].items():
            if props.get(k) != v:
                fail(f"property {k} of {want['message_id']}: {props.get(k)!r} != {v!r} ({props})")
        got_ms = ts_ms(got.get("timestamp"))
        if abs(got_ms - want["ts_ms"]) > 1:
            fail(f"timestamp of {want['message_id']}: {got.get('timestamp')} != {want['ts_ms']} ms")
    sent_ids = {e["message_id"] for e in events}
    extra = [e for e in stored if e.get("message_id") not in sent_ids]
    if extra:
        fail(f"{len(extra)} unexpected stored events, e.g. {extra[0]}")

    con = sqlite3.connect(db)
    try:
        rows = dict(con.execute("SELECT user_id, traits FROM users").fetchall())
        for user, want in traits.items():
            have = json.loads(rows.get(user) or "null") or {}
            for k, v in want.items():
                if have.get(k) != v:
                    fail(f"trait {k} of {user}: {have.get(k)!r} != {v!r} ({have})")
        links = set(con.execute("SELECT anonymous_id, user_id FROM identity_links").fetchall())
        for a in aliases:
            if tuple(a) not in links:
                fail(f"alias link {a} missing; links: {sorted(links)}")
    finally:
        con.close()
    return len(stored)


def ts_ms(s):
    from datetime import datetime
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000 + 0.5)


def main():
    # `timeout` or Ctrl-C: unwind through the finally below, which stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("sdk test: terminated"))
    churn, node_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    tag = str(int(time.time()))
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "churn.db")
        proc, url = start_server(churn, db)
        try:
            key = read_keys(db)["write_key"]
            events, traits, aliases = [], {}, []
            for name, send in (("segment-analytics-python", senders.segment),
                               ("posthog (python)", senders.posthog)):
                e, t, a = send(url, key, tag)
                print(f"  {name}: sent {len(e)} events, {len(t)} identify, {len(a)} alias")
                events += e; traits.update(t); aliases += a
            # ESM resolves packages next to the script: run a copy inside node_dir.
            shutil.copy(os.path.join(HERE, "node", "send.mjs"), node_dir)
            node = subprocess.run(["node", os.path.join(node_dir, "send.mjs"), url, key, tag],
                                  cwd=node_dir, capture_output=True, text=True, timeout=60)
            if node.returncode != 0:
                fail(f"posthog-node: {node.stderr}")
            sent = json.loads(node.stdout)
            print(f"  posthog-node: sent {len(sent['events'])} events, 1 identify, 1 alias")
            events += sent["events"]; traits.update(sent["traits"]); aliases += sent["aliases"]
        finally:
            if proc.poll() is None:
                stop_server(proc)
        n = check_store(churn, db, events, traits, aliases)
        print(f"sdk test passed: {n} events stored exactly once, "
              f"{len(traits)} users' traits and {len(aliases)} alias links checked")


if __name__ == "__main__":
    main()

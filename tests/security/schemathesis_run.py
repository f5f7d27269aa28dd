#!/usr/bin/env python3
"""schemathesis against a real `churn serve`, bounded in time.

Starts `churn serve` on a fresh SQLite file (port 0), sends a few events so read routes
have data, then runs schemathesis (property-based requests generated from the live
`/openapi.json`, valid and invalid) with the project's secret key, one worker, for
MAX_TIME seconds, with the checks chosen in schemathesis.toml beside this file: fails
on any server error (5xx), on a response that breaks the documented schema, status
codes or content type, on a request the document says is invalid but the server
accepted (read and admin routes), and on a secured operation served without its key.
Afterwards the server must still answer /health.

usage: schemathesis_run.py CHURN_BINARY SCHEMATHESIS_BINARY [MAX_TIME_SECONDS] [REPORT_DIR]
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def fail(msg):
    print(f"schemathesis run: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def post(url, key, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", f"Bearer {key}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


def main():
    churn, st_bin = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    max_time = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    report_dir = os.path.abspath(sys.argv[4]) if len(sys.argv) > 4 else None
    tmp = tempfile.mkdtemp(prefix="churn-schemathesis-")
    log_path = os.path.join(tmp, "serve.log")
    log = open(log_path, "w")
    # Rate limits off: schemathesis measures behaviour, not throttling.
    server = subprocess.Popen(
        [churn, "--db", os.path.join(tmp, "churn.db"), "serve", "--port", "0",
         "--ip-rate", "0", "--key-rate", "0"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        base = wk = sk = None
        deadline = time.time() + 60
        while time.time() < deadline and not (base and wk and sk):
            if server.poll() is not None:
                fail("server exited:\n" + open(log_path).read())
            text = open(log_path).read()
            m = re.search(r"listening on (http://\S+)", text)
            w = re.search(r"write key.*?(wk_[0-9a-f]+)", text)
            s = re.search(r"secret key.*?(sk_[0-9a-f]+)", text)
            base, wk, sk = m and m.group(1), w and w.group(1), s and s.group(1)
            time.sleep(0.1)
        if not base:
            fail("server did not start:\n" + open(log_path).read())
        batch = [{"type": "track", "event": "purchase", "user_id": f"u{i}",
                  "properties": {"amount": i, "currency": "USD"}} for i in range(20)]
        if post(f"{base}/api/track", wk, {"batch": batch}) != 200:
            fail("seed events refused")

        config = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")
        cmd = [st_bin, "--config-file", config, "run", f"{base}/openapi.json",
               "--header", f"Authorization: Bearer {sk}",
               "--workers", "1",
               "--max-time", str(max_time),
               "--request-timeout", "10",
               "--seed", "1",
               # An endless Server-Sent Events stream: nothing to check in one response.
               "--exclude-path", "/api/live",
               "--suppress-health-check", "all",
               "--warnings", "off",
               "--no-color"]
        if report_dir:
            os.makedirs(report_dir, exist_ok=True)
            cmd += ["--report", "junit", "--report-dir", report_dir]
        print("+", " ".join(c if "Bearer" not in c else "Authorization: Bearer sk_..." for c in cmd),
              flush=True)
        t0 = time.time()
        rc = subprocess.run(cmd, cwd=tmp, timeout=max_time + 240).returncode
        print(f"schemathesis finished in {time.time() - t0:.0f} s with exit code {rc}")
        with urllib.request.urlopen(f"{base}/health", timeout=10) as r:
            if r.status != 200:
                fail(f"/health answered {r.status} after the run")
        if server.poll() is not None:
            fail("the server died during the run:\n" + open(log_path).read()[-4000:])
        if rc != 0:
            fail("schemathesis found failures (above)")
        print("schemathesis run: ok")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

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
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "churn-core", "tests", "browser"))
from serve_util import SERVE_PATTERNS, start, stop  # noqa: E402


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
    # Rate limits off: schemathesis measures behaviour, not throttling.
    server, found, log_path = start(churn, tmp, ["--ip-rate", "0", "--key-rate", "0"],
                                    SERVE_PATTERNS, 60, fail)
    try:
        base, wk, sk = found["base"], found["wk"], found["sk"]
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
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

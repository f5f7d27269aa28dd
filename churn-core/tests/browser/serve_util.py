"""Start and stop a real `churn serve` for the browser and security scripts
(dashboard.py, xss.py, tests/security/schemathesis_run.py)."""
import os
import re
import signal
import subprocess
import time

# What `churn serve` prints on start (plain mode): the URL and the new project's keys.
SERVE_PATTERNS = {
    "base": r"listening on (http://\S+)",
    "wk": r"write key.*?(wk_[0-9a-f]+)",
    "sk": r"secret key.*?(sk_[0-9a-f]+)",
}


def start(churn, tmp, args, patterns, timeout, fail):
    """Run `churn --db TMP/churn.db serve --port 0 ARGS` with its output in TMP/serve.log
    and wait until every pattern (name -> regex with one group) matched the log.
    Returns (process, {name: match}, log_path); calls `fail` if the server exits or
    the patterns do not all show up within `timeout` seconds."""
    log_path = os.path.join(tmp, "serve.log")
    log = open(log_path, "w")
    server = subprocess.Popen(
        [churn, "--db", os.path.join(tmp, "churn.db"), "serve", "--port", "0", *args],
        stdout=log, stderr=subprocess.STDOUT)
    found = {}
    deadline = time.time() + timeout
    while time.time() < deadline and len(found) < len(patterns):
        if server.poll() is not None:
            fail("server exited:\n" + open(log_path).read())
        text = open(log_path).read()
        for name, regex in patterns.items():
            m = re.search(regex, text)
            if m:
                found[name] = m.group(1)
        time.sleep(0.1)
    if len(found) < len(patterns):
        stop(server)
        fail("server did not start:\n" + open(log_path).read())
    return server, found, log_path


def stop(server):
    """SIGTERM, then SIGKILL after 30 s."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()

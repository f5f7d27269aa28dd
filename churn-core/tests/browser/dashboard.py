#!/usr/bin/env python3
"""Dashboard in real headless Chromium.

Starts `churn serve --demo` on a fresh SQLite file (port 0), logs in through the page's
`#key=` fragment (consumed by the page script, never sent to the server), dumps the DOM
after the charts loaded, checks every chart has data marks and the at-risk table has
rows, and saves a screenshot.

usage: dashboard.py CHURN_BINARY OUTPUT_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from serve_util import start, stop


def chromium_args(profile):
    return [
        shutil.which("chromium") or "/usr/bin/chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        "--window-size=1280,1900",
    ]


def fail(msg):
    print(f"dashboard test: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    churn, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="churn-dash-")
    server, found, _ = start(churn, tmp, ["--demo", "--demo-users", "800"],
                             {"url": r"Dashboard:\s+(http://\S+/)",
                              "key": r"Secret key:\s+(sk_[0-9a-f]+)"}, 240, fail)
    try:
        url, key = found["url"], found["key"]

        # The page without a key: the login form, no data.
        dom = subprocess.run(chromium_args(os.path.join(tmp, "p0")) + ["--dump-dom", url],
                             capture_output=True, text=True, timeout=120).stdout
        if 'id="login" class=""' not in dom or "class=\"point\"" in dom:
            fail("without a key the page should show only the login form")

        # Logged in through the fragment.
        page = f"{url}#key={key}"
        dom = subprocess.run(chromium_args(os.path.join(tmp, "p1")) + ["--dump-dom", page],
                             capture_output=True, text=True, timeout=120).stdout
        with open(os.path.join(out, "dashboard.html"), "w") as f:
            f.write(dom)
        if 'data-loaded="1"' not in dom:
            fail("the dashboard data did not load (see dashboard.html)")
        if key in dom:
            fail("the secret key ended up in the DOM")

        def section(name):
            m = re.search(r'<section id="%s"[^>]*>(.*?)</section>' % name, dom, re.S)
            return m.group(1) if m else ""

        checks = {
            "active_users": ("class=\"point\"", 20),
            "funnel": ("class=\"bar\"", 4),
            "retention": ("class=\"cell\"", 20),
            "revenue": ("class=\"bar\"", 4),
            "risk": ("class=\"bar\"", 10),
        }
        for name, (mark, least) in checks.items():
            n = section(name).count(mark)
            print(f"  {name}: {n} x {mark}")
            if n < least:
                fail(f"chart {name} has {n} data marks, expected at least {least}")
        rows = re.findall(r"<tr><td>", dom)
        print(f"  at-risk table: {len(rows)} rows")
        if len(rows) < 5:
            fail("the at-risk table is (nearly) empty")
        probs = re.findall(r"<tr><td>[^<]*</td><td>([0-9.]+)%</td>", dom)
        print(f"  at-risk probabilities: {probs[:3]} ...")
        if any(p in ("100.0", "0.0") for p in probs):
            fail("the at-risk table shows a probability of exactly 0% or 100% (overconfident)")
        if "reasons" not in dom.lower() or "recency" not in dom:
            fail("the at-risk table lists no reasons")

        shot = os.path.join(out, "dashboard.png")
        subprocess.run(chromium_args(os.path.join(tmp, "p2")) + [f"--screenshot={shot}", page],
                       capture_output=True, text=True, timeout=120)
        if not os.path.exists(shot) or os.path.getsize(shot) < 10_000:
            fail("no screenshot")
        print(f"dashboard test: ok; screenshot {shot}")
    finally:
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

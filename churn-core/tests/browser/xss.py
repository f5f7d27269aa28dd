#!/usr/bin/env python3
"""Script injection through user data, in real headless Chromium.

Starts `churn serve` on a fresh SQLite file (port 0), sends events whose user ids, event
names, property keys and values and currency carry `<script>`, `<img onerror>`,
`<svg onload>` and attribute-breaking payloads, trains a churn model (so the hostile
users are listed in the at-risk table), loads the dashboard, and checks in the DOM
Chromium built that

  - no payload ran (each one would set `data-pwned` on <body>),
  - the payloads are shown as text (escaped), not turned into elements,
  - the page loaded under its CSP (data-loaded="1").

A positive control first proves the detector works: the same payloads put into a page
with `innerHTML` unescaped (and no CSP) do set `data-pwned`.

usage: xss.py CHURN_BINARY OUTPUT_DIR
"""
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from serve_util import SERVE_PATTERNS, start, stop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashboard import chromium_args  # noqa: E402


def mark(tag):
    return f"document.body.setAttribute('data-pwned','{tag}')"


PAYLOADS = [
    f"<script>{mark('script')}</script>",
    f"<img src=x onerror=\"{mark('img')}\">",
    f"<svg onload=\"{mark('svg')}\"></svg>",
    f"\"><img src=x onerror={mark('attr')}>",
    f"'><details open ontoggle=\"{mark('details')}\">",
    f"</td></tr></table><img src=x onerror=\"{mark('table')}\">",
]


def fail(msg):
    print(f"xss test: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def pwned(dom):
    """The tag a payload left on <body> (payload text shown escaped does not count)."""
    m = re.search(r'<body[^>]*\sdata-pwned="([^"]*)"', dom)
    return m and m.group(1)


def dump_dom(profile, url):
    return subprocess.run(chromium_args(profile) + ["--dump-dom", url],
                          capture_output=True, text=True, timeout=120).stdout


def positive_control(tmp):
    """The same payloads, inserted unescaped: the detector must see them run."""
    page = os.path.join(tmp, "control.html")
    with open(page, "w") as f:
        f.write("<!doctype html><html><body><div id=t></div><script>"
                f"document.getElementById('t').innerHTML = {json.dumps(''.join(PAYLOADS[1:]))};"
                "</script></body></html>")
    dom = dump_dom(os.path.join(tmp, "pc"), "file://" + page)
    if not pwned(dom):
        fail("positive control: an unescaped payload did not run, so the detector is blind")
    print("  positive control: unescaped payload ran (detector works)")


def request(method, url, key, body=None, ctype="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", ctype)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read() or b"null")


def iso(days_ago):
    t = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def events():
    """40 users over 150 days; the hostile users (and 14 others) went quiet 60 days ago."""
    out = []
    users = [f"hostile-{i}:{p}" for i, p in enumerate(PAYLOADS)]
    users += [f"quiet-{i}" for i in range(14)] + [f"active-{i}" for i in range(20)]
    for n, user in enumerate(users):
        last = 60 if not user.startswith("active-") else 1
        for d in range(150, last - 1, -7 - n % 3):
            out.append({"type": "track", "event": "purchase", "user_id": user, "timestamp": iso(d),
                        "properties": {"amount": 10 + n % 7, "currency": "USD"}})
            out.append({"type": "page", "name": "/home", "user_id": user, "timestamp": iso(d)})
    for i, p in enumerate(PAYLOADS):
        out.append({"type": "track", "event": p, "user_id": "active-0", "timestamp": iso(2),
                    "properties": {p: p, "plan": p}})
    # The most frequent currency is shown in the revenue chart's title.
    for i in range(len(out) // 2 + 1):
        out.append({"type": "track", "event": "purchase", "user_id": f"active-{i % 20}",
                    "timestamp": iso(3 + i % 20),
                    "properties": {"amount": 1, "currency": "<img src=x onerror=alert(1)>"}})
    return out


def main():
    churn, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="churn-xss-")
    positive_control(tmp)
    server, found, _ = start(churn, tmp, [], SERVE_PATTERNS, 120, fail)
    try:
        base, wk, sk = found["base"], found["wk"], found["sk"]

        evs = events()
        for i in range(0, len(evs), 500):
            st, rep = request("POST", f"{base}/api/track", wk, {"batch": evs[i:i + 500]})
            if st != 200 or rep["rejected"]:
                fail(f"ingest: {st} {rep}")
        st, _ = request("POST", f"{base}/api/churn/train", sk, {})
        deadline = time.time() + 120
        while True:
            st, status = request("GET", f"{base}/api/churn/training-status", sk)
            state = status.get("state")
            if state not in ("running", None):
                break
            if time.time() > deadline:
                fail(f"training did not finish: {status}")
            time.sleep(0.3)
        if state != "succeeded":
            fail(f"training: {status}")

        dom = dump_dom(os.path.join(tmp, "p1"), f"{base}/#key={sk}")
        with open(os.path.join(out, "xss.html"), "w") as f:
            f.write(dom)
        if 'data-loaded="1"' not in dom:
            fail("the dashboard did not load under its CSP (see xss.html)")
        if pwned(dom):
            fail(f"a payload ran: {pwned(dom)}")
        table = re.search(r'<div id="at_risk">(.*?)</div>', dom, re.S)
        table = table.group(1) if table else ""
        if re.search(r"<(img|svg|details|script)\b", table):
            fail("a payload became an element in the at-risk table (the CSP stopped it running)")
        shown = 0
        for i, p in enumerate(PAYLOADS):
            escaped = f"hostile-{i}:" + p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            if escaped in table:
                shown += 1
        print(f"  at-risk table: {shown} of {len(PAYLOADS)} hostile user ids shown as text")
        if shown < 3:
            fail("the hostile users are not in the at-risk table, so escaping was not exercised")
        revenue = re.search(r'<section id="revenue">(.*?)</section>', dom, re.S)
        revenue = revenue.group(1) if revenue else ""
        if "&lt;IMG SRC=X ONERROR=ALERT(1)&gt;" not in revenue or "<img" in revenue.lower().replace("&lt;img", ""):
            fail("the hostile currency is not shown escaped in the revenue chart title")
        print("xss test: ok (no payload ran; user data shown escaped)")
    finally:
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

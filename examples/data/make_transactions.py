#!/usr/bin/env python3
"""Generate examples/data/transactions.csv: a small, deterministic seed-format file.

Columns: customer_id,event_date,amount,event_type (the seed format `churn import`
reads with no flags). About 2,000 events of 85 customers over 2025 (signup, login,
purchase, support_ticket, cancel), plus a dozen malformed rows at fixed places so a demo
shows how rejections are reported. Standard library only; the same output every run:

    python3 examples/data/make_transactions.py            # writes the file
    python3 examples/data/make_transactions.py --stdout   # prints it
    python3 examples/data/make_transactions.py --rows 1000000 --out big.csv
"""

import argparse
import datetime as dt
import random
import sys
from pathlib import Path

HEADER = b"customer_id,event_date,amount,event_type\n"
START = dt.date(2025, 1, 1)
DAYS = 365

# Malformed rows, each with the reason `churn import` gives for it.
BAD_ROWS = [
    b"c0007,2025-02-30,19.99,purchase\n",  # bad timestamp (no such day)
    b"c0011,not-a-date,,login\n",  # bad timestamp
    b",2025-03-14,29.00,purchase\n",  # empty customer id
    b"c0023,2025-04-02,NaN,purchase\n",  # amount is not a finite number
    b'c0031,2025-04-19,"12,50",purchase\n',  # decimal comma: not a number
    b"c0042,2025-05-03,19.99\n",  # wrong number of columns
    b"c0043,2025-05-04,19.99,purchase,EUR\n",  # wrong number of columns
    b"c00\xe94,2025-06-10,,login\n",  # invalid UTF-8 (Latin-1 byte)
    b"c0058,2099-01-01,9.99,purchase\n",  # timestamp in the future
    b"c0061,1999-12-31,9.99,purchase\n",  # timestamp before 2000
    b"c0077,2025-08-15,,\n",  # empty event type
    b"c0080,2025-09-01,free,purchase\n",  # amount is not a finite number
]


def customer_events(rng, cid):
    """Events of one customer: signup, then logins and purchases until an optional cancel."""
    signup = rng.randrange(DAYS - 30)
    churns = rng.random() < 0.35
    last = min(DAYS - 1, signup + rng.randrange(30, 200)) if churns else DAYS - 1
    activity = rng.choice([0.04, 0.08, 0.15])
    price = rng.choice(["9.99", "19.99", "49.00"])
    rows = [(signup, "", "signup")]
    for day in range(signup, last + 1):
        if rng.random() < activity:
            rows.append((day, "", "login"))
        if (day - signup) % 30 == 0:
            rows.append((day, price, "purchase"))
        if rng.random() < 0.004:
            rows.append((day, "", "support_ticket"))
    if churns:
        rows.append((last, "", "cancel"))
    return [(day, f"c{cid:04d}", amount, event) for day, amount, event in rows]


def good_rows(customers, seed):
    rng = random.Random(seed)
    rows = []
    for cid in range(1, customers + 1):
        rows.extend(customer_events(rng, cid))
    rows.sort(key=lambda r: (r[0], r[1], r[3]))
    for day, cid, amount, event in rows:
        date = (START + dt.timedelta(days=day)).isoformat()
        yield f"{cid},{date},{amount},{event}\n".encode()


def generate(customers, seed, bad_rows):
    rows = list(good_rows(customers, seed))
    if bad_rows:
        step = max(1, len(rows) // (len(BAD_ROWS) + 1))
        for i, bad in enumerate(BAD_ROWS):
            rows.insert((i + 1) * step + i, bad)
    return HEADER + b"".join(rows)


def main():
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=here / "transactions.csv")
    p.add_argument("--stdout", action="store_true", help="print instead of writing --out")
    p.add_argument(
        "--rows",
        type=int,
        default=0,
        help="approximate number of rows for a larger file (default: the ~2,000-row fixture)",
    )
    p.add_argument("--seed", type=int, default=2025)
    args = p.parse_args()
    # About 24 events per customer on average.
    customers = 85 if args.rows <= 0 else max(1, args.rows // 24)
    data = generate(customers, args.seed, bad_rows=True)
    if args.stdout:
        sys.stdout.buffer.write(data)
    else:
        args.out.write_bytes(data)
        rows = data.count(b"\n") - 1
        print(f"wrote {args.out} ({rows} rows)", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Churn quality and speed, churnlens side by side with the Python peers, in one run.

Driven by `./dev bench-churn` (which builds the Rust examples in release mode and
provides a venv under target/ with numpy<2, pandas<2, scikit-learn, lifetimes 0.11.3).

1. Quality, CDNOW sample (2,357 customers), temporal holdout: features before
   1998-01-01, label = no purchase in the next 90 days; models trained on the window
   one horizon earlier. churnlens models (examples/churn_quality.rs) versus
   scikit-learn HistGradientBoostingClassifier on the *same* feature CSVs, and
   lifetimes BG/NBD P(alive) (calibrated on purchases before 1998-01-01; churn score
   1 - P(alive)).
2. Speed, 100k customers / 1M events (examples/churn_bench.rs generates them and writes
   the CSV): features + labels + logistic training, scoring every customer, one
   customer's predict, versus pandas + scikit-learn doing the same work.

Usage: churn_quality.py --bin-dir target/release/examples --cdnow PATH --work DIR
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
DAY_MS = 86_400_000


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    sys.stderr.write(out.stderr)
    line = next(l for l in out.stdout.splitlines() if l.startswith("JSON "))
    return json.loads(line[5:]), out.stdout


def quality(bin_dir, cdnow, work):
    ours, _ = run_json([str(bin_dir / "churn_quality"), str(cdnow), str(work)])
    train = pd.read_csv(work / "train.csv", dtype={"customer_id": str})
    test = pd.read_csv(work / "test.csv", dtype={"customer_id": str})
    feats = [c for c in train.columns if c not in ("customer_id", "churned")]
    hgb = HistGradientBoostingClassifier(random_state=0)
    hgb.fit(train[feats], train["churned"])
    auc_hgb = roc_auc_score(test["churned"], hgb.predict_proba(test[feats])[:, 1])

    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data

    df = pd.read_csv(cdnow, header=None, sep=r"\s+",
                     names=["customer_id", "idx", "date", "qty", "amount"],
                     dtype={"customer_id": str, "date": str})
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    cal = df[df["date"] < "1998-01-01"]
    s = summary_data_from_transaction_data(cal, "customer_id", "date",
                                           observation_period_end="1997-12-31", freq="D")
    bgf = BetaGeoFitter(penalizer_coef=0.0).fit(s["frequency"], s["recency"], s["T"])
    p_alive = bgf.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    churn_lt = pd.Series(1 - np.asarray(p_alive), index=s.index)
    expected = bgf.conditional_expected_number_of_purchases_up_to_time(
        90, s["frequency"], s["recency"], s["T"])
    churn_ep = pd.Series(-np.asarray(expected), index=s.index)
    aligned = (test.set_index("customer_id").join(churn_lt.rename("lt"), how="inner")
               .join(churn_ep.rename("ep"), how="inner"))
    auc_lt = roc_auc_score(aligned["churned"], aligned["lt"])
    auc_ep = roc_auc_score(aligned["churned"], aligned["ep"])

    rows = [(m["model"], m["roc_auc"], m["cv_roc_auc"]) for m in ours["models"]]
    best = max(rows, key=lambda r: r[1])
    return {
        "rows": rows,
        "best": best,
        "hgb": auc_hgb,
        "lifetimes": auc_lt,
        "lifetimes_expected": auc_ep,
        "n_test": len(test),
        "churn_rate": float(test["churned"].mean()),
    }


PASSIVE = ["email_sent", "notification_sent", "payment_failed", "subscription_renewed"]
SUB_ACTIVE = ["subscription_started", "subscription_renewed", "subscription_upgraded",
              "subscription_downgraded", "subscription_reactivated"]
SUB_CANCELLED = ["subscription_cancelled", "subscription_canceled"]


def pandas_features(tx, as_of_ms):
    """The same 25 features as churnlens (churn-core/src/churn/features.rs), in pandas:
    RFM, tenure, engagement windows, trend, transaction value, inter-purchase gaps,
    support, communication, cancellation attempts, onboarding and billing status."""
    t = tx[tx["ts"] < as_of_ms]
    passive = t["event_type"].isin(PASSIVE)
    g = t.groupby("customer_id")
    first = g["ts"].min()
    out = pd.DataFrame(index=first.index)
    out["tenure_days"] = (as_of_ms - first) / DAY_MS
    act = t[~passive]
    last_active = act.groupby("customer_id")["ts"].max()
    out["recency_days"] = ((as_of_ms - last_active) / DAY_MS).reindex(out.index)
    out["recency_days"] = out["recency_days"].fillna(out["tenure_days"])
    pur = t[t["event_type"].isin(["purchase", "payment_completed"])]
    gp = pur.groupby("customer_id")
    out["frequency"] = gp.size().reindex(out.index, fill_value=0)
    out["monetary"] = gp["amount"].sum().reindex(out.index, fill_value=0.0)
    lp, fp = gp["ts"].max(), gp["ts"].min()
    out["recency_purchase_days"] = ((as_of_ms - lp) / DAY_MS).reindex(out.index)
    out["recency_purchase_days"] = out["recency_purchase_days"].fillna(out["tenure_days"])
    out["purchase_age_days"] = ((as_of_ms - fp) / DAY_MS).reindex(out.index, fill_value=0.0)
    day = act["ts"] // DAY_MS
    for w in (7, 30, 90):
        m = act["ts"] >= as_of_ms - w * DAY_MS
        out[f"events_{w}"] = act[m].groupby("customer_id").size().reindex(out.index, fill_value=0)
        out[f"active_days_{w}"] = (day[m].groupby(act.loc[m, "customer_id"]).nunique()
                                   .reindex(out.index, fill_value=0))
    prev = act[(act["ts"] >= as_of_ms - 60 * DAY_MS) & (act["ts"] < as_of_ms - 30 * DAY_MS)]
    before = prev.groupby("customer_id").size().reindex(out.index, fill_value=0)
    out["trend_30"] = np.log((out["events_30"] + 1) / (before + 1))
    out["avg_transaction_value"] = (out["monetary"] / out["frequency"]).fillna(0.0)
    span = ((lp - fp) / DAY_MS).reindex(out.index)
    out["mean_interpurchase_days"] = (span / (out["frequency"] - 1)).where(
        out["frequency"] > 1, out["tenure_days"])
    # Gap between the last two purchases (tenure when fewer than two).
    ps = pur.sort_values(["customer_id", "ts"])
    gap = ps["ts"] - ps.groupby("customer_id")["ts"].shift(1)
    out["last_interpurchase_days"] = ((gap.groupby(ps["customer_id"]).last() / DAY_MS)
                                      .reindex(out.index).fillna(out["tenure_days"]))
    counts = t.pivot_table(index="customer_id", columns="event_type", values="ts",
                           aggfunc="size", fill_value=0).reindex(out.index, fill_value=0)
    zero = pd.Series(0, index=out.index)
    col = lambda n: counts[n] if n in counts else zero
    out["open_tickets"] = (col("ticket_opened") - col("ticket_resolved")).clip(lower=0)
    # Resolution time: the k-th resolution closes the k-th opened ticket (FIFO).
    op = t[t["event_type"] == "ticket_opened"][["customer_id", "ts"]].copy()
    rs = t[t["event_type"] == "ticket_resolved"][["customer_id", "ts"]].copy()
    op["k"] = op.sort_values("ts").groupby("customer_id").cumcount()
    rs["k"] = rs.sort_values("ts").groupby("customer_id").cumcount()
    pairs = rs.merge(op, on=["customer_id", "k"], suffixes=("_r", "_o"))
    out["mean_resolution_days"] = (((pairs["ts_r"] - pairs["ts_o"]) / DAY_MS)
                                   .groupby(pairs["customer_id"]).mean()
                                   .reindex(out.index, fill_value=0.0))
    rate = lambda a, b: (col(a) / col(b)).replace([np.inf], 1.0).fillna(0.0).clip(upper=1.0)
    out["email_open_rate"] = rate("email_opened", "email_sent")
    out["notification_click_rate"] = rate("notification_clicked", "notification_sent")
    out["cancellation_attempts"] = col("cancellation_attempt")
    out["onboarding_completed"] = (col("onboarding_completed") > 0).astype(float)
    bill = t[t["event_type"].isin(SUB_ACTIVE + SUB_CANCELLED + ["payment_failed"])]
    last_bill = bill.sort_values("ts").groupby("customer_id")["event_type"].last() \
        .reindex(out.index)
    out["billing_active"] = last_bill.isin(SUB_ACTIVE).astype(float)
    out["billing_past_due"] = (last_bill == "payment_failed").astype(float)
    out["billing_cancelled"] = last_bill.isin(SUB_CANCELLED).astype(float)
    return out.fillna(0.0)


def labels(tx, as_of_ms, customers, horizon=30, lookback=90):
    """churnlens' labels: active (non-passive event) in the lookback, churned when not
    active in the horizon or a cancellation in it."""
    t = tx[(tx["ts"] >= as_of_ms - lookback * DAY_MS) & (tx["ts"] < as_of_ms + horizon * DAY_MS)]
    t = t[~t["event_type"].isin(PASSIVE)]
    before = set(t.loc[t["ts"] < as_of_ms, "customer_id"])
    after = t[t["ts"] >= as_of_ms]
    active = set(after["customer_id"])
    cancelled = set(after.loc[after["event_type"].isin(SUB_CANCELLED), "customer_id"])
    keep = [c for c in customers if c in before]
    return keep, np.array([c not in active or c in cancelled for c in keep])


def speed(bin_dir, work, customers, events, runs):
    import os

    csv = work / "bench_transactions.csv"
    env = dict(os.environ, CHURN_BENCH_CSV=str(csv))
    ours, text = run_json([str(bin_dir / "churn_bench"), str(customers), str(events)], env=env)
    sys.stderr.write(text)
    as_of = ours["as_of_ms"]
    tx = pd.read_csv(csv, dtype={"customer_id": str, "event_type": str})
    tx = tx.rename(columns={"event_date": "ts"})

    def med(f):
        ts, out = [], None
        for _ in range(runs):
            s = time.perf_counter()
            out = f()
            ts.append(time.perf_counter() - s)
        return sorted(ts)[len(ts) // 2], out

    def train():
        f = pandas_features(tx, as_of)
        keep, y = labels(tx, as_of, f.index)
        x = f.loc[keep].to_numpy()
        n_cal = len(y) // 5
        sc = StandardScaler().fit(x[n_cal:])
        lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=200)
        lr.fit(sc.transform(x[n_cal:]), y[n_cal:])
        iso = IsotonicRegression(out_of_bounds="clip").fit(
            lr.predict_proba(sc.transform(x[:n_cal]))[:, 1], y[:n_cal])
        return sc, lr, iso, list(f.columns)

    t_train, (sc, lr, iso, cols) = med(train)

    def score_all():
        f = pandas_features(tx, as_of)
        return iso.predict(lr.predict_proba(sc.transform(f.to_numpy()))[:, 1])

    t_score, _ = med(score_all)
    groups = [g for _, g in tx.groupby("customer_id", sort=False)][:1000]
    groups = [g for g in groups if g["ts"].min() < as_of][:200]

    def one(g):
        f = pandas_features(g, as_of)
        return iso.predict(lr.predict_proba(sc.transform(f.to_numpy()))[:, 1])

    singles = []
    for g in groups:
        s = time.perf_counter()
        one(g)
        singles.append(time.perf_counter() - s)
    t_single = sorted(singles)[len(singles) // 2]
    return {
        "ours": ours,
        "py_train_ms": t_train * 1e3,
        "py_score_ms": t_score * 1e3,
        "py_single_us": t_single * 1e6,
        "py_features": len(cols),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", type=Path, required=True)
    ap.add_argument("--cdnow", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3, help="Python runs per step (median)")
    ap.add_argument("--speed-only", action="store_true", help="skip the CDNOW quality part")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    q = None if a.speed_only else quality(a.bin_dir, a.cdnow, a.work)
    load_before = os.getloadavg()
    s = speed(a.bin_dir, a.work, a.customers, a.events, a.runs)
    load_after = os.getloadavg()
    o = s["ours"]
    if q is not None:
        print_quality(q)
    print()
    print(f"## Speed: {o['customers']:,} customers / {o['events']:,} events (median; "
          f"churnlens 5 runs, Python {a.runs})")
    print()
    print(f"load average before / after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    print()
    print("| step | churnlens | pandas + scikit-learn | ratio | goal |")
    print("|---|---|---|---|---|")
    rows = [
        ("features + labels + logistic training (+ calibration)", o["table_features_train_ms"],
         s["py_train_ms"], "ms", "< 2000 ms, >= 10x"),
        ("score all customers (incl. features)", o["score_all_incl_features_ms"],
         s["py_score_ms"], "ms", "< 100 ms, >= 10x"),
        ("single-customer predict (from its transactions)", o["single_predict_us"],
         s["py_single_us"], "us", "< 50 us, >= 10x"),
    ]
    for name, ours_v, py_v, unit, goal in rows:
        print(f"| {name} | {ours_v:,.1f} {unit} | {py_v:,.1f} {unit} | {py_v / ours_v:,.1f}x | {goal} |")
    print()
    print(f"(both sides compute the same {s['py_features']} features from the same event table; "
          f"churnlens' time includes building its event table from the in-memory rows, "
          f"pandas starts from the loaded DataFrame. churnlens score-all from a ready "
          f"feature matrix: {o['score_all_from_matrix_ms']:.1f} ms.)")


def print_quality(q):
    print()
    print(f"## Quality: CDNOW sample, temporal holdout ({q['n_test']} customers, "
          f"{100 * q['churn_rate']:.1f}% churned in the 90 days after 1998-01-01)")
    print()
    print("| model | holdout ROC AUC | 5-fold ROC AUC (train window) |")
    print("|---|---|---|")
    for m, auc, cv in q["rows"]:
        print(f"| churnlens {m} | {auc:.4f} | {cv:.4f} |")
    print(f"| scikit-learn HistGradientBoostingClassifier (same features) | {q['hgb']:.4f} | |")
    print(f"| lifetimes 0.11.3 BG/NBD, 1 - P(alive) | {q['lifetimes']:.4f} | |")
    print(f"| lifetimes 0.11.3 BG/NBD, -E[purchases in 90 days] | {q['lifetimes_expected']:.4f} | |")
    b = q["best"]
    print()
    print(f"Best churnlens model: {b[0]} {b[1]:.4f}; vs HGB {b[1] / q['hgb']:.3f}x, "
          f"vs lifetimes {b[1] / q['lifetimes']:.3f}x "
          f"({'goal met' if b[1] >= max(q['hgb'], q['lifetimes']) else 'GOAL NOT MET'}; "
          f"vs lifetimes expected purchases {b[1] / q['lifetimes_expected']:.3f}x)")


if __name__ == "__main__":
    main()

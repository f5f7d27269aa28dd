"""churnlens from Python: track, analyse, train and score a churn model.

Run:  pip install ./churn-py && python examples/python_quickstart.py
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import churnlens


def main() -> None:
    t0 = dt.datetime(2026, 1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "events.db"
        with churnlens.Analytics(db) as a:
            # One call per event...
            a.identify("c0", traits={"plan": "pro"})
            a.page("/pricing", anonymous_id="visitor-1", timestamp=t0)
            # ... or a batch: 200 customers buying weekly; every fourth stops early.
            batch: List[Dict[str, Any]] = []
            for c in range(200):
                last = 14 if c % 4 == 0 else 90
                for d in range(0, last, 7):
                    batch.append({
                        "event": "purchase",
                        "user_id": f"c{c}",
                        "timestamp": t0 + dt.timedelta(days=d),
                        "properties": {"amount": 20.0, "currency": "USD"},
                    })
            report = a.track_batch(batch)
            print(f"accepted {report['accepted']}, rejected {len(report['rejected'])}")

            monthly = a.active_users(period="month")
            for p in monthly["periods"][:3]:
                print(f"{p['label']}: {p['active_users']} active")
            jan = a.revenue(currency="USD")["periods"][0]
            print(f"January revenue {jan['revenue']:.2f}, churn rate {jan['churn_rate']}")

            try:
                a.track("purchase")  # no user: refused
            except churnlens.ValidationError as e:
                print(f"refused ({e.code}): {e}")

            model = a.train_churn(t0 + dt.timedelta(days=21))
            metrics = a.evaluate_churn(model, t0 + dt.timedelta(days=21))
            print(f"ROC AUC {metrics['roc_auc']:.3f}")
            scores = a.churn_scores(model, t0 + dt.timedelta(days=21))
            riskiest = max(scores, key=lambda s: float(s["probability"]))
            why = a.explain_churn(model, str(riskiest["customer_id"]), t0 + dt.timedelta(days=21))
            print(f"riskiest {riskiest['customer_id']}: {riskiest['segment']}, "
                  f"top reason {why['top_up'][0]['feature'] if why['top_up'] else '-'}")
            model.save(Path(tmp) / "churn.json")
            again = churnlens.ChurnModel.load(Path(tmp) / "churn.json")
            assert again.feature_names == model.feature_names


if __name__ == "__main__":
    main()

"""Churn features / train / evaluate / score / explain / save / load."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import churnlens

T0 = dt.datetime(2026, 1, 1)


@pytest.fixture(scope="module")
def customers() -> churnlens.Analytics:
    """300 customers buying weekly; every third stops after two weeks."""
    a = churnlens.Analytics.in_memory()
    batch = []
    for c in range(300):
        last = 14 if c % 3 == 0 else 120
        for d in range(0, last, 7):
            batch.append({"event": "purchase", "user_id": f"c{c}",
                          "timestamp": T0 + dt.timedelta(days=d),
                          "properties": {"amount": 20.0}})
    r = a.track_batch(batch)
    assert r["rejected"] == []
    a.flush()
    return a


@pytest.fixture(scope="module")
def model(customers: churnlens.Analytics) -> churnlens.ChurnModel:
    return customers.train_churn(T0 + dt.timedelta(days=21), name="weekly")


def test_features(customers: churnlens.Analytics) -> None:
    f = customers.churn_features(T0 + dt.timedelta(days=21))
    assert len(f["customers"]) == 300
    i = f["columns"].index("frequency")
    row = f["values"][f["customers"].index("c1")]
    assert row[i] == 3.0  # days 0, 7, 14
    df_rows = churnlens._rows(f, None)
    assert df_rows[0]["customer_id"] == f["customers"][0]


def test_train_evaluate_score_explain(customers: churnlens.Analytics,
                                      model: churnlens.ChurnModel) -> None:
    assert model.name == "weekly"
    assert "recency_days" in model.feature_names
    m = customers.evaluate_churn(model, T0 + dt.timedelta(days=21))
    assert m["roc_auc"] > 0.9 and m["n"] == 300
    scores = customers.churn_scores(model, T0 + dt.timedelta(days=21))
    assert len(scores) == 300
    by = {s["customer_id"]: s for s in scores}
    assert by["c0"]["probability"] > by["c1"]["probability"]
    assert by["c0"]["segment"] in {"low", "medium", "high", "critical"}
    e = customers.explain_churn(model, "c0", T0 + dt.timedelta(days=21), top=3)
    assert e["customer_id"] == "c0" and len(e["top_up"]) <= 3
    with pytest.raises(churnlens.NotFoundError):
        customers.explain_churn(model, "nobody", T0 + dt.timedelta(days=21))
    with pytest.raises(churnlens.InvalidArgumentError):
        customers.churn_scores(model, T0, thresholds=(0.5, 0.4, 0.9))


def test_save_load_roundtrip(model: churnlens.ChurnModel, tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    model.save(p)
    back = churnlens.ChurnModel.load(p)
    assert back.to_dict() == model.to_dict()
    assert churnlens.ChurnModel.from_json(model.to_json()).name == "weekly"
    assert "ChurnModel(" in repr(back)
    assert model.metrics is None or isinstance(model.metrics, dict)


def test_model_errors(model: churnlens.ChurnModel, tmp_path: Path) -> None:
    with pytest.raises(churnlens.ModelError):
        churnlens.ChurnModel.from_json(b"{not json")
    import json
    doc = json.loads(model.to_json())
    doc["format_version"] = 999
    with pytest.raises(churnlens.ModelVersionError):
        churnlens.ChurnModel.from_json(json.dumps(doc).encode())
    with pytest.raises(churnlens.FileError):
        churnlens.ChurnModel.load(tmp_path / "missing.json")


def test_training_on_empty_store_is_a_model_error() -> None:
    a = churnlens.Analytics.in_memory()
    with pytest.raises(churnlens.ChurnError):
        a.train_churn(T0)
    a.close()

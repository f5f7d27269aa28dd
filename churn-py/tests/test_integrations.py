"""Flask test client and FastAPI TestClient: request tracking and the read API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

import pytest

import churnlens

T0 = dt.datetime(2026, 1, 1)


@pytest.fixture
def data() -> Iterator[churnlens.Analytics]:
    a = churnlens.Analytics.in_memory()
    for c in range(60):
        last = 14 if c % 3 == 0 else 60
        for d in range(0, last, 7):
            a.track("purchase", user_id=f"c{c}", timestamp=T0 + dt.timedelta(days=d),
                    properties={"amount": 10.0})
    yield a
    a.close()


def _model(a: churnlens.Analytics) -> churnlens.ChurnModel:
    return a.train_churn(T0 + dt.timedelta(days=21))


def test_flask(data: churnlens.Analytics) -> None:
    flask = pytest.importorskip("flask")
    import churnlens.flask as cf

    app = flask.Flask("t")

    @app.get("/hello")
    def hello() -> str:
        return "hi"

    @app.get("/boom")
    def boom() -> Any:
        return "no", 418

    model = _model(data)
    cf.init_app(app, data, user=lambda: flask.request.headers.get("X-User"), model=model)
    c = app.test_client()
    assert c.get("/hello", headers={"X-User": "web1"}).data == b"hi"
    assert c.get("/boom", headers={"X-User": "web1"}).status_code == 418
    assert c.get("/hello").status_code == 200  # no user: not tracked
    data.flush()
    evs = data.export_user("web1")["events"]
    assert [(e["properties"]["path"], e["properties"]["status"]) for e in evs] == \
        [("/hello", 200), ("/boom", 418)]
    assert evs[0]["event"] == "http_request" and evs[0]["properties"]["duration_ms"] >= 0

    r = c.get("/churn/active-users?period=month&from=2026-01-01&to=2026-02-01")
    assert r.status_code == 200 and r.json["periods"][0]["active_users"] == 60
    assert c.get("/churn/retention?period=week").json["cohorts"][0]["counts"][0] > 0
    assert c.get("/churn/users/c1").json["user_id"] == "c1"
    assert c.get("/churn/users/c1").json["events"] == 9
    f = c.get("/churn/funnel?steps=purchase,purchase").json
    assert f["entered"] == 60
    s = c.get("/churn/churn/scores?as_of=2026-01-22&limit=5")
    assert s.status_code == 200 and len(s.json) == 5
    assert s.json[0]["probability"] >= s.json[-1]["probability"]
    assert c.get("/churn/active-users?period=fortnight").status_code == 400
    assert c.get("/churn/nope").status_code == 404


def test_flask_without_model(data: churnlens.Analytics) -> None:
    flask = pytest.importorskip("flask")
    import churnlens.flask as cf

    app = flask.Flask("t2")
    cf.init_app(app, data, user=lambda: "x", mount_api="/analytics")
    r = app.test_client().get("/analytics/churn/scores")
    assert r.status_code == 404 and r.json["error"] == "ERR_NOT_FOUND"


def test_fastapi(data: churnlens.Analytics) -> None:
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from churnlens.fastapi import ChurnMiddleware

    app = fastapi.FastAPI()

    @app.get("/items/{i}")
    def item(i: int) -> Any:
        if i == 0:
            raise fastapi.HTTPException(status_code=404)
        return {"i": i}

    model = _model(data)
    app.add_middleware(ChurnMiddleware, analytics=data,
                       user=lambda req: req.headers.get("x-user"), model=lambda: model)
    c = TestClient(app)
    assert c.get("/items/3", headers={"x-user": "api1"}).json() == {"i": 3}
    assert c.get("/items/0", headers={"x-user": "api1"}).status_code == 404
    c.get("/items/1")  # anonymous: not tracked
    data.flush()
    evs = data.export_user("api1")["events"]
    assert [(e["properties"]["path"], e["properties"]["status"]) for e in evs] == \
        [("/items/3", 200), ("/items/0", 404)]

    r = c.get("/churn/active-users", params={"period": "month"})
    assert r.status_code == 200 and r.json()["periods"][0]["active_users"] == 60
    assert c.get("/churn/users/c2").json()["user_id"] == "c2"
    s = c.get("/churn/churn/scores", params={"as_of": "2026-01-22", "segment": "low"})
    assert s.status_code == 200 and all(x["segment"] == "low" for x in s.json())
    assert c.get("/churn/revenue", params={"currency": "USD"}).status_code == 200
    assert c.get("/churn/sessions").status_code == 200
    assert c.get("/churn/active-users", params={"from": "bad"}).status_code == 400


def test_tracking_failure_never_fails_the_request(data: churnlens.Analytics) -> None:
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from churnlens.fastapi import ChurnMiddleware

    app = fastapi.FastAPI()

    @app.get("/")
    def root() -> Any:
        return {"ok": True}

    data.set_consent("gone", False)
    app.add_middleware(ChurnMiddleware, analytics=data, user=lambda req: "gone")
    assert TestClient(app).get("/").json() == {"ok": True}

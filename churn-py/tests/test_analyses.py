"""Every analysis on main's Engine, with hand-worked expectations."""

from __future__ import annotations

import pytest

import churnlens
from conftest import day


def test_active_users_daily(shop: churnlens.Analytics) -> None:
    r = shop.active_users(period="day", range=(day(5).date(), day(6).date()))
    assert [(p["label"], p["active_users"]) for p in r["periods"]] == [("2026-01-05", 2)]
    assert r["total_users"] == 2


def test_active_users_monthly_new_vs_returning(shop: churnlens.Analytics) -> None:
    r = shop.active_users(period="month")
    got = [(p["label"], p["active_users"], p["new_users"], p["returning_users"])
           for p in r["periods"]]
    assert got[:2] == [("2026-01", 2, 2, 0), ("2026-02", 1, 0, 1)]


def test_sessions(mem: churnlens.Analytics) -> None:
    t = day(5)
    import datetime as dt
    mem.page("/", user_id="u1", timestamp=t)
    mem.page("/pricing", user_id="u1", timestamp=t + dt.timedelta(minutes=30))
    mem.page("/", user_id="u1", timestamp=t + dt.timedelta(minutes=61))
    r = mem.sessions()
    assert (r["sessions"], r["bounces"]) == (2, 1)
    assert r["total_duration_ms"] == 30 * 60_000
    assert r["exit_pages"][0]["value"] == "/"


def test_retention_weekly(mem: churnlens.Analytics) -> None:
    mem.track("signup", user_id="a", timestamp=day(5))
    mem.track("signup", user_id="b", timestamp=day(6))
    mem.track("login", user_id="a", timestamp=day(13))
    r = mem.retention(period="week")
    c = r["cohorts"][0]
    assert c["label"] == "2026-W02"
    assert c["counts"] == [2, 1]
    assert c["percentages"] == [100.0, 50.0]
    # Week 3 is not over at the end of the data: partial.
    assert c["complete"] == [True, False]
    later = mem.retention(period="week", as_of=day(19))
    assert later["cohorts"][0]["complete"] == [True, True]


def test_revenue_and_churn_rate(shop: churnlens.Analytics) -> None:
    r = shop.revenue(currency="USD")
    jan = r["periods"][0]
    assert (jan["revenue"], jan["active_users"], jan["arpu"]) == (30.0, 2, 15.0)
    assert jan["churn_rate"] == 0.5  # u2 is not active in February


def test_unknown_option_is_refused(shop: churnlens.Analytics) -> None:
    with pytest.raises(churnlens.ValidationError, match="unknown option"):
        shop.active_users(perod="day")
    with pytest.raises(churnlens.ValidationError):
        shop.active_users(period="fortnight")
    with pytest.raises(churnlens.ValidationError):
        shop.retention(range=(1, 2, 3))


def test_refresh_and_memory_usage(shop: churnlens.Analytics) -> None:
    shop.active_users()
    shop.track("login", user_id="u3", timestamp=day(11, 2))
    shop.flush()
    r = shop.refresh()
    assert r["events"] >= 4
    assert shop.memory_usage()["events"] == 4
    assert shop.active_users(period="month")["total_users"] == 3


def test_rows_of_a_report(shop: churnlens.Analytics) -> None:
    report = shop.active_users(period="month")
    rows = churnlens._rows
    assert rows(report, None)[0]["label"] == "2026-01"
    with pytest.raises(churnlens.ValidationError):
        rows({"x": 1}, None)


def test_to_pandas(shop: churnlens.Analytics) -> None:
    pytest.importorskip("pandas")  # installed by ./dev test_python (requirements-dev.txt)
    report = shop.active_users(period="month")
    df = churnlens.to_pandas(report)
    assert list(df["active_users"])[:2] == [2, 1]
    assert list(df["label"])[:2] == ["2026-01", "2026-02"]


def test_to_polars(shop: churnlens.Analytics) -> None:
    pytest.importorskip("polars")  # installed by ./dev test_python (requirements-dev.txt)
    report = shop.active_users(period="month")
    df = churnlens.to_polars(report)
    assert df["active_users"].to_list()[:2] == [2, 1]
    assert df["label"].to_list()[:2] == ["2026-01", "2026-02"]
"""Funnels, paths, user profiles and segments (merged from branch engine2)."""

from __future__ import annotations

import datetime as dt

import pytest

import churnlens
from conftest import day


@pytest.fixture
def funnel_data(mem: churnlens.Analytics) -> churnlens.Analytics:
    mem.track("signup", user_id="a", timestamp=day(1))
    mem.track("purchase", user_id="a", timestamp=day(8))   # exactly 7 days: converts
    mem.track("signup", user_id="b", timestamp=day(1))
    mem.track("purchase", user_id="b", timestamp=day(9))   # 8 days: drops
    mem.track("signup", user_id="c", timestamp=day(18))    # window still open
    return mem


def test_funnel(funnel_data: churnlens.Analytics) -> None:
    r = funnel_data.funnel(steps=[{"event": "signup"}, {"event": "purchase"}],
                           range=(day(1), day(20)))
    assert (r["entered"], r["converted"], r["in_progress"]) == (3, 1, 1)
    assert r["steps"][0]["dropped_users"] == ["b"]
    with pytest.raises(churnlens.ChurnError):
        funnel_data.funnel(steps=[])


def test_paths_and_profile(mem: churnlens.Analytics) -> None:
    t = day(5)
    for i, p in enumerate(["/", "/pricing", "/signup"]):
        mem.page(p, user_id="u1", timestamp=t + dt.timedelta(minutes=i))
    r = mem.paths(event="page_view", pages=True)
    assert isinstance(r["nodes"], list) and r["nodes"]
    prof = mem.user_profile("u1")
    assert prof["user_id"] == "u1" and prof["events"] == 3
    with pytest.raises(churnlens.ChurnError):
        mem.user_profile("nobody")


def test_segments(funnel_data: churnlens.Analytics) -> None:
    a = funnel_data
    saved = a.create_segment("buyers", "did(purchase, >= 1, 365d)", "bought once")
    assert saved["name"] == "buyers"
    assert [s["name"] for s in a.segments()] == ["buyers"]
    assert a.get_segment("buyers")["description"] == "bought once"
    assert a.segment_members("buyers") == ["a", "b"]
    assert a.segment_stats("buyers")["count"] == 2
    # Every analysis can be restricted to a segment.
    r = a.funnel(steps=[{"event": "signup"}, {"event": "purchase"}], segment="buyers",
                 range=(day(1), day(20)))
    assert r["entered"] == 2
    assert a.delete_segment("buyers") is True
    with pytest.raises(churnlens.NotFoundError):
        a.get_segment("buyers")
    with pytest.raises(churnlens.ChurnError):
        a.create_segment("bad name", "metric.events_30d >= 1")

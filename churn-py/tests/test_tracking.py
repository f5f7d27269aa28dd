"""track / page / identify / alias / track_batch / flush / close / stats and times."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, List

import pytest

import churnlens
from conftest import DAY_MS, UTC, day


def events_of(a: churnlens.Analytics, uid: str) -> list:
    return list(a.export_user(uid)["events"])


def test_track_stores_properties_and_context(mem: churnlens.Analytics) -> None:
    mem.track("signup", user_id="u1", properties={"plan": "pro", "seats": 3, "tags": ("a", "b"),
              "nested": {"x": [1, 2.5, None, True]}}, timestamp=day(5),
              message_id="m-1", session_id="s-1", context={"ip": "10.0.0.1"})
    ev = events_of(mem, "u1")
    assert len(ev) == 1
    e = ev[0]
    assert e["event"] == "signup"
    assert e["properties"] == {"plan": "pro", "seats": 3, "tags": ["a", "b"],
                               "nested": {"x": [1, 2.5, None, True]}}
    assert e["message_id"] == "m-1"
    assert e["timestamp"] == "2026-01-05T12:00:00.000Z"


@pytest.mark.parametrize("ts,expected", [
    (dt.datetime(2026, 1, 5, 12, 0), "2026-01-05T12:00:00.000Z"),  # naive = UTC
    (dt.datetime(2026, 1, 5, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
     "2026-01-05T12:00:00.000Z"),  # aware converted
    (dt.date(2026, 1, 5), "2026-01-05T00:00:00.000Z"),
    (1_767_614_400_000, "2026-01-05T12:00:00.000Z"),  # epoch ms
    ("2026-01-05T12:00:00Z", "2026-01-05T12:00:00.000Z"),
    ("2026-01-05", "2026-01-05T00:00:00.000Z"),
])
def test_timestamps(mem: churnlens.Analytics, ts: object, expected: str) -> None:
    mem.track("x", user_id="u1", timestamp=ts)  # type: ignore[arg-type]
    e = events_of(mem, "u1")[0]
    assert e["timestamp"] == expected


def test_datetime_in_properties_becomes_rfc3339(mem: churnlens.Analytics) -> None:
    mem.track("x", user_id="u1", properties={"at": dt.datetime(2026, 1, 5, tzinfo=UTC)})
    e = events_of(mem, "u1")[0]
    assert e["properties"]["at"] == "2026-01-05T00:00:00.000Z"


def test_page_identify_alias(mem: churnlens.Analytics) -> None:
    mem.page("/pricing", anonymous_id="a1", timestamp=day(5))
    mem.identify("u1", traits={"plan": "pro"}, anonymous_id="a1", timestamp=day(5))
    mem.alias("u1", "old-id")
    ex = mem.export_user("u1")
    assert ex["user"]["traits"] == {"plan": "pro"}
    assert len(ex["events"]) == 1  # the anonymous page view is linked to u1
    assert {l["anonymous_id"] for l in ex["identities"]} >= {"a1"}


def test_track_batch_reports_each_refusal(mem: churnlens.Analytics) -> None:
    r = mem.track_batch([
        {"event": "a", "userId": "u1"},
        {"event": "b"},                                   # no identity
        "not a dict",
        {"event": "c", "user_id": "u2", "properties": {"x": float("nan")}},
        {"type": "page", "name": "/docs", "anonymous_id": "a9"},
        {"type": "identify", "user_id": "u3", "traits": {"k": 1}},
    ])
    assert r["accepted"] == 3
    assert [x["index"] for x in r["rejected"]] == [1, 2, 3]
    assert all(x["code"] == "ERR_VALIDATION" for x in r["rejected"])
    assert "NaN" in r["rejected"][2]["reason"]
    mem.flush()
    assert mem.stats()["stored"] == 3


def test_track_batch_over_many_chunks_reports_whole_list_indexes(
        mem: churnlens.Analytics) -> None:
    """Batches are fed to the core 1,024 messages at a time: refusals in any chunk keep
    their index in the whole list, and every accepted message is stored once."""
    batch: List[Any] = [{"event": "e", "user_id": f"u{i}", "message_id": f"m{i}"}
                        for i in range(3000)]
    batch[5] = {"event": "e"}                                  # chunk 0, refused by the core
    batch[1500] = "not a dict"                                 # chunk 1, refused here
    batch[2048] = {"event": "e", "user_id": "u", "properties": {"x": float("inf")}}
    batch[2999] = {"event": "", "user_id": "u"}                # last message
    r = mem.track_batch(batch)
    assert r["accepted"] == 2996
    assert [x["index"] for x in r["rejected"]] == [5, 1500, 2048, 2999]
    again = mem.track_batch(batch[:1100])                      # same message ids
    assert again["accepted"] == 1099
    mem.flush()
    s = mem.stats()
    assert (s["inserted"], s["duplicates"]) == (2996, 1099)


def test_track_batch_reads_dicts_like_the_core(mem: churnlens.Analytics) -> None:
    """track_batch reads each dict's keys straight into the core's input: camelCase and
    snake_case ids, datetime and epoch-ms timestamps, unknown keys checked then ignored,
    wrong types and an id given twice refused with the message's index."""
    ts = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    r = mem.track_batch([
        {"event": "a", "userId": "b1", "messageId": "m1", "sessionId": "s1", "timestamp": ts,
         "extra": {"kept": False}},
        {"event": "a", "user_id": 7, "timestamp": day(1), "context": {"ip": "1.2.3.4"}},
        {"event": "a", "user_id": "b2", "extra": float("nan")},   # unknown key, still checked
        {"event": 5, "user_id": "b2"},                             # event must be a str
        {"event": "a", "user_id": "b2", "userId": "b3"},           # the same field twice
        {"type": None, "event": "a", "anonymous_id": "x1", "user_id": None},
        {"event": "a", "user_id": "b2", 3: "int key"},
    ])
    assert r["accepted"] == 3
    assert [x["index"] for x in r["rejected"]] == [2, 3, 4, 6]
    assert "extra" in r["rejected"][0]["reason"]
    assert "duplicate" in r["rejected"][2]["reason"]
    assert "keys must be str" in r["rejected"][3]["reason"]
    mem.flush()
    (e,) = events_of(mem, "b1")
    assert (e["message_id"], e["session_id"]) == ("m1", "s1")
    assert e["timestamp"].startswith("2026-01-02T03:04:05")
    (e7,) = events_of(mem, "7")
    assert e7["timestamp"].startswith("2026-01-01T12:00")


def test_flush_stats_close_and_context_manager(db_path: Path) -> None:
    with churnlens.Analytics(db_path, batch_size=10, flush_interval=60.0) as a:
        for i in range(25):
            a.track("e", user_id=f"u{i}")
        assert a.path == str(db_path) and a.project == "default"
        a.flush()
        s = a.stats()
        assert (s["accepted"], s["stored"], s["pending"]) == (25, 25, 0)
    assert a.closed
    with pytest.raises(churnlens.ClosedError):
        a.track("e", user_id="u")
    a.close()  # twice is fine
    # The exit flushed: a new instance on the file sees everything.
    with churnlens.Analytics(str(db_path)) as b:
        assert b.active_users(period="month")["total_users"] == 25


def test_exit_on_exception_still_closes(db_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with churnlens.Analytics(db_path, flush_interval=60.0) as a:
            a.track("e", user_id="u1")
            raise RuntimeError("boom")
    with churnlens.Analytics(db_path) as b:
        assert b.stats()["accepted"] == 0
        assert len(b.export_user("u1")["events"]) == 1


def test_options_and_repr(tmp_path: Path) -> None:
    a = churnlens.Analytics.in_memory(project="shop", batch_size=5, queue_capacity=50,
                                      backpressure="error", privacy={"ip": "drop"})
    assert a.project == "shop" and a.path is None
    assert "in_memory" in repr(a)
    a.track("x", user_id="u", context={"ip": "1.2.3.4"})
    e = a.export_user("u")["events"][0]
    assert not e.get("context", {}).get("ip")
    a.close()


def test_version() -> None:
    assert churnlens.__version__.count(".") == 2


def test_message_id_dedup(mem: churnlens.Analytics) -> None:
    for _ in range(3):
        mem.track("x", user_id="u1", message_id="same")
    mem.flush()
    s = mem.stats()
    assert (s["inserted"], s["duplicates"]) == (1, 2)


def test_epoch_ms_arithmetic() -> None:
    assert DAY_MS == 86_400_000

"""import_csv / import_file with column mapping."""

from __future__ import annotations

from pathlib import Path

import churnlens


def test_import_seed_csv(mem: churnlens.Analytics, tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("customer_id,event_date,amount,event_type\n"
                 "c1,2025-03-01,49.00,purchase\nc1,2025-03-02,,login\n,2025-03-02,,login\n")
    r = mem.import_csv(p)
    assert (r["stored"], r["rejected"]) == (2, 1)
    assert r["rejections"][0]["line"] == 4
    again = mem.import_file(str(p))
    assert (again["stored"], again["duplicates"]) == (0, 2)
    assert mem.active_users(period="month")["total_users"] == 1


def test_import_with_mapping(mem: churnlens.Analytics, tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("who,when,what,plan\nu1,2025-03-01,signup,pro\nu2,2025-03-02,signup,free\n")
    r = mem.import_csv(p, user_id="who", timestamp="when", event="what")
    assert r["stored"] == 2, r
    e = mem.export_user("u1")["events"][0]
    assert e["event"] == "signup" and e["properties"]["plan"] == "pro"


def test_import_ndjson(mem: churnlens.Analytics, tmp_path: Path) -> None:
    p = tmp_path / "x.ndjson"
    p.write_text('{"event":"a","userId":"u1","timestamp":"2025-03-01"}\n{"event":"b"}\n')
    r = mem.import_file(p)
    assert (r["stored"], r["rejected"]) == (1, 1)

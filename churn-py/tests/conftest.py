"""Shared fixtures: a fresh Analytics per test and a small hand-worked data set."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator

import pytest

import churnlens

UTC = dt.timezone.utc
DAY_MS = 86_400_000


def day(d: int, month: int = 1) -> dt.datetime:
    """2026-<month>-<d> 12:00 UTC (naive, which churnlens reads as UTC)."""
    return dt.datetime(2026, month, d, 12, 0)


@pytest.fixture
def mem() -> Iterator[churnlens.Analytics]:
    a = churnlens.Analytics.in_memory()
    yield a
    a.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
def shop(mem: churnlens.Analytics) -> churnlens.Analytics:
    """u1 buys on Jan 5 (30 USD) and logs in Feb 10; u2 logs in on Jan 5 only."""
    mem.track("purchase", user_id="u1", timestamp=day(5),
              properties={"amount": 30.0, "currency": "USD"})
    mem.track("login", user_id="u2", timestamp=day(5))
    mem.track("login", user_id="u1", timestamp=day(10, 2))
    return mem

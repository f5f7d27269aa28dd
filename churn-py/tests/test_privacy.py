"""Consent, export, delete, anonymize, purge."""

from __future__ import annotations

import pytest

import churnlens
from conftest import day


def test_consent_withdrawn_refuses_events(mem: churnlens.Analytics) -> None:
    mem.set_consent("u1", False)
    with pytest.raises(churnlens.ConsentError) as ei:
        mem.track("x", user_id="u1")
    assert ei.value.code == "ERR_CONSENT"
    mem.set_consent("u1", True)
    mem.track("x", user_id="u1")


def test_export_delete(shop: churnlens.Analytics) -> None:
    ex = shop.export_user("u1")
    assert ex["user_id"] == "u1" and len(ex["events"]) == 2
    r = shop.delete_user("u1")
    assert r["events"] == 2
    assert shop.export_user("u1")["events"] == []


def test_anonymize(shop: churnlens.Analytics) -> None:
    new_id = shop.anonymize_user("u1")
    assert new_id != "u1"
    assert len(shop.export_user(new_id)["events"]) == 2
    assert shop.export_user("u1")["events"] == []


def test_purge_before(shop: churnlens.Analytics) -> None:
    assert shop.purge_before(day(1, 2)) == 2
    assert shop.active_users(period="month")["total_users"] == 1

"""Analytics on a PostgreSQL URL: two instances (two app servers) share one database.

Runs when CHURN_TEST_PG_URL names a server (``./dev test_python`` starts a throwaway
one); skipped otherwise. Each run uses its own project, so the database may be shared.
"""

from __future__ import annotations

import os
import uuid

import pytest

import churnlens

from conftest import day

URL = os.environ.get("CHURN_TEST_PG_URL", "")
pytestmark = pytest.mark.skipif(
    not URL, reason="CHURN_TEST_PG_URL not set (./dev test_python starts a PostgreSQL)"
)


def test_two_instances_share_a_postgres_database() -> None:
    project = f"py_{uuid.uuid4().hex[:12]}"
    with churnlens.Analytics(URL, project=project) as a, \
            churnlens.Analytics(URL, project=project) as b:
        assert a.path == URL
        a.track("login", user_id="u1", timestamp=day(5), message_id="m1")
        b.track("login", user_id="u1", timestamp=day(6), message_id="m2")
        b.track("login", user_id="u1", timestamp=day(5), message_id="m1")  # duplicate
        a.identify("u1", traits={"plan": "pro"})
        a.flush()
        b.flush()
        for x in (a, b):
            ex = x.export_user("u1")
            assert sorted(e["message_id"] for e in ex["events"]) == ["m1", "m2"]
            assert x.user_profile("u1")["events"] == 2
        assert a.stats()["duplicates"] + b.stats()["duplicates"] == 1


def test_unreachable_postgres_is_a_storage_error() -> None:
    # Port 1 on localhost: nothing listens there.
    with pytest.raises(churnlens.StorageError):
        churnlens.Analytics("postgres://churn@127.0.0.1:1/none")

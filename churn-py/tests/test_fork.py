"""fork (gunicorn workers): the child reopens the SQLite file and writes; the parent
sees the child's events after a refresh. An in-memory instance refuses in the child."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import churnlens

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _child(fn: "object") -> int:
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            code = fn()  # type: ignore[operator]
        except BaseException as e:  # noqa: BLE001
            print("child failed:", repr(e), file=sys.stderr)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") \
        else status >> 8


def test_child_opens_its_own_and_parent_sees_events(db_path: Path) -> None:
    parent = churnlens.Analytics(db_path)
    parent.track("from_parent", user_id="p1")
    parent.flush()
    assert parent.active_users()["total_users"] == 1

    def child() -> int:
        # The recommended pattern: a fresh instance per worker (gunicorn post_fork).
        with churnlens.Analytics(db_path) as mine:
            for i in range(10):
                mine.track("from_child", user_id=f"c{i}")
        return 0

    assert _child(child) == 0
    parent.refresh()
    assert parent.active_users()["total_users"] == 11
    parent.close()


def test_inherited_file_instance_reopens_in_child(db_path: Path) -> None:
    a = churnlens.Analytics(db_path, flush_interval=3600.0)
    a.track("before_fork", user_id="p1")  # queued, not yet stored at fork time

    def child() -> int:
        a.track("in_child", user_id="c1")
        a.flush()
        a.close()
        return 0

    assert _child(child) == 0
    a.flush()  # the parent stores its own queued event once
    ex = [e["event"] for e in a.export_user("c1")["events"]]
    assert ex == ["in_child"]
    assert [e["event"] for e in a.export_user("p1")["events"]] == ["before_fork"]
    a.close()


def test_inherited_memory_instance_raises_in_child() -> None:
    a = churnlens.Analytics.in_memory()

    def child() -> int:
        try:
            a.track("x", user_id="u")
        except churnlens.ClosedError as e:
            return 0 if "fork" in str(e) else 3
        return 2

    assert _child(child) == 0
    a.track("x", user_id="u")  # the parent is unaffected
    a.close()

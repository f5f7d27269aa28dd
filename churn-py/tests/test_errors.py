"""Every core error code maps to its own exception class under ChurnError."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import churnlens
from churnlens import errors


def test_one_class_per_code() -> None:
    codes = {"ERR_VALIDATION", "ERR_INVALID_ARGUMENT", "ERR_CONSENT", "ERR_STORAGE",
             "ERR_SCHEMA_TOO_NEW", "ERR_NOT_A_STORE", "ERR_NOT_FOUND", "ERR_QUEUE_FULL",
             "ERR_CLOSED", "ERR_IO", "ERR_MODEL", "ERR_MODEL_VERSION", "ERR_SCHEMA_MISMATCH"}
    assert set(errors.BY_CODE) == codes
    for code, cls in errors.BY_CODE.items():
        assert issubclass(cls, churnlens.ChurnError) and cls.code == code
        assert getattr(churnlens, cls.__name__) is cls


def test_builtin_bases() -> None:
    assert issubclass(churnlens.ValidationError, ValueError)
    assert issubclass(churnlens.NotFoundError, LookupError)
    assert issubclass(churnlens.FileError, OSError)
    assert issubclass(churnlens.SchemaTooNewError, churnlens.StorageError)


def test_validation(mem: churnlens.Analytics) -> None:
    with pytest.raises(churnlens.ValidationError) as ei:
        mem.track("signup")
    assert ei.value.code == "ERR_VALIDATION"
    assert "user_id or an anonymous_id" in str(ei.value)


def test_invalid_argument() -> None:
    with pytest.raises(churnlens.InvalidArgumentError) as ei:
        churnlens.Analytics.in_memory(batch_size=0)
    assert ei.value.code == "ERR_INVALID_ARGUMENT"
    with pytest.raises(churnlens.InvalidArgumentError):
        churnlens.Analytics.in_memory(backpressure="sometimes")


def test_not_a_store(tmp_path: Path) -> None:
    p = tmp_path / "junk.db"
    p.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises((churnlens.NotAStoreError, churnlens.StorageError)) as ei:
        churnlens.Analytics(p)
    assert ei.value.code in {"ERR_NOT_A_STORE", "ERR_STORAGE"}


def test_schema_too_new(tmp_path: Path) -> None:
    p = tmp_path / "new.db"
    churnlens.Analytics(p).close()
    con = sqlite3.connect(p)
    tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
    meta = [t for t in tables if "meta" in t]
    con.execute("PRAGMA user_version = 9999")
    for t in meta:
        cols = [r[1] for r in con.execute(f"pragma table_info({t})")]
        if "key" in cols and "value" in cols:
            con.execute(f"update {t} set value='9999' where key like '%schema%'")
    con.commit()
    con.close()
    with pytest.raises(churnlens.SchemaTooNewError) as ei:
        churnlens.Analytics(p)
    assert ei.value.code == "ERR_SCHEMA_TOO_NEW"


def test_storage_error_on_unwritable_path(tmp_path: Path) -> None:
    with pytest.raises(churnlens.ChurnError) as ei:
        churnlens.Analytics(tmp_path / "no" / "such" / "dir" / "x.db")
    assert ei.value.code in {"ERR_STORAGE", "ERR_IO"}


def test_queue_full() -> None:
    a = churnlens.Analytics.in_memory(queue_capacity=1, batch_size=1, backpressure="error",
                                      flush_interval=3600.0)
    with pytest.raises(churnlens.QueueFullError) as ei:
        for i in range(100_000):
            a.track("x", user_id=f"u{i}")
    assert ei.value.code == "ERR_QUEUE_FULL"
    a.close()


def test_closed(mem: churnlens.Analytics) -> None:
    mem.close()
    for call in (lambda: mem.track("x", user_id="u"), mem.flush, mem.active_users,
                 mem.stats, lambda: mem.export_user("u")):
        with pytest.raises(churnlens.ClosedError):
            call()


def test_file_error(mem: churnlens.Analytics, tmp_path: Path) -> None:
    with pytest.raises(churnlens.FileError) as ei:
        mem.import_csv(tmp_path / "missing.csv")
    assert ei.value.code == "ERR_IO"


def test_not_found_consent_model_classes_exist() -> None:
    # Raised in test_churn / test_privacy; here: catchable by their built-in bases.
    with pytest.raises(LookupError):
        raise churnlens.NotFoundError("x")
    with pytest.raises(churnlens.ModelError):
        raise churnlens.SchemaMismatchError("y")

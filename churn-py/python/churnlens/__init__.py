"""churnlens: embeddable product analytics and churn prediction.

A thin Python layer over the Rust crate ``churn-core``. Track events, run analyses
(active users, sessions, retention, revenue and churn rate) and train, score and
explain churn models, on a SQLite file or in memory::

    import churnlens

    with churnlens.Analytics("events.db") as a:
        a.track("signup", user_id="u1", properties={"plan": "pro"})
        a.flush()
        print(a.active_users(period="day"))

Results are plain ``dict`` / ``list`` objects with the same shape as churn-core's
JSON; :func:`to_pandas` and :func:`to_polars` turn tabular parts into data frames when
those packages are installed. Errors are subclasses of :class:`ChurnError`.

Threads: one :class:`Analytics` may be shared by many threads; the GIL is released
during every analysis, training, import and flush. Fork: a file-backed instance
reopens its SQLite file in a forked child on first use (an in-memory one raises
:class:`ClosedError` there); opening a new instance in each worker (gunicorn
``post_fork``) is the recommended pattern.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

from ._churnlens import Analytics, ChurnModel, __version__
from .errors import (
    ChurnError,
    ClosedError,
    ConsentError,
    FileError,
    InvalidArgumentError,
    ModelError,
    ModelVersionError,
    NotAStoreError,
    NotFoundError,
    QueueFullError,
    SchemaMismatchError,
    SchemaTooNewError,
    StorageError,
    ValidationError,
)

#: Tabular lists inside the core's reports, tried in order by :func:`to_pandas`.
_TABLE_KEYS = ("periods", "cohorts", "per_period", "daily", "rows")

Rows = Sequence[Mapping[str, Any]]


def _rows(data: Union[Rows, Mapping[str, Any]], key: Optional[str]) -> Any:
    """The list of records inside ``data`` (a report dict or a list of dicts)."""
    if isinstance(data, Mapping):
        if "columns" in data and "values" in data and key is None:
            cols = list(data["columns"])
            return [
                dict(zip(["customer_id"] + cols, [c] + list(v)))
                for c, v in zip(data["customers"], data["values"])
            ]
        if key is not None:
            return data[key]
        for k in _TABLE_KEYS:
            if isinstance(data.get(k), list):
                return data[k]
        raise ValidationError(
            f"no table in this report (keys: {sorted(data)}); pass key=... to choose one"
        )
    return list(data)


def to_pandas(data: Union[Rows, Mapping[str, Any]], key: Optional[str] = None) -> Any:
    """A ``pandas.DataFrame`` of a list of records, a report's table (``periods``,
    ``cohorts``... or ``key``) or a ``churn_features`` result. Needs pandas."""
    import pandas as pd  # type: ignore[import-not-found,import-untyped,unused-ignore]

    return pd.DataFrame.from_records(_rows(data, key))


def to_polars(data: Union[Rows, Mapping[str, Any]], key: Optional[str] = None) -> Any:
    """A ``polars.DataFrame`` of the same tables as :func:`to_pandas`. Needs polars."""
    import polars as pl  # type: ignore[import-not-found,import-untyped,unused-ignore]

    return pl.from_dicts(_rows(data, key))


__all__ = [
    "Analytics",
    "ChurnModel",
    "ChurnError",
    "ClosedError",
    "ConsentError",
    "FileError",
    "InvalidArgumentError",
    "ModelError",
    "ModelVersionError",
    "NotAStoreError",
    "NotFoundError",
    "QueueFullError",
    "SchemaMismatchError",
    "SchemaTooNewError",
    "StorageError",
    "ValidationError",
    "to_pandas",
    "to_polars",
    "__version__",
]

"""Type stubs of the native module (implemented in Rust, ``churn-py/src``)."""

from __future__ import annotations

import datetime as _dt
import os
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union, final

#: A time: ``datetime`` (naive = UTC, aware converted), ``date`` (midnight UTC),
#: ``int`` epoch milliseconds, or text (RFC 3339, ``YYYY-MM-DD``).
_TimeLike = Union[_dt.datetime, _dt.date, int, str]
#: A report: plain dicts and lists in churn-core's JSON shape.
_Report = Dict[str, Any]
_PathLike = Union[str, "os.PathLike[str]"]

__version__: str
__all__ = ["Analytics", "ChurnModel", "__version__"]

@final
class ChurnModel:
    """A trained, calibrated churn model (logistic regression). Immutable and
    thread-safe; save it with :meth:`save` and read it back with :meth:`load`."""

    @property
    def name(self) -> str:
        """The model's name."""
    @property
    def feature_names(self) -> List[str]:
        """Feature column names, in order."""
    @property
    def metrics(self) -> Optional[_Report]:
        """Held-out metrics recorded with the model, if any."""
    def to_dict(self) -> _Report:
        """The whole model (coefficients, calibration, feature config) as a dict."""
    def to_json(self) -> bytes:
        """The versioned JSON document :meth:`save` writes."""
    @staticmethod
    def from_json(data: bytes) -> ChurnModel:
        """Read a model from :meth:`to_json` output (``ModelError`` when damaged)."""
    def save(self, path: _PathLike) -> None:
        """Write the model to ``path``."""
    @staticmethod
    def load(path: _PathLike) -> ChurnModel:
        """Read a model written by :meth:`save`."""

class Analytics:
    """Event tracking, analyses and churn models over a SQLite file (``path``), a
    PostgreSQL database (``path="postgres://user@host/db"``, shared by several app
    servers) or in memory (``path=None`` / :meth:`in_memory`).

    ``track``-like calls validate at once and queue; a background thread stores them
    in batches of ``batch_size`` at least every ``flush_interval`` seconds. When the
    queue holds ``queue_capacity`` messages, calls wait (``backpressure="block"``) or
    raise :class:`~churnlens.QueueFullError` (``"error"``). ``privacy`` is a dict of
    churn-core's ``PrivacyPolicy`` (``pii_keys``, ``pii_mode``, ``ip``,
    ``drop_user_agent``). Use as a context manager to flush and close on exit.
    Share one instance between threads freely; after ``os.fork()`` a file-backed
    instance reopens its file in the child.
    """

    def __new__(
        cls,
        path: Optional[_PathLike] = None,
        *,
        project: str = "default",
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        queue_capacity: int = 100000,
        backpressure: str = "block",
        privacy: Optional[Mapping[str, Any]] = None,
    ) -> Analytics: ...
    @staticmethod
    def in_memory(
        *,
        project: str = ...,
        batch_size: int = ...,
        flush_interval: float = ...,
        queue_capacity: int = ...,
        backpressure: str = ...,
        privacy: Optional[Mapping[str, Any]] = ...,
    ) -> Analytics:
        """An instance over a new in-memory store (same keywords as the constructor)."""
    @property
    def path(self) -> Optional[str]:
        """The SQLite file or PostgreSQL URL, or None in memory."""
    @property
    def project(self) -> str:
        """The project (tenant) events go to."""
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
    def __enter__(self) -> Analytics: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    def track(
        self,
        event: str,
        user_id: Optional[str] = None,
        anonymous_id: Optional[str] = None,
        properties: Optional[Mapping[str, Any]] = None,
        timestamp: Optional[_TimeLike] = None,
        message_id: Optional[str] = None,
        session_id: Optional[str] = None,
        context: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Record an event. Needs ``user_id`` or ``anonymous_id``. Raises
        ``ValidationError``, ``ConsentError``, ``QueueFullError``, ``ClosedError``."""
    def page(
        self,
        path: str,
        user_id: Optional[str] = None,
        anonymous_id: Optional[str] = None,
        properties: Optional[Mapping[str, Any]] = None,
        timestamp: Optional[_TimeLike] = None,
        message_id: Optional[str] = None,
        session_id: Optional[str] = None,
        context: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Record a page view of ``path`` (event ``page_view``)."""
    def identify(
        self,
        user_id: str,
        traits: Optional[Mapping[str, Any]] = None,
        anonymous_id: Optional[str] = None,
        timestamp: Optional[_TimeLike] = None,
    ) -> None:
        """Record who a user is (traits) and link ``anonymous_id`` to them."""
    def alias(self, user_id: str, previous_id: str) -> None:
        """Record that ``previous_id`` is the same person as ``user_id``."""
    def track_batch(self, messages: Sequence[Mapping[str, Any]]) -> _Report:
        """Queue many messages (Segment-shaped dicts, snake_case or camelCase keys;
        ``type`` = track/page/identify/alias). Returns ``{"accepted", "duplicates",
        "rejected": [{"index", "code", "reason"}]}``; bad items never stop the batch."""
    def flush(self) -> None:
        """Wait until every accepted message is stored (``StorageError`` if not)."""
    def close(self) -> None:
        """Store everything accepted and stop; later calls raise ``ClosedError``."""
    def stats(self) -> _Report:
        """Tracker counters: accepted, stored, pending, inserted, duplicates, failures."""
    def import_file(self, path: _PathLike, **options: Any) -> _Report:
        """Import a CSV / TSV / NDJSON file. Keywords: column names (``user_id=``,
        ``anonymous_id=``, ``timestamp=``, ``event=``, ``amount=``, ``message_id=``,
        ``session_id=``) or ``ImportOptions`` fields (``format``, ``default_event``,
        ``batch_size``, ...). Bad rows are reported, never fatal."""
    def import_csv(self, path: _PathLike, **options: Any) -> _Report:
        """Same as :meth:`import_file`."""
    def set_consent(self, user_id: str, granted: bool) -> None:
        """Record consent; while withdrawn, the person's events raise ``ConsentError``."""
    def export_user(self, user_id: str) -> _Report:
        """Everything stored about a person (events, record, links, consent)."""
    def delete_user(self, user_id: str) -> _Report:
        """Delete everything about a person; returns the counts deleted."""
    def anonymize_user(self, user_id: str) -> str:
        """Replace a person by a new random id without PII; returns the new id."""
    def purge_before(self, before: _TimeLike) -> int:
        """Delete every event before ``before``; returns how many."""
    def refresh(self) -> _Report:
        """Merge events stored since the last analysis (also by other processes)."""
    def memory_usage(self) -> _Report:
        """Memory held by the query engine."""
    def active_users(self, **options: Any) -> _Report:
        """DAU/WAU/MAU, rolling WAU_7/MAU_30, stickiness, new vs returning. Options:
        ``range=(from, to)``, ``period="day"|"week"|"month"``, ``active={...}``."""
    def sessions(self, **options: Any) -> _Report:
        """Sessions, durations, bounces, entry/exit pages. Options: ``range``,
        ``period``, ``active``, ``max_gap_ms``, ``top``."""
    def retention(self, **options: Any) -> _Report:
        """Retention cohorts. Options: ``range``, ``period``, ``mode``, ``start``,
        ``returning``, ``periods``, ``as_of`` (cells of periods not over at that time,
        default the range end, have ``complete`` false in each cohort's ``complete``)."""
    def revenue(self, **options: Any) -> _Report:
        """Revenue, ARPU, churn rate and LTV per period. Options: ``range``, ``period``,
        ``currency``, ``revenue_events``, ``active``, ``subscription``,
        ``signup_event``, ``cac``."""
    def funnel(self, **options: Any) -> _Report:
        """Funnel conversion. Options: ``steps=[{"event": "signup"}, ...]``,
        ``window_ms``, ``mode``, ``exclusions``, ``breakdown``, ``segment``, ``range``."""
    def paths(self, **options: Any) -> _Report:
        """Paths after or before ``event`` as a Sankey graph (``nodes``, ``edges``).
        Options: ``event``, ``page``, ``direction``, ``depth``, ``top``, ``pages``,
        ``segment``, ``range``."""
    def user_profile(self, user_id: str, **options: Any) -> _Report:
        """The profile of one person (ids, traits, activity, billing, usage trend)."""
    def create_segment(self, name: str, expr: Union[str, Mapping[str, Any]],
                       description: str = "") -> _Report:
        """Save a segment: filter-language text (``'plan = "pro" and did(x, >= 3, 14d)'``)
        or the JSON form as a dict."""
    def segments(self) -> List[_Report]:
        """Saved segments."""
    def get_segment(self, name: str) -> _Report:
        """One saved segment (``NotFoundError`` if missing)."""
    def delete_segment(self, name: str) -> bool:
        """Delete a saved segment; returns whether it existed."""
    def segment_members(self, segment: Union[str, Mapping[str, Any]],
                        as_of: Optional[_TimeLike] = None) -> List[str]:
        """Sorted ids of the persons in a segment (saved name or expression dict)."""
    def segment_stats(self, segment: Union[str, Mapping[str, Any]]) -> _Report:
        """Size and statistics of a segment."""
    def churn_features(self, as_of: _TimeLike, **features: Any) -> _Report:
        """Churn features of every customer as of ``as_of``: ``{"as_of", "columns",
        "customers", "values"}``. Keywords: ``FeatureConfig`` fields."""
    def train_churn(
        self,
        as_of: _TimeLike,
        *,
        name: str = "churn",
        lookback_days: int = 90,
        horizon_days: int = 30,
        features: Optional[Mapping[str, Any]] = None,
        training: Optional[Mapping[str, Any]] = None,
        logistic: Optional[Mapping[str, Any]] = None,
    ) -> ChurnModel:
        """Train a calibrated logistic churn model on features before ``as_of`` and
        labels in ``[as_of, as_of + horizon_days)``."""
    def evaluate_churn(
        self,
        model: ChurnModel,
        as_of: _TimeLike,
        *,
        threshold: float = 0.5,
        lookback_days: int = 90,
        horizon_days: int = 30,
    ) -> _Report:
        """ROC AUC, PR AUC, log-loss, Brier, lift, confusion, calibration of ``model``
        on labels as of ``as_of`` (pick a later ``as_of`` than training's)."""
    def churn_scores(
        self,
        model: ChurnModel,
        as_of: Optional[_TimeLike] = None,
        *,
        thresholds: Optional[Tuple[float, float, float]] = None,
    ) -> List[_Report]:
        """``[{"customer_id", "probability", "segment"}]`` for every customer with an
        event before ``as_of`` (default now). ``thresholds`` = (medium, high, critical)."""
    def explain_churn(
        self,
        model: ChurnModel,
        user_id: str,
        as_of: Optional[_TimeLike] = None,
        *,
        top: int = 5,
        thresholds: Optional[Tuple[float, float, float]] = None,
    ) -> _Report:
        """The features that raise and lower ``user_id``'s score (``NotFoundError`` if
        they have no event before ``as_of``)."""

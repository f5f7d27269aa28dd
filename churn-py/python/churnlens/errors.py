"""The churnlens exception hierarchy.

Every error raised by churn-core reaches Python as a subclass of :class:`ChurnError`,
one class per core error code (``err.code``, such as ``"ERR_VALIDATION"``). The message
is churn-core's own. Where a built-in exception fits, the class also derives from it,
so ``except ValueError`` catches a :class:`ValidationError`.
"""

from __future__ import annotations

from typing import Dict, Type


class ChurnError(Exception):
    """Base class of every churnlens error. ``code`` is churn-core's error code."""

    code: str = "ERR_CHURN"


class ValidationError(ChurnError, ValueError):
    """A message or argument failed validation (bad type, empty id, NaN, too large...)."""

    code = "ERR_VALIDATION"


class InvalidArgumentError(ValidationError):
    """An argument is out of range or inconsistent (a ``ValidationError`` too)."""

    code = "ERR_INVALID_ARGUMENT"


class ConsentError(ChurnError):
    """The user withdrew consent; the message was refused."""

    code = "ERR_CONSENT"


class StorageError(ChurnError):
    """The store failed (I/O, constraint, driver error)."""

    code = "ERR_STORAGE"


class SchemaTooNewError(StorageError):
    """The store file was written by a newer churnlens."""

    code = "ERR_SCHEMA_TOO_NEW"


class NotAStoreError(StorageError):
    """The file exists but is not a churnlens store."""

    code = "ERR_NOT_A_STORE"


class NotFoundError(ChurnError, LookupError):
    """A named thing (user, model...) does not exist."""

    code = "ERR_NOT_FOUND"


class QueueFullError(ChurnError):
    """The event queue is full and ``backpressure="error"`` was chosen."""

    code = "ERR_QUEUE_FULL"


class ClosedError(ChurnError):
    """The Analytics object was closed (or belongs to the parent of a forked process)."""

    code = "ERR_CLOSED"


class FileError(ChurnError, OSError):
    """A file could not be read or written."""

    code = "ERR_IO"


class ModelError(ChurnError):
    """A churn model could not be trained, loaded or applied."""

    code = "ERR_MODEL"


class ModelVersionError(ModelError):
    """A saved model uses a format version this build does not read."""

    code = "ERR_MODEL_VERSION"


class SchemaMismatchError(ModelError):
    """The features given to a model do not match the ones it was trained on."""

    code = "ERR_SCHEMA_MISMATCH"


#: Exception class by churn-core error code (used by the native module).
BY_CODE: Dict[str, Type[ChurnError]] = {
    cls.code: cls
    for cls in (
        ValidationError,
        InvalidArgumentError,
        ConsentError,
        StorageError,
        SchemaTooNewError,
        NotAStoreError,
        NotFoundError,
        QueueFullError,
        ClosedError,
        FileError,
        ModelError,
        ModelVersionError,
        SchemaMismatchError,
    )
}

__all__ = [cls.__name__ for cls in BY_CODE.values()] + ["ChurnError", "BY_CODE"]

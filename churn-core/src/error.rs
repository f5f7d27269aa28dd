//! The crate's one error type.
//!
//! Every fallible call in churn-core returns [`Result<T>`](crate::Result). Variants carry
//! the context a caller needs to act (which field, which batch index, which file and
//! line), and each has a stable machine-readable [`Error::code`] that the bindings expose
//! (`ERR_VALIDATION`, ...).

use std::path::PathBuf;

/// Result alias used across churn-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why one message or value was refused. Carried by [`Error::Validation`] and by the
/// per-index rejections of a batch ([`crate::event::Rejected`]).
///
/// ```
/// use churn_core::ValidationError;
/// let e = ValidationError::TooLong { field: "event".into(), max: 200, len: 250 };
/// assert_eq!(e.to_string(), "event is 250 characters long, at most 200 are allowed");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A required text field is empty.
    #[error("{field} must not be empty")]
    Empty {
        /// The field, such as `event` or `user_id`.
        field: String,
    },
    /// A text field is longer than allowed (counted in characters).
    #[error("{field} is {len} characters long, at most {max} are allowed")]
    TooLong {
        /// The field.
        field: String,
        /// Largest allowed length.
        max: usize,
        /// Length found.
        len: usize,
    },
    /// A field holds a character that is not allowed (control characters in names and ids).
    #[error("{field} contains a control character at position {position}")]
    ControlCharacter {
        /// The field.
        field: String,
        /// Character position of the first offending character.
        position: usize,
    },
    /// Neither `user_id` nor `anonymous_id` was given.
    #[error("a message needs a user_id or an anonymous_id")]
    MissingIdentity,
    /// `properties` or `traits` is not a JSON object.
    #[error("{field} must be a JSON object, got {found}")]
    NotAnObject {
        /// The field.
        field: String,
        /// The JSON type found instead.
        found: String,
    },
    /// Nesting of properties deeper than allowed.
    #[error("{field} is nested {depth} levels deep, at most {max} are allowed")]
    TooDeep {
        /// The field.
        field: String,
        /// Depth found (stops counting just past `max`).
        depth: usize,
        /// Largest allowed depth.
        max: usize,
    },
    /// Encoded message larger than allowed.
    #[error("the encoded message is {size} bytes, at most {max} are allowed")]
    TooLarge {
        /// Encoded size in bytes.
        size: usize,
        /// Largest allowed size.
        max: usize,
    },
    /// Timestamp too far in the future.
    #[error("timestamp {timestamp} is more than 1 day after the time it was received ({now})")]
    InFuture {
        /// The timestamp given (RFC 3339).
        timestamp: String,
        /// The receive time it was compared with (RFC 3339).
        now: String,
    },
    /// Timestamp before 2000-01-01.
    #[error("timestamp {timestamp} is before 2000-01-01")]
    TooOld {
        /// The timestamp given (RFC 3339).
        timestamp: String,
    },
    /// A number that must be finite is NaN or infinite, or a numeric field is not a number.
    #[error("{field} must be a finite number{}", found.as_ref().map(|f| format!(", got {f}")).unwrap_or_default())]
    NotFinite {
        /// The field, such as `properties.amount`.
        field: String,
        /// What was found instead, when known.
        found: Option<String>,
    },
    /// Raw input is not valid UTF-8.
    #[error("input is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// Raw input is not valid JSON, or does not have the expected shape.
    #[error("invalid JSON: {reason}")]
    InvalidJson {
        /// The parser's explanation.
        reason: String,
    },
    /// A timestamp could not be parsed.
    #[error("{field}: cannot read {value:?} as a timestamp (use RFC 3339, YYYY-MM-DD or epoch milliseconds)")]
    BadTimestamp {
        /// The field.
        field: String,
        /// The text given (cut to 64 characters).
        value: String,
    },
    /// Any other field-level problem.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// The churn-core error.
///
/// ```
/// use churn_core::{Error, ValidationError};
/// let e = Error::from(ValidationError::MissingIdentity);
/// assert_eq!(e.code(), "ERR_VALIDATION");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message or argument failed validation.
    #[error("validation failed: {0}")]
    Validation(#[from] ValidationError),
    /// An argument to an API call is out of range or inconsistent.
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument {
        /// Argument name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The user withdrew consent; their events are refused.
    #[error("user {id} has withdrawn consent; the event was refused")]
    ConsentWithdrawn {
        /// The user or anonymous id.
        id: String,
    },
    /// The store failed (I/O, constraint, driver error).
    #[error("storage error: {message}")]
    Storage {
        /// What failed.
        message: String,
    },
    /// The store cannot be reached for now (its database is down or restarting); the
    /// same call may succeed after `retry_after`. Nothing accepted is lost: a tracker
    /// keeps its messages and retries. Same code as [`Error::Storage`] (`ERR_STORAGE`).
    #[error("storage unavailable (retry in {:.1} s): {message}", retry_after.as_secs_f64())]
    Unavailable {
        /// What failed.
        message: String,
        /// How long until a new attempt is worth making.
        retry_after: std::time::Duration,
    },
    /// The file is a churnlens store written by a newer version.
    #[error("{path} was written by a newer churnlens (schema {found}; this build reads up to {supported}); upgrade churnlens to open it")]
    SchemaTooNew {
        /// The store's location.
        path: String,
        /// Schema version found in the file.
        found: u32,
        /// Newest schema this build knows.
        supported: u32,
    },
    /// The file exists but is not a churnlens store.
    #[error("{path} is not a churnlens store: {reason}")]
    NotAStore {
        /// The file.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// A named thing does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up, such as `user u1` or `segment power_users`.
        what: String,
    },
    /// The tracker's queue is full and the policy is to fail fast.
    #[error("the event queue is full ({capacity} messages); retry later or flush")]
    QueueFull {
        /// Queue capacity.
        capacity: usize,
    },
    /// The tracker was closed.
    #[error("the Analytics instance is closed")]
    Closed,
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A model could not be trained, loaded or applied.
    #[error("model error: {message}")]
    Model {
        /// What went wrong.
        message: String,
    },
    /// A saved model uses a model format version this build does not read.
    #[error("the model was saved in format version {found}; this build reads format version {supported}; retrain or convert the model")]
    ModelVersion {
        /// Format version found in the saved model.
        found: u32,
        /// The format version this build reads and writes.
        supported: u32,
    },
    /// The features given to a model do not match the feature schema it was trained on.
    #[error("feature schema mismatch: {reason}")]
    SchemaMismatch {
        /// The first difference found.
        reason: String,
    },
}

impl Error {
    /// A stable code for the variant, used by the bindings (`err.code` in Node, the
    /// exception class in Python).
    ///
    /// ```
    /// assert_eq!(churn_core::Error::Closed.code(), "ERR_CLOSED");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "ERR_VALIDATION",
            Error::InvalidArgument { .. } => "ERR_INVALID_ARGUMENT",
            Error::ConsentWithdrawn { .. } => "ERR_CONSENT",
            Error::Storage { .. } | Error::Unavailable { .. } => "ERR_STORAGE",
            Error::SchemaTooNew { .. } => "ERR_SCHEMA_TOO_NEW",
            Error::NotAStore { .. } => "ERR_NOT_A_STORE",
            Error::NotFound { .. } => "ERR_NOT_FOUND",
            Error::QueueFull { .. } => "ERR_QUEUE_FULL",
            Error::Closed => "ERR_CLOSED",
            Error::Io { .. } => "ERR_IO",
            Error::Model { .. } => "ERR_MODEL",
            Error::ModelVersion { .. } => "ERR_MODEL_VERSION",
            Error::SchemaMismatch { .. } => "ERR_SCHEMA_MISMATCH",
        }
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Model`].
    pub fn model(message: impl std::fmt::Display) -> Self {
        Error::Model {
            message: message.to_string(),
        }
    }

    /// Shorthand for [`Error::Storage`].
    pub fn storage(message: impl std::fmt::Display) -> Self {
        Error::Storage {
            message: message.to_string(),
        }
    }
}

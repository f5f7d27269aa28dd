//! Argument and result types of the [`Store`](super::Store) trait.

use serde::{Deserialize, Serialize};

use crate::event::{Event, Properties};
use crate::time::{TimeRange, Timestamp};

/// What to scan: a time range, event names, people, a `seq` cursor and a limit.
/// Built with chained setters; adding a field breaks no caller.
///
/// ```
/// use churn_core::store::ScanRequest;
/// use churn_core::{TimeRange, Timestamp};
/// let req = ScanRequest::new()
///     .range(TimeRange::since(Timestamp::from_ymd(2026, 1, 1).unwrap()))
///     .events(["signup", "purchase"])
///     .limit(100);
/// assert_eq!(req.limit, Some(100));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScanRequest {
    /// Timestamp range `[from, to)`.
    #[serde(default)]
    pub range: TimeRange,
    /// Only these event names.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Only events whose `user_id` or `anonymous_id` is one of these.
    #[serde(default)]
    pub users: Option<Vec<String>>,
    /// Only events stored after this `seq` (exclusive cursor).
    #[serde(default)]
    pub after_seq: Option<u64>,
    /// At most this many events.
    #[serde(default)]
    pub limit: Option<usize>,
}

impl ScanRequest {
    /// Everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restrict to a time range.
    pub fn range(mut self, range: TimeRange) -> Self {
        self.range = range;
        self
    }

    /// Restrict to event names.
    pub fn events<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.events = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Restrict to people (user or anonymous ids).
    pub fn users<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.users = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Only events stored after `seq`.
    pub fn after_seq(mut self, seq: u64) -> Self {
        self.after_seq = Some(seq);
        self
    }

    /// At most `n` events.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Whether an event's core fields match (used by stores that filter in Rust).
    pub fn matches(&self, seq: u64, e: &EventRow<'_>) -> bool {
        self.range.contains(e.timestamp)
            && self.after_seq.is_none_or(|s| seq > s)
            && self
                .events
                .as_ref()
                .is_none_or(|n| n.iter().any(|x| x == e.event))
            && self.users.as_ref().is_none_or(|u| {
                u.iter()
                    .any(|x| Some(x.as_str()) == e.user_id || Some(x.as_str()) == e.anonymous_id)
            })
    }
}

/// An event with its store sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Increasing number assigned by the store.
    pub seq: u64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// The core columns of a stored event, borrowed from the store for fast bulk loads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventRow<'a> {
    /// Store sequence number.
    pub seq: u64,
    /// Client timestamp.
    pub timestamp: Timestamp,
    /// Event name.
    pub event: &'a str,
    /// User id.
    pub user_id: Option<&'a str>,
    /// Anonymous id.
    pub anonymous_id: Option<&'a str>,
    /// Explicit session id.
    pub session_id: Option<&'a str>,
}

impl<'a> EventRow<'a> {
    /// The core columns of `e`.
    pub fn of(seq: u64, e: &'a Event) -> Self {
        EventRow {
            seq,
            timestamp: e.timestamp,
            event: &e.event,
            user_id: e.user_id.as_deref(),
            anonymous_id: e.anonymous_id.as_deref(),
            session_id: e.session_id.as_deref(),
        }
    }
}

/// What an `apply` / `append` call stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    /// Events newly stored.
    pub inserted: usize,
    /// Events skipped because their `message_id` was already stored.
    pub duplicates: usize,
    /// Identify and alias calls applied.
    pub identities: usize,
}

impl AppendOutcome {
    /// Add another outcome to this one.
    pub fn add(&mut self, o: AppendOutcome) {
        self.inserted += o.inserted;
        self.duplicates += o.duplicates;
        self.identities += o.identities;
    }
}

/// A user's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user id.
    pub user_id: String,
    /// Current traits.
    pub traits: Properties,
    /// Anonymous ids linked to this user, in link order.
    pub anonymous_ids: Vec<String>,
    /// First identify or alias time.
    pub created_at: Timestamp,
    /// Last identify time.
    pub updated_at: Timestamp,
}

/// A link from an anonymous (or previous) id to a user id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdentityLink {
    /// The anonymous or previous id.
    pub anonymous_id: String,
    /// The user it belongs to.
    pub user_id: String,
}

/// A consent decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// User or anonymous id.
    pub id: String,
    /// Granted (true) or withdrawn (false).
    pub granted: bool,
    /// When it was recorded.
    pub at: Timestamp,
}

/// What a delete removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteReport {
    /// Events deleted (or rewritten, for anonymization).
    pub events: u64,
    /// User records deleted.
    pub users: u64,
    /// Identity links deleted.
    pub identities: u64,
}

/// Counts about a project's data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStats {
    /// Stored events.
    pub events: u64,
    /// User records.
    pub users: u64,
    /// Highest `seq` assigned so far (0 when none).
    pub max_seq: u64,
}

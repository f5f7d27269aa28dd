//! Storage behind a trait.
//!
//! [`Store`] is the small required interface every backend implements ([`MemoryStore`],
//! [`SqliteStore`](crate::store::SqliteStore), later PostgreSQL); [`StoreExt`] adds
//! conveniences on top of it for every store. Every row is keyed by a *project* (tenant);
//! single-project users pass [`DEFAULT_PROJECT`]. The trait says nothing about SQL.
//!
//! Guarantees every backend gives (checked by one conformance suite run against each):
//! - `apply` / `append` are atomic per call: after a crash either the whole batch is
//!   stored or none of it;
//! - the same `message_id` in one project is stored once;
//! - `seq` numbers only grow, so `after_seq` gives an incremental cursor;
//! - `scan` visits events in `seq` order.

mod idtable;
mod memory;
mod msgindex;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod types;

#[cfg(test)]
pub(crate) mod conformance;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::{Durability, SqliteOptions, SqliteStore, APPLICATION_ID};
pub use types::{
    AppendOutcome, ConsentRecord, DeleteReport, EventRow, IdentityLink, ScanRequest, StoreStats,
    StoredEvent, UserRecord,
};

use std::ops::ControlFlow;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use std::sync::Arc;

use crate::error::Result;
use crate::event::{Event, Message};
use crate::time::Timestamp;

/// The project used when none is named.
pub const DEFAULT_PROJECT: &str = "default";

/// Newest schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 2;

/// Open (or create) the store at `location`: a `postgres://` / `postgresql://` URL
/// opens a [`PostgresStore`](crate::store::PostgresStore) (feature `postgres`), anything
/// else is a SQLite file path. The one place a location string picks a backend.
///
/// ```
/// use churn_core::store::{open_location, Store};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("churn.db");
/// let store = open_location(path.to_str().unwrap()).unwrap();
/// assert_eq!(store.stats("default").unwrap().events, 0);
/// ```
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub fn open_location(location: &str) -> Result<Arc<dyn Store>> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Arc::new(PostgresStore::connect(location)?));
        #[cfg(not(feature = "postgres"))]
        return Err(crate::error::Error::invalid(
            "db",
            "this build has no PostgreSQL support (cargo feature `postgres`)",
        ));
    }
    #[cfg(feature = "sqlite")]
    return Ok(Arc::new(SqliteStore::open(location)?));
    #[cfg(not(feature = "sqlite"))]
    Err(crate::error::Error::invalid(
        "db",
        "this build has no SQLite support (cargo feature `sqlite`)",
    ))
}

/// A place events, users and small named objects are kept.
///
/// Implementations are `Send + Sync` and take `&self`: they serialize writers
/// internally. See the module docs for the guarantees.
///
/// ```
/// use churn_core::store::{MemoryStore, Store, StoreExt, ScanRequest, DEFAULT_PROJECT};
/// use churn_core::event::Event;
/// let store = MemoryStore::new();
/// let e = Event::track("signup").user_id("u1").build().unwrap();
/// let out = store.append(DEFAULT_PROJECT, &[e.clone(), e.clone()]).unwrap();
/// assert_eq!((out.inserted, out.duplicates), (1, 1));
/// assert_eq!(store.scan_all(DEFAULT_PROJECT, &ScanRequest::new()).unwrap().len(), 1);
/// ```
pub trait Store: Send + Sync {
    /// Schema version of the underlying data.
    fn schema_version(&self) -> Result<u32>;

    /// Apply messages in order, in one transaction: events are stored (duplicates by
    /// `message_id` skipped and counted), identify calls merge traits and link anonymous
    /// ids, alias calls link ids. Messages are assumed valid.
    fn apply(&self, project: &str, messages: &[Message]) -> Result<AppendOutcome>;

    /// [`Store::apply`] for a caller that is done with `messages`: the store may move
    /// them into its own keeping instead of copying them ([`MemoryStore`] does). On `Ok`
    /// `messages` is left empty; on `Err` nothing was applied and `messages` is as it
    /// was. The default applies a borrow, then clears.
    ///
    /// ```
    /// use churn_core::store::{MemoryStore, Store, DEFAULT_PROJECT};
    /// use churn_core::event::{Event, Message};
    /// let store = MemoryStore::new();
    /// let e = Event::track("signup").user_id("u1").build().unwrap();
    /// let mut batch = vec![Message::Track(e.clone()), Message::Track(e)];
    /// let out = store.apply_owned(DEFAULT_PROJECT, &mut batch).unwrap();
    /// assert_eq!((out.inserted, out.duplicates, batch.len()), (1, 1, 0));
    /// ```
    fn apply_owned(&self, project: &str, messages: &mut Vec<Message>) -> Result<AppendOutcome> {
        let out = self.apply(project, messages)?;
        messages.clear();
        Ok(out)
    }

    /// Visit stored events matching `req`, in `seq` order, with their properties and
    /// context. Return `ControlFlow::Break` from `visit` to stop early.
    fn scan(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
    ) -> Result<()>;

    /// Like [`Store::scan`] but visits borrowed core columns only (no properties or
    /// context), for fast bulk loads.
    fn scan_rows(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(&EventRow<'_>) -> ControlFlow<()>,
    ) -> Result<()>;

    /// One user's record (traits and linked anonymous ids).
    fn user(&self, project: &str, user_id: &str) -> Result<Option<UserRecord>>;

    /// Every user record of the project, ordered by user id.
    fn users(&self, project: &str) -> Result<Vec<UserRecord>>;

    /// Every anonymous-id-to-user link of the project.
    fn identities(&self, project: &str) -> Result<Vec<IdentityLink>>;

    /// Record that `id` (user or anonymous id) granted or withdrew consent.
    fn set_consent(&self, project: &str, id: &str, granted: bool, at: Timestamp) -> Result<()>;

    /// The consent records of a project.
    fn consents(&self, project: &str) -> Result<Vec<ConsentRecord>>;

    /// Delete everything about a person: events under the user id or any anonymous id
    /// linked to it (or under `user_id` used as an anonymous id), the user record and
    /// the links. Consent records are kept (so a withdrawal keeps being honoured).
    fn delete_user(&self, project: &str, user_id: &str) -> Result<DeleteReport>;

    /// Atomically rewrite every event of a person through `rewrite` (same `seq` and
    /// `message_id`), then delete the user record and links. Used for anonymization.
    fn rewrite_user(
        &self,
        project: &str,
        user_id: &str,
        rewrite: &mut dyn FnMut(Event) -> Event,
    ) -> Result<DeleteReport>;

    /// Delete events with `timestamp < before`; returns how many.
    fn purge_before(&self, project: &str, before: Timestamp) -> Result<u64>;

    /// Store a small named object (saved segment, model, settings) under `namespace/key`,
    /// replacing any previous value.
    fn put_object(&self, project: &str, namespace: &str, key: &str, value: &[u8]) -> Result<()>;

    /// Read a named object.
    fn get_object(&self, project: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>>;

    /// Keys in a namespace, sorted.
    fn list_objects(&self, project: &str, namespace: &str) -> Result<Vec<String>>;

    /// Delete a named object; returns whether it existed.
    fn delete_object(&self, project: &str, namespace: &str, key: &str) -> Result<bool>;

    /// Counts for health checks and progress.
    fn stats(&self, project: &str) -> Result<StoreStats>;

    /// Make everything applied so far durable (a no-op where every call already is).
    fn sync(&self) -> Result<()> {
        Ok(())
    }

    /// A number that changes whenever the store's content may have changed: a commit
    /// through this handle, another handle or another process. A reader that saw the
    /// same token before its last read may skip reading again ([`Engine::refresh`]
    /// does). A changed token may be a false alarm; an unchanged one means nothing was
    /// committed. `None` (the default) when the store cannot tell cheaply: re-read.
    ///
    /// [`Engine::refresh`]: crate::engine::Engine::refresh
    ///
    /// ```
    /// use churn_core::store::{SqliteStore, Store, StoreExt};
    /// use churn_core::event::Event;
    /// let dir = tempfile::tempdir()?;
    /// let store = SqliteStore::open(dir.path().join("events.db"))?;
    /// let before = store.change_token()?;
    /// assert!(before.is_some());
    /// assert_eq!(store.change_token()?, before);
    /// store.append("default", &[Event::track("signup").user_id("u1").build()?])?;
    /// assert_ne!(store.change_token()?, before);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn change_token(&self) -> Result<Option<u64>> {
        Ok(None)
    }
}

/// Conveniences available on every [`Store`].
pub trait StoreExt: Store {
    /// Store events (valid, already received) in one transaction.
    fn append(&self, project: &str, events: &[Event]) -> Result<AppendOutcome> {
        let mut msgs: Vec<Message> = events.iter().cloned().map(Message::Track).collect();
        self.apply_owned(project, &mut msgs)
    }

    /// Collect a scan into a vector.
    fn scan_all(&self, project: &str, req: &ScanRequest) -> Result<Vec<StoredEvent>> {
        let mut out = Vec::new();
        self.scan(project, req, &mut |e| {
            out.push(e);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Every event of a person (the user id and every anonymous id linked to it), ordered
    /// by timestamp then `seq`.
    fn person_events(&self, project: &str, user_id: &str) -> Result<Vec<StoredEvent>> {
        let ids = self.person_ids(project, user_id)?;
        let mut out = self.scan_all(project, &ScanRequest::new().users(ids))?;
        out.sort_by_key(|e| (e.event.timestamp, e.seq));
        Ok(out)
    }

    /// `user_id` followed by every anonymous id linked to it.
    fn person_ids(&self, project: &str, user_id: &str) -> Result<Vec<String>> {
        let mut ids = vec![user_id.to_string()];
        if let Some(u) = self.user(project, user_id)? {
            ids.extend(u.anonymous_ids);
        }
        Ok(ids)
    }

    /// Consent state of one id: `Some(false)` when withdrawn, `None` when never recorded.
    fn consent_of(&self, project: &str, id: &str) -> Result<Option<bool>> {
        Ok(self
            .consents(project)?
            .into_iter()
            .find(|c| c.id == id)
            .map(|c| c.granted))
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

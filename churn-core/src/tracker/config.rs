//! [`AnalyticsBuilder`] and the tracker's settings.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Analytics;
use crate::error::{Error, Result};
use crate::event::Limits;
use crate::privacy::PrivacyPolicy;
use crate::store::{MemoryStore, Store, DEFAULT_PROJECT};

/// What `track` does when the queue is full.
///
/// ```
/// use churn_core::tracker::Backpressure;
/// assert_eq!("error".parse::<Backpressure>().unwrap(), Backpressure::Error);
/// assert_eq!(Backpressure::default(), Backpressure::Block);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backpressure {
    /// Wait until the writer has made room (default).
    #[default]
    Block,
    /// Return [`Error::QueueFull`] at once; the message is not accepted.
    Error,
}

impl FromStr for Backpressure {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "block" => Ok(Backpressure::Block),
            "error" => Ok(Backpressure::Error),
            _ => Err(Error::invalid(
                "backpressure",
                format!("expected block or error, got {s:?}"),
            )),
        }
    }
}

/// Default number of messages per store transaction.
pub const DEFAULT_BATCH_SIZE: usize = 1_000;
/// Default longest time a message waits in the queue before the writer stores it.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Default longest time a committed message waits for the writer's `Store::sync` (the
/// fsync that makes it survive a power loss under
/// [`Durability::Normal`](crate::store::Durability::Normal)).
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(200);
/// Default queue capacity (messages accepted but not yet handed to the store).
pub const DEFAULT_QUEUE_CAPACITY: usize = 100_000;

/// Settings the writer thread and the queue use.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub project: String,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub sync_interval: Duration,
    pub queue_capacity: usize,
    pub backpressure: Backpressure,
    pub limits: Limits,
    pub privacy: PrivacyPolicy,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            project: DEFAULT_PROJECT.to_string(),
            batch_size: DEFAULT_BATCH_SIZE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            sync_interval: DEFAULT_SYNC_INTERVAL,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            backpressure: Backpressure::Block,
            limits: Limits::default(),
            privacy: PrivacyPolicy::default(),
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
        }
    }
}

/// Builds an [`Analytics`]. A store is required: [`AnalyticsBuilder::in_memory`] or
/// [`AnalyticsBuilder::store`].
///
/// ```
/// use std::time::Duration;
/// use churn_core::Analytics;
/// use churn_core::tracker::Backpressure;
/// let a = Analytics::builder()
///     .in_memory()
///     .project("shop")
///     .batch_size(500)
///     .flush_interval(Duration::from_millis(200))
///     .sync_interval(Duration::from_millis(500))
///     .queue_capacity(10_000)
///     .backpressure(Backpressure::Error)
///     .build()?;
/// a.close()?;
/// # Ok::<(), churn_core::Error>(())
/// ```
#[derive(Default)]
#[must_use]
pub struct AnalyticsBuilder {
    pub(crate) store: Option<Arc<dyn Store>>,
    /// A SQLite file to open at `build` (opening can fail, setters cannot).
    #[cfg(feature = "sqlite")]
    pub(crate) path: Option<std::path::PathBuf>,
    pub(crate) settings: Settings,
}

impl fmt::Debug for AnalyticsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnalyticsBuilder")
            .field("store", &self.store.as_ref().map(|_| "dyn Store"))
            .field("settings", &self.settings)
            .finish()
    }
}

impl AnalyticsBuilder {
    /// Store messages in `store`.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        #[cfg(feature = "sqlite")]
        {
            self.path = None;
        }
        self
    }

    /// Store messages in the SQLite file at `path` (created if missing), opened by
    /// [`build`](Self::build) with the default [`SqliteOptions`](crate::store::SqliteOptions);
    /// a `postgres://` URL opens a PostgreSQL store instead (feature `postgres`).
    ///
    /// ```
    /// use churn_core::Analytics;
    /// use churn_core::event::Event;
    /// let dir = tempfile::tempdir()?;
    /// let a = Analytics::builder().path(dir.path().join("events.db")).build()?;
    /// a.track(Event::track("signup").user_id("u1"))?;
    /// a.flush()?; // durable in events.db
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "sqlite")]
    pub fn path(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.path = Some(path.into());
        self.store = None;
        self
    }

    /// Store messages in a new [`MemoryStore`] (lost when the last handle is dropped).
    pub fn in_memory(self) -> Self {
        self.store(Arc::new(MemoryStore::new()))
    }

    /// The project (tenant) messages go to; default [`DEFAULT_PROJECT`].
    pub fn project(mut self, name: impl Into<String>) -> Self {
        self.settings.project = name.into();
        self
    }

    /// Messages per store transaction; default [`DEFAULT_BATCH_SIZE`].
    pub fn batch_size(mut self, n: usize) -> Self {
        self.settings.batch_size = n;
        self
    }

    /// Longest time a message waits before the writer stores it; default
    /// [`DEFAULT_FLUSH_INTERVAL`].
    pub fn flush_interval(mut self, d: Duration) -> Self {
        self.settings.flush_interval = d;
        self
    }

    /// Longest time a committed message waits for the writer's
    /// [`Store::sync`](crate::store::Store::sync); default [`DEFAULT_SYNC_INTERVAL`].
    /// Under [`Durability::Normal`](crate::store::Durability::Normal) a commit survives a
    /// crash of the process at once and a power loss after this sync;
    /// [`Analytics::flush`] syncs at once.
    pub fn sync_interval(mut self, d: Duration) -> Self {
        self.settings.sync_interval = d;
        self
    }

    /// Most messages held in memory (queued or being written); default
    /// [`DEFAULT_QUEUE_CAPACITY`].
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.settings.queue_capacity = n;
        self
    }

    /// What to do when the queue is full; default [`Backpressure::Block`].
    pub fn backpressure(mut self, b: Backpressure) -> Self {
        self.settings.backpressure = b;
        self
    }

    /// Validation limits; default [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.settings.limits = limits;
        self
    }

    /// Privacy policy applied to every message; default [`PrivacyPolicy::default`].
    pub fn privacy(mut self, policy: PrivacyPolicy) -> Self {
        self.settings.privacy = policy;
        self
    }

    /// Wait between attempts when the store fails: starts at `min`, doubles up to `max`.
    /// Default 100 ms to 10 s. A `flush` call retries at once.
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.settings.retry_min = min;
        self.settings.retry_max = max;
        self
    }

    /// Check the settings, load consent records and start the writer thread.
    pub fn build(self) -> Result<Analytics> {
        let s = &self.settings;
        crate::event::check_text("project", &s.project, s.limits.max_id_chars)?;
        if s.batch_size == 0 {
            return Err(Error::invalid("batch_size", "must be at least 1"));
        }
        if s.queue_capacity == 0 {
            return Err(Error::invalid("queue_capacity", "must be at least 1"));
        }
        if s.flush_interval.is_zero() {
            return Err(Error::invalid("flush_interval", "must be longer than 0"));
        }
        if s.sync_interval.is_zero() {
            return Err(Error::invalid("sync_interval", "must be longer than 0"));
        }
        if s.retry_min.is_zero() || s.retry_max < s.retry_min {
            return Err(Error::invalid("retry_backoff", "need 0 < min <= max"));
        }
        if matches!(&s.privacy.pii_mode, crate::privacy::PiiMode::Hash { salt } if salt.is_empty())
        {
            return Err(Error::invalid(
                "privacy",
                "the PII hash salt must not be empty",
            ));
        }
        #[cfg(feature = "sqlite")]
        let store = match (self.store, self.path) {
            (Some(s), _) => Some(s),
            // A `postgres://` URL opens PostgreSQL (feature `postgres`), else a file.
            (None, Some(p)) => Some(crate::store::open_location(&p.to_string_lossy())?),
            (None, None) => None,
        };
        #[cfg(not(feature = "sqlite"))]
        let store = self.store;
        let Some(store) = store else {
            return Err(Error::invalid(
                "store",
                "no store chosen: call .in_memory(), .path(file) or .store(store)",
            ));
        };
        Analytics::start(store, self.settings)
    }
}

//! [`SqliteOptions`] and [`Durability`]: how a [`SqliteStore`](super::SqliteStore) opens
//! its file.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What a committed write survives. Maps to SQLite's `PRAGMA synchronous` in WAL mode.
///
/// - [`Durability::Normal`] (default): commits reach the OS at once but are fsynced only
///   at checkpoints and by [`Store::sync`](crate::store::Store::sync). A committed batch
///   survives a process crash; a power loss or OS crash may lose the batches committed
///   since the last sync (the file is never corrupted: it rolls back to an earlier
///   commit). The tracker's writer calls `sync` at most
///   `sync_interval` (`AnalyticsBuilder::sync_interval`, 200 ms) after a
///   commit and in `flush()`/`close()`, so "`flush()` returned" still means every
///   accepted event is on disk. `churn serve` answers an ingestion request once its
///   events are committed, not synced: a 2xx survives a crash of the server at once
///   and a power loss after that interval.
/// - [`Durability::Full`]: every commit is fsynced to the write-ahead log before the call
///   returns, so each committed batch survives a power loss on its own (`churn serve
///   --durability full`: every 2xx waits for its fsync).
///
/// Why Normal is the default: with the block layout a 1,000-event batch costs well under
/// a millisecond of CPU, so one fsync per commit (several ms on most disks) would cap
/// ingest far below the goal; syncing once per flush keeps the durability promise of
/// the tracker (`flush()` syncs) at a fraction of the cost, and keeps the fsync out of
/// most of the server's requests.
///
/// ```
/// use churn_core::store::Durability;
/// assert_eq!("full".parse::<Durability>().unwrap(), Durability::Full);
/// assert_eq!(Durability::default(), Durability::Normal);
/// assert!("fast".parse::<Durability>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Survives process crashes; commits since the last `sync` may be lost on power loss.
    #[default]
    Normal,
    /// Every commit survives process crashes and power loss.
    Full,
}

impl Durability {
    /// The `PRAGMA synchronous` value.
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Durability::Normal => "normal",
            Durability::Full => "full",
        })
    }
}

impl FromStr for Durability {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "normal" => Ok(Durability::Normal),
            "full" => Ok(Durability::Full),
            other => Err(Error::invalid(
                "durability",
                format!("expected `normal` or `full`, got {other:?}"),
            )),
        }
    }
}

/// How to open a [`SqliteStore`](super::SqliteStore). `Default` plus chained setters.
///
/// ```
/// use std::time::Duration;
/// use churn_core::store::{Durability, SqliteOptions};
/// let o = SqliteOptions::default()
///     .durability(Durability::Normal)
///     .busy_timeout(Duration::from_secs(10))
///     .cache_size_kib(64 * 1024);
/// assert_eq!(o.durability, Durability::Normal);
/// assert!(!o.read_only);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// What a commit survives (default [`Durability::Normal`]; see [`Durability`]).
    pub durability: Durability,
    /// How long a connection waits for a lock held by another connection or process
    /// before failing (default 5 s).
    pub busy_timeout: Duration,
    /// Page cache per connection, in KiB (default 32 MiB).
    pub cache_size_kib: u32,
    /// Open without writing: every write fails, a missing file is an error.
    pub read_only: bool,
    /// Overwrite deleted content with zeros (`PRAGMA secure_delete`), so erased personal
    /// data does not linger in free pages (default on).
    pub secure_delete: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::default(),
            busy_timeout: Duration::from_secs(5),
            cache_size_kib: 32 * 1024,
            read_only: false,
            secure_delete: true,
        }
    }
}

impl SqliteOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the durability.
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }

    /// Set the busy timeout.
    pub fn busy_timeout(mut self, t: Duration) -> Self {
        self.busy_timeout = t;
        self
    }

    /// Set the page cache size per connection, in KiB.
    pub fn cache_size_kib(mut self, kib: u32) -> Self {
        self.cache_size_kib = kib;
        self
    }

    /// Open read-only.
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }

    /// Zero deleted content (on by default).
    pub fn secure_delete(mut self, yes: bool) -> Self {
        self.secure_delete = yes;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durability_parses_and_prints() {
        for d in [Durability::Normal, Durability::Full] {
            assert_eq!(d.to_string().parse::<Durability>().unwrap(), d);
        }
        assert_eq!(" FULL ".parse::<Durability>().unwrap(), Durability::Full);
        let e = "off".parse::<Durability>().unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARGUMENT");
        assert_eq!(Durability::Normal.pragma(), "NORMAL");
        assert_eq!(
            serde_json::to_string(&Durability::Normal).unwrap(),
            "\"normal\""
        );
    }
}

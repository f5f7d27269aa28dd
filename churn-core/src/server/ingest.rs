//! Where decoded messages go: [`Ingest`], implemented by [`TrackerIngest`] with one
//! [`Analytics`] tracker per project over a shared [`Store`].
//!
//! The trackers validate, apply consent and the privacy policy, and queue; their writer
//! threads store in batches. They run with [`Backpressure::Error`], so a full queue is
//! reported (HTTP 503 with `Retry-After`) instead of blocking a server thread. The
//! ingestion routes answer only once the accepted messages are committed
//! ([`Ingest::ingest_then`]): a 2xx survives a crash of the server right after it. The
//! fsync that makes it survive a power loss too is part of each commit with
//! [`Durability::Full`](crate::store::Durability::Full); under the default `Normal` the
//! writer fsyncs at most [`IngestConfig::sync_interval`] after a commit (and at close).
//! [`Ingest::close`] stores every accepted message before the server exits. When the
//! store fails (a database restarting), a tracker keeps what it accepted and retries
//! every 100 ms to [`RETRY_MAX`]: a request waiting for its commit gets a 503 after the
//! next failed attempt instead of hanging.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::error::{Error, Result};
use crate::event::{BatchReport, MessageInput};
use crate::store::Store;
use crate::tracker::{
    Analytics, Backpressure, OnStored, DEFAULT_BATCH_SIZE, DEFAULT_QUEUE_CAPACITY,
    DEFAULT_SYNC_INTERVAL,
};

/// The server's sink for messages.
pub trait Ingest: Send + Sync {
    /// Validate and accept messages for `project`; refused ones are reported by their
    /// position in `inputs`.
    fn ingest(&self, project: &str, inputs: Vec<MessageInput>) -> Result<BatchReport>;

    /// [`Ingest::ingest`], and call `done` once the accepted messages are committed (or
    /// a store attempt failed meanwhile); never blocks on the store. `done` is called
    /// exactly once when this returns `Ok`, never when it returns `Err`.
    fn ingest_then(
        &self,
        project: &str,
        inputs: Vec<MessageInput>,
        done: OnStored,
    ) -> Result<BatchReport>;

    /// Wait until every accepted message is stored.
    fn flush(&self) -> Result<()>;

    /// Store every accepted message, then refuse new ones.
    fn close(&self) -> Result<()>;

    /// Messages accepted but not yet committed.
    fn queue_depth(&self) -> u64;

    /// The store behind it.
    fn store(&self) -> &Arc<dyn Store>;
}

/// Longest pause between a project's store attempts while the store fails.
pub const RETRY_MAX: Duration = Duration::from_secs(2);

/// Tracker settings used for every project.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IngestConfig {
    /// Messages per store transaction.
    pub batch_size: usize,
    /// Longest wait before queued messages are stored.
    pub flush_interval: Duration,
    /// Accepted-but-unstored messages per project before 503s.
    pub queue_capacity: usize,
    /// Longest time a commit waits for its fsync (`Store::sync`); see
    /// [`AnalyticsBuilder::sync_interval`](crate::tracker::AnalyticsBuilder::sync_interval).
    pub sync_interval: Duration,
}

impl IngestConfig {
    /// Set the messages per store transaction.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Set the longest wait before queued messages are stored.
    pub fn flush_interval(mut self, d: Duration) -> Self {
        self.flush_interval = d;
        self
    }

    /// Set the longest time a commit waits for its fsync.
    pub fn sync_interval(mut self, d: Duration) -> Self {
        self.sync_interval = d;
        self
    }

    /// Set the queue capacity per project.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n;
        self
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            batch_size: DEFAULT_BATCH_SIZE,
            flush_interval: Duration::from_millis(200),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            sync_interval: DEFAULT_SYNC_INTERVAL,
        }
    }
}

/// One [`Analytics`] per project, created on first use.
pub struct TrackerIngest {
    store: Arc<dyn Store>,
    config: IngestConfig,
    trackers: RwLock<HashMap<String, Arc<Analytics>>>,
}

impl std::fmt::Debug for TrackerIngest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackerIngest")
            .field("projects", &self.trackers.read().keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TrackerIngest {
    /// Ingest into `store`.
    pub fn new(store: Arc<dyn Store>, config: IngestConfig) -> Self {
        TrackerIngest {
            store,
            config,
            trackers: RwLock::new(HashMap::new()),
        }
    }

    fn tracker(&self, project: &str) -> Result<Arc<Analytics>> {
        if let Some(t) = self.trackers.read().get(project) {
            return Ok(t.clone());
        }
        let mut map = self.trackers.write();
        if let Some(t) = map.get(project) {
            return Ok(t.clone());
        }
        let t = Arc::new(
            Analytics::builder()
                .store(self.store.clone())
                .project(project)
                .batch_size(self.config.batch_size)
                .flush_interval(self.config.flush_interval)
                .sync_interval(self.config.sync_interval)
                .queue_capacity(self.config.queue_capacity)
                .backpressure(Backpressure::Error)
                .retry_backoff(Duration::from_millis(100), RETRY_MAX)
                .build()?,
        );
        map.insert(project.to_string(), t.clone());
        Ok(t)
    }

    fn all(&self) -> Vec<Arc<Analytics>> {
        self.trackers.read().values().cloned().collect()
    }
}

impl Ingest for TrackerIngest {
    fn ingest(&self, project: &str, inputs: Vec<MessageInput>) -> Result<BatchReport> {
        self.tracker(project)?.track_batch(inputs)
    }

    fn ingest_then(
        &self,
        project: &str,
        inputs: Vec<MessageInput>,
        done: OnStored,
    ) -> Result<BatchReport> {
        self.tracker(project)?.track_batch_then(inputs, done)
    }

    fn flush(&self) -> Result<()> {
        let mut first: Option<Error> = None;
        for t in self.all() {
            if let Err(e) = t.flush() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn close(&self) -> Result<()> {
        let mut first: Option<Error> = None;
        for t in self.all() {
            if let Err(e) = t.close() {
                first.get_or_insert(e);
            }
        }
        if let Err(e) = self.store.sync() {
            first.get_or_insert(e);
        }
        first.map_or(Ok(()), Err)
    }

    fn queue_depth(&self) -> u64 {
        self.all()
            .iter()
            .map(|t| {
                let s = t.stats();
                s.accepted - s.committed
            })
            .sum()
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, ScanRequest, StoreExt};

    #[test]
    fn per_project_trackers_and_close() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let ing = TrackerIngest::new(store.clone(), IngestConfig::default());
        let m = |s: &str| MessageInput::parse_slice(s.as_bytes()).unwrap();
        let r = ing
            .ingest(
                "a",
                vec![m(r#"{"event":"x","userId":"u"}"#), m(r#"{"event":"x"}"#)],
            )
            .unwrap();
        assert_eq!(
            (r.accepted, r.rejected.len(), r.rejected[0].index),
            (1, 1, 1)
        );
        let (tx, rx) = std::sync::mpsc::channel();
        ing.ingest_then(
            "b",
            vec![m(r#"{"event":"y","userId":"u"}"#)],
            Box::new(move |r| tx.send(r).unwrap()),
        )
        .unwrap();
        rx.recv().unwrap().unwrap();
        assert_eq!(store.scan_all("b", &ScanRequest::new()).unwrap().len(), 1);
        ing.close().unwrap();
        assert_eq!(ing.queue_depth(), 0);
        assert_eq!(store.scan_all("a", &ScanRequest::new()).unwrap().len(), 1);
        assert_eq!(
            store.scan_all("b", &ScanRequest::new()).unwrap()[0]
                .event
                .event,
            "y"
        );
        assert!(ing
            .ingest("a", vec![m(r#"{"event":"x","userId":"u"}"#)])
            .is_err());
    }
}

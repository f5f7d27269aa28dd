//! [`Analytics`]: the tracker facade applications call (`track`, `identify`, `page`,
//! `alias`, `flush`, `close`).
//!
//! Each call is validated in the caller's thread (a bad message gives a typed error and
//! is never accepted), stamped with `received_at`, checked against consent, passed
//! through the [`PrivacyPolicy`](crate::privacy::PrivacyPolicy) and put on a bounded
//! queue. A background thread applies queued messages to the [`Store`] in order, in
//! batches of `batch_size`, at least every `flush_interval`. When the queue is full,
//! callers wait or get [`Error::QueueFull`] ([`Backpressure`]); nothing is dropped
//! silently. When the store fails, the messages are kept and retried with a growing
//! pause; [`Analytics::flush`] reports the error instead of returning as if all were well.
//!
//! ```
//! use churn_core::Analytics;
//! use churn_core::event::{Event, Identify};
//! use churn_core::store::{StoreExt, ScanRequest};
//!
//! let analytics = Analytics::builder().in_memory().build()?;
//! analytics.identify(Identify::user("u1").anonymous_id("a1").trait_("plan", "pro"))?;
//! analytics.page(Event::page("/pricing").anonymous_id("a1"))?;
//! analytics.track(Event::track("purchase").user_id("u1").number("amount", 49.0))?;
//! analytics.flush()?; // everything above is now in the store
//! let events = analytics.store().scan_all(analytics.project(), &ScanRequest::new())?;
//! assert_eq!(events.len(), 2);
//! analytics.close()?;
//! # Ok::<(), churn_core::Error>(())
//! ```

mod config;
mod gdpr;
mod input;
mod queue;
mod sync;
mod writer;

pub use config::{
    AnalyticsBuilder, Backpressure, DEFAULT_BATCH_SIZE, DEFAULT_FLUSH_INTERVAL,
    DEFAULT_QUEUE_CAPACITY, DEFAULT_SYNC_INTERVAL,
};
pub use input::{IntoEvent, IntoIdentify};
pub use queue::{OnStored, TrackerStats};

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::event::{Alias, BatchReport, Event, Message, MessageInput, Rejected, PAGE_VIEW};
use crate::privacy::ConsentSet;
use crate::store::Store;
use crate::time::Timestamp;
use config::Settings;
use queue::Queue;
use writer::Writer;

/// The tracker. Thread-safe (`Send + Sync`): share it with `Arc` or by reference across
/// threads. Dropping it flushes and stops the writer (see [`Analytics::close`]).
pub struct Analytics {
    store: Arc<dyn Store>,
    settings: Settings,
    consent: ConsentSet,
    queue: Arc<Queue>,
    closed: AtomicBool,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Analytics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Analytics")
            .field("project", &self.settings.project)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Analytics {
    /// Start configuring a tracker.
    pub fn builder() -> AnalyticsBuilder {
        AnalyticsBuilder::default()
    }

    pub(crate) fn start(store: Arc<dyn Store>, settings: Settings) -> Result<Analytics> {
        let consent = ConsentSet::load(&*store, &settings.project)?;
        let queue = Arc::new(Queue::new(
            settings.queue_capacity,
            settings.batch_size,
            settings.backpressure,
        ));
        let writer = Writer::settings(queue.clone(), store.clone(), &settings);
        let handle = std::thread::Builder::new()
            .name("churnlens-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| Error::storage(format!("cannot start the writer thread: {e}")))?;
        Ok(Analytics {
            store,
            settings,
            consent,
            queue,
            closed: AtomicBool::new(false),
            writer: Mutex::new(Some(handle)),
        })
    }

    /// The store messages are written to (for analyses and direct reads).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The project messages go to.
    pub fn project(&self) -> &str {
        &self.settings.project
    }

    /// Counters: accepted, stored, pending, failures.
    pub fn stats(&self) -> TrackerStats {
        self.queue.stats()
    }

    fn ensure_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Consent, privacy policy, queue: the steps after validation.
    fn accept(&self, mut m: Message) -> Result<()> {
        self.consent.check(&m)?;
        self.settings.privacy.apply(&mut m);
        self.queue.push(m)
    }

    /// Record a `track` call: an [`EventBuilder`](crate::event::EventBuilder) (from
    /// [`Event::track`]) or a ready [`Event`]. Returns once the event is validated and
    /// queued; [`Analytics::flush`] waits until it is stored.
    ///
    /// Errors: [`Error::Validation`], [`Error::ConsentWithdrawn`], [`Error::QueueFull`]
    /// (in [`Backpressure::Error`] mode), [`Error::Closed`].
    pub fn track(&self, event: impl IntoEvent) -> Result<()> {
        self.ensure_open()?;
        let now = Timestamp::now();
        let e = event.into_event(now, &self.settings.limits)?;
        self.accept(Message::Track(e))
    }

    /// Record a page view: takes [`Event::page`]`(path)` (an event named [`PAGE_VIEW`]).
    ///
    /// ```
    /// # let a = churn_core::Analytics::builder().in_memory().build()?;
    /// use churn_core::event::Event;
    /// a.page(Event::page("/docs").anonymous_id("a1"))?;
    /// assert!(a.page(Event::track("signup").user_id("u1")).is_err());
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn page(&self, page: impl IntoEvent) -> Result<()> {
        self.ensure_open()?;
        let now = Timestamp::now();
        let e: Event = page.into_event(now, &self.settings.limits)?;
        if e.event != PAGE_VIEW {
            return Err(Error::invalid(
                "event",
                format!(
                    "page() takes Event::page(path) (event {PAGE_VIEW:?}), got {:?}; use track()",
                    e.event
                ),
            ));
        }
        self.accept(Message::Track(e))
    }

    /// Record an `identify` call: an [`IdentifyBuilder`](crate::event::IdentifyBuilder)
    /// (from [`Identify::user`](crate::event::Identify::user)) or a ready
    /// [`Identify`](crate::event::Identify). Traits are stored as given (the privacy
    /// policy does not strip profile data).
    pub fn identify(&self, identify: impl IntoIdentify) -> Result<()> {
        self.ensure_open()?;
        let now = Timestamp::now();
        let i = identify.into_identify(now, &self.settings.limits)?;
        self.accept(Message::Identify(i))
    }

    /// Record an `alias` call: `previous_id` is the same person as `user_id`.
    pub fn alias(&self, user_id: impl Into<String>, previous_id: impl Into<String>) -> Result<()> {
        self.ensure_open()?;
        let now = Timestamp::now();
        let a = Alias {
            message_id: crate::event::new_message_id(),
            user_id: user_id.into(),
            previous_id: previous_id.into(),
            timestamp: now,
            received_at: now,
        };
        a.validate(now, &self.settings.limits)?;
        self.accept(Message::Alias(a))
    }

    /// Validate and queue a batch of messages from outside. Good messages are accepted
    /// (in order); each refused one is reported with its index and reason (validation,
    /// consent, or a full queue in [`Backpressure::Error`] mode). `duplicates` stays 0:
    /// duplicates are only known when the store applies the batch ([`Analytics::stats`]).
    ///
    /// ```
    /// # let a = churn_core::Analytics::builder().in_memory().build()?;
    /// use churn_core::event::MessageInput;
    /// let batch = vec![
    ///     MessageInput::parse_slice(br#"{"event":"signup","userId":"u1"}"#).unwrap(),
    ///     MessageInput::parse_slice(br#"{"event":"signup"}"#).unwrap(),
    /// ];
    /// let report = a.track_batch(batch)?;
    /// assert_eq!(report.accepted, 1);
    /// assert_eq!(report.rejected[0].index, 1);
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn track_batch(&self, inputs: Vec<MessageInput>) -> Result<BatchReport> {
        self.queue_batch(inputs).map(|(report, _)| report)
    }

    /// [`Analytics::track_batch`], then wait until the accepted messages are committed
    /// to the store: when it returns `Ok`, they survive a crash of the process (and a
    /// power loss too with [`Durability::Full`](crate::store::Durability::Full); under
    /// the default `Normal` the writer fsyncs within
    /// [`sync_interval`](AnalyticsBuilder::sync_interval), and [`Analytics::flush`]
    /// at once). Concurrent callers share the writer's transactions (group commit), so
    /// waiting costs about one commit, not one per caller. When a store attempt fails meanwhile, its error
    /// is returned; the messages stay accepted and are retried (a caller retrying the
    /// batch is deduplicated by message id).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use churn_core::event::MessageInput;
    /// use churn_core::store::StoreExt;
    /// let a = churn_core::Analytics::builder().path(dir.path().join("e.db")).build()?;
    /// let batch = vec![MessageInput::parse_slice(br#"{"event":"signup","userId":"u1"}"#).unwrap()];
    /// let report = a.track_batch_stored(batch)?; // committed: survives a crash
    /// assert_eq!(report.accepted, 1);
    /// a.flush()?; // and synced: survives a power loss
    /// assert_eq!(a.stats().pending, 0);
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn track_batch_stored(&self, inputs: Vec<MessageInput>) -> Result<BatchReport> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let report = self.track_batch_then(inputs, move |r| {
            let _ = tx.send(r);
        })?;
        rx.recv()
            .map_err(|_| Error::storage("the writer thread stopped"))??;
        Ok(report)
    }

    /// [`Analytics::track_batch`] without blocking on the store: `done` is called once,
    /// from the writer thread, when the accepted messages are committed (`Ok`, as in
    /// [`Analytics::track_batch_stored`]) or a store attempt failed after they were accepted (`Err`, as in
    /// [`Analytics::track_batch_stored`]). It is called at once when nothing was
    /// accepted, and not at all when this returns `Err`. Keep `done` short (send on a
    /// channel): the writer runs it. This is what `churn serve` uses, so that a 2xx
    /// means the events are committed.
    ///
    /// ```
    /// # let a = churn_core::Analytics::builder().in_memory().build()?;
    /// use churn_core::event::MessageInput;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let batch = vec![MessageInput::parse_slice(br#"{"event":"signup","userId":"u1"}"#).unwrap()];
    /// a.track_batch_then(batch, move |stored| tx.send(stored).unwrap())?;
    /// rx.recv().unwrap()?; // committed now
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn track_batch_then(
        &self,
        inputs: Vec<MessageInput>,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<BatchReport> {
        let (report, target) = self.queue_batch(inputs)?;
        if report.accepted == 0 {
            done(Ok(()));
        } else {
            self.queue.on_stored(target, Box::new(done));
        }
        Ok(report)
    }

    /// Validate and queue; also returns the accepted count after the batch.
    fn queue_batch(&self, inputs: Vec<MessageInput>) -> Result<(BatchReport, u64)> {
        self.ensure_open()?;
        let now = Timestamp::now();
        let mut report = BatchReport::default();
        let mut good = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.into_iter().enumerate() {
            let checked = input
                .into_message(now, &self.settings.limits)
                .map_err(Error::from)
                .and_then(|m| self.consent.check(&m).map(|()| m));
            match checked {
                Ok(mut m) => {
                    self.settings.privacy.apply(&mut m);
                    good.push((index, m));
                }
                Err(e) => report.rejected.push(Rejected::new(index, &e)),
            }
        }
        let target = self.queue.push_many(good, &mut report);
        report.rejected.sort_by_key(|r| r.index);
        Ok((report, target))
    }

    /// Wait until every message accepted before this call is durable in the store.
    /// Returns the store's error when an attempt fails meanwhile (the messages are kept
    /// and retried; call `flush` again to retry at once).
    pub fn flush(&self) -> Result<()> {
        self.queue.flush(false)
    }

    /// Refuse new messages ([`Error::Closed`] from then on), store everything accepted,
    /// and stop the writer thread. When the store fails, the error is returned and the
    /// writer keeps retrying; call `close` again to wait for it. Closing twice is fine.
    pub fn close(&self) -> Result<()> {
        let mut handle = self.writer.lock();
        self.closed.store(true, Ordering::Release);
        {
            let mut st = self.queue.state.lock();
            if st.finished {
                return Ok(());
            }
            st.closed = true;
        }
        // Callers blocked on a full queue give up with `Closed`.
        self.queue.not_full.notify_all();
        self.queue.flush(true)?;
        self.stop_writer(&mut handle);
        Ok(())
    }

    fn stop_writer(&self, handle: &mut Option<JoinHandle<()>>) {
        self.queue.state.lock().shutdown = true;
        self.queue.work.notify_all();
        if let Some(h) = handle.take() {
            // The writer only ends by returning; a panic was already turned into an error.
            let _ = h.join();
        }
        self.queue.state.lock().finished = true;
    }
}

impl Drop for Analytics {
    /// Flush and stop. If the store is failing, the writer thread is left running: it
    /// keeps retrying until every accepted message is stored, then exits. Call
    /// [`Analytics::close`] to see such errors.
    fn drop(&mut self) {
        if self.close().is_err() {
            self.queue.state.lock().shutdown = true;
            self.queue.work.notify_all();
            // Detach: dropping the handle lets the thread finish on its own.
            self.writer.lock().take();
        }
    }
}

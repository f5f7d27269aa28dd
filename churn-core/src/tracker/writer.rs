//! The background writer: takes accepted messages off the queue and applies them to the
//! store in order, in transactions of at most `batch_size` messages, at least every
//! `flush_interval`, and at once when a flush or a commit waiter is waiting or the queue
//! is full. Commit waiters (`on_stored`: the server's 2xx) are answered right after the
//! commit; `Store::sync` (the fsync under `Durability::Normal`) runs at most
//! `sync_interval` after the oldest unsynced commit, and at once for a flush or close.
//! When the store fails, the messages stay with the writer and the attempt is repeated
//! after a growing pause (or at once when someone flushes); nothing accepted is dropped.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::Settings;
use super::queue::Queue;
use crate::error::{Error, Result};
use crate::event::Message;
use crate::store::{AppendOutcome, Store};

pub(crate) struct Writer {
    pub queue: Arc<Queue>,
    pub store: Arc<dyn Store>,
    pub project: String,
    pub batch_size: usize,
    pub interval: Duration,
    pub sync_interval: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

/// Marks the writer stopped however the thread ends, so nobody waits on it forever.
struct Running<'a>(&'a Queue);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let ready = {
            let mut st = self.0.state.lock();
            st.writer_running = false;
            Queue::ready_waiters(&mut st, true)
        };
        Queue::answer(ready);
        self.0.progress.notify_all();
        self.0.not_full.notify_all();
    }
}

/// Run a store call, turning a panic into an error so the writer survives it.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(Error::storage(format!("the store panicked: {what}")))
        }
    }
}

impl Writer {
    pub fn settings(queue: Arc<Queue>, store: Arc<dyn Store>, s: &Settings) -> Writer {
        Writer {
            queue,
            store,
            project: s.project.clone(),
            batch_size: s.batch_size,
            interval: s.flush_interval,
            sync_interval: s.sync_interval,
            retry_min: s.retry_min,
            retry_max: s.retry_max,
        }
    }

    pub fn run(self) {
        let q = &*self.queue;
        let _running = Running(q);
        // Messages taken off the queue and not yet applied, in order.
        let mut local: Vec<Message> = Vec::new();
        // Messages committed but not yet made durable by `Store::sync`, and when the
        // oldest of them must be synced at the latest.
        let mut unsynced = 0usize;
        let mut sync_at = Instant::now();
        let mut retry_at: Option<Instant> = None;
        let mut backoff = self.retry_min;
        let mut deadline = Instant::now() + self.interval;
        loop {
            let sync_now;
            {
                let mut st = q.state.lock();
                loop {
                    if let Some(at) = retry_at {
                        if st.flush_requested || Instant::now() >= at {
                            break;
                        }
                        q.work.wait_until(&mut st, at);
                        continue;
                    }
                    let sync_due = unsynced > 0
                        && (st.sync_requested || st.shutdown || Instant::now() >= sync_at);
                    // Without a pending retry the writer holds nothing.
                    if st.buf.is_empty() {
                        if sync_due {
                            break;
                        }
                        if unsynced > 0 {
                            q.work.wait_until(&mut st, sync_at);
                            continue;
                        }
                        if st.shutdown {
                            return;
                        }
                        st.flush_requested = false;
                        // Idle: sleep until a push wakes us (the first message of a
                        // batch notifies), with no periodic wake-ups: an idle writer
                        // costs no CPU and is never caught mid-wake-up by a `fork()`
                        // of its process (gunicorn workers).
                        q.work.wait(&mut st);
                        deadline = Instant::now() + self.interval;
                        continue;
                    }
                    if sync_due
                        || st.buf.len() >= self.batch_size
                        || st.flush_requested
                        || st.shutdown
                        || st.buf.len() + st.in_flight >= q.capacity
                        || Instant::now() >= deadline
                    {
                        break;
                    }
                    let until = if unsynced > 0 {
                        deadline.min(sync_at)
                    } else {
                        deadline
                    };
                    q.work.wait_until(&mut st, until);
                }
                // A flush waits for a sync; a commit waiter (`on_stored`) does not.
                sync_now = st.sync_requested || st.shutdown;
                st.flush_requested = false;
                st.sync_requested = false;
                let n = st.buf.len();
                if local.is_empty() {
                    // O(1): the queue gets the writer's empty buffer (and its capacity).
                    std::mem::swap(&mut local, &mut st.buf);
                } else {
                    local.append(&mut st.buf);
                }
                st.in_flight += n;
            }
            deadline = Instant::now() + self.interval;
            let before = unsynced;
            let (outcome, applied) = self.apply(&mut local, &mut unsynced);
            if before == 0 && unsynced > 0 {
                sync_at = Instant::now() + self.sync_interval;
            }
            let sync = applied.is_ok() && unsynced > 0 && (sync_now || Instant::now() >= sync_at);
            // Commit waiters are answered before the sync (which may take milliseconds).
            let applied = (!sync).then_some(applied.map(|()| 0));
            self.report(
                outcome,
                unsynced - before,
                applied,
                &mut retry_at,
                &mut backoff,
            );
            if sync {
                let synced = guarded(|| self.store.sync()).map(|()| std::mem::take(&mut unsynced));
                let none = AppendOutcome::default();
                self.report(none, 0, Some(synced), &mut retry_at, &mut backoff);
            }
        }
    }

    /// Count what a write did and answer the waiters it satisfies. `result`: how many
    /// messages became durable (synced), or the store's error; `None` when a sync
    /// follows.
    fn report(
        &self,
        outcome: AppendOutcome,
        committed: usize,
        result: Option<Result<usize>>,
        retry_at: &mut Option<Instant>,
        backoff: &mut Duration,
    ) {
        let q = &*self.queue;
        let mut st = q.state.lock();
        st.inserted += outcome.inserted as u64;
        st.duplicates += outcome.duplicates as u64;
        st.committed += committed as u64;
        match result {
            None => {}
            Some(Ok(synced)) => {
                st.stored += synced as u64;
                st.last_error = None;
                *retry_at = None;
                *backoff = self.retry_min;
            }
            Some(Err(e)) => {
                st.failures += 1;
                st.last_error = Some(e.to_string());
                *retry_at = Some(Instant::now() + *backoff);
                *backoff = (*backoff * 2).min(self.retry_max);
            }
        }
        let ready = Queue::ready_waiters(&mut st, false);
        drop(st);
        q.progress.notify_all();
        Queue::answer(ready);
    }

    /// Apply `local` in chunks, each its own commit. Applied chunks leave `local` (and
    /// free queue room) and count in `unsynced`; on failure the rest stays for the next
    /// attempt. Chunks are handed over owned ([`Store::apply_owned`]), so a store that
    /// keeps events (`MemoryStore`) moves them instead of copying each one.
    fn apply(&self, local: &mut Vec<Message>, unsynced: &mut usize) -> (AppendOutcome, Result<()>) {
        let mut out = AppendOutcome::default();
        if local.is_empty() {
            return (out, Ok(()));
        }
        if local.len() <= self.batch_size {
            // The common case: one chunk, no reshuffling.
            let r = self.apply_chunk(local, &mut out, unsynced);
            return (out, r);
        }
        // `local` keeps its allocation (it goes back to the queue as its buffer).
        let mut chunk = Vec::with_capacity(self.batch_size);
        let mut failed = Ok(());
        let mut rest = local.drain(..);
        loop {
            chunk.extend(rest.by_ref().take(self.batch_size));
            if chunk.is_empty() {
                break;
            }
            if let Err(e) = self.apply_chunk(&mut chunk, &mut out, unsynced) {
                failed = Err(e);
                break;
            }
        }
        // What was not applied stays, in order, for the next attempt.
        chunk.extend(rest);
        local.append(&mut chunk);
        (out, failed)
    }

    /// Apply one chunk (emptied when it is applied) and count it.
    fn apply_chunk(
        &self,
        chunk: &mut Vec<Message>,
        out: &mut AppendOutcome,
        unsynced: &mut usize,
    ) -> Result<()> {
        let n = chunk.len();
        let o = guarded(|| self.store.apply_owned(&self.project, chunk))?;
        chunk.clear();
        out.add(o);
        *unsynced += n;
        self.queue.state.lock().in_flight -= n;
        self.queue.not_full.notify_all();
        Ok(())
    }
}

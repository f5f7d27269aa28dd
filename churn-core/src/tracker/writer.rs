//! The background writer: takes accepted messages off the queue and applies them to the
//! store in order, in transactions of at most `batch_size` messages, at least every
//! `flush_interval`, and at once when a flush is waiting or the queue is full. When the
//! store fails, the messages stay with the writer and the attempt is repeated after a
//! growing pause (or at once when someone flushes); nothing accepted is dropped.

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
            retry_min: s.retry_min,
            retry_max: s.retry_max,
        }
    }

    pub fn run(self) {
        let q = &*self.queue;
        let _running = Running(q);
        // Messages taken off the queue and not yet applied, in order.
        let mut local: Vec<Message> = Vec::new();
        // Messages applied but not yet made durable by `Store::sync`.
        let mut unsynced = 0usize;
        let mut retry_at: Option<Instant> = None;
        let mut backoff = self.retry_min;
        let mut deadline = Instant::now() + self.interval;
        loop {
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
                    // Without a pending retry the writer holds nothing.
                    if st.buf.is_empty() {
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
                    if st.buf.len() >= self.batch_size
                        || st.flush_requested
                        || st.shutdown
                        || st.buf.len() + st.in_flight >= q.capacity
                        || Instant::now() >= deadline
                    {
                        break;
                    }
                    q.work.wait_until(&mut st, deadline);
                }
                st.flush_requested = false;
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
            let (outcome, result) = self.write(&mut local, &mut unsynced);
            let mut st = q.state.lock();
            st.inserted += outcome.inserted as u64;
            st.duplicates += outcome.duplicates as u64;
            match result {
                Ok(synced) => {
                    st.stored += synced as u64;
                    st.last_error = None;
                    retry_at = None;
                    backoff = self.retry_min;
                }
                Err(e) => {
                    st.failures += 1;
                    st.last_error = Some(e.to_string());
                    retry_at = Some(Instant::now() + backoff);
                    backoff = (backoff * 2).min(self.retry_max);
                }
            }
            let ready = Queue::ready_waiters(&mut st, false);
            drop(st);
            q.progress.notify_all();
            Queue::answer(ready);
        }
    }

    /// Apply `local` in chunks, then sync. Applied chunks leave `local` (and free queue
    /// room); on failure the rest stays for the next attempt. Returns how many messages
    /// became durable.
    fn write(
        &self,
        local: &mut Vec<Message>,
        unsynced: &mut usize,
    ) -> (AppendOutcome, Result<usize>) {
        let q = &*self.queue;
        let mut out = AppendOutcome::default();
        let mut pos = 0;
        let mut failed = None;
        while pos < local.len() {
            let end = (pos + self.batch_size).min(local.len());
            match guarded(|| self.store.apply(&self.project, &local[pos..end])) {
                Ok(o) => {
                    out.add(o);
                    *unsynced += end - pos;
                    q.state.lock().in_flight -= end - pos;
                    q.not_full.notify_all();
                    pos = end;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        local.drain(..pos);
        if let Some(e) = failed {
            return (out, Err(e));
        }
        if *unsynced == 0 {
            return (out, Ok(0));
        }
        match guarded(|| self.store.sync()) {
            Ok(()) => (out, Ok(std::mem::take(unsynced))),
            Err(e) => (out, Err(e)),
        }
    }
}

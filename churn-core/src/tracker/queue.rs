//! The bounded queue between callers and the writer thread, and the counters `flush`
//! waits on.
//!
//! One mutex guards the queue; callers push under it (a `Vec::push` and two counter
//! updates), the writer swaps the whole buffer out in O(1). Capacity counts every message
//! held in memory: queued, plus taken by the writer and not yet handed to the store.
//! Messages are stored in the order they were accepted, so "committed >= n" means "the
//! first n accepted messages are committed" (they survive a crash of the process) and
//! "stored >= n" that they are also synced (they survive a power loss).

use super::sync::{Condvar, Mutex, MutexGuard};
use serde::{Deserialize, Serialize};

use super::config::Backpressure;
use crate::error::{Error, Result};
use crate::event::{BatchReport, Message, Rejected};

/// Counters of an [`Analytics`](crate::Analytics) instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerStats {
    /// Messages accepted since the instance was built.
    pub accepted: u64,
    /// Accepted messages committed to the store: they survive a crash of the process.
    #[serde(default)]
    pub committed: u64,
    /// Accepted messages now durable in the store (committed and synced: they survive a
    /// power loss too).
    pub stored: u64,
    /// Accepted messages not yet durable (`accepted - stored`).
    pub pending: u64,
    /// Events the store inserted.
    pub inserted: u64,
    /// Events the store skipped as duplicates (same `message_id`).
    pub duplicates: u64,
    /// Failed store attempts so far (each is retried).
    pub failures: u64,
    /// The last store error, until the next successful write.
    pub last_error: Option<String>,
}

/// Called once, from the writer thread (or the caller's when nothing is pending), when
/// the messages a caller handed over are committed to the store (`Ok`) or a store attempt failed after
/// they were accepted (`Err`; they stay queued and are retried). See
/// [`Analytics::track_batch_then`](crate::Analytics::track_batch_then).
pub type OnStored = Box<dyn FnOnce(Result<()>) + Send + 'static>;

/// A caller waiting for `stored >= target`.
pub(crate) struct Waiter {
    target: u64,
    /// `State::failures` when it started waiting: a later failure is reported to it.
    failures: u64,
    done: OnStored,
}

pub(crate) struct State {
    /// Accepted, not yet taken by the writer.
    pub buf: Vec<Message>,
    /// Taken by the writer, not yet handed to the store.
    pub in_flight: usize,
    pub accepted: u64,
    /// Committed by the store: survive a crash of the process (`on_stored` waits for it).
    pub committed: u64,
    /// Committed and synced (`Store::sync`): survive a power loss (`flush` waits for it).
    pub stored: u64,
    /// No new messages (close was called).
    pub closed: bool,
    /// Close finished: the writer stopped after storing everything.
    pub finished: bool,
    /// The writer exits once everything is stored.
    pub shutdown: bool,
    /// A flush is waiting: write now, and retry at once after a failure.
    pub flush_requested: bool,
    /// A flush is waiting for a sync: sync as soon as the write is done.
    pub sync_requested: bool,
    pub writer_running: bool,
    /// Bumped on every failed attempt, so a flush can tell a failure after its start.
    pub failures: u64,
    pub last_error: Option<String>,
    pub inserted: u64,
    pub duplicates: u64,
    /// Callers of `on_stored` not yet answered, in registration order.
    pub waiters: Vec<Waiter>,
}

pub(crate) struct Queue {
    pub state: Mutex<State>,
    /// Callers blocked on a full queue.
    pub not_full: Condvar,
    /// The writer waits here for work.
    pub work: Condvar,
    /// Flushers wait here for `stored` to grow or a failure.
    pub progress: Condvar,
    pub capacity: usize,
    pub batch_size: usize,
    pub backpressure: Backpressure,
}

impl Queue {
    pub fn new(capacity: usize, batch_size: usize, backpressure: Backpressure) -> Queue {
        Queue {
            state: Mutex::new(State {
                buf: Vec::new(),
                in_flight: 0,
                accepted: 0,
                committed: 0,
                stored: 0,
                closed: false,
                finished: false,
                shutdown: false,
                flush_requested: false,
                sync_requested: false,
                writer_running: true,
                failures: 0,
                last_error: None,
                inserted: 0,
                duplicates: 0,
                waiters: Vec::new(),
            }),
            not_full: Condvar::new(),
            work: Condvar::new(),
            progress: Condvar::new(),
            capacity,
            batch_size,
            backpressure,
        }
    }

    /// Wait for room (or fail, per the back-pressure mode). Returns with room available.
    fn reserve(&self, st: &mut MutexGuard<'_, State>) -> Result<()> {
        loop {
            if st.closed {
                return Err(Error::Closed);
            }
            if !st.writer_running {
                return Err(Error::storage("the writer thread stopped"));
            }
            if st.buf.len() + st.in_flight < self.capacity {
                return Ok(());
            }
            match self.backpressure {
                Backpressure::Error => {
                    return Err(Error::QueueFull {
                        capacity: self.capacity,
                    })
                }
                Backpressure::Block => {
                    self.work.notify_one();
                    self.not_full.wait(st);
                }
            }
        }
    }

    fn push_locked(&self, st: &mut MutexGuard<'_, State>, m: Message) {
        st.buf.push(m);
        st.accepted += 1;
        let len = st.buf.len();
        // The first message wakes an idle writer (it then waits for the flush interval
        // or a full batch); a full batch or queue wakes it at once.
        if len == 1 || len == self.batch_size || len + st.in_flight == self.capacity {
            self.work.notify_one();
        }
    }

    /// Accept one message.
    pub fn push(&self, m: Message) -> Result<()> {
        let mut st = self.state.lock();
        self.reserve(&mut st)?;
        self.push_locked(&mut st, m);
        Ok(())
    }

    /// Accept several messages in order, each with its index in the caller's batch. A
    /// message that finds the queue full (in `Error` mode) or closed is reported in
    /// `report` and the rest are tried after it. Returns the accepted count after the
    /// last one: once `stored` reaches it, every message of this call is durable.
    pub fn push_many(&self, msgs: Vec<(usize, Message)>, report: &mut BatchReport) -> u64 {
        let mut st = self.state.lock();
        for (index, m) in msgs {
            match self.reserve(&mut st) {
                Ok(()) => {
                    self.push_locked(&mut st, m);
                    report.accepted += 1;
                }
                Err(e) => report.rejected.push(Rejected::new(index, &e)),
            }
        }
        st.accepted
    }

    /// Call `done` once the first `target` accepted messages are committed, or with the
    /// error of a store attempt that fails before that. Asks the writer to write at
    /// once: callers waiting together share its next transaction (group commit). The
    /// commit survives a crash of the process; the fsync that makes it survive a power
    /// loss comes with the store's commit ([`Durability::Full`]) or the writer's next
    /// periodic sync ([`Durability::Normal`]).
    ///
    /// [`Durability::Full`]: crate::store::Durability::Full
    /// [`Durability::Normal`]: crate::store::Durability::Normal
    pub fn on_stored(&self, target: u64, done: OnStored) {
        let mut st = self.state.lock();
        if st.committed >= target {
            drop(st);
            return done(Ok(()));
        }
        if !st.writer_running {
            drop(st);
            return done(Err(Error::storage("the writer thread stopped")));
        }
        let failures = st.failures;
        st.waiters.push(Waiter {
            target,
            failures,
            done,
        });
        st.flush_requested = true;
        self.work.notify_one();
    }

    /// Take the waiters that can be answered now, with their answers: call them after
    /// releasing the lock. `stopped`: the writer is gone, everyone gets an error.
    pub fn ready_waiters(st: &mut State, stopped: bool) -> Vec<(OnStored, Result<()>)> {
        if st.waiters.is_empty() {
            return Vec::new();
        }
        let (committed, failures) = (st.committed, st.failures);
        let pending = st.accepted - st.committed;
        let why = st.last_error.clone();
        let mut out = Vec::new();
        let mut keep = Vec::new();
        for w in std::mem::take(&mut st.waiters) {
            if w.target <= committed {
                out.push((w.done, Ok(())));
            } else if stopped || failures > w.failures {
                let why = match (&why, stopped) {
                    (_, true) => "the writer thread stopped",
                    (Some(e), false) => e.as_str(),
                    (None, false) => "unknown error",
                };
                out.push((
                    w.done,
                    Err(Error::storage(format!(
                        "{why} ({pending} accepted messages kept in memory; the writer retries)"
                    ))),
                ));
            } else {
                keep.push(w);
            }
        }
        st.waiters = keep;
        out
    }

    /// Call the waiters taken by [`Queue::ready_waiters`]; a panicking callback does not
    /// take the writer down with it.
    pub fn answer(ready: Vec<(OnStored, Result<()>)>) {
        for (done, r) in ready {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || done(r)));
        }
    }

    /// Wait until every message accepted before the call is durable, or a store attempt
    /// fails after the call. `closed_ok` lets `close` flush after refusing new messages.
    pub fn flush(&self, closed_ok: bool) -> Result<()> {
        let mut st = self.state.lock();
        if st.closed && !closed_ok {
            return Err(Error::Closed);
        }
        let target = st.accepted;
        let failures = st.failures;
        if st.stored < target {
            st.flush_requested = true;
            st.sync_requested = true;
            self.work.notify_one();
        }
        loop {
            if st.stored >= target {
                return Ok(());
            }
            if st.failures > failures {
                let pending = st.accepted - st.stored;
                let why = st.last_error.as_deref().unwrap_or("unknown error");
                return Err(Error::storage(format!(
                    "{why} ({pending} accepted messages kept in memory; the writer retries)"
                )));
            }
            if !st.writer_running {
                return Err(Error::storage("the writer thread stopped"));
            }
            self.progress.wait(&mut st);
        }
    }

    pub fn stats(&self) -> TrackerStats {
        let st = self.state.lock();
        TrackerStats {
            accepted: st.accepted,
            committed: st.committed,
            stored: st.stored,
            pending: st.accepted - st.stored,
            inserted: st.inserted,
            duplicates: st.duplicates,
            failures: st.failures,
            last_error: st.last_error.clone(),
        }
    }
}

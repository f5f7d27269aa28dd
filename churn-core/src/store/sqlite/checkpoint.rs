//! Background WAL checkpoints for a file store.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on
//! the writer's connection: that commit then copies megabytes into the database file and
//! waits for two fsyncs while every other write queues behind it (a latency spike for
//! the requests waiting on that commit, and idle CPU during a bulk load). Here a thread
//! with its own connection runs a `PASSIVE` checkpoint every [`PERIOD`] instead: it
//! never blocks the writer or the readers, and its fsyncs overlap the writer's work. The
//! writer keeps SQLite's automatic checkpoint only as a backstop at a larger threshold
//! (`WAL_BACKSTOP_BYTES` in the parent module), so the log stays bounded if this thread
//! falls behind or fails.
//!
//! The thread uses `std::sync` (not parking_lot) like the tracker's queue: a forked
//! child that inherits a store never waits on a lock state copied from the parent.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often the thread checkpoints (a no-op when nothing new is in the log).
pub(super) const PERIOD: Duration = Duration::from_millis(100);

/// The running checkpoint thread; stopping it is dropping it.
pub(super) struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start checkpointing through `conn` (a read-write connection of the store's file).
    pub(super) fn start(conn: Connection) -> std::io::Result<Self> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("churn-checkpoint".into())
            .spawn(move || run(&conn, &flag))?;
        Ok(Checkpointer {
            stop,
            handle: Some(handle),
        })
    }
}

fn run(conn: &Connection, stop: &(Mutex<bool>, Condvar)) {
    let (lock, wake) = stop;
    loop {
        {
            let Ok(stopped) = lock.lock() else { return };
            let Ok((stopped, _)) = wake.wait_timeout_while(stopped, PERIOD, |s| !*s) else {
                return;
            };
            if *stopped {
                return;
            }
        }
        // Errors (busy, I/O) are left to the next round and to the writer's backstop.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        if let Ok(mut stopped) = lock.lock() {
            *stopped = true;
        }
        wake.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

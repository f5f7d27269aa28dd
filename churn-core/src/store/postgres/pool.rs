//! The store's connection pool: at most `connection_limit` connections open at once
//! ([`super::DEFAULT_CONNECTION_LIMIT`] unless the store's URL says), idle ones
//! kept for reuse, a connection found closed dropped (after a database restart every
//! pooled connection is closed by the server).
//!
//! Reconnecting backs off: when opening a connection fails (the database is down or
//! restarting), further opens are refused at once with [`Error::Unavailable`] until a
//! delay has passed, the delay doubling from [`RECONNECT_MIN`] up to [`RECONNECT_MAX`];
//! the first successful open resets it. Callers fail fast instead of hammering the
//! server: the tracker keeps its messages and retries, the HTTP server answers 503 with
//! `Retry-After`.
//!
//! Hand-made (~150 lines) rather than deadpool-postgres or bb8: the store is synchronous
//! and drives one current-thread runtime, so a blocking checkout with a condvar is all it
//! needs, and the fail-fast backoff above is not something those pools offer.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::error::{Error, Result};

/// First wait after a failed connect.
pub(super) const RECONNECT_MIN: Duration = Duration::from_millis(100);
/// Longest wait between connects while the database stays unreachable.
pub(super) const RECONNECT_MAX: Duration = Duration::from_secs(2);
/// How long a caller waits for a free connection when all are in use.
const CHECKOUT_WAIT: Duration = Duration::from_secs(30);

struct State {
    idle: Vec<Client>,
    /// Connections open (idle or checked out) plus connects in progress.
    open: usize,
    /// Connect failures in a row.
    failures: u32,
    /// No connect is tried before this.
    retry_at: Option<Instant>,
    last_error: String,
}

/// A bounded pool of connections with reconnect backoff.
pub(super) struct Pool {
    max_size: usize,
    state: Mutex<State>,
    freed: Condvar,
}

/// A checked-out connection: back to the pool when dropped (or closed for good when it
/// is broken or was [`Conn::discard`]ed).
pub(super) struct Conn<'a> {
    client: Option<Client>,
    pool: &'a Pool,
    /// Taken from the idle list (it may have gone stale while idle).
    pub reused: bool,
    keep: bool,
}

/// The delay after `failures` connect failures in a row (at least 1).
pub(super) fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    (RECONNECT_MIN * (1u32 << shift)).min(RECONNECT_MAX)
}

impl Pool {
    pub fn new(max_size: usize) -> Pool {
        Pool {
            max_size: max_size.max(1),
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
                failures: 0,
                retry_at: None,
                last_error: String::new(),
            }),
            freed: Condvar::new(),
        }
    }

    /// Connections open at once, at most.
    #[cfg(test)]
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection, or a new one from `connect`, waiting while all are in use.
    /// Fails fast with [`Error::Unavailable`] during a reconnect backoff.
    pub fn get(
        &self,
        connect: impl FnOnce() -> std::result::Result<Client, Error>,
    ) -> Result<Conn<'_>> {
        let deadline = Instant::now() + CHECKOUT_WAIT;
        let mut st = self.lock();
        loop {
            while let Some(c) = st.idle.pop() {
                if !c.is_closed() {
                    return Ok(self.conn(c, true));
                }
                st.open -= 1;
            }
            if st.open < self.max_size {
                if let Some(at) = st.retry_at {
                    let now = Instant::now();
                    if now < at {
                        return Err(Error::Unavailable {
                            message: st.last_error.clone(),
                            retry_after: at - now,
                        });
                    }
                }
                st.open += 1;
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Unavailable {
                    message: format!(
                        "postgres: all {} connections stayed in use for {} s",
                        self.max_size,
                        CHECKOUT_WAIT.as_secs()
                    ),
                    retry_after: Duration::from_secs(1),
                });
            }
            st = self
                .freed
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        drop(st);
        let result = connect();
        let mut st = self.lock();
        match result {
            Ok(c) => {
                st.failures = 0;
                st.retry_at = None;
                Ok(self.conn(c, false))
            }
            Err(e) => {
                st.open -= 1;
                st.failures = st.failures.saturating_add(1);
                let wait = backoff(st.failures);
                st.retry_at = Some(Instant::now() + wait);
                st.last_error = e.to_string();
                drop(st);
                self.freed.notify_one();
                Err(match e {
                    Error::Unavailable { message, .. } => Error::Unavailable {
                        message,
                        retry_after: wait,
                    },
                    other => other,
                })
            }
        }
    }

    fn conn(&self, c: Client, reused: bool) -> Conn<'_> {
        Conn {
            client: Some(c),
            pool: self,
            reused,
            keep: true,
        }
    }

    /// Close every idle connection (after one was found broken, the others opened before
    /// the same restart are too).
    pub fn clear_idle(&self) {
        let mut st = self.lock();
        let n = st.idle.len();
        st.idle.clear();
        st.open -= n;
        drop(st);
        self.freed.notify_all();
    }

    /// Idle and checked-out connections (for tests).
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.lock().open
    }
}

impl Conn<'_> {
    /// Close this connection instead of pooling it when dropped (used while a
    /// transaction is open: dropping the connection rolls it back).
    pub fn discard(&mut self, yes: bool) {
        self.keep = !yes;
    }
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        // Always `Some` until dropped.
        self.client.as_ref().expect("client present until drop")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("client present until drop")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let Some(c) = self.client.take() else { return };
        let mut st = self.pool.lock();
        if self.keep && !c.is_closed() {
            st.idle.push(c);
        } else {
            st.open -= 1;
            drop(st);
            drop(c);
        }
        self.pool.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), RECONNECT_MIN);
        assert_eq!(backoff(2), RECONNECT_MIN * 2);
        assert_eq!(backoff(4), RECONNECT_MIN * 8);
        assert_eq!(backoff(30), RECONNECT_MAX);
        assert_eq!(backoff(u32::MAX), RECONNECT_MAX);
    }

    #[test]
    fn failed_connects_back_off_and_fail_fast() {
        let pool = Pool::new(2);
        let mut tries = 0;
        let down = || {
            Err(Error::Unavailable {
                message: "refused".into(),
                retry_after: Duration::ZERO,
            })
        };
        let e = pool
            .get(|| {
                tries += 1;
                down()
            })
            .err()
            .unwrap();
        assert!(
            matches!(e, Error::Unavailable { retry_after, .. } if retry_after == RECONNECT_MIN)
        );
        // Within the backoff no connect is tried.
        let e = pool
            .get(|| {
                tries += 1;
                down()
            })
            .err()
            .unwrap();
        assert!(
            matches!(e, Error::Unavailable { ref message, .. } if message.contains("refused")),
            "{e}"
        );
        assert_eq!((tries, pool.open()), (1, 0));
        std::thread::sleep(RECONNECT_MIN);
        let e = pool
            .get(|| {
                tries += 1;
                down()
            })
            .err()
            .unwrap();
        assert!(
            matches!(e, Error::Unavailable { retry_after, .. } if retry_after == RECONNECT_MIN * 2)
        );
        assert_eq!(tries, 2);
        // A permanent error (bad password, no such database) is passed on as is.
        std::thread::sleep(RECONNECT_MIN * 2);
        let e = pool
            .get(|| Err(Error::storage("no such database")))
            .err()
            .unwrap();
        assert!(matches!(e, Error::Storage { .. }));
    }
}

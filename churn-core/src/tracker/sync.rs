//! The queue's lock and condition variables: `std::sync` behind parking_lot's API.
//!
//! Why not parking_lot here: parking_lot parks threads in one process-wide table whose
//! entries live in each thread's stack. A `fork()` (gunicorn, `os.fork` in Python) copies
//! that table with the parent's parked writer threads in it, and a thread the child
//! starts may reuse such a thread's stack: the table is then corrupt and the child hangs
//! (seen in the Python fork test). `std::sync` keeps each wait's state in the object
//! itself, so a fresh tracker in the child starts clean.

use std::sync::PoisonError;
use std::time::Instant;

/// A mutex whose `lock` never fails (a panic while locked leaves the data usable).
pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

/// The guard of [`Mutex`]; condition variables wait on it in place.
pub(crate) struct MutexGuard<'a, T>(Option<std::sync::MutexGuard<'a, T>>);

impl<T> Mutex<T> {
    pub fn new(value: T) -> Self {
        Mutex(std::sync::Mutex::new(value))
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard(Some(self.0.lock().unwrap_or_else(PoisonError::into_inner)))
    }
}

impl<T> std::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_deref().expect("guard present outside a wait")
    }
}

impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.as_deref_mut().expect("guard present outside a wait")
    }
}

/// A condition variable used with [`MutexGuard`].
pub(crate) struct Condvar(std::sync::Condvar);

impl Condvar {
    pub fn new() -> Self {
        Condvar(std::sync::Condvar::new())
    }

    /// Wait for a notification (spurious wake-ups possible: callers loop).
    pub fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
        let g = guard.0.take().expect("guard present");
        guard.0 = Some(self.0.wait(g).unwrap_or_else(PoisonError::into_inner));
    }

    /// Wait for a notification or until `deadline`.
    pub fn wait_until<T>(&self, guard: &mut MutexGuard<'_, T>, deadline: Instant) {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let g = guard.0.take().expect("guard present");
        let (g, _) = self
            .0
            .wait_timeout(g, timeout)
            .unwrap_or_else(PoisonError::into_inner);
        guard.0 = Some(g);
    }

    pub fn notify_one(&self) {
        self.0.notify_one();
    }

    pub fn notify_all(&self) {
        self.0.notify_all();
    }
}

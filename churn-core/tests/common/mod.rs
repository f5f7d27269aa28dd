//! Test helpers: a store wrapper that can be made slow (a closed gate blocks `apply`) or
//! failing and counts `apply` / `sync` / `stats` calls, and small polling helpers.
#![allow(dead_code)]

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use churn_core::event::{Event, Message};
use churn_core::store::*;
use churn_core::{Error, Result, Timestamp};

/// A store (a [`MemoryStore`] unless built with [`ControlledStore::wrapping`]) whose
/// `apply` can be held back (gate closed) or made to fail.
#[derive(Default)]
pub struct ControlledStore<S: Store = MemoryStore> {
    pub inner: S,
    pub fail: AtomicBool,
    gate_closed: Mutex<bool>,
    gate: Condvar,
    pub applies: AtomicUsize,
    /// The next `apply` panics (once).
    pub panic_once: AtomicBool,
    /// `sync` calls so far.
    pub syncs: AtomicUsize,
    /// The `apply` call with this number (1 = the first; 0 = none) fails.
    pub fail_at: AtomicUsize,
    /// `stats` calls so far (each real `Engine::refresh` makes one).
    pub stats_calls: AtomicUsize,
}

impl ControlledStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S: Store> ControlledStore<S> {
    /// `inner` behind an open gate, not failing.
    pub fn wrapping(inner: S) -> Self {
        ControlledStore {
            inner,
            fail: AtomicBool::new(false),
            gate_closed: Mutex::new(false),
            gate: Condvar::new(),
            applies: AtomicUsize::new(0),
            panic_once: AtomicBool::new(false),
            syncs: AtomicUsize::new(0),
            fail_at: AtomicUsize::new(0),
            stats_calls: AtomicUsize::new(0),
        }
    }

    pub fn close_gate(&self) {
        *self.gate_closed.lock().unwrap() = true;
    }

    pub fn open_gate(&self) {
        *self.gate_closed.lock().unwrap() = false;
        self.gate.notify_all();
    }

    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    pub fn events(&self) -> Vec<StoredEvent> {
        self.inner
            .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
            .unwrap()
    }
}

impl<S: Store> Store for ControlledStore<S> {
    fn schema_version(&self) -> Result<u32> {
        self.inner.schema_version()
    }
    fn apply(&self, project: &str, messages: &[Message]) -> Result<AppendOutcome> {
        let mut closed = self.gate_closed.lock().unwrap();
        while *closed {
            closed = self.gate.wait(closed).unwrap();
        }
        drop(closed);
        let n = self.applies.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_at.load(Ordering::SeqCst) == n {
            return Err(Error::storage("disk full (test, one call)"));
        }
        if self.panic_once.swap(false, Ordering::SeqCst) {
            panic!("store bug (test)");
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::storage("disk full (test)"));
        }
        self.inner.apply(project, messages)
    }
    fn scan(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
    ) -> Result<()> {
        self.inner.scan(project, req, visit)
    }
    fn scan_rows(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(&EventRow<'_>) -> ControlFlow<()>,
    ) -> Result<()> {
        self.inner.scan_rows(project, req, visit)
    }
    fn user(&self, project: &str, user_id: &str) -> Result<Option<UserRecord>> {
        self.inner.user(project, user_id)
    }
    fn users(&self, project: &str) -> Result<Vec<UserRecord>> {
        self.inner.users(project)
    }
    fn identities(&self, project: &str) -> Result<Vec<IdentityLink>> {
        self.inner.identities(project)
    }
    fn set_consent(&self, project: &str, id: &str, granted: bool, at: Timestamp) -> Result<()> {
        self.inner.set_consent(project, id, granted, at)
    }
    fn consents(&self, project: &str) -> Result<Vec<ConsentRecord>> {
        self.inner.consents(project)
    }
    fn delete_user(&self, project: &str, user_id: &str) -> Result<DeleteReport> {
        self.inner.delete_user(project, user_id)
    }
    fn rewrite_user(
        &self,
        project: &str,
        user_id: &str,
        rewrite: &mut dyn FnMut(Event) -> Event,
    ) -> Result<DeleteReport> {
        self.inner.rewrite_user(project, user_id, rewrite)
    }
    fn purge_before(&self, project: &str, before: Timestamp) -> Result<u64> {
        self.inner.purge_before(project, before)
    }
    fn put_object(&self, project: &str, namespace: &str, key: &str, value: &[u8]) -> Result<()> {
        self.inner.put_object(project, namespace, key, value)
    }
    fn get_object(&self, project: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get_object(project, namespace, key)
    }
    fn list_objects(&self, project: &str, namespace: &str) -> Result<Vec<String>> {
        self.inner.list_objects(project, namespace)
    }
    fn delete_object(&self, project: &str, namespace: &str, key: &str) -> Result<bool> {
        self.inner.delete_object(project, namespace, key)
    }
    fn sync(&self) -> Result<()> {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        self.inner.sync()
    }
    fn stats(&self, project: &str) -> Result<StoreStats> {
        self.stats_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.stats(project)
    }
    fn change_token(&self) -> Result<Option<u64>> {
        self.inner.change_token()
    }
}

/// Poll `cond` every 5 ms for up to 10 s; true when it became true.
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

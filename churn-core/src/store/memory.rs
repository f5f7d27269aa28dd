//! [`MemoryStore`]: everything in process memory. The reference backend for tests, the
//! WASM build and short-lived analyses; it is also the plainest statement of the
//! [`Store`] semantics.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use parking_lot::RwLock;

use super::msgindex::MessageIndex;
use super::types::*;
use super::{Store, SCHEMA_VERSION};
use crate::error::Result;
use crate::event::{Event, Message, Properties};
use crate::time::Timestamp;

/// Merge identify traits over existing ones: a `null` value removes the trait.
pub(crate) fn merge_traits(into: &mut Properties, new: &Properties) {
    for (k, v) in new {
        if v.is_null() {
            into.remove(k);
        } else {
            into.insert(k.clone(), v.clone());
        }
    }
}

#[derive(Default)]
struct Project {
    events: BTreeMap<u64, Event>,
    by_message: MessageIndex,
    users: BTreeMap<String, UserRecord>,
    /// anonymous id -> user id (first link wins).
    links: HashMap<String, String>,
    consents: BTreeMap<String, ConsentRecord>,
    objects: BTreeMap<(String, String), Vec<u8>>,
    max_seq: u64,
}

impl Project {
    /// Store `e` as the next `seq` unless its message id is already stored.
    fn track(&mut self, next_seq: &mut u64, e: Cow<'_, Event>, out: &mut AppendOutcome) {
        let seq = *next_seq + 1;
        let events = &self.events;
        let holds = |s: u64, id: &str| events.get(&s).is_some_and(|e| e.message_id == id);
        if self.by_message.claim(&e.message_id, seq, holds).is_some() {
            out.duplicates += 1;
            return;
        }
        *next_seq = seq;
        self.events.insert(seq, e.into_owned());
        self.max_seq = seq;
        out.inserted += 1;
    }

    /// Apply an identify or alias message (a track message is [`Project::track`]'s).
    fn identity(&mut self, m: &Message, out: &mut AppendOutcome) {
        match m {
            Message::Track(_) => {}
            Message::Identify(i) => {
                let u = self.ensure_user(&i.user_id, i.timestamp);
                merge_traits(&mut u.traits, &i.traits);
                u.updated_at = u.updated_at.max(i.timestamp);
                if let Some(a) = &i.anonymous_id {
                    self.link(a, &i.user_id, i.timestamp);
                }
                out.identities += 1;
            }
            Message::Alias(a) => {
                self.link(&a.previous_id, &a.user_id, a.timestamp);
                out.identities += 1;
            }
        }
    }

    fn ensure_user(&mut self, user_id: &str, at: Timestamp) -> &mut UserRecord {
        self.users
            .entry(user_id.to_string())
            .or_insert_with(|| UserRecord {
                user_id: user_id.to_string(),
                traits: Properties::new(),
                anonymous_ids: Vec::new(),
                created_at: at,
                updated_at: at,
            })
    }

    fn link(&mut self, anonymous_id: &str, user_id: &str, at: Timestamp) {
        self.ensure_user(user_id, at);
        if anonymous_id == user_id || self.links.contains_key(anonymous_id) {
            return;
        }
        self.links
            .insert(anonymous_id.to_string(), user_id.to_string());
        if let Some(u) = self.users.get_mut(user_id) {
            u.anonymous_ids.push(anonymous_id.to_string());
        }
    }

    /// Ids whose events belong to the person `user_id`.
    fn person_ids(&self, user_id: &str) -> Vec<String> {
        let mut ids = vec![user_id.to_string()];
        if let Some(u) = self.users.get(user_id) {
            ids.extend(u.anonymous_ids.iter().cloned());
        }
        ids
    }

    fn person_seqs(&self, user_id: &str) -> Vec<u64> {
        let ids = self.person_ids(user_id);
        let owns = |e: &Event| {
            ids.iter().any(|i| {
                Some(i.as_str()) == e.user_id.as_deref()
                    || Some(i.as_str()) == e.anonymous_id.as_deref()
            })
        };
        self.events
            .iter()
            .filter(|(_, e)| owns(e))
            .map(|(s, _)| *s)
            .collect()
    }

    fn forget_user(&mut self, user_id: &str) -> (u64, u64) {
        let users = u64::from(self.users.remove(user_id).is_some());
        let before = self.links.len();
        self.links.retain(|a, u| u != user_id && a != user_id);
        (users, (before - self.links.len()) as u64)
    }
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    projects: HashMap<String, Project>,
}

/// A [`Store`] held in memory. Cheap to create; contents are lost when dropped.
///
/// ```
/// use churn_core::store::{MemoryStore, Store, DEFAULT_PROJECT};
/// let s = MemoryStore::new();
/// assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().events, 0);
/// ```
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Visit the events matching `req` in `seq` order, copied out (by `copy`) a chunk at
    /// a time under the lock, so `visit` runs unlocked and may call back into the store.
    fn chunked<T>(
        &self,
        project: &str,
        req: &ScanRequest,
        copy: impl Fn(u64, &Event) -> T,
        mut visit: impl FnMut(T) -> ControlFlow<()>,
    ) -> Result<()> {
        const CHUNK: usize = 4096;
        let mut start = req.after_seq.map_or(0, |s| s.saturating_add(1));
        let mut left = req.limit.unwrap_or(usize::MAX);
        while left > 0 {
            let (hits, next) = self.read(project, |p| {
                let mut hits = Vec::new();
                for (s, e) in p.events.range(start..) {
                    if hits.len() >= CHUNK.min(left) {
                        return (hits, Some(*s));
                    }
                    if req.matches(*s, &EventRow::of(*s, e)) {
                        hits.push(copy(*s, e));
                    }
                }
                (hits, None)
            });
            left -= hits.len();
            for h in hits {
                if visit(h).is_break() {
                    return Ok(());
                }
            }
            match next {
                Some(n) => start = n,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// Run `f` on the project's data under the write lock (one lock per batch).
    fn write<T>(&self, project: &str, f: impl FnOnce(&mut u64, &mut Project) -> T) -> T {
        let mut g = self.inner.write();
        let Inner { next_seq, projects } = &mut *g;
        if let Some(p) = projects.get_mut(project) {
            return f(next_seq, p);
        }
        f(next_seq, projects.entry(project.to_string()).or_default())
    }

    fn read<T>(&self, project: &str, f: impl FnOnce(&Project) -> T) -> T {
        let g = self.inner.read();
        match g.projects.get(project) {
            Some(p) => f(p),
            None => f(&Project::default()),
        }
    }
}

impl Store for MemoryStore {
    fn schema_version(&self) -> Result<u32> {
        Ok(SCHEMA_VERSION)
    }

    fn apply(&self, project: &str, messages: &[Message]) -> Result<AppendOutcome> {
        Ok(self.write(project, |next_seq, p| {
            let mut out = AppendOutcome::default();
            for m in messages {
                match m {
                    Message::Track(e) => p.track(next_seq, Cow::Borrowed(e), &mut out),
                    other => p.identity(other, &mut out),
                }
            }
            out
        }))
    }

    /// Moves the events into the store instead of copying them.
    fn apply_owned(&self, project: &str, messages: &mut Vec<Message>) -> Result<AppendOutcome> {
        Ok(self.write(project, |next_seq, p| {
            let mut out = AppendOutcome::default();
            for m in messages.drain(..) {
                match m {
                    Message::Track(e) => p.track(next_seq, Cow::Owned(e), &mut out),
                    other => p.identity(&other, &mut out),
                }
            }
            out
        }))
    }

    fn scan(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
    ) -> Result<()> {
        self.chunked(
            project,
            req,
            |s, e| StoredEvent {
                seq: s,
                event: e.clone(),
            },
            visit,
        )
    }

    fn scan_rows(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(&EventRow<'_>) -> ControlFlow<()>,
    ) -> Result<()> {
        // Copies only the core columns, not whole events.
        struct Row {
            seq: u64,
            timestamp: Timestamp,
            event: String,
            user_id: Option<String>,
            anonymous_id: Option<String>,
            session_id: Option<String>,
        }
        self.chunked(
            project,
            req,
            |s, e| Row {
                seq: s,
                timestamp: e.timestamp,
                event: e.event.clone(),
                user_id: e.user_id.clone(),
                anonymous_id: e.anonymous_id.clone(),
                session_id: e.session_id.clone(),
            },
            |r| {
                visit(&EventRow {
                    seq: r.seq,
                    timestamp: r.timestamp,
                    event: &r.event,
                    user_id: r.user_id.as_deref(),
                    anonymous_id: r.anonymous_id.as_deref(),
                    session_id: r.session_id.as_deref(),
                })
            },
        )
    }

    fn user(&self, project: &str, user_id: &str) -> Result<Option<UserRecord>> {
        Ok(self.read(project, |p| p.users.get(user_id).cloned()))
    }

    fn users(&self, project: &str) -> Result<Vec<UserRecord>> {
        Ok(self.read(project, |p| p.users.values().cloned().collect()))
    }

    fn identities(&self, project: &str) -> Result<Vec<IdentityLink>> {
        Ok(self.read(project, |p| {
            let mut v: Vec<IdentityLink> = p
                .links
                .iter()
                .map(|(a, u)| IdentityLink {
                    anonymous_id: a.clone(),
                    user_id: u.clone(),
                })
                .collect();
            v.sort_by(|a, b| a.anonymous_id.cmp(&b.anonymous_id));
            v
        }))
    }

    fn set_consent(&self, project: &str, id: &str, granted: bool, at: Timestamp) -> Result<()> {
        let mut g = self.inner.write();
        let p = g.projects.entry(project.to_string()).or_default();
        p.consents.insert(
            id.to_string(),
            ConsentRecord {
                id: id.to_string(),
                granted,
                at,
            },
        );
        Ok(())
    }

    fn consents(&self, project: &str) -> Result<Vec<ConsentRecord>> {
        Ok(self.read(project, |p| p.consents.values().cloned().collect()))
    }

    fn delete_user(&self, project: &str, user_id: &str) -> Result<DeleteReport> {
        let mut g = self.inner.write();
        let Some(p) = g.projects.get_mut(project) else {
            return Ok(DeleteReport::default());
        };
        let seqs = p.person_seqs(user_id);
        for s in &seqs {
            if let Some(e) = p.events.remove(s) {
                p.by_message.remove(&e.message_id, *s);
            }
        }
        let (users, identities) = p.forget_user(user_id);
        Ok(DeleteReport {
            events: seqs.len() as u64,
            users,
            identities,
        })
    }

    fn rewrite_user(
        &self,
        project: &str,
        user_id: &str,
        rewrite: &mut dyn FnMut(Event) -> Event,
    ) -> Result<DeleteReport> {
        let mut g = self.inner.write();
        let Some(p) = g.projects.get_mut(project) else {
            return Ok(DeleteReport::default());
        };
        let seqs = p.person_seqs(user_id);
        for s in &seqs {
            if let Some(e) = p.events.remove(s) {
                let id = e.message_id.clone();
                let mut new = rewrite(e);
                new.message_id = id;
                p.events.insert(*s, new);
            }
        }
        let (users, identities) = p.forget_user(user_id);
        Ok(DeleteReport {
            events: seqs.len() as u64,
            users,
            identities,
        })
    }

    fn purge_before(&self, project: &str, before: Timestamp) -> Result<u64> {
        let mut g = self.inner.write();
        let Some(p) = g.projects.get_mut(project) else {
            return Ok(0);
        };
        let old: Vec<u64> = p
            .events
            .iter()
            .filter(|(_, e)| e.timestamp < before)
            .map(|(s, _)| *s)
            .collect();
        for s in &old {
            if let Some(e) = p.events.remove(s) {
                p.by_message.remove(&e.message_id, *s);
            }
        }
        Ok(old.len() as u64)
    }

    fn put_object(&self, project: &str, namespace: &str, key: &str, value: &[u8]) -> Result<()> {
        let mut g = self.inner.write();
        let p = g.projects.entry(project.to_string()).or_default();
        p.objects
            .insert((namespace.to_string(), key.to_string()), value.to_vec());
        Ok(())
    }

    fn get_object(&self, project: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.read(project, |p| {
            p.objects
                .get(&(namespace.to_string(), key.to_string()))
                .cloned()
        }))
    }

    fn list_objects(&self, project: &str, namespace: &str) -> Result<Vec<String>> {
        Ok(self.read(project, |p| {
            p.objects
                .keys()
                .filter(|(n, _)| n == namespace)
                .map(|(_, k)| k.clone())
                .collect()
        }))
    }

    fn delete_object(&self, project: &str, namespace: &str, key: &str) -> Result<bool> {
        let mut g = self.inner.write();
        let Some(p) = g.projects.get_mut(project) else {
            return Ok(false);
        };
        Ok(p.objects
            .remove(&(namespace.to_string(), key.to_string()))
            .is_some())
    }

    fn stats(&self, project: &str) -> Result<StoreStats> {
        Ok(self.read(project, |p| StoreStats {
            events: p.events.len() as u64,
            users: p.users.len() as u64,
            max_seq: p.max_seq,
        }))
    }
}

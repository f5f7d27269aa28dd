//! The in-memory set of ids whose consent is withdrawn, checked on every accepted message.
//!
//! The set is loaded from [`Store::consents`] when the tracker is built and kept in step
//! by [`Analytics::set_consent`](crate::Analytics::set_consent). A withdrawal by a user id
//! also covers the anonymous ids linked to that user. When nobody has withdrawn consent
//! (the usual case) the check is one atomic load.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;

use crate::error::{Error, Result};
use crate::event::Message;
use crate::store::Store;

#[derive(Default)]
pub(crate) struct ConsentSet {
    any: AtomicBool,
    withdrawn: RwLock<HashSet<String>>,
}

impl ConsentSet {
    /// Load the withdrawals recorded in `store` (and the anonymous ids linked to them).
    pub(crate) fn load(store: &dyn Store, project: &str) -> Result<ConsentSet> {
        let set = ConsentSet::default();
        for c in store.consents(project)? {
            if !c.granted {
                let ids = person_ids(store, project, &c.id)?;
                set.update(ids, false);
            }
        }
        Ok(set)
    }

    /// Record a decision for these ids.
    pub(crate) fn update(&self, ids: Vec<String>, granted: bool) {
        let mut g = self.withdrawn.write();
        for id in ids {
            if granted {
                g.remove(&id);
            } else {
                g.insert(id);
            }
        }
        self.any.store(!g.is_empty(), Ordering::Release);
    }

    /// Refuse the message when any id it carries has withdrawn consent.
    pub(crate) fn check(&self, m: &Message) -> Result<()> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let (a, b) = match m {
            Message::Track(e) => (e.user_id.as_deref(), e.anonymous_id.as_deref()),
            Message::Identify(i) => (Some(i.user_id.as_str()), i.anonymous_id.as_deref()),
            Message::Alias(al) => (Some(al.user_id.as_str()), Some(al.previous_id.as_str())),
        };
        let g = self.withdrawn.read();
        for id in [a, b].into_iter().flatten() {
            if g.contains(id) {
                return Err(Error::ConsentWithdrawn { id: id.to_string() });
            }
        }
        Ok(())
    }
}

/// `id` and, when it is a user, the anonymous ids linked to it.
pub(crate) fn person_ids(store: &dyn Store, project: &str, id: &str) -> Result<Vec<String>> {
    let mut ids = vec![id.to_string()];
    if let Some(u) = store.user(project, id)? {
        ids.extend(u.anonymous_ids);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Identify};
    use crate::store::{MemoryStore, DEFAULT_PROJECT};
    use crate::time::Timestamp;

    #[test]
    fn withdrawal_covers_linked_ids_and_can_be_reversed() {
        let store = MemoryStore::new();
        let link = Identify::user("u1").anonymous_id("a1").build().unwrap();
        store.apply(DEFAULT_PROJECT, &[link.into()]).unwrap();
        store
            .set_consent(DEFAULT_PROJECT, "u1", false, Timestamp::now())
            .unwrap();
        store
            .set_consent(DEFAULT_PROJECT, "u2", true, Timestamp::now())
            .unwrap();
        let set = ConsentSet::load(&store, DEFAULT_PROJECT).unwrap();
        let from =
            |id: &str| -> Message { Event::track("x").anonymous_id(id).build().unwrap().into() };
        assert!(matches!(
            set.check(&from("a1")),
            Err(Error::ConsentWithdrawn { id }) if id == "a1"
        ));
        assert!(set.check(&from("u2")).is_ok());
        assert!(set.check(&from("a2")).is_ok());
        let alias = crate::event::Alias::new("u9", "u1").unwrap();
        assert!(set.check(&alias.into()).is_err());
        set.update(vec!["u1".into(), "a1".into()], true);
        assert!(set.check(&from("a1")).is_ok());
        assert!(!set.any.load(Ordering::Acquire));
    }
}

//! One query [`Engine`] per project, kept in the app state.
//!
//! The first read of a project loads its engine (one full scan); later reads call
//! [`Engine::refresh`] (only the events stored since) when the engine is older than
//! [`ServerConfig::engine_refresh`](super::ServerConfig::engine_refresh), so queries
//! never re-read the whole store. Loading and refreshing run on a blocking thread.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::store::Store;

struct Slot {
    engine: Arc<Engine>,
    refreshed: Instant,
    stale: bool,
}

/// The engines of every project read so far.
pub struct Engines {
    store: Arc<dyn Store>,
    max_age: Duration,
    slots: Mutex<HashMap<String, Arc<Mutex<Option<Slot>>>>>,
}

impl std::fmt::Debug for Engines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engines")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl Engines {
    /// Engines over `store`, refreshed when older than `max_age`.
    pub fn new(store: Arc<dyn Store>, max_age: Duration) -> Self {
        Engines {
            store,
            max_age,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The engine of `project`, loaded or refreshed as needed (blocking).
    pub fn get_blocking(&self, project: &str) -> Result<Arc<Engine>> {
        let slot = self
            .slots
            .lock()
            .entry(project.to_string())
            .or_default()
            .clone();
        // One loader per project; readers of other projects are not held up.
        let mut s = slot.lock();
        match s.as_mut() {
            Some(x) if !x.stale && x.refreshed.elapsed() < self.max_age => Ok(x.engine.clone()),
            Some(x) => {
                x.engine.refresh()?;
                x.refreshed = Instant::now();
                x.stale = false;
                Ok(x.engine.clone())
            }
            None => {
                let engine = Arc::new(Engine::load(self.store.clone(), project)?);
                *s = Some(Slot {
                    engine: engine.clone(),
                    refreshed: Instant::now(),
                    stale: false,
                });
                Ok(engine)
            }
        }
    }

    /// [`Engines::get_blocking`] on a blocking thread.
    pub async fn get(self: &Arc<Self>, project: &str) -> Result<Arc<Engine>> {
        let me = self.clone();
        let p = project.to_string();
        tokio::task::spawn_blocking(move || me.get_blocking(&p))
            .await
            .map_err(|e| Error::storage(format!("engine task failed: {e}")))?
    }

    /// Make the next read of `project` refresh (after a deletion or an import).
    pub fn invalidate(&self, project: &str) {
        if let Some(slot) = self.slots.lock().get(project) {
            if let Some(s) = slot.lock().as_mut() {
                s.stale = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ActiveUsersRequest;
    use crate::event::Event;
    use crate::store::{MemoryStore, StoreExt};

    #[test]
    fn cached_then_refreshed() {
        let store = Arc::new(MemoryStore::new());
        let e = |u: &str| Event::track("x").user_id(u).build().unwrap();
        store.append("p", &[e("a")]).unwrap();
        let engines = Engines::new(store.clone(), Duration::from_secs(3600));
        let count = |en: &Engine| {
            en.active_users(&ActiveUsersRequest::new())
                .unwrap()
                .total_users
        };
        let en = engines.get_blocking("p").unwrap();
        assert_eq!(count(&en), 1);
        store.append("p", &[e("b")]).unwrap();
        // Within max_age: the same engine, not refreshed.
        let again = engines.get_blocking("p").unwrap();
        assert!(Arc::ptr_eq(&en, &again));
        assert_eq!(count(&again), 1);
        engines.invalidate("p");
        assert_eq!(count(&engines.get_blocking("p").unwrap()), 2);
        // Another project has its own engine.
        assert_eq!(count(&engines.get_blocking("q").unwrap()), 0);
    }
}

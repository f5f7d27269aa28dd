//! Message-id dedup for the writer: an in-memory map from the 64-bit hash of
//! `(project, message_id)` to the block holding it, filled from `event_block_ids` on the
//! first write and confirmed on disk on every hit.
//!
//! Why: a unique B-tree index on random message ids dirtied about one page per stored
//! event, the main cost of ingest in schema 1. The map answers "never seen" (the common
//! case) without touching the file; a hit is confirmed by comparing the real message ids
//! of that block, so a hash collision never drops an event. The map is rebuilt when
//! another connection changed the file (`PRAGMA data_version`) and dropped when a write
//! transaction fails. Memory: 32-64 bytes per stored event (a 16-byte slot, the table at
//! most half full; see [`IdTable`]).

use rusqlite::Connection;

use super::block::{self, each_hash, hash_positions, Builder};
use super::codec::Block;
use crate::error::Result;
use crate::store::idtable::IdTable;

type Map = IdTable;

/// The writer's dedup state.
#[derive(Default)]
pub(super) struct Dedup {
    map: Option<Map>,
    data_version: i64,
}

/// Message ids of the last block confirmed against, reused across hits in one batch.
#[derive(Default)]
pub(super) struct Confirm {
    block: Option<i64>,
    hashes: Vec<u8>,
    data: Vec<u8>,
}

impl Confirm {
    /// Whether block `id` stores `message_id` (whose hash is `hash`).
    fn holds(&mut self, c: &Connection, id: i64, hash: u64, message_id: &str) -> Result<bool> {
        if self.block != Some(id) {
            self.hashes = block::hashes(c, id)?;
            self.data = block::data(c, id)?.unwrap_or_default();
            self.block = Some(id);
        }
        let positions: Vec<usize> = hash_positions(&self.hashes, hash).collect();
        if positions.is_empty() {
            return Ok(false);
        }
        let ids = Block::parse(&self.data)?.message_ids()?;
        Ok(positions
            .into_iter()
            .any(|i| ids.get(i).is_some_and(|s| *s == message_id)))
    }
}

impl Dedup {
    /// Drop the map (after a failed transaction); the next write reloads it.
    pub fn invalidate(&mut self) {
        self.map = None;
    }

    /// Make the map current: (re)load it when missing or when another connection
    /// committed since it was loaded.
    pub fn prepare(&mut self, c: &Connection) -> Result<()> {
        let version: i64 = c.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if self.map.is_some() && version == self.data_version {
            return Ok(());
        }
        let stored: i64 = c.query_row(
            "SELECT coalesce(sum(count), 0) FROM event_blocks",
            [],
            |r| r.get(0),
        )?;
        let mut map = Map::with_capacity(usize::try_from(stored).unwrap_or(0) + 4096);
        let mut stmt = c.prepare("SELECT block, hashes FROM event_block_ids ORDER BY block")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            for h in each_hash(r.get_ref(1)?.as_blob()?) {
                map.insert(h, id);
            }
        }
        self.map = Some(map);
        self.data_version = version;
        Ok(())
    }

    /// Read the map slots of `hashes` (a batch about to be checked) in one tight loop:
    /// the lookups do not depend on each other, so their cache misses overlap, and the
    /// per-event [`Dedup::check_and_claim`] that follows finds the slots in cache. A
    /// plain read: the answer does not change what is stored.
    pub fn warm(&self, hashes: &[u64]) {
        if let Some(map) = &self.map {
            let found = hashes.iter().filter(|h| map.get(**h).is_some()).count();
            std::hint::black_box(found);
        }
    }

    /// Whether `message_id` (hash `hash`) is already stored in the project `pid`, in a
    /// committed block or in `pending` (the block being built). When it is not, the map
    /// records it as stored in block `claim` (the caller stores it there or fails the
    /// transaction, which drops the map). One map probe in the common case.
    #[allow(clippy::too_many_arguments)]
    pub fn check_and_claim(
        &mut self,
        c: &Connection,
        confirm: &mut Confirm,
        pending: &mut Builder,
        pid: i64,
        hash: u64,
        message_id: &str,
        claim: i64,
    ) -> Result<bool> {
        let Some(map) = self.map.as_mut() else {
            return Ok(false);
        };
        let Some(id) = map.get_or_insert(hash, claim) else {
            return Ok(false);
        };
        let found = if pending.id() == Some(id) {
            pending.holds(hash, message_id)?
        } else {
            confirm.holds(c, id, hash, message_id)?
        };
        if found || Self::stored_elsewhere(c, confirm, pending, pid, hash, message_id)? {
            return Ok(true);
        }
        self.insert(hash, claim);
        Ok(false)
    }

    /// A hash collision (or a stale entry): look everywhere, the slow way.
    fn stored_elsewhere(
        c: &Connection,
        confirm: &mut Confirm,
        pending: &mut Builder,
        pid: i64,
        hash: u64,
        message_id: &str,
    ) -> Result<bool> {
        if pending.holds(hash, message_id)? {
            return Ok(true);
        }
        let mut stmt = c.prepare_cached(
            "SELECT i.block, i.hashes FROM event_block_ids i \
             JOIN event_blocks b ON b.id = i.block WHERE b.project = ?1",
        )?;
        let mut rows = stmt.query([pid])?;
        let mut candidates = Vec::new();
        while let Some(r) = rows.next()? {
            if hash_positions(r.get_ref(1)?.as_blob()?, hash)
                .next()
                .is_some()
            {
                candidates.push(r.get::<_, i64>(0)?);
            }
        }
        drop(rows);
        for b in candidates {
            if confirm.holds(c, b, hash, message_id)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Point `hash` at block `id` (tests: simulate a collision or a stale entry).
    #[cfg(test)]
    pub fn point(&mut self, hash: u64, id: i64) {
        self.insert(hash, id);
    }

    /// Record that `hash` is now stored in block `id`.
    pub fn insert(&mut self, hash: u64, id: i64) {
        if let Some(m) = &mut self.map {
            m.insert(hash, id);
        }
    }

    /// Forget hashes of deleted events (only entries still pointing at block `id`).
    pub fn forget(&mut self, id: i64, hashes: impl IntoIterator<Item = u64>) {
        if let Some(m) = &mut self.map {
            for h in hashes {
                if m.get(h) == Some(id) {
                    m.remove(h);
                }
            }
        }
    }
}

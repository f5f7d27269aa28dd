//! [`MessageIndex`]: `MemoryStore`'s exact message-id dedup index.
//!
//! Why: a `HashMap<String, u64>` hashed every id twice with SipHash (the lookup, then the
//! insert) and kept an owned copy of every id: the largest single cost of
//! `MemoryStore::apply`. Here the id's 64-bit [`hash64`] (seeded at random per store, so
//! callers cannot aim ids at one slot) is the key of an [`IdTable`] whose value is the
//! `seq` holding it; a hit is confirmed against the stored event's real id. The rare id
//! whose hash is already taken by another id goes to `overflow`, a `HashMap` keyed by
//! the id itself, so dedup stays exact. Memory: 32-64 bytes per stored event.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

use super::idtable::{hash64, IdTable};

/// Message id -> `seq` of the event holding it, within one project.
pub(super) struct MessageIndex {
    seed: u64,
    table: IdTable,
    /// Ids whose hash was taken by another id when they were stored.
    overflow: HashMap<String, u64>,
}

impl Default for MessageIndex {
    fn default() -> Self {
        MessageIndex {
            seed: RandomState::new().hash_one(0x6d73_6769_6478_u64),
            table: IdTable::with_capacity(0),
            overflow: HashMap::new(),
        }
    }
}

impl MessageIndex {
    fn key(&self, id: &str) -> u64 {
        hash64(self.seed, id.as_bytes())
    }

    /// The `seq` already holding `id`, if any; else record `id` as held by `seq` and
    /// return `None`. `holds(s, id)` says whether the stored event `s` has message id
    /// `id` (it confirms a hash hit).
    pub fn claim(&mut self, id: &str, seq: u64, holds: impl Fn(u64, &str) -> bool) -> Option<u64> {
        if !self.overflow.is_empty() {
            if let Some(s) = self.overflow.get(id) {
                return Some(*s);
            }
        }
        let key = self.key(id);
        let s = self.table.get_or_insert(key, seq as i64)? as u64;
        if holds(s, id) {
            return Some(s);
        }
        // Another id has this hash: keep this one by its full text.
        self.overflow.insert(id.to_string(), seq);
        None
    }

    /// Forget `id`, stored as `seq` (its event was deleted).
    pub fn remove(&mut self, id: &str, seq: u64) {
        let key = self.key(id);
        if self.table.get(key) == Some(seq as i64) {
            self.table.remove(key);
        } else {
            self.overflow.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a `HashMap` model, through claims, repeats and removals, with fixed seeds
    /// (collisions are covered by the next test).
    #[test]
    fn stays_exact_under_hash_collisions() {
        for seed in [0, 1, 0x9e37_79b9_7f4a_7c15] {
            let mut ix = MessageIndex {
                seed,
                ..MessageIndex::default()
            };
            // seq -> id: the "stored events".
            let mut stored: HashMap<u64, String> = HashMap::new();
            let mut model: HashMap<String, u64> = HashMap::new();
            let mut x: u64 = 0x2545_f491_4f6c_dd1d ^ seed;
            for seq in 1..20_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let id = format!("m{}", x % 700);
                if (x >> 32) % 3 == 0 {
                    if let Some(s) = model.remove(&id) {
                        ix.remove(&id, s);
                        stored.remove(&s);
                    }
                    continue;
                }
                let holds = |s: u64, id: &str| stored.get(&s).is_some_and(|i| i == id);
                let got = ix.claim(&id, seq, holds);
                assert_eq!(got, model.get(&id).copied(), "claim {id}");
                if got.is_none() {
                    model.insert(id.clone(), seq);
                    stored.insert(seq, id);
                }
            }
        }
    }

    #[test]
    fn a_hash_collision_never_drops_an_id() {
        let mut ix = MessageIndex::default();
        // Simulate a collision: the table says `a`'s key is held by seq 1, which holds
        // another id.
        let key = ix.key("a");
        ix.table.insert(key, 1);
        let holds = |s: u64, id: &str| s == 1 && id == "other";
        assert_eq!(ix.claim("a", 2, holds), None);
        assert_eq!(ix.claim("a", 3, holds), Some(2));
        ix.remove("a", 2);
        assert_eq!(ix.claim("a", 4, holds), None);
        assert_eq!(ix.table.get(key), Some(1));
    }
}

//! The dedup maps' table: 64-bit message-id hashes to a value (`SqliteStore`: the block
//! id; `MemoryStore`: the `seq`), open addressing with linear probing, key and value in
//! one 16-byte slot, at most half full. Shared by both stores, with [`hash64`], the hash
//! their keys are made of.
//!
//! Why not `HashMap`: hashbrown keeps its control bytes apart from its buckets, so a
//! miss (the common case: a new id) reads one cache line and the insert that follows
//! writes another, both random. Here the probe and the insert touch the same line (which
//! `SqliteStore`'s batch warm-up pass has already loaded). The keys are hashes already,
//! so their low bits pick the slot. The table stores hashes only: its users confirm a hit
//! against the real message id.

/// A stable 64-bit hash (the value is stored in files: never change it).
pub(crate) fn hash64(seed: u64, bytes: &[u8]) -> u64 {
    const K1: u64 = 0x87c3_7b91_1142_53d5;
    const K2: u64 = 0x4cf5_ad43_2745_937f;
    let mix = |v: u64| v.wrapping_mul(K1).rotate_left(31).wrapping_mul(K2);
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        h = (h ^ mix(u64::from_le_bytes(w)))
            .rotate_left(27)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
    }
    let rest = chunks.remainder();
    let mut w = [0u8; 8];
    w[..rest.len()].copy_from_slice(rest);
    h ^= mix(u64::from_le_bytes(w));
    // fmix64 (MurmurHash3 finalizer).
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Key 0 marks an empty slot; the key 0 itself lives in `zero`.
#[derive(Clone, Copy, Default)]
struct Slot {
    key: u64,
    value: i64,
}

pub(crate) struct IdTable {
    /// A power of two in length.
    slots: Vec<Slot>,
    /// Occupied slots.
    len: usize,
    zero: Option<i64>,
}

impl IdTable {
    /// A table for about `n` keys before it grows.
    pub(crate) fn with_capacity(n: usize) -> Self {
        let cap = n.max(8).saturating_mul(2).next_power_of_two();
        IdTable {
            slots: vec![Slot::default(); cap],
            len: 0,
            zero: None,
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot holding `key` (not 0), or the empty slot where it would go.
    fn find(&self, key: u64) -> usize {
        let mask = self.mask();
        let mut i = (key as usize) & mask;
        loop {
            let k = self.slots[i].key;
            if k == key || k == 0 {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// The value of `key`.
    pub(crate) fn get(&self, key: u64) -> Option<i64> {
        if key == 0 {
            return self.zero;
        }
        let s = self.slots[self.find(key)];
        (s.key == key).then_some(s.value)
    }

    /// Put `(key, value)` in the empty slot `i` (from [`IdTable::find`]).
    fn fill(&mut self, i: usize, key: u64, value: i64) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
            let j = self.find(key);
            self.slots[j] = Slot { key, value };
        } else {
            self.slots[i] = Slot { key, value };
        }
        self.len += 1;
    }

    /// Set `key` to `value`; returns the value it had.
    pub(crate) fn insert(&mut self, key: u64, value: i64) -> Option<i64> {
        if key == 0 {
            return self.zero.replace(value);
        }
        let i = self.find(key);
        if self.slots[i].key == key {
            return Some(std::mem::replace(&mut self.slots[i].value, value));
        }
        self.fill(i, key, value);
        None
    }

    /// The value of `key` when it has one (left as it is); else set it to `value` and
    /// return `None`. One probe either way.
    pub(crate) fn get_or_insert(&mut self, key: u64, value: i64) -> Option<i64> {
        if key == 0 {
            if self.zero.is_none() {
                self.zero = Some(value);
                return None;
            }
            return self.zero;
        }
        let i = self.find(key);
        if self.slots[i].key == key {
            return Some(self.slots[i].value);
        }
        self.fill(i, key, value);
        None
    }

    /// Remove `key`; returns its value. Later slots of the probe run shift back, so no
    /// tombstones are left.
    pub(crate) fn remove(&mut self, key: u64) -> Option<i64> {
        if key == 0 {
            return self.zero.take();
        }
        let mut hole = self.find(key);
        if self.slots[hole].key != key {
            return None;
        }
        let value = self.slots[hole].value;
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let k = self.slots[j].key;
            if k == 0 {
                break;
            }
            let home = (k as usize) & mask;
            // The entry at `j` may move into the hole unless its home slot lies
            // (cyclically) after the hole and at or before `j`.
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = self.slots[j];
                hole = j;
            }
        }
        self.slots[hole] = Slot::default();
        self.len -= 1;
        Some(value)
    }

    fn grow(&mut self) {
        let bigger = vec![Slot::default(); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        for s in old.into_iter().filter(|s| s.key != 0) {
            let i = self.find(s.key);
            self.slots[i] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn agrees_with_a_hash_map_through_inserts_removes_and_growth() {
        let mut t = IdTable::with_capacity(1);
        let mut model: HashMap<u64, i64> = HashMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..20_000i64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few distinct keys, many sharing low bits (long probe runs that wrap around
            // the end), and the key 0.
            let key = match x % 5 {
                0 => 0,
                1 => (x >> 8) % 64,
                _ => ((x >> 8) % 512) << 20 | (x % 3),
            };
            match (x >> 40) % 4 {
                0 => assert_eq!(t.insert(key, step), model.insert(key, step)),
                1 => assert_eq!(t.remove(key), model.remove(&key)),
                2 => {
                    let want = model.get(&key).copied();
                    if want.is_none() {
                        model.insert(key, step);
                    }
                    assert_eq!(t.get_or_insert(key, step), want);
                }
                _ => assert_eq!(t.get(key), model.get(&key).copied()),
            }
        }
        for (k, v) in &model {
            assert_eq!(t.get(*k), Some(*v));
        }
        assert_eq!(t.len + usize::from(t.zero.is_some()), model.len());
    }
}

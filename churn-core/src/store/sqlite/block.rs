//! Event blocks: building one (columns, person Bloom filter, message-id hashes) and
//! reading, writing, replacing and deleting block rows.
//!
//! A block is three rows keyed by the same id: `event_blocks` (project, `seq` and
//! timestamp bounds, count, Bloom filter of the user and anonymous ids: small, read by
//! every scan to pick blocks), `event_block_data` (the encoded columns, see
//! [`codec`](super::codec)) and `event_block_ids` (the 64-bit hash of each message id, in
//! block order, read once to fill the writer's dedup map). The id is the block's first
//! `seq` when it was written, so id order is `seq` order; a rewritten block keeps its id.

use rusqlite::{params, Connection, OptionalExtension};

use super::codec::{hash64, Encoder, RawEvent};
use crate::error::{Error, Result};

/// Seed of the person Bloom filter hash.
const BLOOM_SEED: u64 = 0x626c_6f6f_6d31;
/// Bits per distinct person id in a block's filter (~1% false positives with 4 probes).
const BLOOM_BITS_PER_ID: usize = 10;
const BLOOM_PROBES: u64 = 4;

/// Hash of a message id within a project: the dedup key.
pub(super) fn message_hash(pid: i64, message_id: &str) -> u64 {
    hash64(pid as u64, message_id.as_bytes())
}

fn person_hash(id: &str) -> u64 {
    hash64(BLOOM_SEED, id.as_bytes())
}

/// A Bloom filter over the person ids (user and anonymous ids) of one block.
pub(super) struct Bloom<'a> {
    bits: &'a [u8],
}

impl<'a> Bloom<'a> {
    pub fn new(bits: &'a [u8]) -> Self {
        Bloom { bits }
    }

    fn probes(h: u64, m: u64) -> impl Iterator<Item = usize> {
        let (h1, h2) = (h & 0xffff_ffff, (h >> 32) | 1);
        (0..BLOOM_PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
    }

    /// Whether `id` may be in the block (never false for an id that is).
    pub fn may_contain(&self, id: &str) -> bool {
        let m = self.bits.len() as u64 * 8;
        m == 0 || Self::probes(person_hash(id), m).all(|b| self.bits[b / 8] & (1 << (b % 8)) != 0)
    }

    /// Whether any of `ids` may be in the block.
    pub fn may_contain_any(&self, ids: &[String]) -> bool {
        ids.iter().any(|id| self.may_contain(id))
    }
}

fn bloom_of(mut hashes: Vec<u64>) -> Vec<u8> {
    hashes.sort_unstable();
    hashes.dedup();
    let m = (hashes.len() * BLOOM_BITS_PER_ID)
        .next_power_of_two()
        .clamp(64, 1 << 16);
    let mut bits = vec![0u8; m / 8];
    for h in hashes {
        for b in Bloom::probes(h, m as u64) {
            bits[b / 8] |= 1 << (b % 8);
        }
    }
    bits
}

/// Where a block sits: what scans read before deciding to decode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bounds {
    pub min_seq: u64,
    pub max_seq: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub count: usize,
}

/// A block being built, in `seq` order.
#[derive(Default)]
pub(super) struct Builder {
    enc: Encoder,
    persons: Vec<u64>,
    hashes: Vec<u8>,
    bounds: Option<Bounds>,
    /// The stored block this one will replace (a small tail block being extended).
    target: Option<i64>,
    /// Events pushed since the target was loaded.
    fresh: usize,
}

impl Builder {
    pub fn len(&self) -> usize {
        self.enc.len()
    }

    /// Add an event whose message-id hash is `hash`.
    pub fn push(&mut self, e: &RawEvent<'_>, hash: u64) {
        self.enc.push(e);
        self.hashes.extend_from_slice(&hash.to_le_bytes());
        for id in [e.user_id, e.anonymous_id].into_iter().flatten() {
            self.persons.push(person_hash(id));
        }
        let b = self.bounds.get_or_insert(Bounds {
            min_seq: e.seq,
            max_seq: e.seq,
            min_ts: e.timestamp,
            max_ts: e.timestamp,
            count: 0,
        });
        b.min_seq = b.min_seq.min(e.seq);
        b.max_seq = b.max_seq.max(e.seq);
        b.min_ts = b.min_ts.min(e.timestamp);
        b.max_ts = b.max_ts.max(e.timestamp);
        b.count += 1;
        self.fresh += 1;
    }

    /// What was pushed so far is stored block `id`: later pushes extend it, and
    /// [`Builder::insert`] replaces it (or does nothing when nothing was added).
    pub fn extends(&mut self, id: i64) {
        self.target = Some(id);
        self.fresh = 0;
    }

    /// The id this block has or will have.
    pub fn id(&self) -> Option<i64> {
        self.target
            .or_else(|| self.bounds.map(|b| b.min_seq as i64))
    }

    /// The message-id hashes pushed so far.
    pub fn hashes(&self) -> impl Iterator<Item = u64> + '_ {
        each_hash(&self.hashes)
    }

    /// Whether a pending event with this hash has exactly this message id.
    pub fn holds(&mut self, hash: u64, message_id: &str) -> Result<bool> {
        let positions: Vec<usize> = hash_positions(&self.hashes, hash).collect();
        if positions.is_empty() {
            return Ok(false);
        }
        let ids = self.enc.message_ids()?;
        Ok(positions
            .into_iter()
            .any(|i| ids.get(i).is_some_and(|s| *s == message_id)))
    }

    /// Insert as a new block (id = its first `seq`), or replace the block it extends;
    /// the builder is left empty.
    pub fn insert(&mut self, c: &Connection, pid: i64) -> Result<()> {
        let Some(b) = self.bounds else {
            return Ok(());
        };
        if let Some(id) = self.target {
            if self.fresh == 0 {
                self.take();
                return Ok(());
            }
            return self.replace(c, id);
        }
        let id = seq_i64(b.min_seq)?;
        let (data, bloom, hashes) = self.take();
        c.prepare_cached(
            "INSERT INTO event_blocks (id, project, min_seq, max_seq, min_ts, max_ts, count, \
             persons) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            id,
            pid,
            id,
            seq_i64(b.max_seq)?,
            b.min_ts,
            b.max_ts,
            b.count as i64,
            bloom
        ])?;
        c.prepare_cached("INSERT INTO event_block_data (block, data) VALUES (?1, ?2)")?
            .execute(params![id, data])?;
        c.prepare_cached("INSERT INTO event_block_ids (block, hashes) VALUES (?1, ?2)")?
            .execute(params![id, hashes])?;
        Ok(())
    }

    /// Replace block `id` with what was pushed (delete it when nothing was).
    pub fn replace(&mut self, c: &Connection, id: i64) -> Result<()> {
        let Some(b) = self.bounds else {
            return delete(c, id);
        };
        let (data, bloom, hashes) = self.take();
        c.prepare_cached(
            "UPDATE event_blocks SET min_seq = ?2, max_seq = ?3, min_ts = ?4, max_ts = ?5, \
             count = ?6, persons = ?7 WHERE id = ?1",
        )?
        .execute(params![
            id,
            seq_i64(b.min_seq)?,
            seq_i64(b.max_seq)?,
            b.min_ts,
            b.max_ts,
            b.count as i64,
            bloom
        ])?;
        c.prepare_cached("UPDATE event_block_data SET data = ?2 WHERE block = ?1")?
            .execute(params![id, data])?;
        c.prepare_cached("UPDATE event_block_ids SET hashes = ?2 WHERE block = ?1")?
            .execute(params![id, hashes])?;
        Ok(())
    }

    fn take(&mut self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let data = self.enc.finish();
        let bloom = bloom_of(std::mem::take(&mut self.persons));
        let hashes = std::mem::take(&mut self.hashes);
        self.bounds = None;
        self.target = None;
        self.fresh = 0;
        (data, bloom, hashes)
    }
}

fn seq_i64(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| Error::storage(format!("seq {seq} out of range")))
}

/// Delete block `id` (all three rows).
pub(super) fn delete(c: &Connection, id: i64) -> Result<()> {
    for sql in [
        "DELETE FROM event_blocks WHERE id = ?1",
        "DELETE FROM event_block_data WHERE block = ?1",
        "DELETE FROM event_block_ids WHERE block = ?1",
    ] {
        c.prepare_cached(sql)?.execute([id])?;
    }
    Ok(())
}

/// The encoded data of block `id`, when it exists.
pub(super) fn data(c: &Connection, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(
        c.prepare_cached("SELECT data FROM event_block_data WHERE block = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?,
    )
}

/// The message-id hashes of block `id`, in block order (empty when it does not exist).
pub(super) fn hashes(c: &Connection, id: i64) -> Result<Vec<u8>> {
    Ok(
        c.prepare_cached("SELECT hashes FROM event_block_ids WHERE block = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .unwrap_or_default(),
    )
}

/// Positions of `hash` in a hash column.
pub(super) fn hash_positions(hashes: &[u8], hash: u64) -> impl Iterator<Item = usize> + '_ {
    let want = hash.to_le_bytes();
    hashes
        .chunks_exact(8)
        .enumerate()
        .filter(move |(_, h)| *h == want)
        .map(|(i, _)| i)
}

/// Every hash of a hash column.
pub(super) fn each_hash(hashes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    hashes.chunks_exact(8).map(|h| {
        let mut w = [0u8; 8];
        w.copy_from_slice(h);
        u64::from_le_bytes(w)
    })
}

/// Ids of the project's blocks that may hold events of `ids` (Bloom filter), in order.
pub(super) fn blocks_of_persons(c: &Connection, pid: i64, ids: &[String]) -> Result<Vec<i64>> {
    let mut stmt =
        c.prepare_cached("SELECT id, persons FROM event_blocks WHERE project = ?1 ORDER BY id")?;
    let mut rows = stmt.query([pid])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let bits = r.get_ref(1)?.as_blob()?;
        if Bloom::new(bits).may_contain_any(ids) {
            out.push(r.get(0)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bloom_has_no_false_negatives_and_few_false_positives() {
        let ids: Vec<String> = (0..500).map(|i| format!("user-{i}")).collect();
        let bits = bloom_of(ids.iter().map(|s| person_hash(s)).collect());
        let b = Bloom::new(&bits);
        assert!(ids.iter().all(|i| b.may_contain(i)));
        let fp = (0..10_000)
            .filter(|i| b.may_contain(&format!("other-{i}")))
            .count();
        assert!(fp < 400, "{fp} false positives in 10,000");
        assert!(Bloom::new(&[]).may_contain("anyone"));
    }
}

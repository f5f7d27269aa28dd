//! Deterministic message ids for imported rows that carry none.
//!
//! The id is the message's timestamp (48 bits of epoch milliseconds, so ids of a file in
//! time order arrive in key order and the store's dedup index grows at its end instead of
//! dirtying a random page per row) followed by 80 bits of a 128-bit FNV-1a hash of the
//! message's content (its JSON encoding with the message id and receive time blanked) and
//! the number of identical messages seen before it in the same input. Importing the same file twice therefore gives the
//! same ids (stored once), while two identical rows of one file get different ids (both
//! kept). FNV-1a is fixed by its specification, so ids stay the same across Rust and
//! churn-core versions.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;

use crate::event::Message;

/// Prefix of generated ids; `imp-` plus 12 hex digits of time and 20 of hash, 36
/// characters like a UUID.
pub(crate) const PREFIX: &str = "imp-";

/// A placeholder with the length of a generated id, so that size validation done before
/// the id is assigned sees the final size.
pub(crate) const PLACEHOLDER: &str = "imp-00000000000000000000000000000000";

const FNV128_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV128_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// FNV-1a, 128 bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv128(u128);

impl Fnv128 {
    pub(crate) fn new() -> Self {
        Fnv128(FNV128_OFFSET)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= u128::from(b);
            h = h.wrapping_mul(FNV128_PRIME);
        }
        self.0 = h;
    }

    pub(crate) fn finish(self) -> u128 {
        self.0
    }
}

impl io::Write for Fnv128 {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The keys of the occurrence table are already hashes: pass them through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Hash of a message's content, without its message id and receive time.
pub(crate) fn content_hash(msg: &mut Message) -> u128 {
    let (id, received) = match msg {
        Message::Track(e) => (&mut e.message_id, &mut e.received_at),
        Message::Identify(i) => (&mut i.message_id, &mut i.received_at),
        Message::Alias(a) => (&mut a.message_id, &mut a.received_at),
    };
    let saved_id = std::mem::take(id);
    let saved_received = std::mem::take(received);
    let mut h = Fnv128::new();
    // Encoding plain data into a hasher cannot fail; an error would only change the hash.
    let _ = serde_json::to_writer(&mut h, &*msg);
    let (id, received) = match msg {
        Message::Track(e) => (&mut e.message_id, &mut e.received_at),
        Message::Identify(i) => (&mut i.message_id, &mut i.received_at),
        Message::Alias(a) => (&mut a.message_id, &mut a.received_at),
    };
    *id = saved_id;
    *received = saved_received;
    h.finish()
}

/// Assigns ids, counting occurrences of identical content within one input.
///
/// The occurrence table is keyed by 64 bits of the content hash to keep it small
/// (about 20 bytes per distinct row). Two different rows colliding on those bits only
/// shift the occurrence number of the later one, which still gives it a distinct and
/// reproducible id, because the full 128-bit hash differs.
#[derive(Default)]
pub(crate) struct IdAssigner {
    seen: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
}

impl IdAssigner {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The id for this content at `millis` (consumes one occurrence).
    pub(crate) fn next_id(&mut self, content: u128, millis: i64) -> String {
        let n = self.seen.entry(content as u64).or_insert(0);
        let occurrence = *n;
        *n = n.saturating_add(1);
        let mut h = Fnv128::new();
        h.update(&content.to_le_bytes());
        h.update(&occurrence.to_le_bytes());
        let time = (millis.max(0) as u64) & 0xffff_ffff_ffff;
        format!("{PREFIX}{time:012x}{:020x}", h.finish() >> 48)
    }

    /// Give `msg` its deterministic id.
    pub(crate) fn assign(&mut self, msg: &mut Message) {
        let millis = match msg {
            Message::Track(e) => e.timestamp.millis(),
            Message::Identify(i) => i.timestamp.millis(),
            Message::Alias(a) => a.timestamp.millis(),
        };
        let id = self.next_id(content_hash(msg), millis);
        match msg {
            Message::Track(e) => e.message_id = id,
            Message::Identify(i) => i.message_id = id,
            Message::Alias(a) => a.message_id = id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::time::Timestamp;

    #[test]
    fn fnv128_matches_the_published_vectors() {
        // Test vectors from the FNV reference (draft-eastlake-fnv): "" and "a".
        assert_eq!(Fnv128::new().finish(), 0x6c62272e07bb014262b821756295c58d);
        let mut h = Fnv128::new();
        h.update(b"a");
        assert_eq!(h.finish(), 0xd228cb696f1a8caf78912b704e4a8964);
    }

    fn ev(ts: i64, recv: i64, id: &str) -> Message {
        let mut e = Event::track("buy")
            .user_id("u1")
            .message_id(id)
            .number("amount", 3.5)
            .timestamp(Timestamp::from_millis(ts))
            .build()
            .unwrap();
        e.received_at = Timestamp::from_millis(recv);
        Message::Track(e)
    }

    #[test]
    fn hash_ignores_id_and_receive_time_but_not_content() {
        let t = 1_767_312_000_000;
        let mut a = ev(t, 1, "x");
        let mut b = ev(t, 2, "y");
        let mut c = ev(t + 1, 1, "x");
        assert_eq!(content_hash(&mut a), content_hash(&mut b));
        assert_ne!(content_hash(&mut a), content_hash(&mut c));
        // The message is restored.
        assert_eq!(a.message_id(), "x");
        let Message::Track(e) = &a else { panic!() };
        assert_eq!(e.received_at, Timestamp::from_millis(1));
    }

    #[test]
    fn occurrences_make_identical_rows_distinct_and_reproducible() {
        let t = 1_767_312_000_000;
        let run = || {
            let mut ids = IdAssigner::new();
            let mut out = Vec::new();
            for m in [ev(t, 1, "p"), ev(t, 9, "p"), ev(t + 5, 1, "p")] {
                let mut m = m;
                ids.assign(&mut m);
                out.push(m.message_id().to_string());
            }
            out
        };
        let first = run();
        assert_eq!(first, run());
        assert_ne!(first[0], first[1]);
        assert_ne!(first[0], first[2]);
        assert!(first.iter().all(|id| id.len() == PLACEHOLDER.len()));
        assert!(first[0].starts_with(PREFIX));
    }

    #[test]
    fn ids_sort_by_time_then_stay_distinct() {
        let mut a = IdAssigner::new();
        let ids: Vec<String> = (0..50)
            .map(|t| a.next_id(7, 1_700_000_000_000 + t * 1000))
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "later rows get larger ids"
        );
        assert!(ids
            .iter()
            .all(|i| i.len() == PLACEHOLDER.len() && i.starts_with(PREFIX)));
        let same_time: Vec<String> = (0..3).map(|_| a.next_id(9, 5)).collect();
        assert_ne!(
            same_time[0], same_time[1],
            "identical rows keep distinct ids"
        );
        assert_eq!(
            IdAssigner::new().next_id(9, 5),
            same_time[0],
            "ids are reproducible"
        );
    }
}

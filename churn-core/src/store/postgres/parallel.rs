//! A large batch written over two connections at once.
//!
//! The server's work for a batch is mostly index maintenance, and one backend does it
//! on one core. A batch of at least [`SPLIT_MIN`] new events is cut into parts of about
//! [`PART`] events, each written by [`write::apply_part`] in its own transaction, the
//! parts alternating between two connections: while one connection holds the project's
//! counter lock and copies its part's events, the other claims the message ids of the
//! next part (the claims take no counter lock). The parts take the lock in batch order
//! (each waits until the previous one holds it), so `seq` still follows both commit
//! order and the batch's order, and a reader's cursor on `seq` never skips an event.
//!
//! A failed part makes the whole call fail; parts committed before it stay, and the
//! caller's retry of the batch finds their message ids claimed and skips them (so only
//! the counts of that retry see them as duplicates). When the pool has no second
//! connection to spare, the batch goes through one transaction as usual.

use std::collections::HashSet;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio_postgres::Client;

use super::write::{self, Part, PartError};
use super::{partition, PostgresStore};
use crate::error::{Error, Result};
use crate::event::{Event, Message};
use crate::store::types::AppendOutcome;

/// New events from which a batch is split over two connections.
pub(super) const SPLIT_MIN: usize = 4_000;
/// About this many events per part.
pub(super) const PART: usize = 2_500;

/// The parts of `n` events: `(start, end)` ranges of about [`PART`] events, at least two.
pub(super) fn part_ranges(n: usize) -> Vec<(usize, usize)> {
    let parts = n.div_ceil(PART).max(2);
    let size = n.div_ceil(parts).max(1);
    (0..n)
        .step_by(size)
        .map(|start| (start, (start + size).min(n)))
        .collect()
}

/// Apply `messages` over two connections when the batch is large enough and a second
/// connection is free; `None` leaves the batch to the one-transaction path.
pub(super) fn apply(
    store: &PostgresStore,
    project: &str,
    messages: &[Message],
) -> Option<Result<AppendOutcome>> {
    let (events, total) = write::distinct_events(messages);
    if events.len() < SPLIT_MIN {
        return None;
    }
    let mut retried = false;
    loop {
        let mut a = match store.take() {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        let mut b = store.pool.try_get(|| store.open_client())?;
        let out = store.block(run(
            &mut a,
            &mut b,
            &store.months,
            project,
            messages,
            &events,
        ));
        if matches!(out, Err(Error::Unavailable { .. })) && (a.reused || b.reused) && !retried {
            // A pooled connection was broken (the database restarted): every part is
            // idempotent, so run the batch once more on new connections.
            retried = true;
            a.discard(true);
            b.discard(true);
            drop((a, b));
            store.pool.clear_idle();
            continue;
        }
        return Some(out.map(|mut o| {
            o.duplicates = total - o.inserted;
            o
        }));
    }
}

/// Write `events` (the batch's distinct new events) in parts alternating between `a`
/// and `b`; the last part also applies the batch's identities.
async fn run(
    a: &mut Client,
    b: &mut Client,
    months: &Mutex<HashSet<i32>>,
    project: &str,
    messages: &[Message],
    events: &[&Event],
) -> Result<AppendOutcome> {
    partition::ensure(a, months, events).await?;
    let ranges = part_ranges(events.len());
    let mut lanes: [Vec<Part<'_>>; 2] = [Vec::new(), Vec::new()];
    let mut after = None;
    for (i, &(start, end)) in ranges.iter().enumerate() {
        let last = i + 1 == ranges.len();
        let (locked, next) = oneshot::channel();
        lanes[i % 2].push(Part {
            events: &events[start..end],
            messages: last.then_some(messages),
            after: after.take(),
            locked: (!last).then_some(locked),
        });
        after = Some(next);
    }
    let [la, lb] = lanes;
    let (ra, rb) = futures_util::future::join(lane(a, project, la), lane(b, project, lb)).await;
    match (ra, rb) {
        (Ok(mut x), Ok(y)) => {
            x.add(y);
            Ok(x)
        }
        (Err(PartError::Failed(e)), _) | (_, Err(PartError::Failed(e))) => Err(e),
        _ => Err(Error::storage("postgres: every part of a batch abandoned")),
    }
}

/// Write `parts` one after the other on `c`; stops at the first failure.
async fn lane(
    c: &mut Client,
    project: &str,
    parts: Vec<Part<'_>>,
) -> std::result::Result<AppendOutcome, PartError> {
    let mut out = AppendOutcome::default();
    for p in parts {
        out.add(write::apply_part(c, project, p).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::super::tests::{fresh_db, test_url};
    use super::*;
    use crate::event::Identify;
    use crate::store::conformance::ev;
    use crate::store::{ScanRequest, Store, StoreExt, DEFAULT_PROJECT};

    /// Event `k` (a canonical UUID message id, so it is claimed in `churn_message_uuids`;
    /// every 7th a text id, claimed in `churn_message_ids`), on day `k % 60`.
    fn event(k: usize) -> Event {
        let id = if k % 7 == 0 {
            format!("m{k}")
        } else {
            format!("{k:08x}-0000-4000-8000-{:012x}", k * 31)
        };
        ev("e", &format!("u{}", k % 50), (k % 60) as i64, &id)
    }

    fn track(ks: impl IntoIterator<Item = usize>) -> Vec<Message> {
        ks.into_iter().map(|k| Message::Track(event(k))).collect()
    }

    /// `(seq, message id)` of every stored event, in `seq` order.
    fn stored(s: &PostgresStore) -> Vec<(u64, String)> {
        s.scan_all(DEFAULT_PROJECT, &ScanRequest::new())
            .unwrap()
            .into_iter()
            .map(|e| (e.seq, e.event.message_id))
            .collect()
    }

    #[test]
    fn parts_cover_the_batch_in_order() {
        for n in [SPLIT_MIN, 4_001, 5_000, 9_999, 10_000, 25_001] {
            let r = part_ranges(n);
            assert!(r.len() >= 2, "{n}");
            assert_eq!(r[0].0, 0);
            assert_eq!(r.last().unwrap().1, n);
            for w in r.windows(2) {
                assert_eq!(w[0].1, w[1].0);
            }
            let biggest = r.iter().map(|(s, e)| e - s).max().unwrap();
            assert!(biggest <= PART.max(n.div_ceil(2)), "{n}: {r:?}");
        }
        assert_eq!(part_ranges(10_000).len(), 4);
    }

    /// A split batch stores its new events once each, numbered in batch order after
    /// the stored ones, counts the stored and repeated ids as duplicates and applies
    /// its identities.
    #[test]
    fn split_batch_keeps_order_and_dedups() {
        let Some(url) = test_url() else { return };
        let s = PostgresStore::connect(&fresh_db(&url, "split")).unwrap();
        s.apply(DEFAULT_PROJECT, &track(0..100)).unwrap();
        let mut batch = track(50..10_050);
        batch.insert(
            5_000,
            Message::Identify(Identify::user("u1").anonymous_id("a1").build().unwrap()),
        );
        batch.push(Message::Track(event(7_000)));
        assert!(parallel_ready(&s, &batch));
        let out = s.apply(DEFAULT_PROJECT, &batch).unwrap();
        assert_eq!(
            (out.inserted, out.duplicates, out.identities),
            (9_950, 51, 1)
        );
        let want: Vec<(u64, String)> = (0..10_050)
            .map(|k| (k as u64 + 1, event(k).message_id))
            .collect();
        assert_eq!(stored(&s), want);
        assert!(s.user(DEFAULT_PROJECT, "u1").unwrap().is_some());
        assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().events, 10_050);
        // Again: all duplicates, nothing moves.
        let out = s.apply(DEFAULT_PROJECT, &batch).unwrap();
        assert_eq!((out.inserted, out.duplicates), (0, 10_001));
        assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().max_seq, 10_050);
    }

    /// The batch is big enough to split and a second connection is free.
    fn parallel_ready(s: &PostgresStore, batch: &[Message]) -> bool {
        write::distinct_events(batch).0.len() >= SPLIT_MIN && s.pool.open() < pool_max()
    }

    fn pool_max() -> usize {
        super::super::pool::MAX_SIZE
    }

    /// A part that fails (a NUL byte is no valid text) fails the whole call; the parts
    /// committed before it stay, and the retry of the batch stores each event once with
    /// `seq` dense.
    #[test]
    fn a_failed_part_fails_the_batch_and_a_retry_completes_it() {
        let Some(url) = test_url() else { return };
        let s = PostgresStore::connect(&fresh_db(&url, "splitfail")).unwrap();
        let mut batch = track(0..8_000);
        if let Message::Track(e) = &mut batch[7_990] {
            e.event = "bad\0name".into();
        }
        let err = s.apply(DEFAULT_PROJECT, &batch).unwrap_err();
        assert!(err.to_string().contains("postgres"), "{err}");
        let kept = s.stats(DEFAULT_PROJECT).unwrap().events;
        assert!(kept < 8_000, "{kept}");
        assert_eq!(stored(&s).len() as u64, kept);
        batch[7_990] = Message::Track(event(7_990));
        let out = s.apply(DEFAULT_PROJECT, &batch).unwrap();
        assert_eq!(out.inserted + out.duplicates, 8_000);
        assert_eq!(out.duplicates as u64, kept);
        let seqs: Vec<u64> = stored(&s).iter().map(|r| r.0).collect();
        assert_eq!(seqs, (1..=8_000).collect::<Vec<u64>>());
    }

    /// Two stores (two servers) write overlapping split batches at once while a reader
    /// follows with a cursor on `seq`: the reader sees every event exactly once, in a
    /// dense `seq` order (a part committing a smaller `seq` after a larger one was
    /// visible would show as a gap).
    #[test]
    fn concurrent_split_writers_never_skip_a_cursor() {
        let Some(url) = test_url() else { return };
        let db = fresh_db(&url, "splitconc");
        let (a, b, r) = (
            PostgresStore::connect(&db).unwrap(),
            PostgresStore::connect(&db).unwrap(),
            PostgresStore::connect(&db).unwrap(),
        );
        let done = AtomicBool::new(false);
        let seen = std::thread::scope(|sc| {
            let writers: Vec<_> = [(&a, 0usize), (&b, 10_000)]
                .into_iter()
                .map(|(store, from)| {
                    sc.spawn(move || {
                        for round in 0..4 {
                            let lo = from + round * 5_000;
                            store
                                .apply(DEFAULT_PROJECT, &track(lo..lo + 5_000))
                                .unwrap();
                        }
                    })
                })
                .collect();
            let reader = sc.spawn(|| {
                let mut seen = Vec::new();
                let mut cursor = 0;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let req = ScanRequest::new().after_seq(cursor);
                    for e in r.scan_all(DEFAULT_PROJECT, &req).unwrap() {
                        assert_eq!(e.seq, cursor + 1, "the cursor skipped an event");
                        cursor = e.seq;
                        seen.push(e.event.message_id);
                    }
                    if finished {
                        break seen;
                    }
                }
            });
            for w in writers {
                w.join().unwrap();
            }
            done.store(true, Ordering::SeqCst);
            reader.join().unwrap()
        });
        let mut ids = seen.clone();
        ids.sort();
        ids.dedup();
        assert_eq!((seen.len(), ids.len()), (30_000, 30_000));
        assert_eq!(a.stats(DEFAULT_PROJECT).unwrap().events, 30_000);
    }
}

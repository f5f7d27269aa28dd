//! Unit tests of the SQLite backend: the shared conformance suite on a file and in
//! memory, plus checks of the query plans the scans rely on.

use std::ops::ControlFlow;

use super::*;
use crate::store::conformance::{ev, run_all};
use crate::store::{StoreExt, DEFAULT_PROJECT as P};

#[test]
fn file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    run_all(|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        SqliteStore::open(dir.path().join(format!("s{i}.db"))).unwrap()
    });
}

#[test]
fn memory_store_conforms() {
    run_all(|| SqliteStore::in_memory().unwrap());
}

#[test]
fn in_memory_stores_are_separate() {
    let a = SqliteStore::in_memory().unwrap();
    let b = SqliteStore::in_memory().unwrap();
    a.append(P, &[ev("e", "u", 0, "m1")]).unwrap();
    assert_eq!(a.stats(P).unwrap().events, 1);
    assert_eq!(b.stats(P).unwrap().events, 0);
}

/// The query plan SQLite picks for `sql`, one line per step.
fn plan_of(s: &SqliteStore, sql: &str) -> String {
    s.read(|c| {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(3))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(lines.join("\n"))
    })
    .unwrap()
}

fn count(s: &SqliteStore, sql: &str) -> i64 {
    s.read(|c| Ok(c.query_row(sql, [], |r| r.get(0))?)).unwrap()
}

#[test]
fn block_scans_walk_blocks_in_id_order_without_sorting() {
    let s = SqliteStore::in_memory().unwrap();
    let p = plan_of(&s, &read::BLOCKS.replace("?1", "1").replace('?', "1"));
    assert!(p.contains("event_blocks_project"), "{p}");
    assert!(!p.contains("TEMP B-TREE"), "{p}");
}

#[test]
fn big_batches_are_cut_into_blocks_of_4096() {
    let s = SqliteStore::in_memory().unwrap();
    let evs: Vec<_> = (0..10_000)
        .map(|i| ev("e", &format!("u{}", i % 97), i % 30, &format!("m{i}")))
        .collect();
    s.append(P, &evs).unwrap();
    assert_eq!(count(&s, "SELECT count(*) FROM event_blocks"), 3);
    assert_eq!(count(&s, "SELECT max(count) FROM event_blocks"), 4096);
    assert_eq!(
        count(&s, "SELECT count(*) FROM event_block_data"),
        count(&s, "SELECT count(*) FROM event_block_ids")
    );
    let seqs: Vec<u64> = s
        .scan_all(P, &ScanRequest::new())
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=10_000).collect::<Vec<u64>>());
    let got = s.scan_all(P, &ScanRequest::new().users(["u5"])).unwrap();
    assert_eq!(
        got.len(),
        evs.iter()
            .filter(|e| e.user_id.as_deref() == Some("u5"))
            .count()
    );
}

#[test]
fn many_small_batches_keep_seq_order_and_dedup() {
    let s = SqliteStore::in_memory().unwrap();
    for b in 0..40 {
        let evs: Vec<_> = (0..7)
            .map(|i| ev("e", "u", i, &format!("m{}", b * 5 + i)))
            .collect();
        s.append(P, &evs).unwrap();
    }
    // 40 batches of 7 with 2 overlapping ids each: 5 new per batch (+2 in the last).
    assert_eq!(s.stats(P).unwrap().events, 40 * 5 + 2);
    let seqs: Vec<u64> = s
        .scan_all(P, &ScanRequest::new())
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    // They were merged into one block as they came.
    assert_eq!(count(&s, "SELECT count(*) FROM event_blocks"), 1);
    for i in 0..300 {
        s.append(P, &[ev("e", "v", 1, &format!("single{i}"))])
            .unwrap();
    }
    // A tail block takes new events until it holds 256.
    assert_eq!(count(&s, "SELECT count(*) FROM event_blocks"), 2);
    assert_eq!(s.stats(P).unwrap().events, 502);
    let out = s
        .append(P, &[ev("e", "v", 1, "single299"), ev("e", "v", 1, "m3")])
        .unwrap();
    assert_eq!(out.duplicates, 2);
}

#[test]
fn another_writer_on_the_same_file_is_seen_by_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.db");
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    a.append(P, &[ev("e", "u", 0, "m0")]).unwrap();
    let out = b.append(P, &[ev("e", "u", 0, "m1")]).unwrap();
    assert_eq!(out.inserted, 1);
    // `a` loaded its map before `b` wrote m1: it must still see m1.
    let out = a
        .append(P, &[ev("e", "u", 0, "m1"), ev("e", "u", 0, "m0")])
        .unwrap();
    assert_eq!((out.inserted, out.duplicates), (0, 2));
    assert_eq!(b.stats(P).unwrap().events, 2);
}

#[test]
fn a_wrong_dedup_entry_falls_back_to_the_disk() {
    let s = SqliteStore::in_memory().unwrap();
    let big: Vec<_> = (0..300)
        .map(|i| ev("e", "u", 0, &format!("m{i}")))
        .collect();
    s.append(P, &big).unwrap();
    s.append(P, &big[..1]).unwrap();
    let hash = block::message_hash(1, "m0");
    s.append(P, &[ev("e", "u", 0, "m300")]).unwrap();
    // As after a hash collision: the map points m0 at a block that does not hold it.
    let other: i64 = s
        .read(|c| Ok(c.query_row("SELECT max(id) FROM event_blocks", [], |r| r.get(0))?))
        .unwrap();
    assert!(other > 1, "m300 went to a second block");
    s.writer.lock().dedup.point(hash, other);
    let out = s
        .append(P, &[big[0].clone(), ev("e", "u", 0, "m301")])
        .unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 1));
    s.writer.lock().dedup.point(hash, 999_999);
    let out = s.append(P, &big[..1]).unwrap();
    assert_eq!((out.inserted, out.duplicates), (0, 1));
}

#[test]
fn a_failed_batch_leaves_the_dedup_map_clean() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fail.db");
    let s = SqliteStore::open(&path).unwrap();
    s.append(P, &[ev("e", "u", 0, "m0")]).unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON event_blocks \
         BEGIN SELECT RAISE(ABORT, 'poisoned'); END; \
         CREATE TRIGGER poison2 BEFORE UPDATE ON event_blocks \
         BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
    )
    .unwrap();
    assert!(s.append(P, &[ev("e", "u", 0, "m1")]).is_err());
    c.execute_batch("DROP TRIGGER poison; DROP TRIGGER poison2")
        .unwrap();
    // m1 was rolled back: it is new again.
    let out = s.append(P, &[ev("e", "u", 0, "m1")]).unwrap();
    assert_eq!(out.inserted, 1);
}

/// Every byte of the store's files.
fn file_bytes(path: &std::path::Path) -> Vec<u8> {
    let mut all = std::fs::read(path).unwrap();
    for ext in ["-wal", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(ext);
        if let Ok(b) = std::fs::read(std::path::PathBuf::from(p)) {
            all.extend(b);
        }
    }
    all
}

fn holds(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Deleting a person and purging old events leave none of their bytes in the database
/// or its log (checked by greping the files; fails with `secure_delete(false)`).
#[test]
fn erased_data_does_not_stay_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gdpr.db");
    let s = SqliteStore::open(&path).unwrap();
    // The person's events sit in the middle of a block among other people's.
    let mut evs: Vec<_> = (0..300)
        .map(|i| ev("e", &format!("keep{}", i % 5), i % 20, &format!("m{i}")))
        .collect();
    for i in [10, 150, 151, 290] {
        let mut e = ev("e", "Zelda-Secret-Person", 3, &format!("zmsg-{i}-tracked"));
        e.properties
            .insert("note".into(), "SecretPropertyValue".into());
        evs[i] = e;
    }
    let mut old = ev("e", "keep1", -300, "OldPurgedMessage");
    old.properties
        .insert("note".into(), "OldPurgedPropertyValue".into());
    evs.push(old);
    s.append(P, &evs).unwrap();
    s.sync().unwrap();
    assert!(holds(&file_bytes(&path), "SecretPropertyValue"));
    assert_eq!(s.delete_user(P, "Zelda-Secret-Person").unwrap().events, 4);
    assert_eq!(
        s.purge_before(P, evs[0].timestamp.add_millis(-1)).unwrap(),
        1
    );
    assert_eq!(s.stats(P).unwrap().events, 296);
    drop(s);
    let bytes = file_bytes(&path);
    for secret in [
        "Zelda-Secret-Person",
        "SecretPropertyValue",
        "zmsg-150-tracked",
        "OldPurgedMessage",
        "OldPurgedPropertyValue",
    ] {
        assert!(!holds(&bytes, secret), "{secret} is still in the files");
    }
    assert!(holds(&bytes, "keep3"), "the other events are still there");
}

#[test]
fn range_scans_match_a_filtered_full_scan() {
    let s = SqliteStore::in_memory().unwrap();
    // Timestamps deliberately out of seq order.
    let evs: Vec<_> = (0..50)
        .map(|i| ev("e", &format!("u{}", i % 4), (i * 7) % 23, &format!("m{i}")))
        .collect();
    s.append(P, &evs).unwrap();
    let all = s.scan_all(P, &ScanRequest::new()).unwrap();
    // evs[0] is on day 0.
    let t = |d: i64| evs[0].timestamp.add_millis(d * crate::time::DAY_MS);
    for (a, b) in [(0, 5), (3, 4), (10, 30), (22, 23), (30, 40)] {
        let r = crate::time::TimeRange::new(t(a), t(b));
        let want: Vec<u64> = all
            .iter()
            .filter(|e| r.contains(e.event.timestamp))
            .map(|e| e.seq)
            .collect();
        let got: Vec<u64> = s
            .scan_all(P, &ScanRequest::new().range(r))
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(got, want, "range {a}..{b}");
        let mut rows = Vec::new();
        s.scan_rows(P, &ScanRequest::new().range(r), &mut |row| {
            rows.push(row.seq);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(rows, want, "scan_rows range {a}..{b}");
    }
}

#[test]
fn owned_scan_pages_and_allows_writes_from_the_visitor() {
    let s = SqliteStore::in_memory().unwrap();
    let evs: Vec<_> = (0..2500)
        .map(|i| ev("e", "u", 0, &format!("m{i}")))
        .collect();
    s.append(P, &evs).unwrap();
    let mut seen = Vec::new();
    s.scan(P, &ScanRequest::new(), &mut |e| {
        if seen.is_empty() {
            // Written during the scan: must not be visited (snapshot at scan start).
            s.append(P, &[ev("late", "u", 0, "late")]).unwrap();
        }
        seen.push(e.seq);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen.len(), 2500);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(s.stats(P).unwrap().events, 2501);
    let limited = s
        .scan_all(P, &ScanRequest::new().limit(1500).after_seq(seen[10]))
        .unwrap();
    assert_eq!(limited.len(), 1500);
    assert_eq!(limited[0].seq, seen[11]);
}

#[test]
fn seq_never_goes_back_after_deleting_the_newest_events() {
    let s = SqliteStore::in_memory().unwrap();
    s.append(P, &[ev("e", "u1", 0, "m1"), ev("e", "u2", 0, "m2")])
        .unwrap();
    let top = s.stats(P).unwrap().max_seq;
    s.delete_user(P, "u2").unwrap();
    s.append(P, &[ev("e", "u3", 0, "m3")]).unwrap();
    let all = s.scan_all(P, &ScanRequest::new()).unwrap();
    assert!(all[1].seq > top, "{all:?}");
    assert_eq!(s.stats(P).unwrap().max_seq, all[1].seq);
}

#[test]
fn integrity_check_passes_on_a_sound_file_and_reports_a_damaged_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.db");
    let store = SqliteStore::open(&path).unwrap();
    let events: Vec<_> = (0..5_000)
        .map(|i| ev("e", &format!("u{i}"), i % 50, &format!("m{i}")))
        .collect();
    store.append(P, &events).unwrap();
    store.integrity_check().unwrap();
    drop(store);
    // The writer closes last and checkpoints: everything is in the main file.
    let wal = dir.path().join("damaged.db-wal");
    assert!(
        !wal.exists(),
        "the WAL was left behind after the store closed"
    );

    // Scribble over the start of a page in the middle of the file (block data): the
    // header, the schema and what `open` reads stay intact, so the file still opens.
    let mut bytes = std::fs::read(&path).unwrap();
    let page = PAGE_SIZE as usize;
    assert!(
        bytes.len() >= 3 * page,
        "expected a multi-page file, got {} bytes",
        bytes.len()
    );
    let middle = bytes.len() / page / 2 * page;
    for b in &mut bytes[middle..middle + 64] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();

    let store = SqliteStore::open(&path).unwrap();
    let err = store.integrity_check().unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err}");
    assert!(err.to_string().contains("integrity_check failed"), "{err}");
}

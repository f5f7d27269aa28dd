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

#[test]
fn person_lookups_and_purge_use_indexes() {
    let s = SqliteStore::in_memory().unwrap();
    let clause = write::person_clause(2, 2)
        .replace("?1", "1")
        .replace("?2", "'a'")
        .replace("?3", "'b'");
    let person = plan_of(
        &s,
        &format!(
            "SELECT seq FROM events WHERE +project = 1 AND seq >= 1 AND seq <= 100 \
             AND {clause} ORDER BY seq"
        ),
    );
    assert!(person.contains("events_user"), "{person}");
    assert!(person.contains("events_anonymous"), "{person}");
    assert!(person.contains("INTEGER PRIMARY KEY"), "{person}");
    assert!(!person.contains("TEMP B-TREE"), "{person}");
    let delete = plan_of(&s, &format!("DELETE FROM events WHERE {clause}"));
    assert!(delete.contains("events_user"), "{delete}");
    let purge = plan_of(&s, "SELECT seq FROM events WHERE project = 1 AND ts < 5");
    assert!(purge.contains("events_time"), "{purge}");
    let dedup = plan_of(
        &s,
        "SELECT seq FROM events WHERE project = 1 AND message_id = 'x'",
    );
    assert!(dedup.contains("events_message"), "{dedup}");
}

#[test]
fn full_scans_walk_the_table_in_seq_order_without_sorting() {
    let s = SqliteStore::in_memory().unwrap();
    let p = plan_of(
        &s,
        "SELECT seq FROM events NOT INDEXED WHERE project = 1 AND seq >= 3 AND seq <= 9 \
         AND ts >= 0 ORDER BY seq",
    );
    assert!(p.contains("INTEGER PRIMARY KEY"), "{p}");
    assert!(!p.contains("TEMP B-TREE"), "{p}");
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
    let t = |d: i64| {
        evs[0]
            .timestamp
            .add_millis((d - (0 * 7) % 23) * crate::time::DAY_MS)
    };
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
fn empty_properties_and_context_are_stored_as_null() {
    let s = SqliteStore::in_memory().unwrap();
    let mut e = ev("e", "u", 0, "m1");
    e.properties.clear();
    s.append(P, &[e.clone()]).unwrap();
    let nulls: i64 = s
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM events WHERE properties IS NULL AND context IS NULL",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(nulls, 1);
    assert_eq!(s.scan_all(P, &ScanRequest::new()).unwrap()[0].event, e);
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

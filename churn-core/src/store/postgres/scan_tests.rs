//! Sliced scans (ranges read by two connections, sorted by the caller) against a real
//! PostgreSQL server, with ranges small enough to cut a test-sized project.

use std::ops::ControlFlow;

use super::super::tests::{client, exec, fresh_db, mixed_events, test_url};
use super::*;
use crate::store::{StoreExt, DEFAULT_PROJECT};

type Got = (
    u64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Every row `scan_rows_copy` visits with slicing `cut`.
fn rows(s: &PostgresStore, req: &ScanRequest, cut: Slicing) -> Vec<Got> {
    let mut got = Vec::new();
    scan_rows_copy(s, DEFAULT_PROJECT, req, cut, &mut |r| {
        got.push((
            r.seq,
            r.timestamp.millis(),
            r.event.to_string(),
            r.user_id.map(str::to_string),
            r.anonymous_id.map(str::to_string),
            r.session_id.map(str::to_string),
        ));
        ControlFlow::Continue(())
    })
    .unwrap();
    got
}

/// The same rows from the full-event paged scan (another code path: `SELECT` by pages).
fn paged(s: &PostgresStore, req: &ScanRequest) -> Vec<Got> {
    s.scan_all(DEFAULT_PROJECT, req)
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.seq,
                e.event.timestamp.millis(),
                e.event.event,
                e.event.user_id,
                e.event.anonymous_id,
                e.event.session_id,
            )
        })
        .collect()
}

/// `n` events (ids from `first`) over 70 days (three monthly partitions), some
/// anonymous, some with both ids, half with a session.
fn events(first: usize, n: usize) -> Vec<crate::event::Event> {
    mixed_events(first..first + n, "u", |i| (i % 70) as i64)
}

const TINY: Slicing = Slicing {
    conns: 2,
    from: 10,
    width: 97,
};

#[test]
fn sliced_scan_matches_ordered_scans() {
    let Some(url) = test_url() else { return };
    let s = PostgresStore::connect(&fresh_db(&url, "slice")).unwrap();
    s.append(DEFAULT_PROJECT, &events(0, 3_000)).unwrap();
    let one = Slicing {
        conns: 1,
        from: 10,
        width: 1,
    };
    for after in [0, 1, 96, 100, 2_980, 2_999, 3_000, 5_000] {
        let req = ScanRequest::new().after_seq(after);
        let want = paged(&s, &req);
        assert_eq!(want.len(), 3_000usize.saturating_sub(after as usize));
        assert_eq!(rows(&s, &req, TINY), want, "sliced, after {after}");
        assert_eq!(rows(&s, &req, one), want, "one statement, after {after}");
    }
    // Filtered scans are never sliced, and still right with tiny ranges.
    let req = ScanRequest::new().events(["it's"]).after_seq(7);
    assert_eq!(rows(&s, &req, TINY), paged(&s, &req));
}

/// Rows whose place in the table is not their `seq` order (new rows written into
/// space a deletion freed) still come out in `seq` order.
#[test]
fn sliced_scan_sorts_rows_stored_out_of_order() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "slice_order");
    let s = PostgresStore::connect(&db).unwrap();
    s.append(DEFAULT_PROJECT, &events(0, 3_000)).unwrap();
    for u in 0..6 {
        s.delete_user(DEFAULT_PROJECT, &format!("u{u}")).unwrap();
    }
    exec(&db, "VACUUM churn_events");
    s.append(DEFAULT_PROJECT, &events(3_000, 1_000)).unwrap();
    // The table's physical order is no longer `seq` order.
    let (rt, c) = client(&db);
    let physical: Vec<i64> = rt
        .block_on(c.query("SELECT seq FROM churn_events_202601 ORDER BY ctid", &[]))
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        physical.windows(2).any(|w| w[0] > w[1]),
        "the test needs rows stored out of seq order"
    );
    let req = ScanRequest::new();
    let want = paged(&s, &req);
    assert!(want.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(rows(&s, &req, TINY), want);
}

#[test]
fn sliced_scan_stops_early_and_the_store_stays_usable() {
    let Some(url) = test_url() else { return };
    let s = PostgresStore::connect(&fresh_db(&url, "slice_stop")).unwrap();
    s.append(DEFAULT_PROJECT, &events(0, 2_000)).unwrap();
    for stop in [1, 250, 1_999] {
        let mut seen = Vec::new();
        scan_rows_copy(&s, DEFAULT_PROJECT, &ScanRequest::new(), TINY, &mut |r| {
            seen.push(r.seq);
            if seen.len() == stop {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!(seen, (1..=stop as u64).collect::<Vec<_>>());
        assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().events, 2_000);
        assert_eq!(rows(&s, &ScanRequest::new(), TINY).len(), 2_000);
    }
}

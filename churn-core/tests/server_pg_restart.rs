//! PostgreSQL restarts under `churn serve` mid-ingest (`pg_ctl stop -m fast`, a pause,
//! `pg_ctl start` on the throwaway cluster of `./dev test_rust`): while the database is
//! down the server answers 503 with `Retry-After` (ingest and reads), keeps what it
//! accepted in its bounded queue, and reconnects by itself; afterwards every
//! acknowledged event is stored exactly once. The same for an `Analytics` tracker: its
//! queue fills up and refuses more (`QueueFull`), `flush` reports the outage, and
//! everything accepted is stored once the database is back. Needs `CHURN_TEST_PG_URL` and
//! `CHURN_TEST_PG_CTL` (skipped with a note when only the URL is set: a server the test
//! did not start is not restarted). Its own test binary, whose tests take turns: a
//! restart would break tests running beside it. ~12 s.
#![cfg(all(feature = "cli", feature = "postgres", unix))]

mod server_common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use churn_core::event::Event;
use churn_core::store::{PostgresStore, ScanRequest, Store, StoreExt, DEFAULT_PROJECT};
use churn_core::tracker::Backpressure;
use churn_core::{Analytics, Error};
use serde_json::json;
use server_common::pg::{fresh_db, pg_ctl, test_url};
use server_common::process::serve;
use server_common::{basic, get, post};

/// Statuses seen, and the acknowledged message ids.
#[derive(Default)]
struct Tally {
    acked: Vec<String>,
    sent: HashSet<String>,
    statuses: HashMap<u16, usize>,
    /// 503s without a `Retry-After` header.
    no_retry_after: usize,
}

/// Send batches of 10 new events until `stop`, each batch retried (same message ids)
/// until the server answers 200.
fn sender(base: &str, key: &str, tag: usize, stop: &AtomicBool, tally: &Mutex<Tally>) {
    let auth = basic(key);
    let deadline = Instant::now() + Duration::from_secs(60);
    for round in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let ids: Vec<String> = (0..10).map(|i| format!("s{tag}-{round}-{i}")).collect();
        let batch: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"type": "track", "event": "e", "userId": format!("u{}", i % 5), "messageId": m}))
            .collect();
        let body = serde_json::to_vec(&json!({ "batch": batch })).unwrap();
        tally.lock().unwrap().sent.extend(ids.iter().cloned());
        loop {
            assert!(
                Instant::now() < deadline,
                "batch {tag}-{round} never acknowledged"
            );
            let (st, v, headers) = post(
                &format!("{base}/v1/batch"),
                &[("Authorization", auth.as_str())],
                &body,
            );
            let mut t = tally.lock().unwrap();
            *t.statuses.entry(st).or_default() += 1;
            match st {
                200 => {
                    t.acked.extend(ids.iter().cloned());
                    break;
                }
                503 => {
                    if headers.get("retry-after").is_none() {
                        t.no_retry_after += 1;
                    }
                }
                _ => panic!("unexpected {st}: {v}"),
            }
            drop(t);
            // Retry-After is 1 s; a shorter pause keeps the test short.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Held by each test while it may stop the cluster: they take turns.
static TURN: Mutex<()> = Mutex::new(());

/// The URL and `pg_ctl` script, or `None` to skip.
fn cluster() -> Option<(String, String)> {
    let url = test_url()?;
    let Some(ctl) = std::env::var("CHURN_TEST_PG_CTL")
        .ok()
        .filter(|c| !c.is_empty())
    else {
        eprintln!("CHURN_TEST_PG_CTL is not set (no throwaway cluster of ./dev): skipped");
        return None;
    };
    Some((url, ctl))
}

/// Starts the cluster again if the test fails while it is stopped, so the tests after
/// this one still find it.
struct Restart<'a>(&'a str, bool);

impl Drop for Restart<'_> {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::process::Command::new(self.0).arg("start").status();
        }
    }
}

#[test]
fn postgres_restart_mid_ingest_loses_nothing_acknowledged() {
    let Some((url, ctl)) = cluster() else { return };
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let db = fresh_db(&url, "restart");
    let server = serve(&db, &[], Duration::from_secs(30));
    let (wk, sk) = (server.write_key.clone(), server.secret_key.clone());
    let read = format!("Bearer {sk}");
    let stop = AtomicBool::new(false);
    let tally = Mutex::new(Tally::default());
    // Two stores of this process: `idle` keeps a pooled connection across the restart,
    // `probe` is used while the database is down.
    let idle = PostgresStore::connect(&db).unwrap();
    let probe = PostgresStore::connect(&db).unwrap();
    std::thread::scope(|s| {
        for tag in 0..2 {
            let (base, wk, stop, tally) = (&server.url, &wk, &stop, &tally);
            s.spawn(move || sender(base, wk, tag, stop, tally));
        }
        std::thread::sleep(Duration::from_secs(1));
        let before = tally.lock().unwrap().acked.len();
        let mut down = Restart(&ctl, true);
        pg_ctl(&ctl, &["-m", "fast", "stop"]);
        // Down: a read that needs the store answers 503 with Retry-After, not 500.
        std::thread::sleep(Duration::from_millis(300));
        let (st, v, headers) = get(
            &format!("{}/api/users/u1", server.url),
            &[("Authorization", read.as_str())],
        );
        assert_eq!(st, 503, "read while the database is down: {v}");
        assert!(headers.get("retry-after").is_some());
        // The store says "unavailable, retry later" (twice: the second within the
        // reconnect backoff, without trying to connect).
        for _ in 0..2 {
            let e = probe.stats(DEFAULT_PROJECT).unwrap_err();
            assert!(matches!(e, Error::Unavailable { .. }), "{e}");
            assert_eq!(e.code(), "ERR_STORAGE");
        }
        std::thread::sleep(Duration::from_millis(1200));
        pg_ctl(&ctl, &["start"]);
        down.1 = false;
        let restarted = Instant::now();
        // A connection pooled before the restart is broken: the call retries on a new one.
        idle.stats(DEFAULT_PROJECT).unwrap();
        // Ingest goes on after the restart: wait for new acknowledgements.
        let during = tally.lock().unwrap().acked.len();
        while tally.lock().unwrap().acked.len() < during + 100 {
            assert!(
                restarted.elapsed() < Duration::from_secs(20),
                "no ingest after the restart"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        assert!(before > 0, "nothing acknowledged before the restart");
    });
    let t = tally.into_inner().unwrap();
    assert!(
        t.statuses.get(&503).copied().unwrap_or(0) > 0,
        "no 503 while the database was down: {:?}",
        t.statuses
    );
    assert_eq!(t.no_retry_after, 0, "503s without Retry-After");
    // Reads work again (the engine and the pool reconnected).
    let (st, v, _) = get(
        &format!("{}/api/users/u1", server.url),
        &[("Authorization", read.as_str())],
    );
    assert_eq!(st, 200, "{v}");
    drop(server);
    let store = PostgresStore::connect(&db).unwrap();
    let rows = store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    let mut stored: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        *stored.entry(r.event.message_id.clone()).or_default() += 1;
    }
    for id in &t.acked {
        assert_eq!(stored.get(id), Some(&1), "acknowledged {id} stored once");
    }
    for (id, n) in &stored {
        assert_eq!(*n, 1, "{id} stored {n} times");
        assert!(t.sent.contains(id), "{id} was never sent");
    }
    eprintln!(
        "restart: {} acknowledged, {} stored, statuses {:?}",
        t.acked.len(),
        rows.len(),
        t.statuses
    );
}

#[test]
fn tracker_holds_accepted_events_through_a_restart() {
    let Some((url, ctl)) = cluster() else { return };
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let db = fresh_db(&url, "tracker");
    let store = std::sync::Arc::new(PostgresStore::connect(&db).unwrap());
    let capacity = 50;
    let a = Analytics::builder()
        .store(store.clone())
        .batch_size(10)
        .queue_capacity(capacity)
        .flush_interval(Duration::from_millis(20))
        .backpressure(Backpressure::Error)
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .build()
        .unwrap();
    let ev = |i: usize| {
        Event::track("e")
            .user_id(format!("u{}", i % 7))
            .message_id(format!("t{i}"))
    };
    for i in 0..20 {
        a.track(ev(i)).unwrap();
    }
    a.flush().unwrap();
    let mut down = Restart(&ctl, true);
    pg_ctl(&ctl, &["-m", "fast", "stop"]);
    // Down: accepted until the queue is full, then refused (never dropped).
    let mut accepted = 20;
    let full = loop {
        match a.track(ev(accepted)) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 20 + 10 * capacity, "the queue never filled up");
    };
    assert!(matches!(full, Error::QueueFull { .. }), "{full}");
    assert!(accepted - 20 >= capacity, "{accepted}");
    let e = a.flush().unwrap_err();
    assert_eq!(e.code(), "ERR_STORAGE", "{e}");
    assert!(a.stats().pending > 0);
    pg_ctl(&ctl, &["start"]);
    down.1 = false;
    // Back: flush succeeds once the writer's retry reconnects.
    let t = Instant::now();
    while let Err(e) = a.flush() {
        assert!(t.elapsed() < Duration::from_secs(15), "still failing: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let st = a.stats();
    assert_eq!(
        (st.accepted, st.stored, st.pending),
        (accepted as u64, accepted as u64, 0)
    );
    a.close().unwrap();
    let rows = store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    let ids: HashSet<_> = rows.iter().map(|r| r.event.message_id.clone()).collect();
    assert_eq!((rows.len(), ids.len()), (accepted, accepted));
    assert!((0..accepted).all(|i| ids.contains(&format!("t{i}"))));
}

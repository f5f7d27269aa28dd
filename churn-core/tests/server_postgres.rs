//! `churn serve --db postgres://...`: events sent over HTTP are stored in PostgreSQL
//! (once, though sent twice) and read back through the API; two servers on one database
//! store every event sent to either once and both count it. Needs the server named by
//! `CHURN_TEST_PG_URL` (`./dev test_rust` starts one); fails without it unless
//! `CHURN_TEST_PG_SKIP=1`. ~5 s.
#![cfg(all(feature = "cli", feature = "postgres", unix))]

mod server_common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use churn_core::store::{PostgresStore, Store, DEFAULT_PROJECT};
use serde_json::{json, Value};
use server_common::pg::{fresh_db, test_url};
use server_common::process::{serve, serve_in, Serve};
use server_common::{basic, get, post};

const START: Duration = Duration::from_secs(30);

/// POST a Segment batch of `(message id, user)` pairs to the server at `base`; must be 200.
fn send(base: &str, write_key: &str, events: &[(String, String)]) {
    let batch: Vec<_> = events
        .iter()
        .map(|(m, u)| json!({"type": "track", "event": "e", "userId": u, "messageId": m}))
        .collect();
    let body = serde_json::to_vec(&json!({ "batch": batch })).unwrap();
    let auth = basic(write_key);
    let (st, v, _) = post(
        &format!("{base}/v1/batch"),
        &[("Authorization", auth.as_str())],
        &body,
    );
    assert_eq!(st, 200, "{v}");
}

/// `GET /api/users/<user>` on `server`.
fn user_page(server: &Serve, secret_key: &str, user: &str) -> (u16, Value) {
    let read = format!("Bearer {secret_key}");
    let (st, v, _) = get(
        &format!("{}/api/users/{user}", server.url),
        &[("Authorization", read.as_str())],
    );
    (st, v)
}

#[test]
fn serve_on_postgres_ingests_and_reads() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "ingest");
    let server = serve(&db, &[], START);
    assert!(!server.write_key.is_empty() && !server.secret_key.is_empty());
    let events: Vec<_> = (0..30)
        .map(|i| (format!("m{i}"), format!("u{}", i % 3)))
        .collect();
    for _ in 0..2 {
        // Sent twice: the second copy is all duplicates.
        send(&server.url, &server.write_key, &events);
    }
    let mut count = Value::Null;
    for _ in 0..100 {
        let (st, v) = user_page(&server, &server.secret_key, "u1");
        if st == 200 && v["event_count"] == 10 {
            count = v["event_count"].clone();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    assert_eq!(count, 10, "u1's events read back over HTTP");
    let store = PostgresStore::connect(&db).unwrap();
    assert_eq!(store.stats(DEFAULT_PROJECT).unwrap().events, 30);
}

/// Two `churn serve` on one database, events sent to both (some to both): every event
/// is stored once, and each server counts all of them, through its store reads
/// (`event_count`) and its incrementally loaded engine (`profile.events`).
#[test]
fn two_servers_on_one_database_store_once_and_both_count() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "two");
    let a = serve(&db, &[], START);
    // The second finds the project the first made (no keys printed): same keys.
    let b = serve(&db, &[], START);
    let (wk, sk) = (a.write_key.clone(), a.secret_key.clone());
    assert!(!wk.is_empty() && b.write_key.is_empty(), "{:?}", b.early);
    let users = 4;
    let mut expected: HashMap<String, u64> = HashMap::new();
    let mut batches: Vec<(usize, Vec<(String, String)>)> = Vec::new();
    for round in 0..8 {
        for (to, tag) in [(0, "a"), (1, "b"), (2, "both")] {
            let evs: Vec<_> = (0..25)
                .map(|i| (format!("{tag}-{round}-{i}"), format!("u{}", i % users)))
                .collect();
            for (_, u) in &evs {
                *expected.entry(u.clone()).or_default() += 1;
            }
            batches.push((to, evs));
        }
    }
    std::thread::scope(|s| {
        for side in [0, 1] {
            let base = if side == 0 { &a.url } else { &b.url };
            let (wk, batches) = (&wk, &batches);
            s.spawn(move || {
                for (to, evs) in batches {
                    // Side 0 sends to a, side 1 to b; "both" batches go to each.
                    if *to == side || *to == 2 {
                        send(base, wk, evs);
                    }
                }
            });
        }
    });
    let total: u64 = expected.values().sum();
    assert_eq!(total, 8 * 3 * 25);
    let deadline = Instant::now() + Duration::from_secs(15);
    for (name, server) in [("a", &a), ("b", &b)] {
        for (user, want) in &expected {
            loop {
                let (st, v) = user_page(server, &sk, user);
                let got = (v["event_count"].as_u64(), v["profile"]["events"].as_u64());
                if st == 200 && got == (Some(*want), Some(*want)) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "server {name}, {user}: want {want} stored and counted, got {st} {got:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    let store = PostgresStore::connect(&db).unwrap();
    assert_eq!(store.stats(DEFAULT_PROJECT).unwrap().events, total);
}

/// `churn serve --demo` on a URL, started twice (the second start finds the project and
/// makes new keys): keys are printed, and no `.keys` file is tried or written (the old
/// code tried to write one named after the URL and printed "could not write").
#[test]
fn demo_on_postgres_prints_keys_and_writes_no_keys_file() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "demo");
    let dir = tempfile::tempdir().unwrap();
    for start in 0..2 {
        let mut server = serve_in(
            Some(dir.path()),
            &db,
            &["--demo", "--demo-users", "60"],
            Duration::from_secs(120),
        );
        for line in &server.early {
            assert!(!line.contains("could not write"), "start {start}: {line}");
        }
        let key = loop {
            let line = server
                .stderr
                .recv_timeout(Duration::from_secs(10))
                .expect("the secret key line");
            if let Some(k) = line.strip_prefix("Secret key: ") {
                break k.trim().to_string();
            }
        };
        server.kill();
        assert!(key.starts_with("sk_"), "start {start}: {key}");
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(files.is_empty(), "start {start}: files written: {files:?}");
    }
}

//! The shared conformance suite against a real PostgreSQL server named by
//! `CHURN_TEST_PG_URL` (`./dev test_rust` starts a throwaway cluster and sets it).
//! Without it these tests fail, unless `CHURN_TEST_PG_SKIP=1` says to skip them.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::store::conformance::{ev, run_all};
use crate::store::{StoreExt, DEFAULT_PROJECT};

/// The test server's URL, or `None` when skipping was asked for.
pub(crate) fn test_url() -> Option<String> {
    match std::env::var("CHURN_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CHURN_TEST_PG_SKIP").as_deref() == Ok("1") => None,
        _ => panic!(
            "CHURN_TEST_PG_URL is not set: run the tests through `./dev test_rust` (it starts \
             a throwaway PostgreSQL), point it at a scratch database, or set \
             CHURN_TEST_PG_SKIP=1 to skip the PostgreSQL tests"
        ),
    }
}

/// A fresh, empty database on the test server (dropped and re-made).
fn fresh_db(url: &str, tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "churn_t_{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    });
    with_dbname(url, &name)
}

/// `url` with its database replaced by `name`.
fn with_dbname(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    if query.is_empty() {
        format!("{base}/{name}")
    } else {
        format!("{base}/{name}?{query}")
    }
}

#[test]
fn postgres_store_conforms() {
    let Some(url) = test_url() else { return };
    run_all(|| PostgresStore::connect(&fresh_db(&url, "conf")).unwrap());
}

#[test]
fn reopen_keeps_data_and_schema() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "reopen");
    {
        let s = PostgresStore::connect(&db).unwrap();
        s.append(DEFAULT_PROJECT, &[ev("a", "u1", 0, "m1")])
            .unwrap();
    }
    let s = PostgresStore::connect(&db).unwrap();
    assert_eq!(s.schema_version().unwrap(), crate::store::SCHEMA_VERSION);
    let out = s
        .append(
            DEFAULT_PROJECT,
            &[ev("a", "u1", 0, "m1"), ev("b", "u1", 1, "m2")],
        )
        .unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 1));
    assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().max_seq, 2);
}

#[test]
fn concurrent_writers_never_duplicate_and_seq_is_dense() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "conc");
    let a = PostgresStore::connect(&db).unwrap();
    let b = PostgresStore::connect(&db).unwrap();
    std::thread::scope(|s| {
        for (store, offset) in [(&a, 0), (&b, 50)] {
            s.spawn(move || {
                for round in 0..20 {
                    // Both writers send overlapping message ids.
                    let batch: Vec<_> = (0..100)
                        .map(|i| {
                            let k = (round * 100 + i + offset) % 2_000;
                            ev("e", "u", 0, &format!("m{k}"))
                        })
                        .collect();
                    store.append(DEFAULT_PROJECT, &batch).unwrap();
                }
            });
        }
    });
    let all = a.scan_all(DEFAULT_PROJECT, &ScanRequest::new()).unwrap();
    let mut ids: Vec<_> = all.iter().map(|e| e.event.message_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "an event stored twice");
    assert_eq!(all.len(), 2_000);
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=2_000).collect::<Vec<u64>>());
}

#[test]
fn usable_and_droppable_inside_an_async_task() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "async");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let s = PostgresStore::connect(&db).unwrap();
        s.append(DEFAULT_PROJECT, &[ev("a", "u1", 0, "m1")])
            .unwrap();
        assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().events, 1);
        drop(s);
    });
}

#[test]
fn open_location_picks_postgres_for_urls() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "loc");
    let s = crate::store::open_location(&db).unwrap();
    s.append(DEFAULT_PROJECT, &[ev("a", "u1", 0, "m1")])
        .unwrap();
    let pg = PostgresStore::connect(&db).unwrap();
    assert_eq!(pg.stats(DEFAULT_PROJECT).unwrap().events, 1);
}

#[test]
fn passwords_are_not_shown() {
    assert_eq!(
        redact_url("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(
        with_dbname("postgres://u@h:5/db?host=/tmp", "x"),
        "postgres://u@h:5/x?host=/tmp"
    );
}

/// Not a check: prints ingest (binary COPY, batches of 10,000) and full-load rates.
/// `CHURN_PG_BENCH_EVENTS=1000000 cargo test --release -p churn-core --features postgres
/// --lib pg_ingest_and_load_rates -- --ignored --nocapture`
#[test]
#[ignore]
fn pg_ingest_and_load_rates() {
    let Some(url) = test_url() else { return };
    let n: usize = std::env::var("CHURN_PG_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let s = std::sync::Arc::new(PostgresStore::connect(&fresh_db(&url, "bench")).unwrap());
    let events: Vec<_> = (0..n)
        .map(|i| {
            ev(
                "e",
                &format!("u{}", i % 5_000),
                (i % 300) as i64,
                &format!("m{i}"),
            )
        })
        .collect();
    let t = std::time::Instant::now();
    for chunk in events.chunks(10_000) {
        s.append(DEFAULT_PROJECT, chunk).unwrap();
    }
    let ingest = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let mut rows = 0usize;
    s.scan_rows(DEFAULT_PROJECT, &ScanRequest::new(), &mut |_| {
        rows += 1;
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    let load = t.elapsed().as_secs_f64();
    assert_eq!(rows, n);
    let t = std::time::Instant::now();
    let engine = crate::engine::Engine::load(s.clone(), DEFAULT_PROJECT);
    let engine_load = t.elapsed().as_secs_f64();
    println!(
        "postgres: {n} events: ingest {ingest:.2} s ({:.0} events/s), scan_rows {load:.2} s, \
         Engine load {engine_load:.2} s ({})",
        n as f64 / ingest,
        if engine.is_ok() { "ok" } else { "error" }
    );
}

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
pub(super) fn fresh_db(url: &str, tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "churn_t_{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    exec(url, &format!("DROP DATABASE IF EXISTS {name}"));
    exec(url, &format!("CREATE DATABASE {name}"));
    super::with_database(url, &name)
}

#[test]
fn postgres_store_conforms() {
    let Some(url) = test_url() else { return };
    run_all(|| PostgresStore::connect(&fresh_db(&url, "conf")).unwrap());
}

/// Nothing the store does holds two connections at once: the whole suite on a pool of
/// one (a call needing a second would wait out the 30 s checkout and fail).
#[test]
fn postgres_store_conforms_with_one_connection() {
    let Some(url) = test_url() else { return };
    run_all(|| {
        let db = fresh_db(&url, "one");
        let sep = if db.contains('?') { '&' } else { '?' };
        let store = PostgresStore::connect(&format!("{db}{sep}connection_limit=1")).unwrap();
        assert_eq!(store.pool.max_size(), 1);
        store
    });
    let store = PostgresStore::connect(&fresh_db(&url, "lim")).unwrap();
    assert_eq!(store.pool.max_size(), DEFAULT_CONNECTION_LIMIT);
}

#[test]
fn connection_limit_is_read_and_checked() {
    let cases = [
        ("postgres://u@h/db", "postgres://u@h/db", 16),
        (
            "postgres://u@h/db?connection_limit=3",
            "postgres://u@h/db",
            3,
        ),
        (
            "postgres://u@h/db?connection_limit=3&sslmode=disable",
            "postgres://u@h/db?sslmode=disable",
            3,
        ),
        (
            "postgres://u@h/db?sslmode=disable",
            "postgres://u@h/db?sslmode=disable",
            16,
        ),
        ("host=h user=u", "host=h user=u", 16),
        (
            "connection_limit=1000 host=h password='a  b'",
            "host=h password='a  b'",
            1000,
        ),
        (
            "host=h password='a  b' connection_limit=7",
            "host=h password='a  b'",
            7,
        ),
    ];
    for (url, rest, n) in cases {
        assert_eq!(
            connection_limit(url).unwrap(),
            (rest.to_string(), n),
            "{url}"
        );
    }
    for bad in [
        "postgres://h/db?connection_limit=0",
        "postgres://h/db?connection_limit=1001",
        "postgres://h/db?connection_limit=-1",
        "postgres://h/db?connection_limit=",
        "host=h connection_limit=many",
    ] {
        let e = connection_limit(bad).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{bad}: {e:?}");
        assert!(e.to_string().contains("connection_limit"), "{bad}: {e}");
        assert!(PostgresStore::connect(bad).is_err(), "{bad}");
    }
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
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
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

/// Event `k` with a canonical UUID message id (claimed in `churn_message_uuids`), every
/// 7th with a text id (claimed in `churn_message_ids`), on day `k % 60`.
fn numbered(k: usize) -> Message {
    let id = if k % 7 == 0 {
        format!("m{k}")
    } else {
        format!("{k:08x}-0000-4000-8000-{:012x}", k * 31)
    };
    Message::Track(ev("e", &format!("u{}", k % 50), (k % 60) as i64, &id))
}

/// Two stores (two servers) write overlapping batches at once (their message-id claims
/// overlap: each waits for the other's, outside the project lock) while a reader follows
/// with a cursor on `seq`: it sees every event exactly once with `seq` dense (an event
/// committed with a smaller `seq` after a larger one was visible would show as a gap).
#[test]
fn concurrent_writers_never_skip_a_cursor() {
    use std::sync::atomic::AtomicBool;
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "cursor");
    let (a, b, r) = (
        PostgresStore::connect(&db).unwrap(),
        PostgresStore::connect(&db).unwrap(),
        PostgresStore::connect(&db).unwrap(),
    );
    let done = AtomicBool::new(false);
    let seen = std::thread::scope(|sc| {
        let writers: Vec<_> = [(&a, 0usize), (&b, 6_000)]
            .into_iter()
            .map(|(store, from)| {
                sc.spawn(move || {
                    for round in 0..12 {
                        let lo = from + round * 1_000;
                        let batch: Vec<Message> = (lo..lo + 1_000).map(numbered).collect();
                        store.apply(DEFAULT_PROJECT, &batch).unwrap();
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
    assert_eq!((seen.len(), ids.len()), (18_000, 18_000));
    assert_eq!(a.stats(DEFAULT_PROJECT).unwrap().events, 18_000);
}

/// A batch mixing stored ids, repeats and new ids (the claim's slow path, which encodes
/// the new events again) stores each new one once, numbered in batch order.
#[test]
fn partly_stored_batch_numbers_new_events_in_order() {
    let Some(url) = test_url() else { return };
    let s = PostgresStore::connect(&fresh_db(&url, "partly")).unwrap();
    let first: Vec<Message> = (0..3_000).step_by(2).map(numbered).collect();
    s.apply(DEFAULT_PROJECT, &first).unwrap();
    let mut batch: Vec<Message> = (0..3_000).map(numbered).collect();
    batch.push(numbered(1));
    let out = s.apply(DEFAULT_PROJECT, &batch).unwrap();
    assert_eq!((out.inserted, out.duplicates), (1_500, 1_501));
    let all = s.scan_all(DEFAULT_PROJECT, &ScanRequest::new()).unwrap();
    let got: Vec<(u64, String)> = all
        .into_iter()
        .map(|e| (e.seq, e.event.message_id))
        .collect();
    let id = |k: usize| match numbered(k) {
        Message::Track(e) => e.message_id,
        _ => unreachable!(),
    };
    let want: Vec<(u64, String)> = (0..3_000)
        .step_by(2)
        .chain((1..3_000).step_by(2))
        .enumerate()
        .map(|(i, k)| (i as u64 + 1, id(k)))
        .collect();
    assert_eq!(got, want);
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

/// A plain driver client on `url`, with the runtime that drives its connection.
pub(super) fn client(url: &str) -> (tokio::runtime::Runtime, tokio_postgres::Client) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
        tokio::spawn(conn);
        c
    });
    (rt, c)
}

/// Run `sql` on the database at `url`.
pub(super) fn exec(url: &str, sql: &str) {
    let (rt, c) = client(url);
    rt.block_on(c.batch_execute(sql)).unwrap();
}

/// A layout-2 database (one unpartitioned events table) with rows in three months and
/// two projects upgrades in place: same events, same `seq`, dedup still exact, monthly
/// partitions made for the old rows.
#[test]
fn layout_2_upgrades_to_partitions() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "mig");
    let v2 = schema::migration_sql(2).unwrap();
    exec(
        &db,
        &format!(
            "CREATE TABLE churn_schema (version integer NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());
             {v2}
             INSERT INTO churn_schema (version) VALUES (2);"
        ),
    );
    let days = [0i64, 40, 75];
    let mut evs = Vec::new();
    let mut values = Vec::new();
    for (i, d) in days.iter().enumerate() {
        let mut e = ev("a", &format!("u{i}"), *d, &format!("m{i}"));
        if i == 2 {
            e.anonymous_id = Some("anon-2".into());
        }
        let body = serde_json::to_string(&e).unwrap().replace('\'', "''");
        for (p, seq) in [("default", i + 1), ("other", i + 1)] {
            values.push(format!(
                "('{p}', {seq}, '{}', {}, '{}', '{}', {}, NULL, convert_to('{body}', 'UTF8'))",
                e.message_id,
                e.timestamp.millis(),
                e.event,
                e.user_id.as_deref().unwrap(),
                e.anonymous_id
                    .as_deref()
                    .map_or("NULL".to_string(), |a| format!("'{a}'")),
            ));
        }
        evs.push(e);
    }
    exec(
        &db,
        &format!(
            "INSERT INTO churn_events (project, seq, message_id, ts, event, user_id,
                 anonymous_id, session_id, body) VALUES {};
             INSERT INTO churn_projects VALUES ('default', 3), ('other', 3);",
            values.join(", ")
        ),
    );
    let s = PostgresStore::connect(&db).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    for p in [DEFAULT_PROJECT, "other"] {
        let all = s.scan_all(p, &ScanRequest::new()).unwrap();
        let got: Vec<_> = all.iter().map(|e| (e.seq, e.event.clone())).collect();
        let want: Vec<_> = evs
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u64 + 1, e.clone()))
            .collect();
        assert_eq!(got, want, "project {p}");
    }
    // Old message ids are still duplicates; a new one takes the next seq.
    let out = s
        .append(DEFAULT_PROJECT, &[evs[1].clone(), ev("a", "u9", 80, "m9")])
        .unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 1));
    assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().max_seq, 4);
    assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().events, 4);
    assert_eq!(s.stats("other").unwrap().events, 3);
    // The anonymous id still finds its person's event.
    let anon = s
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new().users(["anon-2"]))
        .unwrap();
    assert_eq!(anon.len(), 1);
    let parts = partition_names(&db);
    assert_eq!(
        parts,
        [
            "churn_events_202601",
            "churn_events_202602",
            "churn_events_202603",
            "churn_events_default"
        ]
    );
}

/// A layout-3 database (every message id as text) upgrades in place: canonical UUID ids
/// move to `churn_message_uuids`, other ids (an upper-case UUID, braces, plain text)
/// stay, and dedup stays exact across the move, per project, and after a delete.
#[test]
fn layout_3_moves_uuid_ids() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "mig4");
    let (v2, v3) = (
        schema::migration_sql(2).unwrap(),
        schema::migration_sql(3).unwrap(),
    );
    exec(
        &db,
        &format!(
            "CREATE TABLE churn_schema (version integer NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());
             {v2} {v3}
             INSERT INTO churn_schema (version) VALUES (2), (3);"
        ),
    );
    let uuid = "0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b";
    let ids = [
        uuid.to_string(),
        uuid.to_uppercase(),
        format!("{{{uuid}}}"),
        "m1".to_string(),
    ];
    let evs: Vec<Event> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| ev("a", &format!("u{i}"), i as i64, id))
        .collect();
    let mut rows = Vec::new();
    let mut claimed = Vec::new();
    for p in ["default", "other"] {
        for (i, e) in evs.iter().enumerate() {
            let body = serde_json::to_string(e).unwrap().replace('\'', "''");
            let (id, ts, user) = (&e.message_id, e.timestamp.millis(), format!("u{i}"));
            rows.push(format!(
                "('{p}', {}, {ts}, '{user}', '{id}', 'a', '{user}', NULL, NULL,
                  convert_to('{body}', 'UTF8'))",
                i + 1
            ));
            claimed.push(format!("('{p}', '{id}', {ts})"));
        }
    }
    exec(
        &db,
        &format!(
            "INSERT INTO churn_events (project, seq, ts, person, message_id, event, user_id,
                 anonymous_id, session_id, body) VALUES {};
             INSERT INTO churn_message_ids (project, message_id, ts) VALUES {};
             INSERT INTO churn_projects VALUES ('default', 4, 4), ('other', 4, 4);",
            rows.join(", "),
            claimed.join(", ")
        ),
    );
    let s = PostgresStore::connect(&db).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let count = |table: &str| {
        let (rt, c) = client(&db);
        let row = rt
            .block_on(c.query_one(&format!("SELECT count(*) FROM {table}"), &[]))
            .unwrap();
        row.get::<_, i64>(0)
    };
    assert_eq!(count("churn_message_uuids"), 2);
    assert_eq!(count("churn_message_ids"), 6);
    for p in [DEFAULT_PROJECT, "other"] {
        let out = s.append(p, &evs).unwrap();
        assert_eq!((out.inserted, out.duplicates), (0, 4), "project {p}");
    }
    // A delete forgets the ids of both kinds: the events can come back.
    s.delete_user("other", "u0").unwrap();
    s.delete_user("other", "u3").unwrap();
    let out = s.append("other", &evs).unwrap();
    assert_eq!((out.inserted, out.duplicates), (2, 2));
    let out = s.append(DEFAULT_PROJECT, &evs).unwrap();
    assert_eq!((out.inserted, out.duplicates), (0, 4));
    let fresh = ev("a", "u9", 9, "1f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b");
    let out = s.append(DEFAULT_PROJECT, &[fresh.clone(), fresh]).unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 1));
    assert_eq!(count("churn_message_uuids"), 3);
    assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().events, 5);
    assert_eq!(s.stats("other").unwrap().events, 4);
    // A rewrite moves the id's time too: a purge before the old time keeps both.
    let later = evs[0].timestamp.add_millis(30 * 86_400_000);
    s.rewrite_user(DEFAULT_PROJECT, "u0", &mut |mut e| {
        e.timestamp = later;
        e
    })
    .unwrap();
    s.purge_before(DEFAULT_PROJECT, evs[1].timestamp).unwrap();
    let out = s.append(DEFAULT_PROJECT, &evs[..1]).unwrap();
    assert_eq!((out.inserted, out.duplicates), (0, 1));
}

/// Names of the partitions of `churn_events`, sorted.
fn partition_names(url: &str) -> Vec<String> {
    let (rt, c) = client(url);
    let rows = rt
        .block_on(c.query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'churn_events'::regclass ORDER BY 1",
            &[],
        ))
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// A purge drops the months wholly before the cutoff (whole partitions, when only this
/// project has rows there), deletes rows in the boundary month and in months shared
/// with another project, and forgets the purged message ids.
#[test]
fn purge_drops_whole_months() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "purge");
    let s = PostgresStore::connect(&db).unwrap();
    // Days 0..120 from 2026-01-01: January to April, 4 events a day.
    let evs: Vec<_> = (0..480)
        .map(|i| ev("e", &format!("u{}", i % 7), i / 4, &format!("m{i}")))
        .collect();
    s.append(DEFAULT_PROJECT, &evs).unwrap();
    // Another project shares February.
    s.append("other", &[ev("e", "x", 40, "o1")]).unwrap();
    assert_eq!(partition_names(&db).len(), 5);
    // Cutoff 2026-03-15: January dropped whole, February (shared) and March 1-14 deleted.
    let cut = crate::Timestamp::from_ymd(2026, 3, 15).unwrap();
    let older = evs.iter().filter(|e| e.timestamp < cut).count();
    assert_eq!(s.purge_before(DEFAULT_PROJECT, cut).unwrap(), older as u64);
    assert_eq!(
        partition_names(&db),
        [
            "churn_events_202602",
            "churn_events_202603",
            "churn_events_202604",
            "churn_events_default"
        ]
    );
    let left = s.scan_all(DEFAULT_PROJECT, &ScanRequest::new()).unwrap();
    assert_eq!(left.len(), evs.len() - older);
    assert!(left.iter().all(|e| e.event.timestamp >= cut));
    assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().events, left.len() as u64);
    assert_eq!(s.stats("other").unwrap().events, 1);
    // A purged message id may be stored again (as after a delete); a kept one may not.
    let out = s
        .append(DEFAULT_PROJECT, &[evs[0].clone(), evs[479].clone()])
        .unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 1));
    // January's partition is gone, so its event went to the default partition.
    let back = s
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new().users(["u0"]))
        .unwrap();
    assert!(back.iter().any(|e| e.event.message_id == "m0"));
    assert_eq!(s.purge_before(DEFAULT_PROJECT, cut).unwrap(), 1);
}

/// `scan_rows` (one streamed `COPY`) sees exactly what `scan` sees, with every filter,
/// a limit and an early stop that leaves the store usable.
#[test]
fn copy_scan_matches_paged_scan() {
    let Some(url) = test_url() else { return };
    let s = PostgresStore::connect(&fresh_db(&url, "copy")).unwrap();
    let mut evs = mixed_events(0..3_000, "u'", |i| (i / 50) as i64);
    evs.rotate_left(1_234);
    s.append(DEFAULT_PROJECT, &evs).unwrap();
    let t = |d: i64| {
        crate::Timestamp::from_ymd(2026, 1, 1)
            .unwrap()
            .add_millis(d * 86_400_000)
    };
    let reqs = [
        ScanRequest::new(),
        ScanRequest::new().after_seq(100).limit(777),
        ScanRequest::new().events(["it's"]),
        ScanRequest::new().users(["u'3", "a4"]),
        ScanRequest::new().range(crate::time::TimeRange::new(t(10), t(30))),
    ];
    for req in &reqs {
        let want: Vec<_> = s
            .scan_all(DEFAULT_PROJECT, req)
            .unwrap()
            .into_iter()
            .map(|e| {
                let e = (e.seq, e.event);
                (
                    e.0,
                    e.1.timestamp,
                    e.1.event,
                    e.1.user_id,
                    e.1.anonymous_id,
                    e.1.session_id,
                )
            })
            .collect();
        let mut got = Vec::new();
        s.scan_rows(DEFAULT_PROJECT, req, &mut |r| {
            got.push((
                r.seq,
                r.timestamp,
                r.event.to_string(),
                r.user_id.map(str::to_string),
                r.anonymous_id.map(str::to_string),
                r.session_id.map(str::to_string),
            ));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        assert!(!want.is_empty());
        assert_eq!(got, want);
    }
    let mut n = 0;
    s.scan_rows(DEFAULT_PROJECT, &ScanRequest::new(), &mut |_| {
        n += 1;
        if n == 10 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(n, 10);
    assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().events, 3_000);
}

#[test]
fn passwords_are_not_shown() {
    assert_eq!(
        redact_url("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(
        super::with_database("postgres://u@h:5/db?host=/tmp", "x"),
        "postgres://u@h:5/x?host=/tmp"
    );
}

/// Events `ids` with ids `m{i}`: names `it's` / `b`, users `{user}{i % 11}` (some
/// anonymous only, some with both ids), day `day(i)` of 2026, half with a session.
pub(super) fn mixed_events(
    ids: std::ops::Range<usize>,
    user: &str,
    day: impl Fn(usize) -> i64,
) -> Vec<crate::event::Event> {
    ids.map(|i| {
        let mut e = ev(
            if i % 3 == 0 { "it's" } else { "b" },
            &format!("{user}{}", i % 11),
            day(i),
            &format!("m{i}"),
        );
        if i % 5 == 0 {
            e.anonymous_id = Some(format!("a{}", i % 13));
        }
        if i % 7 == 0 {
            e.user_id = None;
            e.anonymous_id = Some(format!("a{}", i % 13));
        }
        e.session_id = (i % 2 == 0).then(|| format!("s{}", i / 100));
        e
    })
    .collect()
}

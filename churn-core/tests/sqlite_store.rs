//! Integration tests of `SqliteStore` against real files in a temp dir.
#![cfg(feature = "sqlite")]

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_core::event::{Event, Identify, Message, Properties};
use churn_core::store::{
    MemoryStore, ScanRequest, SqliteOptions, SqliteStore, Store, StoreExt, APPLICATION_ID,
    DEFAULT_PROJECT as P, SCHEMA_VERSION,
};
use churn_core::{Error, TimeRange, Timestamp};
use proptest::prelude::*;
use serde_json::json;

const DAY: i64 = 86_400_000;

fn t0() -> Timestamp {
    Timestamp::from_ymd(2026, 1, 1).unwrap()
}

fn ev(name: &str, user: Option<&str>, anon: Option<&str>, day: i64, id: &str) -> Event {
    let mut properties = Properties::new();
    properties.insert("day".into(), json!(day));
    Event {
        message_id: id.into(),
        event: name.into(),
        user_id: user.map(Into::into),
        anonymous_id: anon.map(Into::into),
        timestamp: t0().add_millis(day * DAY),
        received_at: t0().add_millis(400 * DAY),
        session_id: None,
        properties,
        context: Default::default(),
    }
}

fn batch(from: usize, n: usize) -> Vec<Event> {
    (from..from + n)
        .map(|i| {
            ev(
                ["open", "click", "buy"][i % 3],
                Some(&format!("u{}", i % 7)),
                None,
                (i % 30) as i64,
                &format!("m{i}"),
            )
        })
        .collect()
}

#[test]
fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let (seqs, max_seq) = {
        let s = SqliteStore::open(&path).unwrap();
        s.append(P, &batch(0, 100)).unwrap();
        s.apply(
            P,
            &[Message::Identify(
                Identify::user("u1")
                    .anonymous_id("a1")
                    .trait_("plan", "pro")
                    .build()
                    .unwrap(),
            )],
        )
        .unwrap();
        s.put_object(P, "segments", "vip", b"{}").unwrap();
        s.set_consent(P, "u2", false, t0()).unwrap();
        s.sync().unwrap();
        let all = s.scan_all(P, &ScanRequest::new()).unwrap();
        (all, s.stats(P).unwrap().max_seq)
    };
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.scan_all(P, &ScanRequest::new()).unwrap(), seqs);
    assert_eq!(s.stats(P).unwrap().max_seq, max_seq);
    let u = s.user(P, "u1").unwrap().unwrap();
    assert_eq!(u.traits["plan"], "pro");
    assert_eq!(u.anonymous_ids, ["a1"]);
    assert_eq!(
        s.get_object(P, "segments", "vip").unwrap().as_deref(),
        Some(&b"{}"[..])
    );
    assert_eq!(s.consent_of(P, "u2").unwrap(), Some(false));
    // Dedup survives the reopen, and new events get new seqs.
    let out = s.append(P, &batch(95, 10)).unwrap();
    assert_eq!((out.inserted, out.duplicates), (5, 5));
    assert!(s.stats(P).unwrap().max_seq > max_seq);
    // Read-only opening sees the data and refuses writes.
    drop(s);
    let ro = SqliteStore::open_with(&path, SqliteOptions::default().read_only(true)).unwrap();
    assert_eq!(ro.stats(P).unwrap().events, 105);
    assert_eq!(
        ro.append(P, &batch(500, 1)).unwrap_err().code(),
        "ERR_STORAGE"
    );
}

#[test]
fn a_file_from_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    drop(SqliteStore::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(c);
    match SqliteStore::open(&path).unwrap_err() {
        Error::SchemaTooNew {
            path: p,
            found,
            supported,
        } => {
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(supported, SCHEMA_VERSION);
            assert!(p.ends_with("new.db"), "{p}");
        }
        e => panic!("unexpected {e:?}"),
    }
}

fn not_a_store_reason(path: &std::path::Path) -> String {
    match SqliteStore::open(path).unwrap_err() {
        Error::NotAStore { path: p, reason } => {
            assert_eq!(p, path.display().to_string());
            reason
        }
        e => panic!("unexpected {e:?}"),
    }
}

#[test]
fn files_that_are_not_stores_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "customer_id,event_date\n1,2026-01-01\n").unwrap();
    assert!(not_a_store_reason(&text).contains("not an SQLite database"));
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "customer_id,event_date\n1,2026-01-01\n",
        "the file is untouched"
    );

    let tiny = dir.path().join("tiny.db");
    std::fs::write(&tiny, "SQLite").unwrap();
    assert!(not_a_store_reason(&tiny).contains("not an SQLite database"));

    let foreign = dir.path().join("app.db");
    let c = rusqlite::Connection::open(&foreign).unwrap();
    c.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        .unwrap();
    drop(c);
    let reason = not_a_store_reason(&foreign);
    assert!(reason.contains("invoices"), "{reason}");

    let other_app = dir.path().join("other.db");
    let c = rusqlite::Connection::open(&other_app).unwrap();
    c.pragma_update(None, "application_id", 0x1234).unwrap();
    drop(c);
    assert!(not_a_store_reason(&other_app).contains("application_id"));

    assert!(not_a_store_reason(dir.path()).contains("directory"));

    // A missing file is created (but not when read-only), an empty one initialised.
    let missing = dir.path().join("sub-missing.db");
    let e = SqliteStore::open_with(&missing, SqliteOptions::default().read_only(true));
    assert_eq!(e.unwrap_err().code(), "ERR_IO");
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let s = SqliteStore::open(&empty).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    drop(s);
    let c = rusqlite::Connection::open(&empty).unwrap();
    let id: i32 = c
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, APPLICATION_ID);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    assert_eq!(page, 8192);
}

#[test]
fn readers_do_not_wait_behind_a_long_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let s = SqliteStore::open(&path).unwrap();
    s.append(P, &batch(0, 50)).unwrap();
    // Another connection holds a write transaction open.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    other
        .execute(
            "UPDATE event_blocks SET max_ts = max_ts + 1 WHERE id IN (SELECT id FROM event_blocks LIMIT 1)",
            [],
        )
        .unwrap();
    let start = Instant::now();
    assert_eq!(s.stats(P).unwrap().events, 50);
    let seen = s.scan_all(P, &ScanRequest::new()).unwrap();
    assert_eq!(seen.len(), 50);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "a read waited {:?} for a writer",
        start.elapsed()
    );
    other.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn concurrent_readers_see_whole_batches_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(SqliteStore::open(dir.path().join("c.db")).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (s, done) = (s.clone(), done.clone());
        std::thread::spawn(move || {
            for b in 0..40 {
                s.append(P, &batch(b * 250, 250)).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut reads = 0;
    while !done.load(Ordering::SeqCst) || reads == 0 {
        let mut n = 0u64;
        s.scan_rows(P, &ScanRequest::new(), &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(n % 250, 0, "a scan saw part of a batch ({n} events)");
        reads += 1;
    }
    writer.join().unwrap();
    assert_eq!(s.stats(P).unwrap().events, 10_000);
}

#[test]
fn a_failing_batch_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tx.db");
    let s = SqliteStore::open(&path).unwrap();
    s.append(P, &batch(0, 10)).unwrap();
    let before = s.scan_all(P, &ScanRequest::new()).unwrap();
    let stats = s.stats(P).unwrap();
    // Make the block insert of the next batch fail inside the store's transaction (after
    // its event name and identify were written).
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON event_blocks \
         BEGIN SELECT RAISE(ABORT, 'poisoned row'); END; \
         CREATE TRIGGER poison2 BEFORE UPDATE ON event_blocks \
         BEGIN SELECT RAISE(ABORT, 'poisoned row'); END;",
    )
    .unwrap();
    let bad = vec![
        Message::Track(ev("brand_new", Some("u1"), None, 1, "n1")),
        Message::Identify(Identify::user("u1").trait_("k", 1).build().unwrap()),
        Message::Track(ev("open", Some("u1"), None, 1, "poison")),
        Message::Track(ev("open", Some("u1"), None, 1, "n2")),
    ];
    let e = s.apply(P, &bad).unwrap_err();
    assert!(e.to_string().contains("poisoned row"), "{e}");
    assert_eq!(s.scan_all(P, &ScanRequest::new()).unwrap(), before);
    assert_eq!(s.stats(P).unwrap(), stats);
    assert!(s.user(P, "u1").unwrap().is_none(), "identify rolled back");
    c.execute_batch("DROP TRIGGER poison; DROP TRIGGER poison2")
        .unwrap();
    // The event name created by the rolled-back batch is created again, correctly.
    s.append(P, &[ev("brand_new", Some("u1"), None, 1, "n1")])
        .unwrap();
    let got = s
        .scan_all(P, &ScanRequest::new().events(["brand_new"]))
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event.event, "brand_new");
}

/// A child process appends batches until it is killed; each batch is all-or-nothing.
#[test]
fn a_killed_writer_leaves_whole_batches() {
    if let Ok(path) = std::env::var("CHURN_CHILD_WRITER_DB") {
        let s = SqliteStore::open(&path).unwrap();
        for b in 0.. {
            s.append(P, &batch(b * 500, 500)).unwrap();
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.db");
    drop(SqliteStore::open(&path).unwrap());
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_killed_writer_leaves_whole_batches",
            "--nocapture",
        ])
        .env("CHURN_CHILD_WRITER_DB", &path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it has written something, then kill it mid-stream.
    let probe = SqliteStore::open(&path).unwrap();
    let start = Instant::now();
    while probe.stats(P).unwrap().events < 2_000 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(probe);
    let s = SqliteStore::open(&path).unwrap();
    let n = s.stats(P).unwrap().events;
    assert!(n >= 2_000, "{n}");
    assert_eq!(n % 500, 0, "{n} events: a batch was cut");
    let all = s.scan_all(P, &ScanRequest::new()).unwrap();
    assert_eq!(all.len() as u64, n);
}

#[test]
fn purge_and_delete_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gdpr.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.append(P, &batch(0, 70)).unwrap();
        assert_eq!(s.delete_user(P, "u3").unwrap().events, 10);
        // Days < 10 are i % 30 < 10: 30 events, 4 of them (i = 3, 31, 38, 66) were u3's.
        assert_eq!(s.purge_before(P, t0().add_millis(10 * DAY)).unwrap(), 26);
    }
    let s = SqliteStore::open(&path).unwrap();
    let left = s.scan_all(P, &ScanRequest::new()).unwrap();
    assert_eq!(left.len(), 70 - 10 - 26);
    assert!(left.iter().all(|e| e.event.user_id.as_deref() != Some("u3")
        && e.event.timestamp >= t0().add_millis(10 * DAY)));
}

// ---- SqliteStore and MemoryStore agree on random operation sequences ----

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<(u8, u8, u8, i64, u8)>),
    Identify(u8, u8),
    Delete(u8),
    Rewrite(u8),
    Purge(i64),
}

const NAMES: [&str; 3] = ["open", "click", "buy"];

fn id_of(k: u8) -> Option<String> {
    // 0..4 user ids, 4..7 anonymous ids, 7 none.
    match k {
        0..=3 => Some(format!("u{k}")),
        4..=6 => Some(format!("a{k}")),
        _ => None,
    }
}

fn to_event(&(name, user, anon, day, msg): &(u8, u8, u8, i64, u8)) -> Event {
    let user = id_of(user % 4);
    let anon = id_of(4 + anon % 4);
    let user = if anon.is_none() {
        user.or(Some("u0".into()))
    } else {
        user
    };
    ev(
        NAMES[name as usize % 3],
        user.as_deref(),
        anon.as_deref(),
        day,
        &format!("m{msg}"),
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec((0u8..3, 0u8..8, 0u8..8, 0i64..20, 0u8..40), 1..12).prop_map(Op::Append),
        1 => (0u8..4, 4u8..7).prop_map(|(u, a)| Op::Identify(u, a)),
        1 => (0u8..4).prop_map(Op::Delete),
        1 => (0u8..4).prop_map(Op::Rewrite),
        1 => (0i64..20).prop_map(Op::Purge),
    ]
}

fn run(s: &dyn Store, op: &Op) -> String {
    let u = |k: u8| id_of(k).unwrap_or_default();
    match op {
        Op::Append(evs) => {
            let evs: Vec<Event> = evs.iter().map(to_event).collect();
            format!("{:?}", s.append(P, &evs).unwrap())
        }
        Op::Identify(user, anon) => {
            let i = Identify::user(u(*user))
                .anonymous_id(u(*anon))
                .message_id("i")
                .timestamp(t0())
                .trait_("n", *anon)
                .build_at(t0(), &Default::default())
                .unwrap();
            format!("{:?}", s.apply(P, &[Message::Identify(i)]).unwrap())
        }
        Op::Delete(user) => format!("{:?}", s.delete_user(P, &u(*user)).unwrap()),
        Op::Rewrite(user) => format!(
            "{:?}",
            s.rewrite_user(P, &u(*user), &mut |mut e| {
                e.user_id = Some("anon".into());
                e.event = "rewritten".into();
                e.properties.clear();
                e
            })
            .unwrap()
        ),
        Op::Purge(day) => format!(
            "{:?}",
            s.purge_before(P, t0().add_millis(day * DAY)).unwrap()
        ),
    }
}

fn snapshot(s: &dyn Store) -> String {
    let r = TimeRange::new(t0().add_millis(3 * DAY), t0().add_millis(11 * DAY));
    let reqs = [
        ScanRequest::new(),
        ScanRequest::new().range(r),
        ScanRequest::new().events(["buy", "rewritten"]),
        ScanRequest::new().users(["u1", "a5", "anon"]),
        ScanRequest::new().after_seq(5).limit(7),
        ScanRequest::new().range(r).users(["u2"]).events(["open"]),
    ];
    let mut out = String::new();
    for req in &reqs {
        out += &format!("{:?}\n", s.scan_all(P, req).unwrap());
        let mut rows = Vec::new();
        s.scan_rows(P, req, &mut |row| {
            rows.push(format!("{row:?}"));
            ControlFlow::Continue(())
        })
        .unwrap();
        out += &format!("{rows:?}\n");
    }
    out += &format!(
        "{:?}\n{:?}\n{:?}",
        s.users(P).unwrap(),
        s.identities(P).unwrap(),
        s.stats(P).unwrap()
    );
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn sqlite_and_memory_agree(ops in prop::collection::vec(op(), 1..25)) {
        let mem = MemoryStore::new();
        let sql = SqliteStore::in_memory().unwrap();
        for op in &ops {
            prop_assert_eq!(run(&mem, op), run(&sql, op), "outcome of {:?}", op);
        }
        prop_assert_eq!(snapshot(&mem), snapshot(&sql));
    }
}

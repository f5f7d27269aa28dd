//! Upgrading a schema-1 store (one row per event) to the current schema in place.
//!
//! `tests/data/v1_store.db` was written by [`write_v1_fixture`] with the schema-1 code
//! (main at 74f778c, before the block layout). The same deterministic operations are
//! replayed on a [`MemoryStore`] and the upgraded file must hold exactly the same data.
//! Regenerating the fixture needs a schema-1 build:
//! `git checkout 74f778c -- churn-core/src/store && cargo test -p churn-core --test
//! sqlite_migration -- --ignored write_v1_fixture`, then restore the store sources.
#![cfg(feature = "sqlite")]

use std::ops::ControlFlow;

use churn_core::event::{Alias, Context, Event, Identify, Message, Properties};
use churn_core::store::{
    MemoryStore, ScanRequest, SqliteOptions, SqliteStore, Store, StoreExt, DEFAULT_PROJECT,
    SCHEMA_VERSION,
};
use churn_core::{Error, TimeRange, Timestamp};
use serde_json::json;

const DAY: i64 = 86_400_000;
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v1_store.db");
const PROJECTS: [&str; 2] = [DEFAULT_PROJECT, "shop"];

fn t0() -> Timestamp {
    Timestamp::from_ymd(2025, 6, 1).unwrap()
}

/// Event `i` of project `p`: several names, users, anonymous ids, sessions, properties
/// and contexts, timestamps not in `seq` order.
fn event(p: usize, i: usize) -> Event {
    let mut properties = Properties::new();
    if i % 4 != 0 {
        properties.insert("i".into(), json!(i));
        properties.insert("amount".into(), json!((i % 97) as f64 * 1.25));
    }
    if i % 11 == 0 {
        properties.insert("tags".into(), json!(["a", {"deep": [i, null, true]}]));
    }
    let mut context = Context::default();
    if i % 3 == 0 {
        context.path = Some(format!("/p/{}", i % 13));
        context.ip = Some(format!("10.0.{}.0", i % 200));
        context.user_agent = Some("Mozilla/5.0 (fixture)".into());
    }
    let user = (i % 5 != 4).then(|| format!("user-{p}-{}", i % 157));
    let anon = (i % 3 != 1 || user.is_none()).then(|| format!("anon-{p}-{}", i % 211));
    Event {
        message_id: format!("{p:x}-{i:08x}-7c3a-4f1e-9b2d-{:012x}", i * 7919),
        event: ["signup", "open", "click", "purchase", "page", "é名前"][i % 6].to_string(),
        user_id: user,
        anonymous_id: anon,
        // Mostly increasing, with some late arrivals.
        timestamp: t0().add_millis((i as i64 * 37_000) - if i % 17 == 0 { 9 * DAY } else { 0 }),
        received_at: t0().add_millis(i as i64 * 37_000 + 1_500),
        session_id: (i % 2 == 0).then(|| format!("s-{}", i / 40)),
        properties,
        context,
    }
}

/// Every operation the fixture was built with, applied to `s`.
fn build(s: &dyn Store) {
    for (p, project) in PROJECTS.iter().enumerate() {
        let n = if p == 0 { 2_600 } else { 700 };
        let events: Vec<Event> = (0..n).map(|i| event(p, i)).collect();
        for (b, chunk) in events.chunks(250).enumerate() {
            let mut msgs: Vec<Message> = chunk.iter().cloned().map(Message::Track).collect();
            // A duplicate of an earlier message in every batch.
            msgs.push(Message::Track(events[b * 7].clone()));
            msgs.push(Message::Identify(Identify {
                message_id: format!("id-{p}-{b}"),
                user_id: format!("user-{p}-{b}"),
                anonymous_id: Some(format!("anon-{p}-{b}")),
                traits: serde_json::from_value(
                    json!({"plan": if b % 2 == 0 { "free" } else { "pro" }, "b": b}),
                )
                .unwrap(),
                timestamp: t0().add_millis(b as i64 * DAY),
                received_at: t0().add_millis(b as i64 * DAY),
                context: Context::default(),
            }));
            msgs.push(Message::Alias(Alias {
                message_id: format!("al-{p}-{b}"),
                previous_id: format!("anon-{p}-{}", b + 100),
                user_id: format!("user-{p}-{}", b + 1),
                timestamp: t0().add_millis(b as i64 * DAY),
                received_at: t0().add_millis(b as i64 * DAY),
            }));
            s.apply(project, &msgs).unwrap();
        }
        s.set_consent(project, &format!("user-{p}-3"), false, t0())
            .unwrap();
        s.set_consent(project, &format!("anon-{p}-9"), true, t0())
            .unwrap();
        s.put_object(project, "segments", "big", br#"{"min": 3}"#)
            .unwrap();
        s.put_object(project, "models", "m1", &[0u8, 1, 2, 255])
            .unwrap();
    }
    // Gaps in seq: a deleted person, a purged start, an anonymized person.
    s.delete_user(DEFAULT_PROJECT, "user-0-2").unwrap();
    s.purge_before("shop", t0().add_millis(DAY / 2)).unwrap();
    s.rewrite_user(DEFAULT_PROJECT, "user-0-5", &mut |mut e| {
        e.user_id = Some("anon-rewritten".into());
        e.properties.clear();
        e
    })
    .unwrap();
}

/// Everything a store holds, as comparable text.
fn snapshot(s: &dyn Store) -> String {
    let mut out = String::new();
    for p in PROJECTS {
        let events = s.scan_all(p, &ScanRequest::new()).unwrap();
        out += &format!("{p} stats {:?}\n", s.stats(p).unwrap());
        for e in events {
            out += &serde_json::to_string(&e).unwrap();
            out.push('\n');
        }
        out += &format!("users {:?}\n", s.users(p).unwrap());
        out += &format!("links {:?}\n", s.identities(p).unwrap());
        out += &format!("consents {:?}\n", s.consents(p).unwrap());
        for ns in ["segments", "models"] {
            for k in s.list_objects(p, ns).unwrap() {
                out += &format!("{ns}/{k} = {:?}\n", s.get_object(p, ns, &k).unwrap());
            }
        }
    }
    out
}

fn expected() -> String {
    let m = MemoryStore::new();
    build(&m);
    snapshot(&m)
}

/// Writes `tests/data/v1_store.db`; run it only with a schema-1 build (see module docs).
#[test]
#[ignore]
fn write_v1_fixture() {
    let _ = std::fs::remove_file(FIXTURE);
    let s = SqliteStore::open(FIXTURE).unwrap();
    assert_eq!(s.schema_version().unwrap(), 1, "needs a schema-1 build");
    build(&s);
    drop(s);
    let c = rusqlite::Connection::open(FIXTURE).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE; VACUUM;")
        .unwrap();
}

fn copy_fixture(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("v1.db");
    std::fs::copy(FIXTURE, &path).unwrap();
    path
}

#[test]
fn the_fixture_is_a_schema_1_store() {
    let c =
        rusqlite::Connection::open_with_flags(FIXTURE, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 1);
    let n: i64 = c
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(n > 2_000, "{n}");
}

#[test]
fn opening_upgrades_in_place_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_fixture(&dir);
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let got = snapshot(&s);
    assert_eq!(got, expected());
    // Ranges, names and people still select the same events after the upgrade.
    let m = MemoryStore::new();
    build(&m);
    let reqs = [
        ScanRequest::new().range(TimeRange::new(
            t0().add_millis(2 * DAY),
            t0().add_millis(9 * DAY),
        )),
        ScanRequest::new().events(["purchase", "é名前"]),
        ScanRequest::new().users(["user-0-17", "anon-0-3"]),
        ScanRequest::new().after_seq(1_234).limit(77),
    ];
    for req in &reqs {
        assert_eq!(
            s.scan_all(DEFAULT_PROJECT, req).unwrap(),
            m.scan_all(DEFAULT_PROJECT, req).unwrap(),
            "{req:?}"
        );
    }
    // Writes work after the upgrade; old message ids are still known.
    let again = s
        .append(DEFAULT_PROJECT, &[event(0, 10), event(0, 5_000)])
        .unwrap();
    assert_eq!((again.inserted, again.duplicates), (1, 1));
    drop(s);
    // Reopening an upgraded file is a no-op.
    let s = SqliteStore::open(&path).unwrap();
    let mut n = 0;
    s.scan_rows(DEFAULT_PROJECT, &ScanRequest::new(), &mut |_| {
        n += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(n as u64, s.stats(DEFAULT_PROJECT).unwrap().events);
}

#[test]
fn a_read_only_open_of_a_schema_1_file_asks_for_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_fixture(&dir);
    let r = SqliteStore::open_with(&path, SqliteOptions::default().read_only(true));
    if SCHEMA_VERSION > 1 {
        let e = r.unwrap_err();
        assert!(e.to_string().contains("open it once read-write"), "{e}");
    }
}

#[test]
fn a_newer_schema_is_still_refused_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_fixture(&dir);
    drop(SqliteStore::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(c);
    match SqliteStore::open(&path).unwrap_err() {
        Error::SchemaTooNew { found, .. } => assert_eq!(found, SCHEMA_VERSION + 1),
        e => panic!("unexpected {e:?}"),
    }
}

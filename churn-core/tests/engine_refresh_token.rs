//! `Engine::refresh` skips reading the store when `Store::change_token` says nothing was
//! committed since its last read, and still sees every commit: through the same handle,
//! another handle on the file (as another process would write), identity links,
//! deletions.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use churn_core::engine::{ActiveUsersRequest, Engine};
use churn_core::event::{Event, Identify, Message};
use churn_core::store::*;
use churn_core::Timestamp;

fn ev(name: &str, user: &str, day: u32) -> Event {
    Event::track(name)
        .user_id(user)
        .timestamp(Timestamp::from_ymd(2026, 3, day).unwrap())
        .build()
        .unwrap()
}

fn users(e: &Engine) -> u64 {
    e.active_users(&ActiveUsersRequest::new())
        .unwrap()
        .total_users
}

#[test]
fn refresh_reads_the_store_only_after_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    // Counts `stats` calls: each refresh that reads the store makes one.
    let store = Arc::new(common::ControlledStore::wrapping(
        SqliteStore::open(&path).unwrap(),
    ));
    store
        .append(DEFAULT_PROJECT, &[ev("login", "u1", 2)])
        .unwrap();
    let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
    let reads = || store.stats_calls.load(Ordering::SeqCst);
    let r0 = reads();

    // Nothing committed since the load: no read, same answer.
    let rep = engine.refresh().unwrap();
    assert_eq!((rep.new_events, rep.events, rep.reloaded), (0, 1, false));
    assert_eq!(engine.refresh().unwrap().persons, 1);
    assert_eq!(reads(), r0);

    // A commit through the engine's own store handle.
    store
        .append(DEFAULT_PROJECT, &[ev("login", "u2", 3)])
        .unwrap();
    assert_eq!(engine.refresh().unwrap().new_events, 1);
    assert_eq!(users(&engine), 2);
    let r1 = reads();
    assert!(r1 > r0);
    engine.refresh().unwrap();
    assert_eq!(reads(), r1);

    // A commit by another handle on the same file (another process, the CLI ...).
    let other = SqliteStore::open(&path).unwrap();
    other
        .append(DEFAULT_PROJECT, &[ev("login", "u3", 4)])
        .unwrap();
    let rep = engine.refresh().unwrap();
    assert_eq!((rep.new_events, rep.events), (1, 3));
    assert_eq!(users(&engine), 3);

    // An identity link alone (no new event) merges u3's anonymous id ... and a link
    // from another handle is seen too.
    other
        .append(
            DEFAULT_PROJECT,
            &[Event::track("login")
                .anonymous_id("a9")
                .timestamp(Timestamp::from_ymd(2026, 3, 5).unwrap())
                .build()
                .unwrap()],
        )
        .unwrap();
    assert_eq!(engine.refresh().unwrap().persons, 4);
    other
        .apply(
            DEFAULT_PROJECT,
            &[Message::Identify(
                Identify::user("u3").anonymous_id("a9").build().unwrap(),
            )],
        )
        .unwrap();
    let rep = engine.refresh().unwrap();
    assert!(rep.identities_changed);
    assert_eq!(rep.persons, 3);

    // A deletion by another handle: the engine reloads.
    other.delete_user(DEFAULT_PROJECT, "u1").unwrap();
    let rep = engine.refresh().unwrap();
    assert!(rep.reloaded);
    assert_eq!(rep.events, 3);
    assert_eq!(users(&engine), 2);

    // Quiet again: no read.
    let r2 = reads();
    engine.refresh().unwrap();
    engine.refresh().unwrap();
    assert_eq!(reads(), r2);

    // The same events as a fresh load.
    let fresh = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
    assert_eq!(
        fresh.active_users(&ActiveUsersRequest::new()).unwrap(),
        engine.active_users(&ActiveUsersRequest::new()).unwrap()
    );
}

#[test]
fn stores_without_a_token_are_read_every_time() {
    let store = Arc::new(MemoryStore::new());
    assert_eq!(store.change_token().unwrap(), None);
    let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
    store
        .append(DEFAULT_PROJECT, &[ev("login", "u1", 2)])
        .unwrap();
    assert_eq!(engine.refresh().unwrap().new_events, 1);
    let mem = SqliteStore::in_memory().unwrap();
    assert_eq!(mem.change_token().unwrap(), None);
}

//! The tracker on a real SQLite file: what `flush` acknowledged is in the file after reopen.

use std::collections::HashSet;
use std::sync::Arc;

use churn_core::event::{Event, Identify};
use churn_core::store::{ScanRequest, SqliteStore, Store, StoreExt, DEFAULT_PROJECT};
use churn_core::{Analytics, Error};

#[test]
fn concurrent_tracking_into_a_file_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let a = Arc::new(
        Analytics::builder()
            .path(&path)
            .batch_size(500)
            .build()
            .unwrap(),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let a = Arc::clone(&a);
            std::thread::spawn(move || {
                for i in 0..2_500 {
                    a.track(
                        Event::track("click")
                            .user_id(format!("u{t}"))
                            .message_id(format!("t{t}-{i}"))
                            .property("i", i),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    a.identify(
        Identify::user("u0")
            .anonymous_id("anon-0")
            .trait_("plan", "pro"),
    )
    .unwrap();
    // A resend of an already-tracked message is stored once.
    a.track(Event::track("click").user_id("u0").message_id("t0-0"))
        .unwrap();
    a.flush().unwrap();
    drop(a);

    let store = SqliteStore::open(&path).unwrap();
    let all = store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    assert_eq!(all.len(), 10_000);
    let ids: HashSet<_> = all.iter().map(|e| e.event.message_id.clone()).collect();
    assert_eq!(ids.len(), 10_000);
    for t in 0..4 {
        // Each thread's events keep their order in the file.
        let mine: Vec<i64> = all
            .iter()
            .filter(|e| e.event.user_id.as_deref() == Some(&format!("u{t}")))
            .map(|e| e.event.properties["i"].as_i64().unwrap())
            .collect();
        assert_eq!(mine, (0..2_500).collect::<Vec<_>>());
    }
    let u = store.user(DEFAULT_PROJECT, "u0").unwrap().unwrap();
    assert_eq!(u.traits["plan"], "pro");
    assert_eq!(u.anonymous_ids, ["anon-0"]);
}

#[test]
fn a_path_that_is_not_a_store_is_refused_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "not a database, just some text that is long enough to be a header",
    )
    .unwrap();
    let err = Analytics::builder().path(&path).build().unwrap_err();
    assert!(matches!(err, Error::NotAStore { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "not a database, just some text that is long enough to be a header"
    );
}

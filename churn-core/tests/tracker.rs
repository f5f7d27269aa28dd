//! Behaviour of the `Analytics` tracker against `MemoryStore` (and a controllable
//! wrapper around it): concurrency, flush, back-pressure, store failures, close and drop.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use churn_core::event::{Event, Identify, MessageInput};
use churn_core::privacy::PrivacyPolicy;
use churn_core::store::{MemoryStore, ScanRequest, Store, StoreExt, DEFAULT_PROJECT};
use churn_core::tracker::Backpressure;
use churn_core::{Analytics, Error, Timestamp};
use common::{eventually, ControlledStore};

const HOUR: Duration = Duration::from_secs(3600);

fn quiet(store: Arc<dyn Store>) -> churn_core::tracker::AnalyticsBuilder {
    // Writes happen only on flush, a full batch or a full queue.
    Analytics::builder().store(store).flush_interval(HOUR)
}

fn stored(store: &dyn Store) -> usize {
    store.stats(DEFAULT_PROJECT).unwrap().events as usize
}

#[test]
fn analytics_is_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Analytics>();
}

#[test]
fn concurrent_writers_lose_nothing_and_duplicate_nothing() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 5_000;
    let store = Arc::new(MemoryStore::new());
    // A small queue and batch so that back-pressure and many writer rounds happen.
    let a = Analytics::builder()
        .store(store.clone())
        .batch_size(100)
        .queue_capacity(512)
        .flush_interval(Duration::from_millis(5))
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let a = &a;
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    a.track(
                        Event::track("tick")
                            .user_id(format!("t{t}"))
                            .property("i", i as u64),
                    )
                    .unwrap();
                }
            });
        }
    });
    a.flush().unwrap();
    let events = store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    assert_eq!(events.len(), THREADS * PER_THREAD);
    let mut seen = HashSet::new();
    let mut last_i = [None::<u64>; THREADS];
    for e in &events {
        let t: usize = e.event.user_id.as_deref().unwrap()[1..].parse().unwrap();
        let i = e.event.properties["i"].as_u64().unwrap();
        assert!(seen.insert((t, i)), "duplicate ({t}, {i})");
        // Each thread's events are stored in the order it sent them.
        assert!(
            last_i[t].is_none_or(|p| p < i),
            "order broken for thread {t}"
        );
        last_i[t] = Some(i);
    }
    let ids: HashSet<&str> = events.iter().map(|e| e.event.message_id.as_str()).collect();
    assert_eq!(ids.len(), THREADS * PER_THREAD);
    let st = a.stats();
    assert_eq!((st.accepted, st.stored, st.pending), (40_000, 40_000, 0));
    assert_eq!((st.inserted, st.duplicates), (40_000, 0));
}

#[test]
fn flush_waits_for_everything_accepted_before_it() {
    let store = Arc::new(MemoryStore::new());
    let a = quiet(store.clone()).batch_size(1_000).build().unwrap();
    for i in 0..10 {
        a.track(Event::track("e").user_id("u").property("i", i))
            .unwrap();
    }
    // Interval an hour away, batch not full: nothing is written yet.
    assert_eq!(stored(&*store), 0);
    assert_eq!(a.stats().pending, 10);
    a.flush().unwrap();
    assert_eq!(stored(&*store), 10);
    assert_eq!(a.stats().pending, 0);
    a.flush().unwrap(); // nothing pending: returns at once
                        // A full batch is written without a flush.
    let b = quiet(store.clone())
        .batch_size(5)
        .project("p2")
        .build()
        .unwrap();
    for _ in 0..5 {
        b.track(Event::track("e").user_id("u")).unwrap();
    }
    assert!(eventually(|| store.stats("p2").unwrap().events == 5));
}

#[test]
fn the_interval_writes_without_a_flush() {
    let store = Arc::new(MemoryStore::new());
    let a = Analytics::builder()
        .store(store.clone())
        .flush_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    for _ in 0..3 {
        a.track(Event::track("e").anonymous_id("a")).unwrap();
    }
    assert!(eventually(|| stored(&*store) == 3));
}

#[test]
fn duplicates_by_message_id_are_stored_once() {
    let store = Arc::new(MemoryStore::new());
    let a = quiet(store.clone()).build().unwrap();
    let e = Event::track("e")
        .user_id("u")
        .message_id("m-1")
        .build()
        .unwrap();
    a.track(e.clone()).unwrap();
    a.track(e).unwrap();
    a.flush().unwrap();
    assert_eq!(stored(&*store), 1);
    let st = a.stats();
    assert_eq!((st.accepted, st.inserted, st.duplicates), (2, 1, 1));
}

#[test]
fn error_mode_refuses_when_full_and_never_drops() {
    let store = Arc::new(ControlledStore::new());
    store.close_gate();
    let a = quiet(store.clone())
        .queue_capacity(4)
        .batch_size(2)
        .backpressure(Backpressure::Error)
        .build()
        .unwrap();
    for i in 0..4 {
        a.track(Event::track("e").user_id("u").property("i", i))
            .unwrap();
    }
    let full = a.track(Event::track("e").user_id("u")).unwrap_err();
    assert!(matches!(full, Error::QueueFull { capacity: 4 }));
    assert_eq!(full.code(), "ERR_QUEUE_FULL");
    let batch = vec![
        MessageInput::parse_slice(br#"{"event":"x","userId":"u"}"#).unwrap(),
        MessageInput::parse_slice(br#"{"event":"y","userId":"u"}"#).unwrap(),
    ];
    let report = a.track_batch(batch).unwrap();
    assert_eq!(report.accepted, 0);
    assert_eq!(
        report
            .rejected
            .iter()
            .map(|r| (r.index, r.code.as_str()))
            .collect::<Vec<_>>(),
        vec![(0, "ERR_QUEUE_FULL"), (1, "ERR_QUEUE_FULL")]
    );
    assert_eq!(a.stats().accepted, 4);
    store.open_gate();
    a.flush().unwrap();
    let mut is: Vec<i64> = store
        .events()
        .iter()
        .map(|e| e.event.properties["i"].as_i64().unwrap())
        .collect();
    is.sort();
    assert_eq!(is, vec![0, 1, 2, 3]);
    a.track(Event::track("e").user_id("u")).unwrap();
}

#[test]
fn block_mode_waits_for_room() {
    let store = Arc::new(ControlledStore::new());
    store.close_gate();
    let a = Arc::new(
        quiet(store.clone())
            .queue_capacity(4)
            .batch_size(2)
            .build()
            .unwrap(),
    );
    let producer = {
        let a = a.clone();
        std::thread::spawn(move || {
            for i in 0..10 {
                a.track(Event::track("e").user_id("u").property("i", i))?;
            }
            Ok::<(), Error>(())
        })
    };
    assert!(eventually(|| a.stats().accepted == 4));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(a.stats().accepted, 4, "accepted past the capacity");
    assert!(!producer.is_finished(), "the producer should be blocked");
    store.open_gate();
    producer.join().unwrap().unwrap();
    a.flush().unwrap();
    assert_eq!(store.events().len(), 10);
}

#[test]
fn blocked_callers_get_closed_when_the_tracker_closes() {
    let store = Arc::new(ControlledStore::new());
    store.close_gate();
    let a = Arc::new(quiet(store.clone()).queue_capacity(1).build().unwrap());
    a.track(Event::track("e").user_id("u")).unwrap();
    let producer = {
        let a = a.clone();
        std::thread::spawn(move || a.track(Event::track("e").user_id("u")))
    };
    std::thread::sleep(Duration::from_millis(50)); // let the producer block
    let closer = {
        let a = a.clone();
        std::thread::spawn(move || a.close())
    };
    assert!(matches!(producer.join().unwrap(), Err(Error::Closed)));
    store.open_gate();
    closer.join().unwrap().unwrap();
    assert_eq!(store.events().len(), 1);
}

#[test]
fn store_failure_keeps_messages_and_flush_reports_it() {
    let store = Arc::new(ControlledStore::new());
    store.set_failing(true);
    let a = quiet(store.clone())
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .build()
        .unwrap();
    a.identify(Identify::user("u1").trait_("plan", "pro"))
        .unwrap();
    for i in 0..50 {
        a.track(Event::track("e").user_id("u1").property("i", i))
            .unwrap();
    }
    let err = a.flush().unwrap_err();
    assert_eq!(err.code(), "ERR_STORAGE");
    assert!(err.to_string().contains("disk full"), "{err}");
    let st = a.stats();
    assert_eq!((st.accepted, st.stored, st.pending), (51, 0, 51));
    assert!(st.failures >= 1 && st.last_error.is_some());
    assert!(store.events().is_empty());
    store.set_failing(false);
    a.flush().unwrap();
    let events = store.events();
    assert_eq!(events.len(), 50);
    // Order kept across the retry.
    let is: Vec<i64> = events
        .iter()
        .map(|e| e.event.properties["i"].as_i64().unwrap())
        .collect();
    assert_eq!(is, (0..50).collect::<Vec<_>>());
    let user = store.user(DEFAULT_PROJECT, "u1").unwrap().unwrap();
    assert_eq!(user.traits["plan"], "pro");
    let st = a.stats();
    assert_eq!((st.pending, st.last_error), (0, None));
}

#[test]
fn a_failure_between_chunks_keeps_the_rest_in_order_and_stores_each_once() {
    // Batches of 3 and the second store call failing: the writer holds more than one
    // chunk when it fails (the chunks it applied stay applied, the rest is retried).
    let store = Arc::new(ControlledStore::new());
    store.fail_at.store(2, std::sync::atomic::Ordering::SeqCst);
    store.close_gate();
    let a = quiet(store.clone())
        .batch_size(3)
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(20))
        .build()
        .unwrap();
    for i in 0..10 {
        a.track(Event::track("e").user_id("u").property("i", i))
            .unwrap();
    }
    store.open_gate();
    let first = a.flush();
    assert!(first.is_err() || a.stats().failures == 1, "{first:?}");
    a.flush().unwrap();
    let is: Vec<i64> = store
        .events()
        .iter()
        .map(|e| e.event.properties["i"].as_i64().unwrap())
        .collect();
    assert_eq!(is, (0..10).collect::<Vec<_>>());
    let st = a.stats();
    assert_eq!((st.inserted, st.duplicates, st.pending), (10, 0, 0));
    assert_eq!(st.failures, 1);
}

#[test]
fn the_writer_retries_on_its_own_after_a_failure() {
    let store = Arc::new(ControlledStore::new());
    store.set_failing(true);
    let a = Analytics::builder()
        .store(store.clone())
        .flush_interval(Duration::from_millis(10))
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(20))
        .build()
        .unwrap();
    for _ in 0..5 {
        a.track(Event::track("e").user_id("u")).unwrap();
    }
    assert!(eventually(|| a.stats().failures >= 2));
    store.set_failing(false);
    assert!(eventually(|| store.events().len() == 5));
    assert!(eventually(|| a.stats().pending == 0));
}

#[test]
fn a_panicking_store_is_an_error_not_a_loss() {
    let store = Arc::new(ControlledStore::new());
    store
        .panic_once
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let a = quiet(store.clone()).build().unwrap();
    a.track(Event::track("e").user_id("u")).unwrap();
    let err = a.flush().unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    a.flush().unwrap();
    assert_eq!(store.events().len(), 1);
}

#[test]
fn close_flushes_and_later_calls_are_refused() {
    let store = Arc::new(MemoryStore::new());
    let a = quiet(store.clone()).build().unwrap();
    for _ in 0..5 {
        a.track(Event::track("e").user_id("u")).unwrap();
    }
    a.close().unwrap();
    assert_eq!(stored(&*store), 5);
    assert!(matches!(
        a.track(Event::track("e").user_id("u")),
        Err(Error::Closed)
    ));
    assert!(matches!(
        a.page(Event::page("/").user_id("u")),
        Err(Error::Closed)
    ));
    assert!(matches!(
        a.identify(Identify::user("u")),
        Err(Error::Closed)
    ));
    assert!(matches!(a.alias("u", "a"), Err(Error::Closed)));
    assert!(matches!(a.track_batch(vec![]), Err(Error::Closed)));
    assert!(matches!(a.flush(), Err(Error::Closed)));
    assert!(matches!(a.set_consent("u", false), Err(Error::Closed)));
    assert!(matches!(a.export_user("u"), Err(Error::Closed)));
    assert_eq!(Error::Closed.code(), "ERR_CLOSED");
    a.close().unwrap(); // closing twice is fine
    assert_eq!(stored(&*store), 5);
}

#[test]
fn drop_flushes() {
    let store = Arc::new(MemoryStore::new());
    let a = quiet(store.clone()).build().unwrap();
    for _ in 0..7 {
        a.track(Event::track("e").user_id("u")).unwrap();
    }
    drop(a);
    assert_eq!(stored(&*store), 7);
}

#[test]
fn drop_with_a_failing_store_keeps_retrying_in_the_background() {
    let store = Arc::new(ControlledStore::new());
    store.set_failing(true);
    let a = quiet(store.clone())
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(20))
        .build()
        .unwrap();
    for _ in 0..3 {
        a.track(Event::track("e").user_id("u")).unwrap();
    }
    let closed = a.close();
    assert!(matches!(closed, Err(Error::Storage { .. })));
    drop(a);
    store.set_failing(false);
    assert!(eventually(|| store.events().len() == 3));
}

#[test]
fn a_failed_close_can_be_retried() {
    let store = Arc::new(ControlledStore::new());
    store.set_failing(true);
    let a = quiet(store.clone())
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(20))
        .build()
        .unwrap();
    a.track(Event::track("e").user_id("u")).unwrap();
    assert!(a.close().is_err());
    assert!(matches!(
        a.track(Event::track("e").user_id("u")),
        Err(Error::Closed)
    ));
    store.set_failing(false);
    a.close().unwrap();
    assert_eq!(store.events().len(), 1);
}

#[test]
fn validation_happens_before_acceptance() {
    let store = Arc::new(MemoryStore::new());
    let a = quiet(store.clone()).build().unwrap();
    assert!(matches!(
        a.track(Event::track("").user_id("u")),
        Err(Error::Validation(_))
    ));
    assert!(matches!(
        a.track(Event::track("e")),
        Err(Error::Validation(_))
    ));
    let mut future = Event::track("e").user_id("u").build().unwrap();
    future.timestamp = Timestamp::now().add_millis(3 * 86_400_000);
    assert!(matches!(a.track(future), Err(Error::Validation(_))));
    assert!(a.identify(Identify::user("")).is_err());
    assert!(a.alias("u", "u").is_err());
    assert!(a.page(Event::track("signup").user_id("u")).is_err());
    assert_eq!(a.stats().accepted, 0);
    // received_at is the acceptance time, whatever the built event said.
    let old = Timestamp::from_ymd(2025, 3, 1).unwrap();
    let e = Event::track("e")
        .user_id("u")
        .timestamp(old)
        .build_at(old, &Default::default())
        .unwrap();
    let before = Timestamp::now();
    a.track(e).unwrap();
    a.flush().unwrap();
    let got = store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    assert_eq!(got[0].event.timestamp, old);
    assert!(got[0].event.received_at >= before);
}

#[test]
fn track_batch_reports_each_bad_message() {
    let store = Arc::new(MemoryStore::new());
    let a = quiet(store.clone()).build().unwrap();
    let lines: [&[u8]; 5] = [
        br#"{"event":"signup","userId":"u1","properties":{"email":"x@y.z","plan":"pro"}}"#,
        br#"{"event":"signup"}"#,
        br#"{"type":"identify","userId":"u1","traits":{"email":"x@y.z"}}"#,
        br#"{"event":"buy","userId":"u1","properties":{"amount":"lots"}}"#,
        br#"{"type":"page","anonymousId":"a1","properties":{"path":"/p"}}"#,
    ];
    let inputs = lines
        .iter()
        .map(|l| MessageInput::parse_slice(l).unwrap())
        .collect();
    let r = a.track_batch(inputs).unwrap();
    assert_eq!(r.accepted, 3);
    assert_eq!(
        r.rejected.iter().map(|x| x.index).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert!(r.rejected.iter().all(|x| x.code == "ERR_VALIDATION"));
    a.flush().unwrap();
    let events = store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    assert_eq!(events.len(), 2);
    // The privacy policy ran on batch messages too; identify traits are kept.
    assert!(events[0].event.properties.get("email").is_none());
    let u = store.user(DEFAULT_PROJECT, "u1").unwrap().unwrap();
    assert_eq!(u.traits["email"], "x@y.z");
}

#[test]
fn the_privacy_policy_runs_before_storage() {
    let store = Arc::new(MemoryStore::new());
    let a = quiet(store.clone()).build().unwrap();
    let mut e = Event::track("signup")
        .user_id("u")
        .property("Email", "ann@example.com")
        .property("plan", "pro")
        .build()
        .unwrap();
    e.context.ip = Some("198.51.100.23".into());
    e.context.user_agent = Some("curl/8".into());
    a.track(e.clone()).unwrap();
    let hashed = quiet(store.clone())
        .project("hashed")
        .privacy(
            PrivacyPolicy::builder()
                .hash_pii("s")
                .drop_user_agent(true)
                .build(),
        )
        .build()
        .unwrap();
    hashed.track(e).unwrap();
    a.flush().unwrap();
    hashed.flush().unwrap();
    let plain = &store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap()[0]
        .event;
    assert!(plain.properties.get("Email").is_none());
    assert_eq!(plain.properties["plan"], "pro");
    assert_eq!(plain.context.ip.as_deref(), Some("198.51.100.0"));
    assert_eq!(plain.context.user_agent.as_deref(), Some("curl/8"));
    let h = &store.scan_all("hashed", &ScanRequest::new()).unwrap()[0].event;
    assert_eq!(
        h.properties["Email"],
        churn_core::privacy::hash_value("s", &"ann@example.com".into())
    );
    assert_eq!(h.context.user_agent, None);
}

#[test]
fn consent_withdrawal_refuses_the_person_and_survives_a_restart() {
    let store = Arc::new(MemoryStore::new());
    let a = quiet(store.clone()).build().unwrap();
    a.identify(Identify::user("u1").anonymous_id("a1")).unwrap();
    a.track(Event::track("e").user_id("u1")).unwrap();
    a.set_consent("u1", false).unwrap();
    let refused = a.track(Event::track("e").user_id("u1")).unwrap_err();
    assert_eq!(refused.code(), "ERR_CONSENT");
    assert!(matches!(
        a.track(Event::track("e").anonymous_id("a1")),
        Err(Error::ConsentWithdrawn { .. })
    ));
    assert!(matches!(
        a.identify(Identify::user("u1")),
        Err(Error::ConsentWithdrawn { .. })
    ));
    assert!(matches!(
        a.alias("u1", "a9"),
        Err(Error::ConsentWithdrawn { .. })
    ));
    a.track(Event::track("e").user_id("u2")).unwrap();
    let r = a
        .track_batch(vec![MessageInput::parse_slice(
            br#"{"event":"e","userId":"u1"}"#,
        )
        .unwrap()])
        .unwrap();
    assert_eq!(r.rejected[0].code, "ERR_CONSENT");
    a.flush().unwrap();
    // Events accepted before the withdrawal are kept (deleting is a separate request).
    assert_eq!(store.person_events(DEFAULT_PROJECT, "u1").unwrap().len(), 1);
    assert_eq!(
        store.consent_of(DEFAULT_PROJECT, "u1").unwrap(),
        Some(false)
    );
    drop(a);
    let b = quiet(store.clone()).build().unwrap();
    assert!(matches!(
        b.track(Event::track("e").anonymous_id("a1")),
        Err(Error::ConsentWithdrawn { .. })
    ));
    b.set_consent("u1", true).unwrap();
    b.track(Event::track("e").anonymous_id("a1")).unwrap();
    b.track(Event::track("e").user_id("u1")).unwrap();
    b.flush().unwrap();
    assert_eq!(store.person_events(DEFAULT_PROJECT, "u1").unwrap().len(), 3);
}

#[test]
fn builder_checks_its_settings() {
    let err = |b: churn_core::tracker::AnalyticsBuilder| b.build().unwrap_err().code();
    assert_eq!(err(Analytics::builder()), "ERR_INVALID_ARGUMENT");
    assert_eq!(
        err(Analytics::builder().in_memory().batch_size(0)),
        "ERR_INVALID_ARGUMENT"
    );
    assert_eq!(
        err(Analytics::builder().in_memory().queue_capacity(0)),
        "ERR_INVALID_ARGUMENT"
    );
    assert_eq!(
        err(Analytics::builder()
            .in_memory()
            .flush_interval(Duration::ZERO)),
        "ERR_INVALID_ARGUMENT"
    );
    assert_eq!(
        err(Analytics::builder().in_memory().project("")),
        "ERR_VALIDATION"
    );
    assert_eq!(
        err(Analytics::builder()
            .in_memory()
            .privacy(PrivacyPolicy::builder().hash_pii("").build())),
        "ERR_INVALID_ARGUMENT"
    );
    let a = Analytics::builder()
        .in_memory()
        .project("shop")
        .build()
        .unwrap();
    assert_eq!(a.project(), "shop");
    assert_eq!(
        "sometimes".parse::<Backpressure>().unwrap_err().code(),
        "ERR_INVALID_ARGUMENT"
    );
}

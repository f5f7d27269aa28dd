//! `Analytics::track_batch_stored` / `track_batch_then`: return (or call back) only once
//! the batch is durable, share the writer's transactions between concurrent callers
//! (group commit), and report a store failure instead of acknowledging.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use churn_core::event::MessageInput;
use churn_core::store::Store;
use churn_core::Analytics;
use common::{eventually, ControlledStore};

const HOUR: Duration = Duration::from_secs(3600);

fn batch(ids: &[String]) -> Vec<MessageInput> {
    ids.iter()
        .map(|id| {
            let json = format!(r#"{{"event":"e","userId":"u","messageId":"{id}"}}"#);
            MessageInput::parse_slice(json.as_bytes()).unwrap()
        })
        .collect()
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

#[test]
fn returns_only_once_stored_and_callers_share_one_commit() {
    let store = Arc::new(ControlledStore::new());
    // Nothing is written by the interval: only the waiting callers make the writer run.
    let a = Arc::new(
        Analytics::builder()
            .store(store.clone() as Arc<dyn Store>)
            .flush_interval(HOUR)
            .build()
            .unwrap(),
    );
    store.close_gate();
    let first = {
        let a = a.clone();
        std::thread::spawn(move || a.track_batch_stored(batch(&ids("first", 3))).unwrap())
    };
    // Give the writer time to take the first batch and block in `apply`.
    assert!(eventually(|| a.stats().accepted == 3));
    std::thread::sleep(Duration::from_millis(50));
    let others: Vec<_> = (0..10)
        .map(|t| {
            let a = a.clone();
            std::thread::spawn(move || a.track_batch_stored(batch(&ids(&format!("t{t}"), 5))))
        })
        .collect();
    assert!(eventually(|| a.stats().accepted == 53));
    // Nobody has been answered while nothing is stored.
    assert!(!first.is_finished() && others.iter().all(|t| !t.is_finished()));
    assert!(store.events().is_empty());
    store.open_gate();
    assert_eq!(first.join().unwrap().accepted, 3);
    for t in others {
        let report = t.join().unwrap().unwrap();
        assert_eq!(report.accepted, 5);
    }
    assert_eq!(store.events().len(), 53);
    // The first batch, then the ten waiting batches together (one transaction when
    // the writer had not yet taken the first batch when the gate closed): not eleven.
    let applies = store.applies.load(Ordering::SeqCst);
    assert!((1..=2).contains(&applies), "{applies} transactions");
}

#[test]
fn answered_at_commit_synced_by_the_interval_or_a_flush() {
    let store = Arc::new(ControlledStore::new());
    let a = Analytics::builder()
        .store(store.clone() as Arc<dyn Store>)
        .flush_interval(HOUR)
        .sync_interval(HOUR)
        .build()
        .unwrap();
    // Answered once committed, without waiting for a sync.
    let report = a.track_batch_stored(batch(&ids("c", 3))).unwrap();
    assert_eq!(report.accepted, 3);
    assert_eq!(store.events().len(), 3);
    let s = a.stats();
    assert_eq!((s.accepted, s.committed, s.stored), (3, 3, 0));
    assert_eq!(store.syncs.load(Ordering::SeqCst), 0);
    // `flush` waits for a sync.
    a.flush().unwrap();
    let s = a.stats();
    assert_eq!((s.committed, s.stored, s.pending), (3, 3, 0));
    assert_eq!(store.syncs.load(Ordering::SeqCst), 1);
    // A short interval syncs on its own.
    let b = Analytics::builder()
        .store(store.clone() as Arc<dyn Store>)
        .project("p2")
        .flush_interval(HOUR)
        .sync_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    b.track_batch_stored(batch(&ids("d", 2))).unwrap();
    assert!(eventually(|| b.stats().stored == 2));
    assert_eq!(store.syncs.load(Ordering::SeqCst), 2);
}

#[test]
fn a_store_failure_is_reported_not_acknowledged_and_a_retry_dedupes() {
    let store = Arc::new(ControlledStore::new());
    store.set_failing(true);
    let a = Analytics::builder()
        .store(store.clone() as Arc<dyn Store>)
        .flush_interval(HOUR)
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .build()
        .unwrap();
    let b = ids("b", 4);
    let err = a.track_batch_stored(batch(&b)).unwrap_err();
    assert_eq!(err.code(), "ERR_STORAGE");
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(a.stats().pending, 4, "kept for the writer's retries");
    store.set_failing(false);
    // The client retries the same batch: stored once.
    let report = a.track_batch_stored(batch(&b)).unwrap();
    assert_eq!(report.accepted, 4);
    assert_eq!(store.events().len(), 4);
    assert_eq!(a.stats().duplicates, 4);
}

#[test]
fn the_callback_runs_once_at_once_when_nothing_is_accepted() {
    let a = Analytics::builder()
        .in_memory()
        .flush_interval(HOUR)
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let bad = vec![MessageInput::parse_slice(br#"{"event":"e"}"#).unwrap()];
    let report = a
        .track_batch_then(bad, move |r| tx.send(r).unwrap())
        .unwrap();
    assert_eq!((report.accepted, report.rejected.len()), (0, 1));
    rx.recv_timeout(Duration::from_secs(1)).unwrap().unwrap();
    assert!(
        rx.recv_timeout(Duration::from_millis(50)).is_err(),
        "called twice"
    );
    // After close: an error, and the callback is never called.
    a.close().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<churn_core::Result<()>>();
    assert!(a
        .track_batch_then(batch(&ids("late", 1)), move |r| tx.send(r).unwrap())
        .is_err());
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
}

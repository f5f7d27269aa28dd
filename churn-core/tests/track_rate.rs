//! Rough measurement of `Analytics::track` throughput (ignored by default):
//! `cargo test --release -p churn-core --test track_rate -- --ignored --nocapture`.

use std::sync::Arc;

use churn_core::event::Event;
use churn_core::store::{MemoryStore, ScanRequest, Store};
use churn_core::{Analytics, Timestamp};

/// A store that accepts and discards, to measure the tracker's own cost.
struct NullStore(std::sync::atomic::AtomicU64);

impl Store for NullStore {
    fn schema_version(&self) -> churn_core::Result<u32> {
        Ok(1)
    }
    fn apply(
        &self,
        _: &str,
        m: &[churn_core::event::Message],
    ) -> churn_core::Result<churn_core::store::AppendOutcome> {
        self.0
            .fetch_add(m.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(churn_core::store::AppendOutcome {
            inserted: m.len(),
            ..Default::default()
        })
    }
    fn scan(
        &self,
        _: &str,
        _: &ScanRequest,
        _: &mut dyn FnMut(churn_core::store::StoredEvent) -> std::ops::ControlFlow<()>,
    ) -> churn_core::Result<()> {
        Ok(())
    }
    fn scan_rows(
        &self,
        _: &str,
        _: &ScanRequest,
        _: &mut dyn FnMut(&churn_core::store::EventRow<'_>) -> std::ops::ControlFlow<()>,
    ) -> churn_core::Result<()> {
        Ok(())
    }
    fn user(&self, _: &str, _: &str) -> churn_core::Result<Option<churn_core::store::UserRecord>> {
        Ok(None)
    }
    fn users(&self, _: &str) -> churn_core::Result<Vec<churn_core::store::UserRecord>> {
        Ok(vec![])
    }
    fn identities(&self, _: &str) -> churn_core::Result<Vec<churn_core::store::IdentityLink>> {
        Ok(vec![])
    }
    fn set_consent(&self, _: &str, _: &str, _: bool, _: Timestamp) -> churn_core::Result<()> {
        Ok(())
    }
    fn consents(&self, _: &str) -> churn_core::Result<Vec<churn_core::store::ConsentRecord>> {
        Ok(vec![])
    }
    fn delete_user(&self, _: &str, _: &str) -> churn_core::Result<churn_core::store::DeleteReport> {
        Ok(Default::default())
    }
    fn rewrite_user(
        &self,
        _: &str,
        _: &str,
        _: &mut dyn FnMut(Event) -> Event,
    ) -> churn_core::Result<churn_core::store::DeleteReport> {
        Ok(Default::default())
    }
    fn purge_before(&self, _: &str, _: Timestamp) -> churn_core::Result<u64> {
        Ok(0)
    }
    fn put_object(&self, _: &str, _: &str, _: &str, _: &[u8]) -> churn_core::Result<()> {
        Ok(())
    }
    fn get_object(&self, _: &str, _: &str, _: &str) -> churn_core::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn list_objects(&self, _: &str, _: &str) -> churn_core::Result<Vec<String>> {
        Ok(vec![])
    }
    fn delete_object(&self, _: &str, _: &str, _: &str) -> churn_core::Result<bool> {
        Ok(false)
    }
    fn stats(&self, _: &str) -> churn_core::Result<churn_core::store::StoreStats> {
        Ok(Default::default())
    }
}

/// CPU seconds used so far by this thread (`thread`) or the whole process, from
/// `/proc` (Linux; clock ticks of 10 ms). Lets the measurement below report CPU cost per
/// event, which stays meaningful when other jobs share the machine.
fn cpu_seconds(thread: bool) -> f64 {
    let path = if thread {
        "/proc/thread-self/stat"
    } else {
        "/proc/self/stat"
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// Rough rate of `track` (run with `cargo test --release --test tracker -- --ignored
/// --nocapture`). The official figures come from the bench in `benches/`.
#[test]
#[ignore = "measurement; run in release"]
fn track_rate() {
    const N: usize = 2_000_000;
    let users: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
    let make = |i: usize| {
        Event::track("feature_used")
            .user_id(users[i % users.len()].as_str())
            .property("plan", "pro")
            .property("n", i as u64)
    };
    let (t, c) = (std::time::Instant::now(), cpu_seconds(true));
    for i in 0..N {
        std::hint::black_box(make(i).build().unwrap());
    }
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds(true) - c);
    println!(
        "EventBuilder::build alone      : wall {:>9.0}/s, cpu {:>5.2} us/event",
        N as f64 / wall,
        cpu * 1e6 / N as f64
    );
    for (name, store) in [
        (
            "NullStore",
            Arc::new(NullStore(Default::default())) as Arc<dyn Store>,
        ),
        (
            "MemoryStore",
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
        ),
    ] {
        for threads in [1usize, 2] {
            let a = Analytics::builder()
                .store(store.clone())
                .project(format!("p{threads}"))
                .build()
                .unwrap();
            let (t, proc0) = (std::time::Instant::now(), cpu_seconds(false));
            let front: f64 = std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads)
                    .map(|k| {
                        let (a, make) = (&a, &make);
                        s.spawn(move || {
                            let c = cpu_seconds(true);
                            for i in (k..N).step_by(threads) {
                                a.track(make(i)).unwrap();
                            }
                            cpu_seconds(true) - c
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            let tracked = t.elapsed().as_secs_f64();
            a.flush().unwrap();
            let (flushed, total) = (t.elapsed().as_secs_f64(), cpu_seconds(false) - proc0);
            assert_eq!(a.stats().stored, N as u64);
            println!(
                "{name:<11} {threads} thread(s): track wall {:>9.0}/s, track+flush wall {:>9.0}/s; \
                 cpu: callers {:>5.2} us/event, whole process {:>5.2} us/event",
                N as f64 / tracked,
                N as f64 / flushed,
                front * 1e6 / N as f64,
                total * 1e6 / N as f64
            );
        }
    }
}

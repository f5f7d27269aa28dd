//! Crash safety of `churn serve`: clients send batches to the native (`/api/track`),
//! Segment (`/v1/batch`) and PostHog (`/batch`) routes of a real server process, which
//! is SIGKILLed at random moments (a few right after it starts listening, most while
//! requests are in flight), at least 30 times. After each kill the store reopens,
//! `PRAGMA integrity_check` is ok and every event answered with a 2xx is stored exactly
//! once: a 2xx means committed.
//!
//! Every wait is bounded (server start, each request); the store is rotated every 10
//! kills. About 15-40 s. `CHURN_CRASH_SEED` replays a run, `CHURN_CRASH_KILLS` (30) sets
//! the number of kills.
#![cfg(all(feature = "cli", unix))]

mod crash_common;
mod server_common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crash_common::{check_budget, check_store, env_num, seed};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};
use server_common::process::{serve, Serve};

const KILLS_PER_STORE: u64 = 10;

/// The ingestion routes under test.
#[derive(Clone, Copy, Debug)]
enum Route {
    Native,
    Segment,
    PostHog,
}

impl Route {
    const ALL: [Route; 3] = [Route::Native, Route::Segment, Route::PostHog];

    /// Path, headers and body of a batch carrying `ids`.
    fn request(self, key: &str, ids: &[String]) -> (&'static str, Vec<(String, String)>, Value) {
        match self {
            Route::Native => (
                "/api/track",
                vec![("Authorization".into(), format!("Bearer {key}"))],
                Value::Array(
                    ids.iter()
                        .map(|id| json!({"event": "native", "userId": "u1", "messageId": id}))
                        .collect(),
                ),
            ),
            Route::Segment => (
                "/v1/batch",
                vec![("Authorization".into(), server_common::basic(key))],
                json!({"batch": ids.iter()
                    .map(|id| json!({"type": "track", "event": "segment", "userId": "u2", "messageId": id}))
                    .collect::<Vec<_>>()}),
            ),
            Route::PostHog => (
                "/batch",
                vec![],
                json!({"api_key": key, "batch": ids.iter()
                    .map(|id| json!({"event": "posthog", "distinct_id": "u3", "uuid": id}))
                    .collect::<Vec<_>>()}),
            ),
        }
    }
}

/// Send batches until `stop` or the server is gone; ids answered with a 2xx go to
/// `acked`. Returns how many requests got a 2xx.
fn client(
    base: String,
    key: String,
    route: Route,
    tag: String,
    mut rng: StdRng,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<HashSet<String>>>,
) -> u64 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut ok = 0;
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let k = rng.random_range(1..40);
        let ids: Vec<String> = (0..k).map(|i| format!("{tag}-{n}-{i}")).collect();
        let (path, headers, body) = route.request(&key, &ids);
        let mut req = agent
            .post(format!("{base}{path}"))
            .header("Content-Type", "application/json");
        for (h, v) in &headers {
            req = req.header(h, v);
        }
        match req.send(&serde_json::to_vec(&body).unwrap()[..]) {
            Ok(mut resp) => {
                let st = resp.status().as_u16();
                let text = resp.body_mut().read_to_string().unwrap_or_default();
                if (200..300).contains(&st) {
                    acked.lock().extend(ids);
                    ok += 1;
                } else {
                    assert!(st < 500, "{route:?}: {st} {text}");
                    panic!("{route:?}: a good batch was refused: {st} {text}");
                }
            }
            // Killed: the connection is refused or reset.
            Err(_) => break,
        }
    }
    ok
}

#[test]
fn sigkill_never_loses_a_2xx() {
    let seed = seed("server_crash");
    let kills = env_num("CHURN_CRASH_KILLS", 30).max(1);
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let mut acked_total = 0usize;
    let mut early = 0;
    let mut requests_ok = [0u64; 3];
    let mut acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    for kill in 0..kills {
        check_budget(start, kill, kills, "server_crash");
        let gen = kill / KILLS_PER_STORE;
        if kill % KILLS_PER_STORE == 0 {
            acked_total += acked.lock().len();
            acked = Arc::default();
        }
        let db = dir.path().join(format!("churn-{gen}.db"));
        let mut server: Serve = serve(&db, &[], Duration::from_secs(30));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = Route::ALL
            .iter()
            .map(|&route| {
                let (base, key, stop, acked) = (
                    server.url.clone(),
                    server.write_key.clone(),
                    stop.clone(),
                    acked.clone(),
                );
                let (tag, crng) = (
                    format!("k{kill}-{route:?}"),
                    StdRng::seed_from_u64(rng.random()),
                );
                std::thread::spawn(move || client(base, key, route, tag, crng, stop, acked))
            })
            .collect();
        let wait = if rng.random_range(0..8) == 0 {
            early += 1;
            rng.random_range(0..20)
        } else {
            rng.random_range(20..400)
        };
        std::thread::sleep(Duration::from_millis(wait));
        server.kill(); // SIGKILL
        stop.store(true, Ordering::Relaxed);
        for (i, c) in clients.into_iter().enumerate() {
            requests_ok[i] += c.join().expect("a client failed");
        }
        let acked_now = acked.lock().clone();
        check_store(
            &db,
            &[churn_core::store::DEFAULT_PROJECT],
            &acked_now,
            &format!("after kill {kill} (seed {seed})"),
        );
    }
    acked_total += acked.lock().len();
    eprintln!(
        "server_crash: {kills} SIGKILLs ({early} right after listening), {acked_total} \
         events answered 2xx, all stored exactly once, integrity ok; 2xx requests \
         native/segment/posthog {requests_ok:?}; {:.1} s (seed {seed})",
        start.elapsed().as_secs_f64()
    );
    assert!(
        requests_ok.iter().all(|&n| n > 0),
        "a route was never acknowledged: {requests_ok:?}"
    );
}

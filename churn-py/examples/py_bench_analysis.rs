//! The Rust side of `./dev bench-python`: load a SQLite store written by
//! `churn-py/bench/bench_track.py` and time the same analyses it times from Python
//! (median of `runs`), printing one JSON object.
//!
//! Usage: `py_bench_analysis <events.db> <runs>`

use std::sync::Arc;
use std::time::Instant;

use churn_core::engine::{ActiveUsersRequest, Engine, Period, RetentionRequest, SessionsRequest};
use churn_core::store::{SqliteStore, Store, DEFAULT_PROJECT};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: py_bench_analysis <events.db> <runs>")?;
    let runs: usize = args.next().unwrap_or_else(|| "15".into()).parse()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path)?);
    let engine = Engine::load(store, DEFAULT_PROJECT)?;
    let active = time(runs, || {
        engine.active_users(&ActiveUsersRequest::new().period(Period::Day))
    });
    let sessions = time(runs, || engine.sessions(&SessionsRequest::new()));
    let retention = time(runs, || {
        engine.retention(&RetentionRequest::new().period(Period::Week))
    });
    println!(
        "{{\"active_users_ms\": {active:.3}, \"sessions_ms\": {sessions:.3}, \"retention_ms\": {retention:.3}}}"
    );
    Ok(())
}

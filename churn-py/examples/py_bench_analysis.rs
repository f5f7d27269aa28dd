//! The Rust side of `./dev bench-python`: load a SQLite store written by
//! `churn-py/bench/bench_track.py` and time the same analyses it times from Python
//! (median of `runs`), printing one JSON object: wall-clock medians (`*_ms`) and medians
//! of the calling thread's CPU time (`*_cpu_ms`, steady on a busy machine; the
//! analyses run on the calling thread).
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

/// CPU time of the calling thread, in milliseconds.
fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6
}

/// Medians of (wall ms, thread CPU ms) over `runs` calls of `f`.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64) {
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (t, c) = (Instant::now(), thread_cpu_ms());
        std::hint::black_box(f());
        cpu.push(thread_cpu_ms() - c);
        wall.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (median(wall), median(cpu))
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
        "{{\"active_users_ms\": {:.3}, \"sessions_ms\": {:.3}, \"retention_ms\": {:.3}, \
         \"active_users_cpu_ms\": {:.3}, \"sessions_cpu_ms\": {:.3}, \"retention_cpu_ms\": {:.3}}}",
        active.0, sessions.0, retention.0, active.1, sessions.1, retention.1
    );
    Ok(())
}

//! Load time, memory and analysis timings of the query engine over 1M generated events
//! in a `MemoryStore` (a quick measurement; the DuckDB comparison lives in `benches/`).
//!
//! `cargo run --release -p churn-core --example engine_measure [events]`

use std::sync::Arc;
use std::time::Instant;

use churn_core::engine::{
    ActiveUsersRequest, Engine, Period, RetentionRequest, RevenueRequest, SessionsRequest,
};
use churn_core::event::{Event, Identify, Limits, Message};
use churn_core::store::{MemoryStore, ScanRequest, Store, DEFAULT_PROJECT};
use churn_core::Timestamp;

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn generate(store: &MemoryStore, target: usize) -> churn_core::Result<()> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = Timestamp::from_ymd(2026, 1, 1).map_or(0, |t| t.millis());
    let now = Timestamp::from_ymd(2030, 1, 1).unwrap_or_default();
    let lim = Limits::default();
    let users = (target / 50).max(1) as u64;
    let mut batch: Vec<Message> = Vec::with_capacity(10_000);
    let mut n = 0usize;
    let mut u = 0u64;
    while n < target {
        let user = format!("user{}", u % users);
        let anon = format!("anon{u}");
        let signup = start + (rng.below(180) as i64) * 86_400_000;
        let mut t = signup + rng.below(86_400_000) as i64;
        let sessions = 1 + rng.below(8);
        for s in 0..sessions {
            let len = 2 + rng.below(10);
            for k in 0..len {
                let name = match rng.below(10) {
                    0..=4 => "page_view",
                    5..=7 => "feature_used",
                    8 => "login",
                    _ => "purchase",
                };
                let mut b = Event::track(name).timestamp(Timestamp::from_millis(t));
                b = if s == 0 && k == 0 {
                    b.anonymous_id(&anon)
                } else {
                    b.user_id(&user)
                };
                if name == "page_view" {
                    b = Event::page(format!("/p{}", rng.below(20)))
                        .timestamp(Timestamp::from_millis(t))
                        .user_id(&user);
                }
                if name == "purchase" {
                    b = b
                        .number("amount", (1 + rng.below(100)) as f64)
                        .property("currency", "USD");
                }
                batch.push(Message::Track(b.build_at(now, &lim)?));
                n += 1;
                t += (1 + rng.below(300)) as i64 * 1000;
            }
            t += (1 + rng.below(7 * 86_400)) as i64 * 1000;
        }
        batch.push(Message::Identify(
            Identify::user(&user)
                .anonymous_id(&anon)
                .build_at(now, &lim)?,
        ));
        u += 1;
        if batch.len() >= 10_000 {
            store.apply(DEFAULT_PROJECT, &batch)?;
            batch.clear();
        }
    }
    store.apply(DEFAULT_PROJECT, &batch)?;
    Ok(())
}

fn median_ms(
    runs: usize,
    mut f: impl FnMut() -> churn_core::Result<()>,
) -> churn_core::Result<f64> {
    let mut v = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    v.sort_by(f64::total_cmp);
    Ok(v[v.len() / 2])
}

fn main() -> churn_core::Result<()> {
    let target: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let store = Arc::new(MemoryStore::new());
    let t = Instant::now();
    generate(&store, target)?;
    println!(
        "generated {} events in {:.1} s",
        store.stats(DEFAULT_PROJECT)?.events,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let mut rows = 0u64;
    store.scan_rows(DEFAULT_PROJECT, &ScanRequest::new(), &mut |_| {
        rows += 1;
        std::ops::ControlFlow::Continue(())
    })?;
    println!(
        "store.scan_rows alone: {:.0} ms ({rows} rows)",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let links = store.identities(DEFAULT_PROJECT)?.len();
    println!(
        "store.identities alone: {:.0} ms ({links} links)",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let engine = Engine::load(store.clone(), DEFAULT_PROJECT)?;
    println!("load: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
    let m = engine.memory_usage();
    println!(
        "memory: {} events, {} persons, columns {:.1} MB ({:.1} B/event), other {:.1} MB, total {:.1} MB",
        m.events,
        m.persons,
        m.column_bytes as f64 / 1e6,
        m.column_bytes_per_event,
        m.other_bytes as f64 / 1e6,
        engine.memory_bytes() as f64 / 1e6
    );
    let t = Instant::now();
    let r = engine.refresh()?;
    println!(
        "refresh (nothing new): {:.2} ms, {} new",
        t.elapsed().as_secs_f64() * 1000.0,
        r.new_events
    );
    let runs = 5;
    let rows: Vec<(&str, f64)> = vec![
        (
            "DAU every day (+WAU_7, MAU_30, stickiness)",
            median_ms(runs, || {
                engine.active_users(&ActiveUsersRequest::new()).map(drop)
            })?,
        ),
        (
            "MAU (monthly active users)",
            median_ms(runs, || {
                engine
                    .active_users(&ActiveUsersRequest::new().period(Period::Month))
                    .map(drop)
            })?,
        ),
        (
            "sessions",
            median_ms(runs, || engine.sessions(&SessionsRequest::new()).map(drop))?,
        ),
        (
            "weekly retention",
            median_ms(runs, || {
                engine.retention(&RetentionRequest::new()).map(drop)
            })?,
        ),
        (
            "monthly revenue + churn rate",
            median_ms(runs, || engine.revenue(&RevenueRequest::new()).map(drop))?,
        ),
    ];
    for (name, ms) in rows {
        println!("{name:<45} {ms:>8.1} ms (median of {runs})");
    }
    Ok(())
}

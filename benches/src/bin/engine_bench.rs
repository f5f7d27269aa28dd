//! The churnlens side of the engine bench (`./dev bench-engine`): generates the
//! synthetic data set, writes it as CSV for DuckDB (untimed), loads the engine from a
//! [`SynthStore`], times each analysis (median of `--runs`), and writes the timings, the
//! memory figures and the results (in a neutral shape the DuckDB script compares
//! exactly) as JSON. `benches/engine_duckdb.py` runs this, then DuckDB, then prints the
//! ratios.
//!
//! `engine_bench --events 1000000 --runs 5 --csv events.csv --out churnlens.json`

use std::sync::Arc;
use std::time::Instant;

use churn_benches::synth::Synth;
use churn_benches::synth_store::SynthStore;
use churn_benches::{median, peak_rss_bytes};
use churn_core::engine::{
    ActiveUsersRequest, Engine, FunnelRequest, Period, RetentionRequest, RevenueRequest,
    SessionsRequest,
};
use churn_core::store::DEFAULT_PROJECT;
use churn_core::Timestamp;
use serde_json::{json, Value};

struct Args {
    events: usize,
    runs: usize,
    csv: Option<String>,
    out: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        events: 1_000_000,
        runs: 5,
        csv: None,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--events" => a.events = v()?.parse().map_err(|e| format!("--events: {e}"))?,
            "--runs" => a.runs = v()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--csv" => a.csv = Some(v()?),
            "--out" => a.out = Some(v()?),
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if a.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(a)
}

fn day(t: Timestamp) -> String {
    t.to_string()[..10].to_string()
}

/// Run `f` `runs` times; the median milliseconds and the last result.
fn timed<T>(
    runs: usize,
    mut f: impl FnMut() -> churn_core::Result<T>,
) -> churn_core::Result<(f64, T)> {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some(r);
    }
    let last = last.ok_or_else(|| churn_core::Error::invalid("runs", "no run"))?;
    Ok((median(&times), last))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("engine_bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let a = args()?;
    let t = Instant::now();
    let synth = Synth::generate(a.events);
    eprintln!(
        "generated {} events, {} users in {:.1} s",
        synth.len(),
        synth.user_ids.len(),
        t.elapsed().as_secs_f64()
    );
    if let Some(csv) = &a.csv {
        let t = Instant::now();
        synth.write_csv(std::path::Path::new(csv))?;
        eprintln!("wrote {csv} in {:.1} s", t.elapsed().as_secs_f64());
    }
    // Peak memory from here on: the source data, the engine load and the analyses.
    let reset = churn_benches::reset_peak_rss();
    let rss_data = peak_rss_bytes();
    let store = Arc::new(SynthStore::new(synth));
    let cpu = churn_benches::cpu_time();
    let t = Instant::now();
    let engine = Engine::load(store.clone(), DEFAULT_PROJECT)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let load_cpu_ms = match (cpu, churn_benches::cpu_time()) {
        (Some(a), Some(b)) => (b - a).as_secs_f64() * 1e3,
        _ => f64::NAN,
    };
    let mem = engine.memory_usage();
    eprintln!(
        "engine loaded in {load_ms:.0} ms ({load_cpu_ms:.0} ms CPU): {} persons, {:.1} B/event columns",
        mem.persons, mem.column_bytes_per_event
    );
    // The first analysis that needs paths / attribution / amounts reads them (full
    // events) from the store: part of getting the data in, not of the analysis.
    let t = Instant::now();
    engine.sessions(&SessionsRequest::new())?;
    let props_ms = t.elapsed().as_secs_f64() * 1e3;
    let runs = a.runs;
    let mut timings = serde_json::Map::new();
    let mut results = serde_json::Map::new();

    let (ms, r) = timed(runs, || {
        engine.active_users(&ActiveUsersRequest::new().period(Period::Day))
    })?;
    timings.insert("dau".into(), json!(ms));
    let dau: Vec<Value> = r.daily.iter().map(|d| json!([d.date, d.dau])).collect();
    results.insert("dau".into(), json!(dau));

    let (ms, r) = timed(runs, || {
        engine.active_users(&ActiveUsersRequest::new().period(Period::Month))
    })?;
    timings.insert("mau".into(), json!(ms));
    let mau: Vec<Value> = r
        .periods
        .iter()
        .map(|p| json!([p.label, p.active_users]))
        .collect();
    results.insert("mau".into(), json!(mau));

    let (ms, r) = timed(runs, || engine.sessions(&SessionsRequest::new()))?;
    timings.insert("sessions".into(), json!(ms));
    let per_day: Vec<Value> = r
        .per_period
        .iter()
        .map(|p| json!([p.label, p.sessions]))
        .collect();
    results.insert(
        "sessions".into(),
        json!({
            "sessions": r.sessions, "users": r.users,
            "total_duration_ms": r.total_duration_ms,
            "median_duration_ms": r.median_duration_ms,
            "pages_per_session": r.pages_per_session,
            "bounces": r.bounces, "per_day": per_day,
        }),
    );

    let funnel =
        FunnelRequest::new(["signup", "feature_used", "purchase"]).window_ms(7 * 86_400_000);
    let (ms, r) = timed(runs, || engine.funnel(&funnel))?;
    timings.insert("funnel".into(), json!(ms));
    let users: Vec<u64> = r.steps.iter().map(|s| s.users).collect();
    results.insert(
        "funnel".into(),
        json!({"users": users, "in_progress": r.in_progress}),
    );

    let (ms, r) = timed(runs, || {
        engine.retention(&RetentionRequest::new().period(Period::Week))
    })?;
    timings.insert("retention".into(), json!(ms));
    let cohorts: Vec<Value> = r
        .cohorts
        .iter()
        .map(|c| json!([day(c.start), c.size, c.counts]))
        .collect();
    results.insert("retention".into(), json!(cohorts));

    let (ms, r) = timed(runs, || {
        engine.revenue(&RevenueRequest::new().period(Period::Month))
    })?;
    timings.insert("revenue".into(), json!(ms));
    let months: Vec<Value> = r
        .periods
        .iter()
        .map(|p| {
            json!([
                p.label,
                p.revenue,
                p.payments,
                p.paying_users,
                p.active_users,
                p.churned_users,
                p.churn_rate
            ])
        })
        .collect();
    results.insert("revenue".into(), json!(months));

    let out = json!({
        "events": store.data().len(),
        "users": store.data().user_ids.len(),
        "load_ms": load_ms,
        "props_ms": props_ms,
        "engine_bytes": engine.memory_bytes(),
        "column_bytes_per_event": mem.column_bytes_per_event,
        "peak_rss_reset": reset,
        "rss_before_load": rss_data,
        "peak_rss": peak_rss_bytes(),
        "timings_ms": timings,
        "results": results,
    });
    let text = serde_json::to_string(&out)?;
    match &a.out {
        Some(p) => std::fs::write(p, text)?,
        None => println!("{text}"),
    }
    Ok(())
}

//! Where `Engine::load` time goes on a SQLite store: the core scan (`scan_rows`), the
//! full-event scan of page views and revenue events (JSON properties and context), and
//! the engine's own work (interning, grouping, sorting), plus the deferred first fetch of
//! paths / attribution / amounts that the first `sessions` call pays.
//!
//! `engine_load --events 1000000 [--db PATH] [--runs 3]`: the store file is built once
//! from the synthetic data set (untimed apart; `Durability::Normal`) and kept for later
//! runs.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use churn_benches::synth::Synth;
use churn_benches::synth_store::SynthStore;
use churn_benches::{cpu_time, median};
use churn_core::engine::{Engine, SessionsRequest, DEFAULT_REVENUE_EVENTS};
use churn_core::event::PAGE_VIEW;
use churn_core::store::{
    Durability, ScanRequest, SqliteOptions, SqliteStore, Store, StoreExt, DEFAULT_PROJECT,
};

fn main() {
    if let Err(e) = run() {
        eprintln!("engine_load: {e}");
        std::process::exit(1);
    }
}

/// Median wall and CPU milliseconds of `runs` calls.
fn time<T>(
    runs: usize,
    mut f: impl FnMut() -> churn_core::Result<T>,
) -> churn_core::Result<(f64, f64)> {
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let c = cpu_time();
        let t = Instant::now();
        f()?;
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        if let (Some(a), Some(b)) = (c, cpu_time()) {
            cpu.push((b - a).as_secs_f64() * 1e3);
        }
    }
    Ok((median(&wall), median(&cpu)))
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut events = 1_000_000usize;
    let mut runs = 3usize;
    let mut db = None;
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        match k.as_str() {
            "--events" => events = v.parse()?,
            "--runs" => runs = v.parse()?,
            "--db" => db = Some(v),
            _ => return Err(format!("unknown argument {k}").into()),
        }
    }
    let db = db.unwrap_or_else(|| format!("target/bench-engine/load-{events}.db"));
    let path = std::path::Path::new(&db);
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let t = Instant::now();
        let tmp = path.with_extension("partial");
        let _ = std::fs::remove_file(&tmp);
        let store =
            SqliteStore::open_with(&tmp, SqliteOptions::new().durability(Durability::Normal))?;
        let src = SynthStore::new(Synth::generate(events));
        let mut batch = Vec::with_capacity(10_000);
        let flush = |batch: &mut Vec<_>| -> churn_core::Result<()> {
            store.append(DEFAULT_PROJECT, batch)?;
            batch.clear();
            Ok(())
        };
        let mut err = None;
        src.scan(DEFAULT_PROJECT, &ScanRequest::new(), &mut |e| {
            batch.push(e.event);
            if batch.len() == 10_000 {
                if let Err(x) = flush(&mut batch) {
                    err = Some(x);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })?;
        if let Some(e) = err {
            return Err(e.into());
        }
        flush(&mut batch)?;
        store.sync()?;
        drop(store);
        std::fs::rename(&tmp, path)?;
        for ext in ["partial-wal", "partial-shm"] {
            let _ = std::fs::remove_file(path.with_extension(ext));
        }
        eprintln!(
            "built {db} ({events} events) in {:.0} s",
            t.elapsed().as_secs_f64()
        );
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path)?);
    let n = store.stats(DEFAULT_PROJECT)?.events;
    let mut props_names = vec![PAGE_VIEW.to_string()];
    props_names.extend(DEFAULT_REVENUE_EVENTS.iter().map(|s| s.to_string()));
    let mut rows = 0u64;
    let scan_rows = time(runs, || {
        rows = 0;
        store.scan_rows(DEFAULT_PROJECT, &ScanRequest::new(), &mut |_| {
            rows += 1;
            ControlFlow::Continue(())
        })
    })?;
    let mut full = 0u64;
    let scan_full = time(runs, || {
        full = 0;
        let req = ScanRequest::new().events(props_names.clone());
        store.scan(DEFAULT_PROJECT, &req, &mut |_| {
            full += 1;
            ControlFlow::Continue(())
        })
    })?;
    let load = time(runs, || Engine::load(store.clone(), DEFAULT_PROJECT))?;
    // First sessions call (pays the deferred fetch) against a second one.
    let mut first = Vec::new();
    let mut second = Vec::new();
    for _ in 0..runs {
        let e = Engine::load(store.clone(), DEFAULT_PROJECT)?;
        first.push(time(1, || e.sessions(&SessionsRequest::new()))?);
        second.push(time(1, || e.sessions(&SessionsRequest::new()))?);
    }
    let m = |v: &[(f64, f64)], k: usize| {
        median(
            &v.iter()
                .map(|x| if k == 0 { x.0 } else { x.1 })
                .collect::<Vec<_>>(),
        )
    };
    let props = (m(&first, 0) - m(&second, 0), m(&first, 1) - m(&second, 1));
    let load_avg = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    println!(
        "{db}: {n} events ({full} page views / revenue events), median of {runs}, load average {load_avg}"
    );
    println!("{:<52} {:>9} {:>9}", "step", "wall ms", "CPU ms");
    let row = |name: &str, x: (f64, f64)| println!("{name:<52} {:>9.0} {:>9.0}", x.0, x.1);
    row(
        &format!("scan_rows, all {rows} events (core columns)"),
        scan_rows,
    );
    row("scan, page views + revenue events (full JSON)", scan_full);
    row("Engine::load (core only; props deferred)", load);
    row(
        "  of which engine work (load - scan_rows)",
        (load.0 - scan_rows.0, load.1 - scan_rows.1),
    );
    row("deferred props fetch (first sessions - second)", props);
    row(
        "load + props (what an eager load would take)",
        (load.0 + props.0, load.1 + props.1),
    );
    Ok(())
}

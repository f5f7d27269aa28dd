//! PostgreSQL store benchmark: batched ingest (`PostgresStore::apply`: message ids
//! claimed in one statement, events by binary `COPY` into the monthly partitions)
//! beside row-by-row `INSERT` from Python `psycopg` of the same rows in the same run,
//! then `scan_rows` and `Engine::load` of everything stored. `./dev bench-pg` starts a
//! throwaway cluster, installs psycopg in a venv and runs it.
//!
//! ```text
//! pg_bench --url postgres://churn@127.0.0.1:5432/postgres --events 1000000 --runs 3
//! ```
//!
//! Options: `--url URL` (default `$CHURN_TEST_PG_URL`; each run makes and drops its own
//! database there), `--events N` (1,000,000), `--runs R` (3), `--batch B` (10,000),
//! `--python PATH` (a python with psycopg; none: no baseline), `--python-events N`
//! (50,000: row-by-row is slow, so it gets a prefix of the same rows), `--keep` (keep the
//! last run's database), `--writers N` (1: N threads, each with its own
//! `PostgresStore::connect` like N app servers on one database, apply disjoint shares of
//! the same batches at once; events/s is the aggregate, wall clock from the first start
//! to the last finish). CPU figures add the client's CPU time and the server
//! backends' (read from `/proc`, so the server must run on this machine).
//!
//! Load-only mode (the "engine load of 10M events" goal without paying a 10M ingest per
//! run): `--load-only` skips the ingest runs and the Python baseline; the database
//! `--db NAME` (default `churn_bench_load`) is filled once by `PostgresStore::apply`
//! (the real write path, batches of `--batch`, timed and printed) unless it already
//! holds exactly `--events` events, and is kept for the next invocation; then each run
//! times `scan_rows` of everything and `Engine::load` (the load a server does),
//! printing wall time, client and server CPU and the client's peak RSS during the load.
//!
//! ```text
//! pg_bench --load-only --events 10000000 --runs 3      # fills once (~100 s), then loads
//! pg_bench --load-only --events 10000000 --runs 3      # again: loads only
//! ```

use std::ops::ControlFlow;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_benches::{cpu_time, generate, median, peak_rss_bytes, reset_peak_rss, write_rows};
use churn_core::engine::Engine;
use churn_core::event::{Event, Message};
use churn_core::store::{PostgresStore, ScanRequest, Store, DEFAULT_PROJECT};

/// Events generated at a time (each chunk from its own seed), so 10M events never sit
/// in memory at once.
const CHUNK: usize = 500_000;

struct Args {
    url: String,
    events: usize,
    runs: usize,
    batch: usize,
    python: Option<String>,
    python_events: usize,
    keep: bool,
    load_only: bool,
    db: Option<String>,
    writers: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        url: std::env::var("CHURN_TEST_PG_URL").unwrap_or_default(),
        events: 1_000_000,
        runs: 3,
        batch: 10_000,
        python: None,
        python_events: 50_000,
        keep: false,
        load_only: false,
        db: None,
        writers: 1,
    };
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, k: &str| -> Result<usize, String> {
        v.ok_or(format!("{k} needs a value"))?
            .replace('_', "")
            .parse()
            .map_err(|e| format!("{k}: {e}"))
    };
    while let Some(k) = it.next() {
        match k.as_str() {
            "--url" => a.url = it.next().ok_or("--url needs a value")?,
            "--events" => a.events = num(it.next(), &k)?,
            "--runs" => a.runs = num(it.next(), &k)?.max(1),
            "--batch" => a.batch = num(it.next(), &k)?.max(1),
            "--python" => a.python = Some(it.next().ok_or("--python needs a value")?),
            "--python-events" => a.python_events = num(it.next(), &k)?,
            "--keep" => a.keep = true,
            "--load-only" => a.load_only = true,
            "--db" => a.db = Some(it.next().ok_or("--db needs a value")?),
            "--writers" => a.writers = num(it.next(), &k)?.max(1),
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if a.url.is_empty() {
        return Err("no --url and no CHURN_TEST_PG_URL (./dev bench-pg sets it)".into());
    }
    Ok(a)
}

fn main() {
    if let Err(e) = parse().and_then(|a| run(&a)) {
        eprintln!("pg_bench: {e}");
        std::process::exit(1);
    }
}

/// Run `sql` on the server's maintenance database; returns the rows' first columns.
fn admin(url: &str, sql: &str) -> Result<Vec<String>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        tokio::spawn(conn);
        let msgs = c
            .simple_query(sql)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .collect())
    })
}

/// A fresh, empty database named `name`; returns its URL.
fn fresh_db(url: &str, name: &str) -> Result<String, String> {
    admin(url, &format!("DROP DATABASE IF EXISTS {name}"))?;
    admin(url, &format!("CREATE DATABASE {name}"))?;
    Ok(churn_core::store::postgres::with_database(url, name))
}

/// CPU time of the server processes serving database `db` (backends, read from
/// `/proc`; zero when the server runs elsewhere).
fn server_cpu(url: &str, db: &str) -> Duration {
    let pids = admin(
        url,
        &format!("SELECT pid::text FROM pg_stat_activity WHERE datname = '{db}'"),
    )
    .unwrap_or_default();
    let mut ticks = 0u64;
    for pid in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(at) = stat.rfind(')') else { continue };
        let f: Vec<&str> = stat[at + 2..].split_whitespace().collect();
        let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        ticks += get(11) + get(12);
    }
    Duration::from_millis(ticks * 10)
}

/// The events of chunk `k` (deterministic).
fn chunk(a: &Args, k: usize) -> Vec<Message> {
    let n = CHUNK.min(a.events - k * CHUNK);
    generate(n, 1 + k as u64)
        .into_iter()
        .map(Message::Track)
        .collect()
}

/// One ingest run into a fresh database: `(seconds, client CPU s, server CPU s)`.
fn ingest_run(a: &Args, db_url: &str, db: &str) -> Result<(f64, f64, f64), String> {
    if a.writers > 1 {
        return ingest_run_writers(a, db_url, db);
    }
    let store = PostgresStore::connect(db_url).map_err(|e| e.to_string())?;
    let (mut wall, mut cpu) = (Duration::ZERO, Duration::ZERO);
    let server0 = server_cpu(&a.url, db);
    for k in 0..a.events.div_ceil(CHUNK) {
        let msgs = chunk(a, k);
        let (c0, t) = (cpu_time(), Instant::now());
        for b in msgs.chunks(a.batch) {
            let out = store.apply(DEFAULT_PROJECT, b).map_err(|e| e.to_string())?;
            if out.inserted != b.len() {
                return Err(format!("stored {} of {}", out.inserted, b.len()));
            }
        }
        wall += t.elapsed();
        if let (Some(x), Some(y)) = (c0, cpu_time()) {
            cpu += y - x;
        }
    }
    let server = server_cpu(&a.url, db).saturating_sub(server0);
    Ok((wall.as_secs_f64(), cpu.as_secs_f64(), server.as_secs_f64()))
}

/// `--writers N`: each chunk is generated first (untimed), then N threads, each with its
/// own store (its own connections), apply batches `w, w + N, w + 2N, ...` of it at once;
/// the wall clock runs from the threads' start to the last one's finish. Ends by checking
/// that the database holds every event.
fn ingest_run_writers(a: &Args, db_url: &str, db: &str) -> Result<(f64, f64, f64), String> {
    let stores = (0..a.writers)
        .map(|_| PostgresStore::connect(db_url).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut wall, mut cpu) = (Duration::ZERO, Duration::ZERO);
    let server0 = server_cpu(&a.url, db);
    for k in 0..a.events.div_ceil(CHUNK) {
        let msgs = chunk(a, k);
        let batches: Vec<&[Message]> = msgs.chunks(a.batch).collect();
        let (c0, t) = (cpu_time(), Instant::now());
        std::thread::scope(|s| {
            let handles: Vec<_> = stores
                .iter()
                .enumerate()
                .map(|(w, store)| {
                    let batches = &batches;
                    s.spawn(move || -> Result<(), String> {
                        for b in batches.iter().skip(w).step_by(a.writers) {
                            let out = store.apply(DEFAULT_PROJECT, b).map_err(|e| e.to_string())?;
                            if out.inserted != b.len() {
                                return Err(format!(
                                    "writer {w} stored {} of {}",
                                    out.inserted,
                                    b.len()
                                ));
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().map_err(|_| "a writer panicked".to_string())?)
        })?;
        wall += t.elapsed();
        if let (Some(x), Some(y)) = (c0, cpu_time()) {
            cpu += y - x;
        }
    }
    let server = server_cpu(&a.url, db).saturating_sub(server0);
    let held = stores[0]
        .stats(DEFAULT_PROJECT)
        .map_err(|e| e.to_string())?
        .events;
    if held != a.events as u64 {
        return Err(format!("the database holds {held} of {} events", a.events));
    }
    Ok((wall.as_secs_f64(), cpu.as_secs_f64(), server.as_secs_f64()))
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn python_baseline(a: &Args, py: &str) -> Result<(f64, f64, f64), String> {
    let n = a.python_events.min(a.events).min(CHUNK);
    let events: Vec<Event> = generate(n, 1);
    let dir = std::env::temp_dir().join(format!("pg_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let rows = dir.join("rows.ndjson");
    write_rows(&events, &rows).map_err(|e| e.to_string())?;
    let db = format!("churn_bench_py_{}", std::process::id());
    let db_url = fresh_db(&a.url, &db)?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/pg_insert_baseline.py");
    let out = Command::new(py)
        .args([script, "--url", &db_url, "--rows"])
        .arg(&rows)
        .args(["--batch", &a.batch.to_string()])
        .output()
        .map_err(|e| format!("cannot run {py}: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    let server = server_cpu(&a.url, &db);
    let _ = server; // the script's connection is closed by now; its CPU is in its JSON
    admin(&a.url, &format!("DROP DATABASE IF EXISTS {db}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("python output: {e}"))?;
    let f = |k: &str| v[k].as_f64().ok_or(format!("python output has no {k}"));
    Ok((f("seconds")?, f("client_cpu_s")?, f("server_cpu_s")?))
}

fn run(a: &Args) -> Result<(), String> {
    println!(
        "pg_bench: {} events (realistic synthetic set, random UUID message ids), batches of {}, \
         {} runs, load average {}",
        a.events,
        a.batch,
        a.runs,
        load_avg()
    );
    if a.writers > 1 {
        println!(
            "{} writers, each with its own PostgresStore::connect, applying disjoint shares \
             of the batches at once (events/s = aggregate)",
            a.writers
        );
    }
    let version = admin(&a.url, "SHOW server_version")?.join("");
    let settings = admin(
        &a.url,
        "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
         WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers',
                        'wal_level', 'max_wal_size')",
    )?
    .join("");
    println!("server: PostgreSQL {version} ({settings})");
    if let Ok(n) = std::env::var("CHURN_PG_LOAD_CONNS") {
        println!("CHURN_PG_LOAD_CONNS={n} (large scans sliced over that many connections)");
    }
    if a.load_only {
        return load_only(a);
    }
    let mut ingest = Vec::new();
    let db = format!("churn_bench_{}", std::process::id());
    let mut db_url = String::new();
    for _ in 0..a.runs {
        db_url = fresh_db(&a.url, &db)?;
        let r = ingest_run(a, &db_url, &db)?;
        print_ingest("ingest run", a, r);
        ingest.push(r);
    }
    let med = |k: usize| {
        median(
            &ingest
                .iter()
                .map(|r| [r.0, r.1, r.2][k])
                .collect::<Vec<_>>(),
        )
    };
    let (wall, client, server) = (med(0), med(1), med(2));
    println!("{:<58} {:>12} {:>14}", "", "events/s", "events/CPU-s");
    let line = |name: &str, n: usize, wall: f64, cpu: f64| {
        println!(
            "{name:<58} {:>12.0} {:>14.0}",
            n as f64 / wall,
            if cpu > 0.0 { n as f64 / cpu } else { f64::NAN }
        )
    };
    line(
        "PostgresStore::apply (median; CPU = client + server)",
        a.events,
        wall,
        client + server,
    );
    if let Some(py) = &a.python {
        match python_baseline(a, py) {
            Ok((s, c, sv)) => {
                let n = a.python_events.min(a.events).min(CHUNK);
                line(
                    &format!("python psycopg row-by-row INSERT ({n} events)"),
                    n,
                    s,
                    c + sv,
                );
                println!(
                    "ratio PostgresStore / psycopg: {:.1}x wall clock, {:.1}x CPU",
                    (a.events as f64 / wall) / (n as f64 / s),
                    (a.events as f64 / (client + server)) / (n as f64 / (c + sv))
                );
            }
            Err(e) => println!("python baseline failed: {e}"),
        }
    }
    // Reads of the last run's database.
    reads(a, &db_url, &db)?;
    if !a.keep {
        admin(&a.url, &format!("DROP DATABASE IF EXISTS {db}"))?;
    }
    Ok(())
}

/// One ingest's line: wall s, events/s, client and server CPU s, load average.
fn print_ingest(what: &str, a: &Args, (wall, client, server): (f64, f64, f64)) {
    println!(
        "  {what}: {wall:.2} s, {:.0} events/s (client CPU {client:.2} s, server CPU {server:.2} s), load {}",
        a.events as f64 / wall,
        load_avg()
    );
}

/// `--load-only`: fill database `--db` once (unless it already holds `--events` events),
/// keep it, and time the reads.
fn load_only(a: &Args) -> Result<(), String> {
    let db = a.db.clone().unwrap_or_else(|| "churn_bench_load".into());
    let exists = !admin(
        &a.url,
        &format!("SELECT 1 FROM pg_database WHERE datname = '{db}'"),
    )?
    .is_empty();
    let mut db_url = churn_core::store::postgres::with_database(&a.url, &db);
    let held = if exists {
        PostgresStore::connect(&db_url)
            .and_then(|s| s.stats(DEFAULT_PROJECT))
            .map(|s| s.events as usize)
            .unwrap_or(0)
    } else {
        0
    };
    if held == a.events {
        println!("database {db} already holds {held} events: reusing it (no fill)");
    } else {
        println!(
            "filling database {db} with {} events by PostgresStore::apply (it held {held})",
            a.events
        );
        db_url = fresh_db(&a.url, &db)?;
        let r = ingest_run(a, &db_url, &db)?;
        print_ingest("fill", a, r);
        admin(&db_url, "VACUUM ANALYZE")?;
    }
    reads(a, &db_url, &db)?;
    println!("database {db} kept (DROP DATABASE {db} to free it)");
    Ok(())
}

/// One timed read: wall s, client CPU s, server CPU s, client peak RSS MiB.
type Read = (f64, f64, f64, f64);

/// Time `f` with the client's and the server's CPU and the client's peak RSS.
fn measure(a: &Args, db: &str, f: impl FnOnce() -> Result<(), String>) -> Result<Read, String> {
    let server0 = server_cpu(&a.url, db);
    let rss_reset = reset_peak_rss();
    let (c0, t) = (cpu_time(), Instant::now());
    f()?;
    let w = t.elapsed().as_secs_f64();
    let c = cpu_time()
        .zip(c0)
        .map_or(0.0, |(y, x)| (y - x).as_secs_f64());
    let s = server_cpu(&a.url, db).saturating_sub(server0).as_secs_f64();
    let rss = match (rss_reset, peak_rss_bytes()) {
        (true, Some(b)) => b as f64 / (1 << 20) as f64,
        _ => f64::NAN,
    };
    Ok((w, c, s, rss))
}

/// `scan_rows` of everything and `Engine::load`, `--runs` times each; prints each run
/// and the medians.
fn reads(a: &Args, db_url: &str, db: &str) -> Result<(), String> {
    let store: Arc<dyn Store> =
        Arc::new(PostgresStore::connect(db_url).map_err(|e| e.to_string())?);
    let (mut scan, mut load) = (Vec::new(), Vec::new());
    let show = |what: &str, r: &Read| {
        println!(
            "  {what}: {:.2} s wall, client CPU {:.2} s, server CPU {:.2} s, client peak RSS {:.0} MiB, load {}",
            r.0,
            r.1,
            r.2,
            r.3,
            load_avg()
        )
    };
    for _ in 0..a.runs {
        let mut rows = 0usize;
        let r = measure(a, db, || {
            store
                .scan_rows(DEFAULT_PROJECT, &ScanRequest::new(), &mut |_| {
                    rows += 1;
                    ControlFlow::Continue(())
                })
                .map_err(|e| e.to_string())
        })?;
        if rows != a.events {
            return Err(format!("scan_rows saw {rows} of {} events", a.events));
        }
        show("scan_rows", &r);
        scan.push(r);
        let mut engine = None;
        let r = measure(a, db, || {
            engine = Some(Engine::load(store.clone(), DEFAULT_PROJECT).map_err(|e| e.to_string())?);
            Ok(())
        })?;
        let got = engine.map_or(0, |e| e.memory_usage().events);
        show("Engine::load", &r);
        if got != a.events as u64 {
            return Err(format!("Engine::load holds {got} of {} events", a.events));
        }
        load.push(r);
    }
    let m = |v: &[Read], k: usize| {
        median(
            &v.iter()
                .map(|r| [r.0, r.1, r.2, r.3][k])
                .collect::<Vec<_>>(),
        )
    };
    println!(
        "scan_rows of {} events: {:.2} s (median of {}; client CPU {:.2} s, server CPU {:.2} s), {:.0} rows/s",
        a.events,
        m(&scan, 0),
        a.runs,
        m(&scan, 1),
        m(&scan, 2),
        a.events as f64 / m(&scan, 0)
    );
    println!(
        "Engine::load of {} events: {:.2} s (median of {}; client CPU {:.2} s, server CPU {:.2} s, \
         client peak RSS {:.0} MiB), load average {}",
        a.events,
        m(&load, 0),
        a.runs,
        m(&load, 1),
        m(&load, 2),
        m(&load, 3),
        load_avg()
    );
    Ok(())
}

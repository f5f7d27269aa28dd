//! Ingest benchmark: events per second into `SqliteStore` (a file on disk, WAL, default
//! durability) in batches of 1,000, beside Python's stdlib `sqlite3` `executemany` of the
//! same rows, measured in the same run.
//!
//! ```text
//! cargo run --release -p churn-benches --bin ingest -- --events 1000000
//! ```
//!
//! Options: `--events N` (1,000,000), `--runs R` (5), `--batch B` (1,000),
//! `--durability normal|full` (the store's default), `--dir PATH` (a temp dir; put it on
//! the disk you care about), `--drop-index NAME` (repeatable: measure without an index),
//! `--no-secure-delete`, `--no-python`, `--python-runs R` (default: `--runs`), `--seed S`,
//! `--ids v4|v7` (random message ids, as external senders send, or time-ordered
//! UUIDv7-style ids), `--only apply|track` (one half of the bench: apply + scan +
//! Python, or the `Analytics::track` rows), `--no-memory` (skip the `MemoryStore` track
//! rows), `--no-file` (skip the SQLite-file track rows).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use churn_benches::{cpu_time, generate, median, rate, write_rows};
use churn_core::event::{Event, Message};
use churn_core::store::{
    Durability, ScanRequest, SqliteOptions, SqliteStore, Store, DEFAULT_PROJECT,
};
use churn_core::Analytics;

struct Args {
    events: usize,
    runs: usize,
    python_runs: Option<usize>,
    batch: usize,
    durability: Durability,
    dir: Option<PathBuf>,
    drop_index: Vec<String>,
    secure_delete: bool,
    python: bool,
    seed: u64,
    time_ordered_ids: bool,
    apply: bool,
    track: bool,
    memory: bool,
    file: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        events: 1_000_000,
        runs: 5,
        python_runs: None,
        batch: 1_000,
        durability: Durability::default(),
        dir: None,
        drop_index: Vec::new(),
        secure_delete: SqliteOptions::default().secure_delete,
        python: true,
        seed: 42,
        time_ordered_ids: false,
        apply: true,
        track: true,
        memory: true,
        file: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |s: String| {
            s.replace('_', "")
                .parse::<usize>()
                .map_err(|e| e.to_string())
        };
        match flag.as_str() {
            "--events" => a.events = num(value()?)?,
            "--runs" => a.runs = num(value()?)?.max(1),
            "--python-runs" => a.python_runs = Some(num(value()?)?.max(1)),
            "--batch" => a.batch = num(value()?)?.max(1),
            "--seed" => a.seed = num(value()?)? as u64,
            "--durability" => a.durability = value()?.parse().map_err(|e| format!("{e}"))?,
            "--dir" => a.dir = Some(PathBuf::from(value()?)),
            "--drop-index" => a.drop_index.push(value()?),
            "--no-secure-delete" => a.secure_delete = false,
            "--no-python" => a.python = false,
            "--no-memory" => a.memory = false,
            "--no-file" => a.file = false,
            "--only" => match value()?.as_str() {
                "apply" => a.track = false,
                "track" => {
                    a.apply = false;
                    a.python = false;
                }
                other => return Err(format!("--only: expected apply or track, got {other}")),
            },
            "--ids" => {
                a.time_ordered_ids = match value()?.as_str() {
                    "v4" => false,
                    "v7" => true,
                    other => return Err(format!("--ids: expected v4 or v7, got {other}")),
                }
            }
            "--help" | "-h" => {
                println!(
                    "{}",
                    include_str!("ingest.rs")
                        .lines()
                        .take(18)
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

/// A run's speed: events per wall-clock second and per CPU second.
#[derive(Debug, Clone, Copy)]
struct Speed {
    wall: f64,
    cpu: f64,
}

/// One timed run of `Analytics::track` for every event, split over `threads` callers,
/// then `flush()` (so every event is durable when the clock stops).
fn track_run(events: &[Event], threads: usize, path: Option<&Path>) -> Result<Speed, String> {
    let b = Analytics::builder();
    let b = match path {
        Some(p) => b.path(p),
        None => b.in_memory(),
    };
    let analytics = b.build().map_err(|e| e.to_string())?;
    let per = events.len().div_ceil(threads);
    let parts: Vec<Vec<Event>> = events.chunks(per).map(<[Event]>::to_vec).collect();
    let cpu0 = cpu_time().unwrap_or_default();
    let start = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let a = &analytics;
                // Named, so a profile tells the callers from the writer and the setup.
                std::thread::Builder::new()
                    .name("track-caller".into())
                    .spawn_scoped(s, move || {
                        part.into_iter().try_for_each(|e| a.track(e).map(|_| ()))
                    })
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, String>>()?;
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| "a tracking thread panicked".to_string())?
                .map_err(|e| e.to_string())
        })
    })?;
    analytics.flush().map_err(|e| e.to_string())?;
    let took = start.elapsed();
    let cpu = cpu_time().unwrap_or_default().saturating_sub(cpu0);
    let stored = analytics
        .store()
        .stats(DEFAULT_PROJECT)
        .map_err(|e| e.to_string())?
        .events as usize;
    analytics.close().map_err(|e| e.to_string())?;
    if stored != events.len() {
        return Err(format!("track stored {stored} of {} events", events.len()));
    }
    Ok(Speed {
        wall: rate(events.len(), took),
        cpu: rate(events.len(), cpu),
    })
}

/// One timed run into a fresh file: open, apply every batch, sync.
fn store_run(a: &Args, batches: &[Vec<Message>], path: &Path) -> Result<Speed, String> {
    let opts = SqliteOptions::default()
        .durability(a.durability)
        .secure_delete(a.secure_delete);
    let store = SqliteStore::open_with(path, opts).map_err(|e| e.to_string())?;
    if !a.drop_index.is_empty() {
        let c = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
        for name in &a.drop_index {
            c.execute_batch(&format!("DROP INDEX {name}"))
                .map_err(|e| format!("drop index {name}: {e}"))?;
        }
    }
    let total: usize = batches.iter().map(Vec::len).sum();
    let cpu0 = cpu_time().unwrap_or_default();
    let start = Instant::now();
    let mut inserted = 0;
    for b in batches {
        inserted += store
            .apply(DEFAULT_PROJECT, b)
            .map_err(|e| e.to_string())?
            .inserted;
    }
    let committed = start.elapsed();
    store.sync().map_err(|e| e.to_string())?;
    let took = start.elapsed();
    let cpu = cpu_time().unwrap_or_default().saturating_sub(cpu0);
    // The clock includes the final fsync (every event durable when it stops); say what
    // it cost, since the Python baseline's time has no fsync at its end.
    println!(
        "    (commits of all batches {:.0} ms = {:.0} events/s; the final sync() {:.0} ms)",
        committed.as_secs_f64() * 1e3,
        rate(total, committed),
        (took - committed).as_secs_f64() * 1e3
    );
    if inserted != total {
        return Err(format!("stored {inserted} of {total} events"));
    }
    Ok(Speed {
        wall: rate(total, took),
        cpu: rate(total, cpu),
    })
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Time `scan_rows` over every event of the file (a fresh store each run, so the page
/// cache of the connection is cold; the OS cache is warm).
fn scan_runs(path: &Path, runs: usize) -> Result<Speed, String> {
    let mut speeds = Vec::new();
    for _ in 0..runs {
        let store = SqliteStore::open(path).map_err(|e| e.to_string())?;
        let cpu0 = cpu_time().unwrap_or_default();
        let start = Instant::now();
        let mut n = 0usize;
        let mut check = 0usize;
        store
            .scan_rows(DEFAULT_PROJECT, &ScanRequest::new(), &mut |r| {
                n += 1;
                check += r.event.len() + r.user_id.map_or(0, str::len);
                ControlFlow::Continue(())
            })
            .map_err(|e| e.to_string())?;
        let took = start.elapsed();
        let cpu = cpu_time().unwrap_or_default().saturating_sub(cpu0);
        if check == 0 {
            return Err("scan_rows read nothing".into());
        }
        speeds.push(Speed {
            wall: rate(n, took),
            cpu: rate(n, cpu),
        });
    }
    Ok(medians(&speeds))
}

/// Python's stdlib sqlite3 on the same rows (read from a file before its clock starts).
fn python_runs(a: &Args, dir: &Path, rows: &Path) -> Result<Vec<Speed>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ingest_baseline.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(["--rows", &rows.display().to_string()])
        .args(["--dir", &dir.display().to_string()])
        .args(["--runs", &a.python_runs.unwrap_or(a.runs).to_string()])
        .args(["--batch", &a.batch.to_string()])
        .args(["--synchronous", &a.durability.to_string()])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("python output: {e}"))?;
    let list = |k: &str| -> Result<Vec<f64>, String> {
        Ok(v[k]
            .as_array()
            .ok_or(format!("python output has no {k}"))?
            .iter()
            .filter_map(serde_json::Value::as_f64)
            .collect())
    };
    let runs = list("events_per_s")?
        .into_iter()
        .zip(list("events_per_cpu_s")?)
        .map(|(wall, cpu)| Speed { wall, cpu })
        .collect();
    Ok(runs)
}

fn medians(runs: &[Speed]) -> Speed {
    Speed {
        wall: median(&runs.iter().map(|s| s.wall).collect::<Vec<_>>()),
        cpu: median(&runs.iter().map(|s| s.cpu).collect::<Vec<_>>()),
    }
}

fn fmt_rate(r: f64) -> String {
    let s = format!("{:.0}", r);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ingest: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&a) {
        eprintln!("ingest: {e}");
        std::process::exit(1);
    }
}

fn run(a: &Args) -> Result<(), String> {
    let tmp = match &a.dir {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .map_err(|e| e.to_string())?;
    let dir = tmp.path();
    // Untimed: generate the events, pre-build the batches, write the rows for Python.
    let mut events = generate(a.events, a.seed);
    if a.time_ordered_ids {
        // UUIDv7 layout: 48 bits of millisecond time first, so ids arrive in key order.
        for e in &mut events {
            let t = format!("{:012x}", e.received_at.millis());
            e.message_id = format!("{}-{}{}", &t[..8], &t[8..], &e.message_id[13..]);
        }
    }
    let rows = dir.join("rows.jsonl");
    if a.python {
        write_rows(&events, &rows).map_err(|e| e.to_string())?;
    }
    let batches: Vec<Vec<Message>> = events
        .chunks(a.batch)
        .map(|c| c.iter().cloned().map(Message::Track).collect())
        .collect();
    drop(events);
    println!(
        "ingest: {} events ({} ids), batches of {}, {} runs, durability {}, secure_delete {}, dir {}{}",
        a.events,
        if a.time_ordered_ids { "v7" } else { "v4" },
        a.batch,
        a.runs,
        a.durability,
        a.secure_delete,
        dir.display(),
        if a.drop_index.is_empty() {
            String::new()
        } else {
            format!(", without {}", a.drop_index.join(", "))
        }
    );

    println!();
    println!(
        "{:<44} {:>14} {:>16}",
        "measurement (median)", "events/s", "events/CPU-s"
    );
    let line = |what: String, s: Speed| {
        println!(
            "{what:<44} {:>14} {:>16}",
            fmt_rate(s.wall),
            fmt_rate(s.cpu)
        );
    };
    if a.apply {
        // 1. SqliteStore, batched.
        let mut ours = Vec::new();
        for run in 0..a.runs {
            let path = dir.join(format!("ingest-{run}.db"));
            let r = store_run(a, &batches, &path)?;
            // Keep the last file for the scan measurement.
            if run + 1 < a.runs {
                remove_db(&path);
            }
            println!(
                "  run {run}: SqliteStore {} events/s, {} per CPU second",
                fmt_rate(r.wall),
                fmt_rate(r.cpu)
            );
            ours.push(r);
        }
        let ours = medians(&ours);
        let last = dir.join(format!("ingest-{}.db", a.runs - 1));
        let scan = scan_runs(&last, a.runs)?;
        remove_db(&last);

        // 2. Python's sqlite3 executemany, same rows, same batches and durability.
        let py = if a.python {
            match python_runs(a, dir, &rows) {
                Ok(v) => Some(medians(&v)),
                Err(e) => {
                    eprintln!("ingest: python baseline failed: {e}");
                    None
                }
            }
        } else {
            None
        };

        line(format!("SqliteStore::apply, batches of {}", a.batch), ours);
        line("SqliteStore::scan_rows of all events (rows/s)".into(), scan);
        if let Some(p) = py {
            line("python3 sqlite3 executemany (same rows)".into(), p);
            println!(
                "ratio SqliteStore / python: {:.2}x wall clock, {:.2}x CPU",
                ours.wall / p.wall,
                ours.cpu / p.cpu
            );
        }
    }

    // 3. Via Analytics::track from 1 and 2 threads: into a SQLite file (the whole path a
    // user sees) and into a MemoryStore (the tracker's own front-end cost).
    if !a.track {
        return Ok(());
    }
    let events: Vec<Event> = batches
        .iter()
        .flatten()
        .filter_map(|m| match m {
            Message::Track(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    drop(batches);
    let targets = [true, false]
        .into_iter()
        .filter(|&sqlite| if sqlite { a.file } else { a.memory });
    for sqlite in targets {
        for threads in [1, 2] {
            let mut speeds = Vec::new();
            for run in 0..a.runs {
                let path = dir.join(format!("track-{threads}-{run}.db"));
                speeds.push(track_run(
                    &events,
                    threads,
                    sqlite.then_some(path.as_path()),
                )?);
                remove_db(&path);
            }
            let target = if sqlite { "SQLite file" } else { "MemoryStore" };
            line(
                format!("Analytics::track -> {target}, {threads} thread(s)"),
                medians(&speeds),
            );
        }
    }
    Ok(())
}

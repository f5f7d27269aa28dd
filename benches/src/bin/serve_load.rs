//! Server load benchmark: a built-in load generator (tokio + hyper client, keep-alive
//! connections, 127.0.0.1 only, each case bounded in time) against the churnlens server
//! on a SQLite file, and the same single-event load against a minimal Flask + SQLite
//! `/api/track` under gunicorn (2 workers), in the same run.
//!
//! ```text
//! ./dev bench-server            # builds release, sets up the Flask venv, runs this
//! cargo run --release -p churn-benches --bin serve_load -- --secs 10 --flask URL
//! ```
//!
//! Cases: (a) events/s through `/v1/batch` in batches of 100; (b) requests/s of single
//! events on `/api/track`; (c) p50/p99 latency on `/api/track` at half of (b)'s rate,
//! measured from each request's scheduled send time (no coordinated omission).
//! Only 2xx answers count; other statuses and errors are reported. After the run the
//! server is shut down and the stored events are counted: every acknowledged event
//! must be in the store.
//!
//! The rate limiters stay on with a limit far above the load, so their cost is in the
//! figures. The generator runs in this process on its own 2 threads (`loadgen`): each
//! case prints the CPU seconds of the server side (every other thread) and of the
//! generator, and the server's requests per CPU-second (the figure to compare on a
//! loaded machine). Options: `--secs S` (10), `--conns N` (32), `--flask URL` (skip
//! Flask when absent), `--dir PATH` (temp dir), `--durability normal|full` (the store's,
//! as `churn serve --durability`), `--sync-interval S` (0.2, as `churn serve`: how long a
//! commit waits for its fsync under `normal`), `--only a|b` (one flood case, for
//! profiling), `--rate R` (case (c) at R requests/s instead of half of (b)'s rate: the
//! goal's half rate is 10000).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_core::server::ratelimit::Rate;
use churn_core::server::{AppState, IngestConfig, ServerConfig, ServerHandle};
use churn_core::store::{Durability, SqliteOptions, SqliteStore, Store, DEFAULT_PROJECT};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;

struct Args {
    secs: f64,
    conns: usize,
    flask: Option<String>,
    dir: Option<std::path::PathBuf>,
    durability: Durability,
    sync_interval: f64,
    only: Option<char>,
    rate: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        secs: 10.0,
        conns: 32,
        flask: None,
        dir: None,
        durability: Durability::Normal,
        sync_interval: 0.2,
        only: None,
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--secs" => a.secs = val()?.parse().map_err(|e| format!("--secs: {e}"))?,
            "--conns" => a.conns = val()?.parse().map_err(|e| format!("--conns: {e}"))?,
            "--flask" => a.flask = Some(val()?),
            "--dir" => a.dir = Some(val()?.into()),
            "--durability" => {
                a.durability = val()?.parse().map_err(|e| format!("--durability: {e}"))?
            }
            "--sync-interval" => {
                a.sync_interval = val()?
                    .parse()
                    .map_err(|e| format!("--sync-interval: {e}"))?
            }
            "--rate" => a.rate = Some(val()?.parse().map_err(|e| format!("--rate: {e}"))?),
            "--only" => match val()?.as_str() {
                "a" => a.only = Some('a'),
                "b" => a.only = Some('b'),
                v => return Err(format!("--only: a or b, got {v}")),
            },
            other => return Err(format!("unknown option {other}")),
        }
    }
    if !(a.secs > 0.0 && a.secs <= 120.0) || a.conns == 0 {
        return Err("--secs must be in (0, 120] and --conns > 0".into());
    }
    if !(a.sync_interval > 0.0 && a.sync_interval <= 60.0) {
        return Err("--sync-interval must be in (0, 60] seconds".into());
    }
    Ok(a)
}

/// What a request looks like: path, auth header, body for the n-th request.
#[derive(Clone)]
struct Target {
    host: String,
    path: &'static str,
    auth: Option<String>,
    body: Arc<dyn Fn(u64) -> (Bytes, u64) + Send + Sync>,
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    events: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
}

struct Outcome {
    requests: u64,
    events: u64,
    refused: u64,
    errors: u64,
    secs: f64,
    latencies_us: Vec<u64>,
    /// CPU seconds: server side (every thread but the generator's), generator.
    cpu: (f64, f64),
}

impl Outcome {
    fn per_sec(&self, n: u64) -> f64 {
        n as f64 / self.secs
    }
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(host: &str) -> Option<Sender> {
    let stream = tokio::net::TcpStream::connect(host).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(sender)
}

/// One request on `sender` (reconnecting when the server closed it). Returns the status
/// and whether the connection must be reopened.
async fn send(sender: &mut Option<Sender>, t: &Target, n: u64) -> Option<(u16, u64)> {
    for _ in 0..2 {
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            *sender = connect(&t.host).await;
        }
        let s = sender.as_mut()?;
        if s.ready().await.is_err() {
            *sender = None;
            continue;
        }
        let (body, events) = (t.body)(n);
        let mut req = Request::post(t.path)
            .header("host", &t.host)
            .header("content-type", "application/json");
        if let Some(a) = &t.auth {
            req = req.header("authorization", a);
        }
        let req = req.body(Full::new(body)).ok()?;
        match s.send_request(req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let close = resp
                    .headers()
                    .get("connection")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                let _ = resp.into_body().collect().await;
                if close {
                    *sender = None;
                }
                return Some((status, events));
            }
            Err(_) => *sender = None,
        }
    }
    None
}

/// Closed loop: `conns` connections send back to back for `secs`.
async fn flood(t: Target, conns: usize, secs: f64) -> Outcome {
    run(t, conns, secs, None).await
}

/// Open loop at `rate` requests/s spread over `conns` connections; latency is measured
/// from each request's scheduled time.
async fn paced(t: Target, conns: usize, secs: f64, rate: f64) -> Outcome {
    run(t, conns, secs, Some(rate)).await
}

async fn run(t: Target, conns: usize, secs: f64, rate: Option<f64>) -> Outcome {
    let cpu0 = cpu_split();
    let tally = Arc::new(Tally::default());
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (t, tally, counter) = (t.clone(), tally.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut sender = connect(&t.host).await;
            let period = rate.map(|r| Duration::from_secs_f64(conns as f64 / r));
            // Stagger the paced connections over one period.
            let mut next =
                start + period.map_or(Duration::ZERO, |p| p.mul_f64(c as f64 / conns as f64));
            loop {
                // Paced: the scheduled time (latency counts any wait for the server);
                // flooding: now.
                let sent = match period {
                    Some(p) => {
                        let at = next;
                        next += p;
                        tokio::time::sleep_until(at.into()).await;
                        at
                    }
                    None => Instant::now(),
                };
                if sent >= end {
                    break;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                match send(&mut sender, &t, n).await {
                    Some((s, ev)) if (200..300).contains(&s) => {
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                        tally.events.fetch_add(ev, Ordering::Relaxed);
                        lat.push(sent.elapsed().as_micros() as u64);
                    }
                    Some(_) => {
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            lat
        }));
    }
    let mut latencies_us = Vec::new();
    for task in tasks {
        if let Ok(l) = task.await {
            latencies_us.extend(l);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu1 = cpu_split();
    latencies_us.sort_unstable();
    Outcome {
        requests: tally.ok.load(Ordering::Relaxed),
        events: tally.events.load(Ordering::Relaxed),
        refused: tally.refused.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        secs,
        latencies_us,
        cpu: (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1),
    }
}

/// Name of the load generator's threads (its runtime's workers; `main` drives it too).
const LOADGEN: &str = "loadgen";

/// utime + stime of a `/proc/.../stat` line, in seconds (clock ticks of 1/100 s).
fn stat_cpu(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After "pid (comm) ": state is field 0, utime 11, stime 12.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// CPU seconds so far: (server side = whole process minus generator, generator). The
/// generator's threads live as long as its runtime, so their counts are never lost.
fn cpu_split() -> (f64, f64) {
    let total = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| stat_cpu(&s))
        .unwrap_or(0.0);
    let mut gen = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for task in dir.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let comm = comm.trim();
            if comm == LOADGEN || comm == "serve_load" {
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                gen += stat_cpu(&stat).unwrap_or(0.0);
            }
        }
    }
    (total - gen, gen)
}

const NAMES: [&str; 6] = [
    "page_view",
    "click",
    "feature_used",
    "search",
    "login",
    "purchase",
];

/// One event as JSON text (formatted directly: the generator shares the 2 cores with
/// the server, so it must be cheap).
fn event(n: u64, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        r#"{{"type":"track","event":"{}","userId":"user-{}","messageId":"bench-{n}","timestamp":"2026-11-20T10:00:00.000Z","properties":{{"path":"/pricing","plan":"pro","amount":19.5,"n":{n}}}}}"#,
        NAMES[(n % NAMES.len() as u64) as usize],
        n % 10_000
    );
}

fn one(n: u64) -> Bytes {
    let mut s = String::with_capacity(200);
    event(n, &mut s);
    s.into()
}

fn churn_targets(host: &str, key: &str) -> (Target, Target, Target) {
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    );
    let batch = Target {
        host: host.into(),
        path: "/v1/batch",
        auth: Some(basic),
        body: Arc::new(|n| {
            let mut s = String::with_capacity(100 * 200);
            s.push_str(r#"{"batch":["#);
            for i in 0..100 {
                if i > 0 {
                    s.push(',');
                }
                event(n * 100 + i, &mut s);
            }
            s.push_str("]}");
            (s.into(), 100)
        }),
    };
    let single = Target {
        host: host.into(),
        path: "/api/track",
        auth: Some(format!("Bearer {key}")),
        // Offset so ids never collide with the batch case's.
        body: Arc::new(|n| (one(1 << 40 | n), 1)),
    };
    // The paced case has its own ids too (a repeated id is stored once).
    let paced = Target {
        body: Arc::new(|n| (one(2 << 40 | n), 1)),
        ..single.clone()
    };
    (batch, single, paced)
}

fn flask_target(url: &str) -> Target {
    Target {
        host: url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .into(),
        path: "/api/track",
        auth: None,
        body: Arc::new(|n| (one(n), 1)),
    }
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Print a case; `in_process`: the server runs in this process (its CPU is measured).
fn report(label: &str, o: &Outcome, in_process: bool) {
    println!(
        "  {label:<34} {:>10.0} req/s {:>11.0} events/s  p50 {:>6.2} ms  p99 {:>7.2} ms  (non-2xx {}, errors {}, load {})",
        o.per_sec(o.requests),
        o.per_sec(o.events),
        o.pct(0.5),
        o.pct(0.99),
        o.refused,
        o.errors,
        load_avg()
    );
    let (server, gen) = o.cpu;
    if !in_process {
        println!(
            "  {:<34} CPU: generator {gen:.2} s (the server is another process)",
            ""
        );
        return;
    }
    println!(
        "  {:<34} CPU: server side {server:.2} s ({:.0}% of 2 cores), generator {gen:.2} s; server {:.0} req/s and {:.0} events/s per CPU-second",
        "",
        100.0 * server / o.secs / 2.0,
        o.requests as f64 / server.max(0.01),
        o.events as f64 / server.max(0.01)
    );
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("serve_load: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = bench(args) {
        eprintln!("serve_load: {e}");
        std::process::exit(1);
    }
}

fn bench(args: Args) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let db = dir.join("serve_load.db");
    let _ = std::fs::remove_file(&db);
    let options = SqliteOptions::default().durability(args.durability);
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open_with(&db, options).map_err(|e| e.to_string())?);
    let huge = Rate::new(1e9, 1e9);
    let ingest = IngestConfig::default().sync_interval(Duration::from_secs_f64(args.sync_interval));
    let config = ServerConfig::default()
        .ip_rate(huge)
        .key_rate(huge)
        .ingest(ingest);
    let state = AppState::from_store(store.clone(), config).map_err(|e| e.to_string())?;
    let keys = state
        .projects
        .ensure_default()
        .map_err(|e| e.to_string())?
        .ok_or("store not new")?;
    let server = ServerHandle::start(state, "127.0.0.1:0").map_err(|e| e.to_string())?;
    let host = server.addr().to_string();
    let (batch, single, paced_single) = churn_targets(&host, &keys.write_key);

    // The load generator has its own runtime (2 threads, like the server's).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(LOADGEN)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (secs, conns) = (args.secs, args.conns);
    println!(
        "serve_load: {secs} s per case, {conns} keep-alive connections, 127.0.0.1, load average before: {}",
        load_avg()
    );
    println!(
        "churnlens (SQLite file, durability {}, sync interval {} s, rate limiters on at 1e9/s):",
        args.durability, args.sync_interval
    );
    if let Some(case) = args.only {
        let (label, t) = match case {
            'a' => ("(a) /v1/batch x100", batch),
            _ => ("(b) /api/track single", single),
        };
        let o = rt.block_on(flood(t, conns, secs));
        report(label, &o, true);
        return server.shutdown().map_err(|e| e.to_string());
    }
    let a = rt.block_on(flood(batch, conns, secs));
    report("(a) /v1/batch x100", &a, true);
    let b = rt.block_on(flood(single, conns, secs));
    report("(b) /api/track single", &b, true);
    let half = args.rate.unwrap_or(b.per_sec(b.requests) / 2.0).max(1.0);
    let c = rt.block_on(paced(paced_single, conns, secs, half));
    report(&format!("(c) /api/track at {half:.0}/s"), &c, true);
    let t = Instant::now();
    server.shutdown().map_err(|e| e.to_string())?;
    let flushed = t.elapsed();
    let stored = store
        .stats(DEFAULT_PROJECT)
        .map_err(|e| e.to_string())?
        .events;
    let acked = a.events + b.events + c.events;
    println!(
        "  acknowledged {acked} events, stored {stored} (shutdown flush took {:.2} s)",
        flushed.as_secs_f64()
    );
    // A 503 (queue full) can follow a partial acceptance, so more may be stored than
    // acknowledged, never less.
    if stored < acked {
        return Err(format!("{acked} events acknowledged but {stored} stored"));
    }

    let flask = args.flask.as_deref().map(|url| {
        println!("Flask + SQLite, gunicorn 2 workers ({url}):");
        let t = flask_target(url);
        let fb = rt.block_on(flood(t.clone(), conns, secs));
        report("(b) /api/track single", &fb, false);
        let half = (fb.per_sec(fb.requests) / 2.0).max(1.0);
        let fc = rt.block_on(paced(t, conns, secs, half));
        report(&format!("(c) /api/track at {half:.0}/s"), &fc, false);
        (fb, fc)
    });

    println!();
    println!("| case | churnlens | Flask + SQLite | ratio | goal |");
    println!("|---|---:|---:|---:|---|");
    let fl = |f: &dyn Fn(&(Outcome, Outcome)) -> f64| flask.as_ref().map(f);
    let row = |case: &str, ours: f64, theirs: Option<f64>, unit: &str, goal: &str, higher: bool| {
        let (t, r) = match theirs {
            Some(v) => (
                format!("{v:.0}{unit}"),
                format!("{:.1}x", if higher { ours / v } else { v / ours }),
            ),
            None => ("-".into(), "-".into()),
        };
        println!("| {case} | {ours:.0}{unit} | {t} | {r} | {goal} |");
    };
    row(
        "events/s, /v1/batch x100 (Flask: 1 event per request)",
        a.per_sec(a.events),
        fl(&|f| f.0.per_sec(f.0.events)),
        "",
        ">= 100,000",
        true,
    );
    row(
        "single-event requests/s, /api/track",
        b.per_sec(b.requests),
        fl(&|f| f.0.per_sec(f.0.requests)),
        "",
        ">= 20,000",
        true,
    );
    let lat = |case: &str, ours: f64, theirs: Option<f64>, goal: &str| {
        let t = theirs.map_or("-".into(), |v| format!("{v:.2} ms"));
        let r = theirs.map_or("-".into(), |v| format!("{:.1}x", v / ours));
        println!("| {case} | {ours:.2} ms | {t} | {r} | {goal} |");
    };
    lat("p50 at half rate", c.pct(0.5), fl(&|f| f.1.pct(0.5)), "");
    lat(
        "p99 at half rate",
        c.pct(0.99),
        fl(&|f| f.1.pct(0.99)),
        "< 10 ms",
    );
    println!("load average after: {}", load_avg());
    Ok(())
}

//! A bounded load run against a real `churn serve` process on 127.0.0.1: good traffic to
//! three projects over the native, Segment and PostHog routes, bad requests (broken
//! JSON, oversize bodies, unknown keys, wrong content type, broken gzip), and slow
//! clients (headers trickled byte by byte, bodies trickled after the headers), all at
//! once. Checked: no 5xx; every bad request a 4xx; slow clients are cut by the header
//! and body timeouts while good requests keep being served (none fails or times out);
//! the server's resident memory (from `/proc`) stays flat after a warm-up; every event
//! answered 2xx is stored exactly once. Latency percentiles, RSS samples and counts go
//! to `target/test-output/load.json`.
//!
//! `CHURN_LOAD_SECS` sets the measured time (default 10 s, plus 3 s of warm-up);
//! `./dev soak` runs it for minutes.
#![cfg(all(feature = "cli", unix))]

mod crash_common;
mod server_common;

use std::collections::{BTreeMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_core::server::Projects;
use churn_core::store::{SqliteStore, Store};
use crash_common::{check_store, env_num};
use parking_lot::Mutex;
use serde_json::json;
use server_common::process::serve;

const WARMUP: Duration = Duration::from_secs(3);
/// Allowed RSS growth over the level after the warm-up: SQLite's page cache of the
/// writer connection fills as the file grows, up to its 32 MiB cap (a 7-minute run
/// plateaus there, ~36 MiB over the warm-up level), plus 16 MiB of allocator slack.
const RSS_SLACK: u64 = 48 << 20;
/// In runs of 5 minutes or more: growth allowed over the last third (flat once the
/// page cache is full).
const RSS_LAST_THIRD: u64 = 8 << 20;
const SLOW_TIMEOUT_SECS: &str = "1";

#[derive(Default)]
struct Tally {
    /// Latencies of good requests, microseconds.
    latencies: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    /// Bad requests by case number and status.
    bad_cases: BTreeMap<String, u64>,
    acked: HashSet<String>,
    five_xx: Vec<String>,
}

type Shared = Arc<Mutex<Tally>>;

/// A bad request: path, headers, body.
type Bad = (&'static str, Vec<(&'static str, String)>, Vec<u8>);

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Good traffic: worker `w` cycles through the projects and routes.
fn good(w: usize, base: String, keys: Vec<String>, stop: Arc<AtomicBool>, tally: Shared) {
    let agent = agent();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = &keys[(n as usize + w) % keys.len()];
        let ids: Vec<String> = (0..1 + n % 20).map(|i| format!("g{w}-{n}-{i}")).collect();
        let (path, auth, body) = match n % 3 {
            0 => (
                "/api/track",
                Some(format!("Bearer {key}")),
                json!({"event": "view", "userId": format!("u{}", n % 50), "messageId": ids[0]}),
            ),
            1 => (
                "/v1/batch",
                Some(server_common::basic(key)),
                json!({"batch": ids.iter().map(|id| json!({"type": "track", "event": "buy",
                    "userId": format!("u{}", n % 50), "messageId": id, "properties": {"revenue": 9.5}})).collect::<Vec<_>>()}),
            ),
            _ => (
                "/batch",
                None,
                json!({"api_key": key, "batch": ids.iter().map(|id| json!({"event": "click",
                    "distinct_id": format!("u{}", n % 50), "uuid": id})).collect::<Vec<_>>()}),
            ),
        };
        let sent: Vec<String> = if n % 3 == 0 { ids[..1].to_vec() } else { ids };
        let mut req = agent
            .post(format!("{base}{path}"))
            .header("Content-Type", "application/json");
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let t = Instant::now();
        let result = req.send(&serde_json::to_vec(&body).unwrap()[..]);
        let took = t.elapsed().as_micros() as u64;
        let mut tl = tally.lock();
        match result {
            Ok(mut resp) => {
                let st = resp.status().as_u16();
                drop(tl);
                let text = resp.body_mut().read_to_string().unwrap_or_default();
                tl = tally.lock();
                *tl.statuses.entry(st).or_default() += 1;
                tl.latencies.push(took);
                if st >= 500 {
                    tl.five_xx.push(format!("{path}: {st} {text}"));
                } else {
                    assert_eq!(st, 200, "good request to {path}: {text}");
                    tl.acked.extend(sent);
                }
            }
            Err(e) => panic!("good request to {path} failed after {took} us: {e}"),
        }
        n += 1;
    }
}

/// Bad traffic: every request must get a 4xx with the error shape.
fn bad(base: String, key: String, stop: Arc<AtomicBool>, tally: Shared) {
    let oversize = serde_json::to_vec(&json!({"batch": [{"event": "e", "userId": "u",
        "properties": {"pad": "x".repeat(600 * 1024)}}]}))
    .unwrap();
    let cases: Vec<Bad> = vec![
        (
            "/v1/batch",
            vec![("Authorization", server_common::basic(&key))],
            b"{\"batch\": [".to_vec(),
        ),
        (
            "/api/track",
            vec![("Authorization", format!("Bearer {key}"))],
            b"{\"event\":".to_vec(),
        ),
        ("/batch", vec![], b"[{oops".to_vec()),
        // 413 on the native and PostHog routes; the Segment routes answer 400 for an
        // oversize body, as Segment does.
        (
            "/api/track",
            vec![("Authorization", format!("Bearer {key}"))],
            serde_json::to_vec(&json!({"event": "e", "userId": "u",
                "properties": {"x": "y".repeat(40_000)}}))
            .unwrap(),
        ),
        ("/batch", vec![], vec![b'['; 3 * 1024 * 1024]),
        (
            "/v1/batch",
            vec![("Authorization", server_common::basic(&key))],
            oversize,
        ),
        (
            "/api/track",
            vec![("Authorization", "Bearer wk_wrong".into())],
            br#"{"event":"e","userId":"u"}"#.to_vec(),
        ),
        (
            "/batch",
            vec![],
            br#"{"api_key":"phc_wrong","batch":[{"event":"e","distinct_id":"u"}]}"#.to_vec(),
        ),
        (
            "/v1/track",
            vec![("Content-Type", "text/csv".into())],
            format!(r#"{{"event":"x","userId":"u","writeKey":"{key}"}}"#).into_bytes(),
        ),
        (
            "/v1/batch",
            vec![
                ("Content-Encoding", "gzip".into()),
                ("Authorization", server_common::basic(&key)),
            ],
            b"not gzip".to_vec(),
        ),
        (
            "/api/track",
            vec![("Authorization", format!("Bearer {key}"))],
            br#"{"event":"e"}"#.to_vec(),
        ),
    ];
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let (path, headers, body) = &cases[i % cases.len()];
        // A new connection each time: the server may close one after refusing a body.
        let mut req = agent().post(format!("{base}{path}"));
        if !headers.iter().any(|(h, _)| *h == "Content-Type") {
            req = req.header("Content-Type", "application/json");
        }
        for (h, v) in headers {
            req = req.header(*h, v);
        }
        let mut resp = req
            .send(&body[..])
            .unwrap_or_else(|e| panic!("bad request {} to {path}: {e}", i % cases.len()));
        let st = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let mut tl = tally.lock();
        *tl.statuses.entry(st).or_default() += 1;
        *tl.bad_cases
            .entry(format!("{} {path} {st}", i % cases.len()))
            .or_default() += 1;
        if st >= 500 {
            tl.five_xx.push(format!("bad {path}: {st} {text}"));
        } else {
            assert!(
                (400..500).contains(&st),
                "bad request {i} to {path}: {st} {text}"
            );
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            assert!(v["error"]["code"].is_string(), "{path}: {st} {text}");
        }
        i += 1;
    }
}

/// A slow client: the head (and with `body`, then the body) one byte every 100 ms,
/// until the server answers or closes. Returns how long until it did, and what it sent.
fn slow_once(addr: SocketAddr, key: &str, body: bool) -> (Duration, Vec<u8>) {
    let mut sock = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Authorization: {}\r\nContent-Length: 4000\r\n\r\n",
        server_common::basic(key)
    );
    let start = Instant::now();
    if body {
        sock.write_all(head.as_bytes()).unwrap();
    }
    let trickle: Vec<u8> = if body {
        vec![b' '; 4000]
    } else {
        head.into_bytes()
    };
    let mut answer = Vec::new();
    for b in trickle {
        if sock.write_all(&[b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        sock.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        let r = sock.read(&mut buf);
        sock.set_nonblocking(false).unwrap();
        match r {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        if start.elapsed() > Duration::from_secs(30) {
            panic!("a slow client was never cut");
        }
    }
    (start.elapsed(), answer)
}

#[test]
fn load_mixed_projects_bad_and_slow_clients() {
    let secs = env_num("CHURN_LOAD_SECS", 10).max(1);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("churn.db");
    // Three projects (`churn serve` then creates no default one).
    let keys = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
        let projects = Projects::load(store).unwrap();
        vec![
            projects.create("shop", "Shop").unwrap().write_key,
            projects.create("blog", "Blog").unwrap().write_key,
            projects.create("news", "News").unwrap().write_key,
        ]
    };
    let server = serve(
        &db,
        &[
            "--header-timeout",
            SLOW_TIMEOUT_SECS,
            "--body-timeout",
            SLOW_TIMEOUT_SECS,
        ],
        Duration::from_secs(30),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let tally: Shared = Arc::default();
    let mut threads = Vec::new();
    for w in 0..4 {
        let (base, keys, stop, tally) = (
            server.url.clone(),
            keys.clone(),
            stop.clone(),
            tally.clone(),
        );
        threads.push(std::thread::spawn(move || good(w, base, keys, stop, tally)));
    }
    for _ in 0..2 {
        let (base, key, stop, tally) = (
            server.url.clone(),
            keys[0].clone(),
            stop.clone(),
            tally.clone(),
        );
        threads.push(std::thread::spawn(move || bad(base, key, stop, tally)));
    }
    // 40 slow clients, half trickling headers, half bodies; each reconnects when cut.
    let slow_cuts: Arc<Mutex<Vec<(bool, Duration, bool)>>> = Arc::default();
    let slow: Vec<_> = (0..40)
        .map(|i| {
            let (addr, key, stop, cuts) = (
                server.addr,
                keys[1].clone(),
                stop.clone(),
                slow_cuts.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let body = i % 2 == 1;
                    let (took, answer) = slow_once(addr, &key, body);
                    let got_408 = answer.starts_with(b"HTTP/1.1 408");
                    cuts.lock().push((body, took, got_408));
                }
            })
        })
        .collect();

    // RSS samples every 250 ms: the warm-up level, then the measured run.
    let start = Instant::now();
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut warm = 0;
    while start.elapsed() < WARMUP + Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(250));
        let rss = server.rss().expect("server gone");
        samples.push((start.elapsed().as_secs_f64(), rss));
        if start.elapsed() <= WARMUP {
            warm = rss;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a client failed");
    }
    for t in slow {
        t.join().expect("a slow client failed");
    }
    let load_avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let rss_max = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let rss_end = samples.last().map(|s| s.1).unwrap_or(0);

    let mut tl = std::mem::take(&mut *tally.lock());
    tl.latencies.sort_unstable();
    let pct = |p: f64| {
        let l = &tl.latencies;
        l[((l.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
    };
    let cuts = std::mem::take(&mut *slow_cuts.lock());
    let (body_cuts, head_cuts): (Vec<&(bool, Duration, bool)>, Vec<_>) =
        cuts.iter().partition(|c| c.0);
    let longest_cut = cuts.iter().map(|c| c.1).max().unwrap_or_default();
    let report = json!({
        "measured_secs": secs,
        "warmup_secs": WARMUP.as_secs(),
        "good_requests": tl.latencies.len(),
        "acked_events": tl.acked.len(),
        "statuses": tl.statuses,
        "bad_requests": tl.bad_cases,
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
        "rss_mib": {"warm": warm as f64 / 1048576.0, "max": rss_max as f64 / 1048576.0,
            "end": rss_end as f64 / 1048576.0},
        "rss_samples": samples,
        "slow_clients": {"head_cut": head_cuts.len(), "body_cut": body_cuts.len(),
            "body_408": body_cuts.iter().filter(|c| c.2).count(),
            "longest_ms": longest_cut.as_millis() as u64},
        "load_average": load_avg.trim(),
    });
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-output");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("load.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .unwrap();
    let mut short = report.clone();
    short["rss_samples"] = json!(samples.len());
    eprintln!("server_load: {short}");

    assert!(
        tl.five_xx.is_empty(),
        "5xx answers: {:?}",
        &tl.five_xx[..tl.five_xx.len().min(5)]
    );
    assert!(
        tl.acked.len() > 100,
        "too little good traffic: {}",
        tl.acked.len()
    );
    for st in [400, 401, 413, 415] {
        assert!(
            tl.statuses.contains_key(&st),
            "no {st} seen: {:?}",
            tl.statuses
        );
    }
    assert!(
        !head_cuts.is_empty() && !body_cuts.is_empty(),
        "slow clients not cut"
    );
    assert!(body_cuts.iter().any(|c| c.2), "no slow body got a 408");
    assert!(
        rss_max <= warm + RSS_SLACK,
        "RSS grew from {} MiB (after warm-up) to {} MiB",
        warm >> 20,
        rss_max >> 20
    );
    if secs >= 300 {
        let third = samples.len() / 3;
        let before = samples[..2 * third].iter().map(|s| s.1).max().unwrap_or(0);
        let last = samples[2 * third..].iter().map(|s| s.1).max().unwrap_or(0);
        assert!(
            last <= before + RSS_LAST_THIRD,
            "RSS still growing in the last third: {} MiB, {} MiB before",
            last >> 20,
            before >> 20
        );
    }
    drop(server); // SIGKILL: every 2xx is committed
    check_store(
        &db,
        &["shop", "blog", "news"],
        &tl.acked,
        "after the load run",
    );
}

//! Crash safety of [`Analytics`] on a SQLite file: a child process (this same binary,
//! re-executed) ingests from two threads, one with `track` + `flush`, one with
//! `track_batch_stored`, and appends every acknowledged message id to an ack log (one
//! write and an fsync per acknowledgement). The parent SIGKILLs it at random moments
//! (some during startup and recovery, most while it ingests) and after each kill reopens
//! the store: `PRAGMA integrity_check` is ok and every acknowledged id is stored exactly
//! once.
//!
//! Bounded: every wait has a timeout (a child that is not scheduled before its ready
//! line is killed anyway and counted as such), the kill moment is a time after the
//! ready line (never "after N acks", which under load can take minutes), and the store
//! is rotated every 10 kills so the checks do not grow with the run. About 10-30 s.
//!
//! `CHURN_CRASH_SEED` replays a run (the seed is printed); `CHURN_CRASH_KILLS` (30)
//! sets the number of kills (`./dev soak` runs more), `CHURN_CRASH_MAX_SECS` the bound.

mod crash_common;

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_core::event::{Event, MessageInput};
use churn_core::Analytics;
use crash_common::*;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const CHILD: &str = "CHURN_CRASH_CHILD";
/// Longest wait for a child's ready line before it is killed anyway.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const KILLS_PER_STORE: u64 = 10;

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        return child(&spec);
    }
    // `cargo test -- --list` and filters: this target has one test.
    if std::env::args().any(|a| a == "--list") {
        println!("tracker_crash: test");
        return;
    }
    parent();
}

/// The child: `db|acks|round|seed`. Ingests until killed.
fn child(spec: &str) {
    let parts: Vec<&str> = spec.split('|').collect();
    let (db, acks, round, seed) = (parts[0], parts[1], parts[2], parts[3]);
    let mut rng = StdRng::seed_from_u64(seed.parse().unwrap());
    let analytics = Arc::new(
        Analytics::builder()
            .path(db)
            .batch_size(rng.random_range(5..200))
            .flush_interval(Duration::from_millis(rng.random_range(1..50)))
            .build()
            .unwrap(),
    );
    let log = Arc::new(Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(acks)
            .unwrap(),
    ));
    println!("ready");
    std::io::stdout().flush().unwrap();
    let ack = |log: &Mutex<std::fs::File>, ids: &[String]| {
        let mut text = ids.join("\n");
        text.push('\n');
        let mut f = log.lock();
        f.write_all(text.as_bytes()).unwrap();
        f.sync_data().unwrap();
    };
    let batcher = {
        let (a, log, round) = (analytics.clone(), log.clone(), round.to_string());
        let mut rng = StdRng::seed_from_u64(rng.random());
        std::thread::spawn(move || {
            for n in 0.. {
                let k = rng.random_range(1..100);
                let ids: Vec<String> = (0..k).map(|i| format!("r{round}-b{n}-{i}")).collect();
                let batch = ids
                    .iter()
                    .map(|id| {
                        let json = format!(
                            r#"{{"type":"track","event":"batch","userId":"u{}","messageId":"{id}","properties":{{"n":{n}}}}}"#,
                            n % 17
                        );
                        MessageInput::parse_slice(json.as_bytes()).unwrap()
                    })
                    .collect();
                let report = a.track_batch_stored(batch).unwrap();
                assert_eq!(report.accepted, k);
                ack(&log, &ids);
            }
        })
    };
    for n in 0.. {
        let k = rng.random_range(1..50);
        let ids: Vec<String> = (0..k).map(|i| format!("r{round}-t{n}-{i}")).collect();
        for id in &ids {
            let e = Event::track("tracked")
                .user_id(format!("u{}", n % 13))
                .message_id(id.clone())
                .number("amount", n as f64);
            analytics.track(e).unwrap();
        }
        analytics.flush().unwrap();
        ack(&log, &ids);
        if batcher.is_finished() {
            panic!("the batch thread stopped");
        }
    }
}

struct Run {
    dir: tempfile::TempDir,
    rng: StdRng,
    kills: u64,
    before_ready: u64,
    not_ready: u64,
    acked_in_kill_rounds: u64,
}

impl Run {
    fn paths(&self, kill: u64) -> (PathBuf, PathBuf) {
        let gen = kill / KILLS_PER_STORE;
        (
            self.dir.path().join(format!("events-{gen}.db")),
            self.dir.path().join(format!("acks-{gen}.log")),
        )
    }

    /// One round: start a child, kill it, check the store.
    fn round(&mut self, kill: u64) -> Checked {
        let (db, acks) = self.paths(kill);
        let acked_before = read_acks(&acks).len();
        let spec = format!(
            "{}|{}|{kill}|{}",
            db.display(),
            acks.display(),
            self.rng.random::<u64>()
        );
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD, spec)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        if self.rng.random_range(0..8) == 0 {
            // Kill during startup: opening the store, recovering the last crash.
            std::thread::sleep(Duration::from_millis(self.rng.random_range(0..40)));
            self.before_ready += 1;
        } else {
            match wait_line(&lines, READY_TIMEOUT, |l| (l == "ready").then_some(())) {
                Some(()) => {
                    std::thread::sleep(Duration::from_millis(self.rng.random_range(5..300)))
                }
                None => self.not_ready += 1,
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("round {kill}: the child exited by itself: {status:?}");
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        self.kills += 1;
        let acked: HashSet<String> = read_acks(&acks).into_iter().collect();
        self.acked_in_kill_rounds += (acked.len() - acked_before) as u64;
        check_store(
            &db,
            &[churn_core::store::DEFAULT_PROJECT],
            &acked,
            &format!("after kill {kill}"),
        )
    }
}

fn parent() {
    let seed = seed("tracker_crash");
    let kills = env_num("CHURN_CRASH_KILLS", 30).max(1);
    let mut run = Run {
        dir: tempfile::tempdir().unwrap(),
        rng: StdRng::seed_from_u64(seed),
        kills: 0,
        before_ready: 0,
        not_ready: 0,
        acked_in_kill_rounds: 0,
    };
    let start = Instant::now();
    for kill in 0..kills {
        check_budget(start, kill, kills, "tracker_crash");
        let last = run.round(kill);
        if (kill + 1) % KILLS_PER_STORE == 0 || kill + 1 == kills {
            eprintln!(
                "  {} kills, {:.1} s: store {} holds {} events, {} acknowledged",
                kill + 1,
                start.elapsed().as_secs_f64(),
                kill / KILLS_PER_STORE,
                last.stored,
                last.acked
            );
        }
    }
    eprintln!(
        "tracker_crash: {} SIGKILLs ({} during startup, {} before the ready line came \
         within {READY_TIMEOUT:?}), {} events acknowledged, all stored exactly once, \
         integrity ok; {:.1} s (seed {seed})",
        run.kills,
        run.before_ready,
        run.not_ready,
        run.acked_in_kill_rounds,
        start.elapsed().as_secs_f64()
    );
    assert!(
        run.acked_in_kill_rounds > 0,
        "no event was acknowledged: the kills tested nothing"
    );
}

//! Shared parts of the crash tests (`tracker_crash`, `server_crash`): the seed, waiting
//! for a child's ready line with a timeout, and the check after each SIGKILL (the store
//! reopens, `PRAGMA integrity_check` is ok, every acknowledged id is stored exactly
//! once).
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use churn_core::store::{ScanRequest, SqliteStore, Store};
use std::ops::ControlFlow;

/// The seed from `CHURN_CRASH_SEED`, or a new one; printed so a failure can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = match std::env::var("CHURN_CRASH_SEED") {
        Ok(s) => s.trim().parse().expect("CHURN_CRASH_SEED must be a number"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    eprintln!("{test}: seed {seed} (replay with CHURN_CRASH_SEED={seed})");
    seed
}

/// A number from the environment, or `default`.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Forward a child's output lines to a channel from a thread, so the parent can wait for
/// a line with a timeout (a child that is never scheduled must not hang the test).
pub fn lines_of(out: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first line `pick` accepts, within `timeout`; `None` on timeout or end of output.
pub fn wait_line<T>(
    rx: &Receiver<String>,
    timeout: Duration,
    mut pick: impl FnMut(&str) -> Option<T>,
) -> Option<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        let line = rx.recv_timeout(left).ok()?;
        if let Some(v) = pick(&line) {
            return Some(v);
        }
    }
}

/// Complete lines of an ack log (a line cut by the kill has no newline and is ignored:
/// its ids were committed but never acknowledged).
pub fn read_acks(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete.lines().map(str::to_string).collect()
}

/// What one check found.
#[derive(Debug, Default)]
pub struct Checked {
    /// Events in the store.
    pub stored: usize,
    /// Acknowledged ids (all present exactly once, or the check panicked).
    pub acked: usize,
}

/// Reopen the store after a kill (recovery runs here), then check the file with
/// `PRAGMA integrity_check` and count each message id: every id of `acked` is stored
/// exactly once and no id twice. Panics with `context` otherwise.
pub fn check_store(
    db: &Path,
    projects: &[&str],
    acked: &HashSet<String>,
    context: &str,
) -> Checked {
    let store = SqliteStore::open(db)
        .unwrap_or_else(|e| panic!("{context}: the store does not reopen: {e}"));
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut stored = 0;
    for project in projects {
        store
            .scan(project, &ScanRequest::new(), &mut |e| {
                *counts.entry(e.event.message_id).or_default() += 1;
                stored += 1;
                ControlFlow::Continue(())
            })
            .unwrap_or_else(|e| panic!("{context}: scanning project {project}: {e}"));
    }
    store
        .integrity_check()
        .unwrap_or_else(|e| panic!("{context}: {e}"));
    drop(store);
    if let Some((id, n)) = counts.iter().find(|(_, &n)| n > 1) {
        panic!("{context}: message id {id} stored {n} times");
    }
    let missing: Vec<&String> = acked
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{context}: {} acknowledged events are missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    Checked {
        stored,
        acked: acked.len(),
    }
}

/// The whole run's bound (`CHURN_CRASH_MAX_SECS`, default 240 s, scaled up with the
/// number of kills): past it the run fails with what it did so far instead of going on
/// for many minutes on a starved machine.
pub fn check_budget(start: std::time::Instant, kills_done: u64, kills: u64, test: &str) {
    let max = env_num("CHURN_CRASH_MAX_SECS", 240).max(8 * kills);
    let took = start.elapsed().as_secs();
    assert!(
        took <= max,
        "{test}: {kills_done} of {kills} kills in {took} s, over the {max} s bound \
         (CHURN_CRASH_MAX_SECS): the machine is starved or a round hangs"
    );
}

//! A real `churn serve` process on 127.0.0.1 (port 0) for the crash, load and PostgreSQL
//! tests: started with a timeout on its "listening" line, its keys read from what it
//! prints or from `<db>.keys`, its resident memory read from `/proc`.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A running `churn serve`.
pub struct Serve {
    pub child: Child,
    pub url: String,
    pub addr: std::net::SocketAddr,
    pub write_key: String,
    pub secret_key: String,
    /// Its stderr up to the "listening" line.
    pub early: Vec<String>,
    /// The rest of its stderr, line by line.
    pub stderr: Receiver<String>,
}

/// Start `churn --db <db> serve --port 0 <args>` and wait (at most `timeout`) until it
/// listens. `db` is a SQLite file or a `postgres://` URL. Rate limits are off unless
/// `args` set them. The keys are the default project's, as printed when it was created,
/// else from `<db>.keys` (empty when the store already had projects and no keys file).
pub fn serve(db: impl AsRef<OsStr>, args: &[&str], timeout: Duration) -> Serve {
    serve_in(None, db, args, timeout)
}

/// [`serve`] with the working directory `cwd` (default: the test's).
pub fn serve_in(
    cwd: Option<&Path>,
    db: impl AsRef<OsStr>,
    args: &[&str],
    timeout: Duration,
) -> Serve {
    let db = db.as_ref();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_churn"));
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let child = cmd
        .arg("--db")
        .arg(db)
        .args(["serve", "--port", "0", "--ip-rate", "0", "--key-rate", "0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start churn serve");
    // Killed if anything below panics (no orphan server).
    let mut child = Guard(Some(child));
    let (tx, rx) = channel();
    let err = child.0.as_mut().unwrap().stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let (mut printed_write, mut printed_secret) = (String::new(), String::new());
    let mut early = Vec::new();
    let url = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                early.push(line.clone());
                let last = || line.split_whitespace().last().unwrap_or("").to_string();
                if line.contains("write key  (") {
                    printed_write = last();
                } else if line.contains("secret key (") {
                    printed_secret = last();
                } else if let Some(rest) = line.strip_prefix("churnlens listening on ") {
                    break rest.split_whitespace().next().unwrap().to_string();
                }
            }
            Err(e) => panic!("churn serve did not listen within {timeout:?}: {e}; said {early:?}"),
        }
    };
    let keys = std::fs::read_to_string(keys_path(Path::new(db))).unwrap_or_default();
    let key = |name: &str, printed: String| {
        if !printed.is_empty() {
            return printed;
        }
        keys.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|k| k.trim().to_string())
            .unwrap_or_default()
    };
    let addr = url
        .trim_start_matches("http://")
        .parse()
        .expect("listening address");
    Serve {
        child: child.0.take().unwrap(),
        addr,
        url,
        write_key: key("write_key=", printed_write),
        secret_key: key("secret_key=", printed_secret),
        early,
        stderr: rx,
    }
}

/// Kills the child when dropped while still held.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `<db>.keys`, where `churn serve` writes the default project's keys.
pub fn keys_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".keys");
    name.into()
}

impl Serve {
    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Resident set size in bytes (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

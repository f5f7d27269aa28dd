//! The real `churn serve` process: events sent just before SIGTERM are all stored when
//! it exits, and it reports a clean shutdown. (A 2xx is only sent once the events are
//! committed; `server_crash.rs` checks that against SIGKILL.)
#![cfg(all(feature = "cli", unix))]

mod server_common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use churn_core::store::{ScanRequest, SqliteStore, StoreExt, DEFAULT_PROJECT};
use serde_json::json;
use server_common::{basic, post};

#[test]
fn sigterm_stores_every_accepted_event() {
    // `normal`: acked at commit, fsynced on a timer and at exit; `full`: fsynced per
    // commit.
    for durability in ["normal", "full"] {
        sigterm_with(durability);
    }
}

fn sigterm_with(durability: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("churn.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_churn"))
        .arg("--db")
        .arg(&db)
        .args(["serve", "--port", "0", "--durability", durability])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("serve exited early").unwrap();
        if let Some(rest) = line.strip_prefix("churnlens listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let keys = std::fs::read_to_string(dir.path().join("churn.db.keys")).unwrap();
    let write_key = keys
        .lines()
        .find_map(|l| l.strip_prefix("write_key="))
        .unwrap()
        .to_string();
    let auth = basic(&write_key);

    let mut sent = 0;
    for b in 0..20 {
        let batch: Vec<_> = (0..50)
            .map(|i| json!({"type": "track", "event": "e", "userId": format!("u{i}"), "messageId": format!("m-{b}-{i}")}))
            .collect();
        let body = serde_json::to_vec(&json!({ "batch": batch })).unwrap();
        let (st, v, _) = post(
            &format!("{url}/v1/batch"),
            &[("Authorization", auth.as_str())],
            &body,
        );
        assert_eq!(st, 200, "{v}");
        sent += 50;
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "serve did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = lines.map_while(|l| l.ok()).collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("every accepted event is stored")),
        "{rest:?}"
    );

    let store = SqliteStore::open(&db).unwrap();
    let events = store
        .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
        .unwrap();
    assert_eq!(events.len(), sent);
    let mut ids: Vec<_> = events.into_iter().map(|e| e.event.message_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), sent);
}

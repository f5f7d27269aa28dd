//! `churn serve --db postgres://...`: events sent over HTTP are stored in PostgreSQL
//! (once, though sent twice) and read back through the API. Needs the server named by
//! `CHURN_TEST_PG_URL` (`./dev test_rust` starts one); fails without it unless
//! `CHURN_TEST_PG_SKIP=1`.
#![cfg(all(feature = "cli", feature = "postgres", unix))]

mod server_common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use churn_core::store::{PostgresStore, Store, DEFAULT_PROJECT};
use serde_json::json;
use server_common::{basic, get, post};

fn test_url() -> Option<String> {
    match std::env::var("CHURN_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CHURN_TEST_PG_SKIP").as_deref() == Ok("1") => None,
        _ => panic!(
            "CHURN_TEST_PG_URL is not set: run through `./dev test_rust` (it starts a \
             throwaway PostgreSQL) or set CHURN_TEST_PG_SKIP=1 to skip"
        ),
    }
}

/// Make an empty database with psql and return its URL.
fn fresh_db(url: &str, tag: &str) -> String {
    let name = format!("churn_serve_{tag}_{}", std::process::id());
    let psql = ["/usr/lib/postgresql/15/bin/psql", "psql"]
        .into_iter()
        .find(|p| !p.contains('/') || std::path::Path::new(p).exists())
        .unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        let st = Command::new(psql)
            .args([url, "-qc", &sql])
            .status()
            .unwrap();
        assert!(st.success(), "psql {sql}");
    }
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

#[test]
fn serve_on_postgres_ingests_and_reads() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "ingest");
    let mut child = Command::new(env!("CARGO_BIN_EXE_churn"))
        .args([
            "--db",
            &db,
            "serve",
            "--port",
            "0",
            "--ip-rate",
            "0",
            "--key-rate",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut write_key, mut secret_key) = (String::new(), String::new());
    let base = loop {
        let line = lines.next().expect("serve exited early").unwrap();
        let last = || line.split_whitespace().last().unwrap_or("").to_string();
        if line.contains("write key") {
            write_key = last();
        } else if line.contains("secret key") {
            secret_key = last();
        } else if let Some(rest) = line.strip_prefix("churnlens listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    assert!(!write_key.is_empty() && !secret_key.is_empty());
    let auth = basic(&write_key);
    for _ in 0..2 {
        // Sent twice: the second copy is all duplicates.
        let batch: Vec<_> = (0..30)
            .map(|i| json!({"type": "track", "event": "e", "userId": format!("u{}", i % 3), "messageId": format!("m{i}")}))
            .collect();
        let body = serde_json::to_vec(&json!({ "batch": batch })).unwrap();
        let (st, v, _) = post(
            &format!("{base}/v1/batch"),
            &[("Authorization", auth.as_str())],
            &body,
        );
        assert_eq!(st, 200, "{v}");
    }
    let read = format!("Bearer {secret_key}");
    let mut count = serde_json::Value::Null;
    for _ in 0..100 {
        let (st, v, _) = get(
            &format!("{base}/api/users/u1"),
            &[("Authorization", read.as_str())],
        );
        if st == 200 && v["event_count"] == 10 {
            count = v["event_count"].clone();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(count, 10, "u1's events read back over HTTP");
    let store = PostgresStore::connect(&db).unwrap();
    assert_eq!(store.stats(DEFAULT_PROJECT).unwrap().events, 30);
}

/// `churn serve --demo` on a URL, started twice (the second start finds the project and
/// makes new keys): keys are printed, and no `.keys` file is tried or written (the old
/// code tried to write one named after the URL and printed "could not write").
#[test]
fn demo_on_postgres_prints_keys_and_writes_no_keys_file() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "demo");
    let dir = tempfile::tempdir().unwrap();
    for start in 0..2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_churn"))
            .current_dir(dir.path())
            .args([
                "--db",
                &db,
                "serve",
                "--demo",
                "--demo-users",
                "60",
                "--port",
                "0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let key = loop {
            let line = lines.next().expect("serve exited early").unwrap();
            assert!(!line.contains("could not write"), "start {start}: {line}");
            if let Some(k) = line.strip_prefix("Secret key: ") {
                break k.trim().to_string();
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        assert!(key.starts_with("sk_"), "start {start}: {key}");
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(files.is_empty(), "start {start}: files written: {files:?}");
    }
}

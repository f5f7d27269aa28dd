//! The test PostgreSQL server: its URL from `CHURN_TEST_PG_URL` (`./dev test_rust` starts
//! a throwaway cluster and sets it; without it the tests fail unless
//! `CHURN_TEST_PG_SKIP=1`), a fresh database per test, and (for the restart test) the
//! cluster's `pg_ctl` script from `CHURN_TEST_PG_CTL`.
#![allow(dead_code)]

use std::process::Command;

/// The server's URL, or `None` when skipping was asked for.
pub fn test_url() -> Option<String> {
    match std::env::var("CHURN_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CHURN_TEST_PG_SKIP").as_deref() == Ok("1") => None,
        _ => panic!(
            "CHURN_TEST_PG_URL is not set: run through `./dev test_rust` (it starts a \
             throwaway PostgreSQL) or set CHURN_TEST_PG_SKIP=1 to skip"
        ),
    }
}

fn psql() -> &'static str {
    ["/usr/lib/postgresql/15/bin/psql", "psql"]
        .into_iter()
        .find(|p| !p.contains('/') || std::path::Path::new(p).exists())
        .unwrap()
}

/// Make an empty database named after `tag` and this process with psql; its URL.
pub fn fresh_db(url: &str, tag: &str) -> String {
    let name = format!("churn_serve_{tag}_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        let st = Command::new(psql())
            .env("PGOPTIONS", "--client-min-messages=warning")
            .args([url, "-qc", &sql])
            .status()
            .unwrap();
        assert!(st.success(), "psql {sql}");
    }
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// Run the cluster's `pg_ctl` script (`CHURN_TEST_PG_CTL`, written by `./dev`) with `args`,
/// e.g. `["-m", "fast", "stop"]` or `["start"]`; panics when it fails.
pub fn pg_ctl(ctl: &str, args: &[&str]) {
    let out = Command::new(ctl).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{ctl} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

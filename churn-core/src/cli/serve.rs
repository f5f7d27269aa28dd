//! `churn serve`: the HTTP server on the `--db` store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Ctx, Run};
use crate::demo::{load_if_empty, DemoConfig};
use crate::error::Result;
use crate::server::churn_jobs::{train_and_score, TrainOptions};
use crate::store::{Durability, SqliteOptions, SqliteStore, Store, DEFAULT_PROJECT};
use crate::server::projects::write_keys_file;
use crate::server::ratelimit::Rate;
use crate::server::{run_until_signal, AppState, IngestConfig, ServerConfig};

/// Serve the ingestion API (native, Segment- and PostHog-compatible) on the store.
///
/// The SQLite file is created if missing. On the first start a project named `default`
/// is created; its write key (for SDKs) and secret key (for reading) are printed once
/// and written to `<db>.keys` (mode 0600). Ctrl-C or SIGTERM stops the server after
/// every accepted event is stored.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Requests per second allowed per client IP (0: no limit).
    #[arg(long, default_value_t = 1000.0, value_name = "N")]
    pub ip_rate: f64,
    /// Requests per second allowed per project key (0: no limit).
    #[arg(long, default_value_t = 10000.0, value_name = "N")]
    pub key_rate: f64,
    /// Seconds a client may take to send a request's headers, and may keep an idle
    /// keep-alive connection open; the connection is then closed.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub header_timeout: f64,
    /// Seconds a client may take to send a request's body once its headers are in;
    /// then it gets 408 (slow-body defence).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub body_timeout: f64,
    /// What a 2xx from an ingestion route survives (SQLite file). `normal`: it is sent
    /// once the events are committed, which survives a crash of the server (kill -9);
    /// the write-ahead log is fsynced within `--sync-interval` after, so a power loss
    /// or OS crash may lose the last interval's events. `full`: every commit is fsynced
    /// before the 2xx (survives a power loss; costs one fsync per group commit).
    #[arg(long, default_value = "normal", value_name = "normal|full")]
    pub durability: Durability,
    /// Seconds between a commit and the fsync that makes it survive a power loss
    /// (`--durability normal`; SIGTERM and Ctrl-C fsync before exiting).
    #[arg(long, default_value_t = 0.2, value_name = "SECONDS")]
    pub sync_interval: f64,
    /// Read client IPs from X-Forwarded-For (behind a trusted proxy).
    #[arg(long)]
    pub trust_forwarded_for: bool,
    /// Demo mode: load a generated data set into the `default` project when it has no
    /// events, train a churn model, and print the dashboard URL and the secret key (new
    /// keys are made when the `<db>.keys` file does not hold the current ones).
    #[arg(long)]
    pub demo: bool,
    /// Demo mode: number of generated users.
    #[arg(long, default_value_t = 2000, value_name = "N", requires = "demo")]
    pub demo_users: usize,
}

/// The secret key of `project` recorded in a keys file, when it is still valid.
fn secret_from_keys_file(path: &Path, state: &AppState, project: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("secret_key="))?
        .trim()
        .to_string();
    (state.projects.by_secret_key(&key)?.id == project).then_some(key)
}

/// Load the demo data, train, and return the secret key to print. `keys_file`: where the
/// store's keys are kept (`None` for a database server URL: keys are only printed).
fn prepare_demo(
    state: &AppState,
    keys_file: Option<&Path>,
    users: usize,
    fresh: Option<&str>,
) -> Result<String> {
    let store = state.ingest.store().clone();
    let cfg = DemoConfig::new().users(users);
    eprintln!("demo: generating {users} users ...");
    let n = load_if_empty(store.as_ref(), DEFAULT_PROJECT, &cfg)?;
    if n > 0 {
        eprintln!("demo: stored {n} events in project {DEFAULT_PROJECT:?}");
    } else {
        eprintln!("demo: project {DEFAULT_PROJECT:?} already has events; keeping them");
    }
    eprintln!("demo: training the churn model ...");
    if state.churn.begin(store.as_ref(), DEFAULT_PROJECT)? {
        let result = train_and_score(store.as_ref(), DEFAULT_PROJECT, &TrainOptions::default())
            .map(|(run, _)| run);
        if let Err(e) = &result {
            eprintln!("demo: training failed: {e}");
        }
        state.churn.finish(store.as_ref(), DEFAULT_PROJECT, result)?;
    }
    if let Some(s) = fresh {
        return Ok(s.to_string());
    }
    if let Some(s) = keys_file.and_then(|p| secret_from_keys_file(p, state, DEFAULT_PROJECT)) {
        return Ok(s);
    }
    // The keys of this store are unknown here: make new ones (demo only).
    let keys = state.projects.rotate_keys(DEFAULT_PROJECT)?;
    if let Some(path) = keys_file {
        let _ = std::fs::remove_file(path);
        if let Err(e) = write_keys_file(path, &keys) {
            eprintln!("  could not write {}: {e}", path.display());
        }
    }
    eprintln!("demo: made new keys for {DEFAULT_PROJECT:?}; write key: {}", keys.write_key);
    Ok(keys.secret_key)
}

/// Where the keys of a new store are written: `<db>.keys`.
pub fn keys_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".keys");
    PathBuf::from(name)
}

fn rate(per_second: f64) -> Rate {
    if per_second > 0.0 {
        Rate::new(per_second, per_second * 2.0)
    } else {
        Rate::unlimited()
    }
}

impl Run for ServeArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        for (flag, secs) in [
            ("--header-timeout", self.header_timeout),
            ("--body-timeout", self.body_timeout),
            ("--sync-interval", self.sync_interval),
        ] {
            if !(secs.is_finite() && secs > 0.0) {
                return Err(crate::error::Error::invalid(
                    flag,
                    format!("must be a positive number of seconds, got {secs}"),
                ));
            }
        }
        let store: Arc<dyn Store> = if ctx.is_database_url() {
            // PostgreSQL: a commit is durable on its own (synchronous_commit).
            ctx.open_store()?
        } else {
            let options = SqliteOptions::default().durability(self.durability);
            Arc::new(SqliteStore::open_with(&ctx.db, options)?)
        };
        let ingest = IngestConfig::default()
            .sync_interval(std::time::Duration::from_secs_f64(self.sync_interval));
        let config = ServerConfig::default()
            .ingest(ingest)
            .ip_rate(rate(self.ip_rate))
            .key_rate(rate(self.key_rate))
            .header_timeout(std::time::Duration::from_secs_f64(self.header_timeout))
            .body_timeout(std::time::Duration::from_secs_f64(self.body_timeout))
            .trust_forwarded_for(self.trust_forwarded_for);
        let state = AppState::from_store(store, config)?;
        let created = state.projects.ensure_default()?;
        if let Some(keys) = &created {
            let path = keys_path(&ctx.db);
            eprintln!("Created project {:?}. These keys are shown once:", keys.project);
            eprintln!("  write key  (SDKs, public):  {}", keys.write_key);
            eprintln!("  secret key (reads, admin):  {}", keys.secret_key);
            if ctx.is_database_url() {
                eprintln!("  (not written to a file: the store is a database server)");
            } else {
                match write_keys_file(&path, keys) {
                    Ok(()) => eprintln!("  also written to {} (mode 0600)", path.display()),
                    Err(e) => eprintln!("  could not write {}: {e}", path.display()),
                }
            }
        }
        let addr = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let demo_key = if self.demo {
            let fresh = created.as_ref().map(|k| k.secret_key.as_str());
            let keys_file = (!ctx.is_database_url()).then(|| keys_path(&ctx.db));
            Some(prepare_demo(&state, keys_file.as_deref(), self.demo_users, fresh)?)
        } else {
            None
        };
        run_until_signal(state, &addr, |a| {
            eprintln!("churnlens listening on http://{a} (Ctrl-C to stop)");
            if let Some(k) = &demo_key {
                eprintln!("Dashboard:  http://{a}/");
                eprintln!("Secret key: {k}");
                eprintln!("  (paste it in the login form; it stays in the browser tab's sessionStorage)");
            }
        })?;
        eprintln!("stopped; every accepted event is stored");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_beside_the_db() {
        assert_eq!(keys_path(Path::new("data/churn.db")), PathBuf::from("data/churn.db.keys"));
        assert!(!rate(0.0).is_enabled());
        assert_eq!(rate(5.0), Rate::new(5.0, 10.0));
    }
}

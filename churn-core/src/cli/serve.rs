//! `churn serve`: the HTTP server on the `--db` store.

use std::path::{Path, PathBuf};

use super::{Ctx, Run};
use crate::error::Result;
use crate::server::projects::write_keys_file;
use crate::server::ratelimit::Rate;
use crate::server::{run_until_signal, AppState, ServerConfig};

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
    /// Read client IPs from X-Forwarded-For (behind a trusted proxy).
    #[arg(long)]
    pub trust_forwarded_for: bool,
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
        if !(self.header_timeout.is_finite() && self.header_timeout > 0.0) {
            return Err(crate::error::Error::invalid(
                "--header-timeout",
                format!("must be a positive number of seconds, got {}", self.header_timeout),
            ));
        }
        let store = ctx.open_store()?;
        let config = ServerConfig::default()
            .ip_rate(rate(self.ip_rate))
            .key_rate(rate(self.key_rate))
            .header_timeout(std::time::Duration::from_secs_f64(self.header_timeout))
            .trust_forwarded_for(self.trust_forwarded_for);
        let state = AppState::from_store(store, config)?;
        if let Some(keys) = state.projects.ensure_default()? {
            let path = keys_path(&ctx.db);
            eprintln!("Created project {:?}. These keys are shown once:", keys.project);
            eprintln!("  write key  (SDKs, public):  {}", keys.write_key);
            eprintln!("  secret key (reads, admin):  {}", keys.secret_key);
            match write_keys_file(&path, &keys) {
                Ok(()) => eprintln!("  also written to {} (mode 0600)", path.display()),
                Err(e) => eprintln!("  could not write {}: {e}", path.display()),
            }
        }
        let addr = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        run_until_signal(state, &addr, |a| {
            eprintln!("churnlens listening on http://{a} (Ctrl-C to stop)");
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

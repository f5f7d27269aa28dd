//! [`ServerConfig`]: limits, timeouts and rates of a server.

use std::time::Duration;

use super::decode::Limits;
use super::ingest::IngestConfig;
use super::ratelimit::Rate;

/// Server settings. `Default` gives the documented values; setters change one each.
///
/// ```
/// use std::time::Duration;
/// use churn_core::server::ServerConfig;
/// use churn_core::server::ratelimit::Rate;
/// let c = ServerConfig::default()
///     .body_timeout(Duration::from_secs(5))
///     .ip_rate(Rate::unlimited());
/// assert_eq!(c.body_timeout, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Longest time a client may take to send its body (then 408). Default 10 s.
    pub body_timeout: Duration,
    /// Longest time a client may take to send a request's headers, and longest idle
    /// time of a keep-alive connection between requests; the connection is then closed
    /// (slowloris defence). Default 10 s.
    pub header_timeout: Duration,
    /// Open connections served at once; further ones wait in the listen backlog until
    /// one closes. Default 10,000.
    pub max_connections: usize,
    /// Longest wait, on shutdown, for in-flight requests to finish before their
    /// connections are dropped (accepted messages are stored either way). Default 10 s.
    pub shutdown_grace: Duration,
    /// Requests per client IP. Default 1,000/s, burst 2,000.
    pub ip_rate: Rate,
    /// Requests per project key. Default 10,000/s, burst 20,000.
    pub key_rate: Rate,
    /// Read the client IP from the first `X-Forwarded-For` entry (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Limits of the native and Segment routes.
    pub segment_limits: Limits,
    /// Limits of the PostHog routes.
    pub posthog_limits: Limits,
    /// Tracker settings.
    pub ingest: IngestConfig,
    /// Longest age of a project's query engine before a read refreshes it (pulls the
    /// events stored since). Default 1 s; 0 refreshes before every query.
    pub engine_refresh: Duration,
    /// Event names that count as a conversion in `GET /api/metrics`. Default
    /// [`DEFAULT_CONVERSION_EVENTS`].
    pub conversion_events: Vec<String>,
    /// Largest dataset upload (`POST /api/datasets`). Default 256 MiB.
    pub dataset_max_bytes: usize,
    /// Attempts per alert webhook call (with 0.5 s, 1 s, 2 s, ... between). Default 3.
    pub webhook_attempts: u32,
}

/// The default conversion events of `GET /api/metrics`.
pub const DEFAULT_CONVERSION_EVENTS: &[&str] = &["purchase", "signup", "payment_completed"];

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(10),
            ip_rate: Rate::new(1_000.0, 2_000.0),
            key_rate: Rate::new(10_000.0, 20_000.0),
            trust_forwarded_for: false,
            segment_limits: Limits::segment(),
            posthog_limits: Limits::posthog(),
            ingest: IngestConfig::default(),
            engine_refresh: Duration::from_secs(1),
            conversion_events: DEFAULT_CONVERSION_EVENTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            dataset_max_bytes: 256 << 20,
            webhook_attempts: 3,
        }
    }
}

impl ServerConfig {
    /// Set the body timeout.
    pub fn body_timeout(mut self, d: Duration) -> Self {
        self.body_timeout = d;
        self
    }

    /// Set the header-read and keep-alive idle timeout.
    pub fn header_timeout(mut self, d: Duration) -> Self {
        self.header_timeout = d;
        self
    }

    /// Set the most connections served at once (at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Set the shutdown grace period.
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.shutdown_grace = d;
        self
    }

    /// Set the per-IP rate.
    pub fn ip_rate(mut self, r: Rate) -> Self {
        self.ip_rate = r;
        self
    }

    /// Set the per-key rate.
    pub fn key_rate(mut self, r: Rate) -> Self {
        self.key_rate = r;
        self
    }

    /// Trust `X-Forwarded-For`.
    pub fn trust_forwarded_for(mut self, yes: bool) -> Self {
        self.trust_forwarded_for = yes;
        self
    }

    /// Set the native and Segment limits.
    pub fn segment_limits(mut self, l: Limits) -> Self {
        self.segment_limits = l;
        self
    }

    /// Set the PostHog limits.
    pub fn posthog_limits(mut self, l: Limits) -> Self {
        self.posthog_limits = l;
        self
    }

    /// Set the tracker settings.
    pub fn ingest(mut self, i: IngestConfig) -> Self {
        self.ingest = i;
        self
    }

    /// Set the longest engine age before a refresh.
    pub fn engine_refresh(mut self, d: Duration) -> Self {
        self.engine_refresh = d;
        self
    }

    /// Set the conversion event names.
    pub fn conversion_events<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.conversion_events = names.into_iter().map(Into::into).collect();
        self
    }

    /// Set the largest dataset upload.
    pub fn dataset_max_bytes(mut self, n: usize) -> Self {
        self.dataset_max_bytes = n;
        self
    }

    /// Set the attempts per webhook call.
    pub fn webhook_attempts(mut self, n: u32) -> Self {
        self.webhook_attempts = n;
        self
    }
}

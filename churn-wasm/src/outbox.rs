//! The tracker's outgoing queue: bounded (the oldest message is dropped and counted when
//! full), persisted as JSON (the JS side keeps it in `localStorage`), sent in batches,
//! with exponential backoff after a failed send. A batch stays in the queue until the
//! server acknowledges it, and a message keeps its `message_id` across resends, so a
//! resend after a lost response is stored once (the store skips duplicate ids).
//!
//! ```
//! use churn_wasm::outbox::Outbox;
//! let mut q = Outbox::new(2);
//! q.push("{\"message_id\":\"a\"}".into());
//! q.push("{\"message_id\":\"b\"}".into());
//! q.push("{\"message_id\":\"c\"}".into()); // full: "a" is dropped
//! assert_eq!(q.dropped(), 1);
//! let batch = q.peek(10);
//! assert_eq!(batch.len(), 2);
//! q.ack(batch.len());
//! assert!(q.is_empty());
//! ```

use std::collections::VecDeque;

use churn_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// First retry delay after a failed send.
pub const BASE_BACKOFF_MS: i64 = 1_000;
/// Longest retry delay.
pub const MAX_BACKOFF_MS: i64 = 60_000;

/// Bounded FIFO of serialized messages with a drop counter and a retry schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    capacity: usize,
    items: VecDeque<String>,
    dropped: u64,
    failures: u32,
    retry_at: i64,
}

impl Outbox {
    /// An empty queue holding at most `capacity` messages (at least 1).
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            capacity: capacity.max(1),
            items: VecDeque::new(),
            dropped: 0,
            failures: 0,
            retry_at: 0,
        }
    }

    /// Restore a queue saved with [`Outbox::to_json`], resized to `capacity` (dropping
    /// the oldest messages if it shrank). Unreadable text is an error; the caller starts
    /// a fresh queue then.
    pub fn from_json(text: &str, capacity: usize) -> Result<Outbox> {
        let mut q: Outbox =
            serde_json::from_str(text).map_err(|e| Error::invalid("outbox", e.to_string()))?;
        q.capacity = capacity.max(1);
        q.trim();
        Ok(q)
    }

    /// The queue as JSON, for `localStorage`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    fn trim(&mut self) {
        while self.items.len() > self.capacity {
            self.items.pop_front();
            self.dropped += 1;
        }
    }

    /// Append a message; when full, the oldest message is dropped and counted.
    pub fn push(&mut self, message: String) {
        self.items.push_back(message);
        self.trim();
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Messages dropped because the queue was full, since it was created.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Consecutive failed sends.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The oldest `max` messages (not removed: call [`Outbox::ack`] after the server
    /// accepted them).
    pub fn peek(&self, max: usize) -> Vec<&str> {
        self.items.iter().take(max).map(String::as_str).collect()
    }

    /// The oldest `max` messages as a `/v1/batch` body: `{"batch":[...],"sentAt":...}`,
    /// with `writeKey` when given (for `sendBeacon`, which cannot set headers), and the
    /// number of messages in it.
    pub fn batch_body(
        &self,
        max: usize,
        sent_at: &str,
        write_key: Option<&str>,
    ) -> (String, usize) {
        let items = self.peek(max);
        let mut body = String::with_capacity(items.iter().map(|s| s.len() + 1).sum::<usize>() + 96);
        body.push_str("{\"batch\":[");
        for (i, m) in items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(m);
        }
        body.push_str("],\"sentAt\":");
        body.push_str(&serde_json::Value::from(sent_at).to_string());
        if let Some(k) = write_key {
            body.push_str(",\"writeKey\":");
            body.push_str(&serde_json::Value::from(k).to_string());
        }
        body.push('}');
        (body, items.len())
    }

    /// The server accepted the oldest `n` messages: remove them and reset the backoff.
    pub fn ack(&mut self, n: usize) {
        let n = n.min(self.items.len());
        self.items.drain(..n);
        self.failures = 0;
        self.retry_at = 0;
    }

    /// A send failed at `now` (network error or a retryable status): schedule the next
    /// try with exponential backoff (1 s, 2 s, 4 s ... up to 60 s) and return its time.
    pub fn fail(&mut self, now: i64) -> i64 {
        self.failures = self.failures.saturating_add(1);
        let shift = (self.failures - 1).min(16);
        let delay = (BASE_BACKOFF_MS << shift).min(MAX_BACKOFF_MS);
        self.retry_at = now + delay;
        self.retry_at
    }

    /// Whether a send may be tried at `now` (no backoff pending).
    pub fn ready(&self, now: i64) -> bool {
        now >= self.retry_at
    }

    /// Forget the backoff (the browser reports it is online again).
    pub fn reset_backoff(&mut self) {
        self.retry_at = 0;
    }

    /// The server refused the oldest `n` messages for good (a 4xx other than 408/429):
    /// drop them, counted, so one bad message cannot block the queue.
    pub fn reject(&mut self, n: usize) {
        let n = n.min(self.items.len());
        self.items.drain(..n);
        self.dropped += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_oldest_dropped() {
        let mut q = Outbox::new(3);
        for i in 0..5 {
            q.push(format!("{i}"));
        }
        assert_eq!(q.peek(10), vec!["2", "3", "4"]);
        assert_eq!(q.dropped(), 2);
        let saved = q.to_json();
        let small = Outbox::from_json(&saved, 1).unwrap();
        assert_eq!(small.peek(10), vec!["4"]);
        assert_eq!(small.dropped(), 4);
        assert!(Outbox::from_json("[", 3).is_err());
        assert_eq!(Outbox::new(0).capacity, 1);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let mut q = Outbox::new(10);
        let delays: Vec<i64> = (0..9).map(|_| q.fail(0)).collect();
        assert_eq!(
            delays,
            vec![1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]
        );
        assert!(!q.ready(59_999));
        assert!(q.ready(60_000));
        for _ in 0..100 {
            q.fail(0);
        }
        assert_eq!(q.fail(0), MAX_BACKOFF_MS);
        q.ack(0);
        assert_eq!(q.failures(), 0);
        assert!(q.ready(0));
    }

    #[test]
    fn batch_body_is_json_and_ack_removes_only_sent() {
        let mut q = Outbox::new(10);
        q.push(r#"{"message_id":"a"}"#.into());
        q.push(r#"{"message_id":"b"}"#.into());
        q.push(r#"{"message_id":"c"}"#.into());
        let (body, n) = q.batch_body(2, "2026-01-01T00:00:00Z", Some("wk\"1"));
        assert_eq!(n, 2);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["batch"][1]["message_id"], "b");
        assert_eq!(v["writeKey"], "wk\"1");
        assert_eq!(v["sentAt"], "2026-01-01T00:00:00Z");
        // Unacknowledged: the same messages (same ids) are sent again.
        assert_eq!(
            q.batch_body(2, "t", None).0.matches("message_id").count(),
            2
        );
        q.ack(n);
        assert_eq!(q.peek(10), vec![r#"{"message_id":"c"}"#]);
        q.reject(5);
        assert!(q.is_empty());
        assert_eq!(q.dropped(), 1);
    }
}

//! Shared pieces of the churnlens bench programs: a deterministic, realistic event set
//! and the helpers to time runs and summarise them.

pub mod synth;
pub mod synth_store;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use churn_core::event::{Context, Event, Properties};
use churn_core::{TimeRange, Timestamp};
use serde_json::{json, Value};

/// Event names and their relative frequency (page views dominate, as in real products).
pub const EVENT_NAMES: [(&str, u32); 20] = [
    ("page_view", 30),
    ("click", 12),
    ("session_start", 6),
    ("login", 5),
    ("search", 5),
    ("feature_used", 8),
    ("add_to_cart", 4),
    ("checkout_started", 2),
    ("purchase", 2),
    ("signup", 1),
    ("invite_sent", 1),
    ("file_uploaded", 3),
    ("report_viewed", 4),
    ("settings_changed", 1),
    ("notification_opened", 3),
    ("email_sent", 3),
    ("support_ticket", 1),
    ("plan_upgraded", 1),
    ("logout", 3),
    ("video_played", 5),
];

/// Distinct known users in the set.
pub const USERS: u64 = 10_000;

/// SplitMix64: a tiny deterministic generator (same events on every machine).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A random UUID-v4-shaped message id.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

/// The time span the generated events cover: 90 days from 2026-01-01.
pub fn span() -> TimeRange {
    let from = Timestamp::from_ymd(2026, 1, 1).unwrap_or_default();
    TimeRange::new(from, from.add_millis(90 * 86_400_000))
}

fn pick_name(rng: &mut Rng) -> &'static str {
    let total: u32 = EVENT_NAMES.iter().map(|e| e.1).sum();
    let mut r = rng.below(u64::from(total)) as u32;
    for (name, w) in EVENT_NAMES {
        if r < w {
            return name;
        }
        r -= w;
    }
    EVENT_NAMES[0].0
}

/// `n` events, deterministic for a seed: 20 names, 10k users (15% of events anonymous
/// only, 10% carrying both ids), timestamps roughly in arrival order over 90 days, and
/// 1-3 small properties; page views carry a context path.
pub fn generate(n: usize, seed: u64) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let range = span();
    let from = range.from.unwrap_or_default().millis();
    let width = range.to.unwrap_or_default().millis() - from;
    let plans = ["free", "pro", "team"];
    (0..n)
        .map(|i| {
            let name = pick_name(&mut rng);
            let user = rng.below(USERS);
            let kind = rng.below(100);
            let (user_id, anonymous_id) = match kind {
                0..=14 => (None, Some(format!("anon-{:x}", rng.below(4 * USERS)))),
                15..=24 => (
                    Some(format!("user-{user}")),
                    Some(format!("anon-{:x}", user * 4)),
                ),
                _ => (Some(format!("user-{user}")), None),
            };
            // Arrival order with a few minutes of jitter.
            let base = from + (width as i128 * i as i128 / n.max(1) as i128) as i64;
            let ts = base + rng.below(300_000) as i64;
            let mut properties = Properties::new();
            let mut context = Context::default();
            match name {
                "page_view" => {
                    let path = format!("/p/{}", rng.below(200));
                    properties.insert("path".into(), Value::String(path.clone()));
                    context.path = Some(path);
                }
                "purchase" | "plan_upgraded" => {
                    let cents = 500 + rng.below(20_000);
                    properties.insert("amount".into(), json!(cents as f64 / 100.0));
                    properties.insert("currency".into(), json!("USD"));
                }
                "feature_used" | "click" => {
                    properties.insert("feature".into(), json!(format!("f{}", rng.below(40))));
                }
                _ => {}
            }
            properties.insert(
                "plan".into(),
                json!(plans[(user % plans.len() as u64) as usize]),
            );
            Event {
                message_id: rng.uuid(),
                event: name.to_string(),
                user_id,
                anonymous_id,
                timestamp: Timestamp::from_millis(ts),
                received_at: Timestamp::from_millis(ts + 150),
                session_id: None,
                properties,
                context,
            }
        })
        .collect()
}

/// Write `events` as JSON arrays, one a line, in the column order of the baseline script:
/// message_id, event, user_id, anonymous_id, ts, received_at, session_id, properties,
/// context (properties and context as compact JSON text or null).
pub fn write_rows(events: &[Event], path: &Path) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for e in events {
        let props = (!e.properties.is_empty())
            .then(|| serde_json::to_string(&e.properties).unwrap_or_default());
        let ctx =
            (!e.context.is_empty()).then(|| serde_json::to_string(&e.context).unwrap_or_default());
        let row = json!([
            e.message_id,
            e.event,
            e.user_id,
            e.anonymous_id,
            e.timestamp.millis(),
            e.received_at.millis(),
            e.session_id,
            props,
            ctx
        ]);
        serde_json::to_writer(&mut w, &row)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// The median of some values (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// CPU time (user + system, all threads) this process has used so far, from
/// `/proc/self/stat` (Linux; `None` elsewhere). On a shared, loaded machine the wall
/// clock mostly measures the other processes; CPU time measures our own work.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 of `rest` (0-based 11, 12).
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // Linux reports in USER_HZ, which is 100 on every mainstream configuration.
    Some(Duration::from_millis(ticks * 10))
}

/// Peak resident memory of this process so far (`VmHWM` from `/proc/self/status`;
/// `None` off Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Reset the peak resident memory to the current one (Linux >= 4.0:
/// `/proc/self/clear_refs` = 5), so a later [`peak_rss_bytes`] measures only what
/// follows. Returns whether it worked.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Events per second.
pub fn rate(events: usize, took: Duration) -> f64 {
    events as f64 / took.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_valid() {
        let a = generate(2_000, 7);
        assert_eq!(a, generate(2_000, 7));
        assert_ne!(a, generate(2_000, 8));
        let now = Timestamp::from_ymd(2026, 6, 1).unwrap();
        for e in &a {
            e.validate(now, &Default::default()).unwrap();
        }
        let names: std::collections::HashSet<_> = a.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(names.len(), 20);
        let ids: std::collections::HashSet<_> = a.iter().map(|e| &e.message_id).collect();
        assert_eq!(ids.len(), a.len());
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}

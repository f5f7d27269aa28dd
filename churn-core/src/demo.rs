//! A deterministic demo data set: users signing up over months, sessions of page views
//! with traffic sources, a signup -> onboarding -> add to cart -> purchase funnel,
//! purchases with amounts, and churners who stop coming back.
//!
//! The same [`DemoConfig`] always gives the same events (message ids included, and
//! `received_at` equal to `timestamp`), so
//! loading twice stores the data once. `churn serve --demo`, benches and bindings use it.
//!
//! Users come in three kinds: *loyal* (40%, active on about a third of the days until
//! the end), *casual* (35%, active on about one day in eight), and *churners* (25%,
//! active like loyal users for 2 to 8 weeks after signing up, then nearly gone: like
//! real churners they come back now and then, on about one day in 200, so a month of
//! silence makes churn likely but never certain). Each active
//! day is one session: a landing `page_view` (with the session's referrer), a `login`,
//! then 0 to 3 more `page_view`s, sometimes an `add_to_cart`
//! and a `purchase` (`amount` 10..130 USD). Referrers: google, twitter, a newsletter UTM
//! campaign, or none.
//!
//! ```
//! use churn_core::demo::{generate, DemoConfig};
//! use churn_core::Timestamp;
//! let cfg = DemoConfig::new().users(50).end(Timestamp::from_ymd(2026, 3, 1).unwrap());
//! let events = generate(&cfg)?;
//! assert!(events.iter().any(|e| e.event == "purchase"));
//! assert_eq!(events, generate(&cfg)?); // deterministic
//! # Ok::<(), churn_core::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::event::{Context, Event, Utm};
use crate::store::{Store, StoreExt};
use crate::time::{Timestamp, DAY_MS, MINUTE_MS};

/// Settings of the demo data set.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DemoConfig {
    /// Number of users (default 2,000).
    pub users: usize,
    /// Days of history before `end` (default 150).
    pub days: u32,
    /// End of the data (exclusive; default: today 00:00 UTC).
    pub end: Timestamp,
    /// Random seed (default 7).
    pub seed: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        let now = Timestamp::now().millis();
        DemoConfig {
            users: 2_000,
            days: 150,
            end: Timestamp::from_millis(now - now.rem_euclid(DAY_MS)),
            seed: 7,
        }
    }
}

impl DemoConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Set the number of users.
    pub fn users(mut self, n: usize) -> Self {
        self.users = n;
        self
    }
    /// Set the days of history.
    pub fn days(mut self, d: u32) -> Self {
        self.days = d;
        self
    }
    /// Set the end of the data.
    pub fn end(mut self, end: Timestamp) -> Self {
        self.end = end;
        self
    }
    /// Set the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// Chance that a churner comes back on a given day after leaving.
const CHURNED_RETURN: f64 = 0.005;

const PAGES: &[&str] = &["/", "/pricing", "/features", "/docs", "/blog", "/account"];

fn context_for(rng: &mut Rng) -> Context {
    let mut c = Context::default();
    match rng.below(5) {
        0 | 1 => c.referrer = Some("https://www.google.com/search".into()),
        2 => c.referrer = Some("https://twitter.com/churnlens".into()),
        3 => {
            c.utm = Utm {
                source: Some("newsletter".into()),
                medium: Some("email".into()),
                campaign: Some("monthly".into()),
                ..Utm::default()
            }
        }
        _ => {}
    }
    c
}

/// Generate the events, sorted by user then time.
pub fn generate(cfg: &DemoConfig) -> Result<Vec<Event>> {
    if cfg.users == 0 || cfg.days < 14 {
        return Err(Error::invalid(
            "demo",
            "need at least 1 user and 14 days of history",
        ));
    }
    let start = cfg.end.millis() - cfg.days as i64 * DAY_MS;
    let mut rng = Rng(cfg.seed ^ 0x5EED);
    let mut out = Vec::new();
    for u in 0..cfg.users {
        let user = format!("user_{u:05}");
        let signup_day = rng.below(cfg.days as u64 - 7) as i64;
        let kind = rng.unit();
        let (p_active, last_day) = if kind < 0.40 {
            (0.33, cfg.days as i64)
        } else if kind < 0.75 {
            (0.12, cfg.days as i64)
        } else {
            (0.35, signup_day + 14 + rng.below(42) as i64)
        };
        let n = std::cell::Cell::new(0u32);
        let next_id = || {
            n.set(n.get() + 1);
            format!("demo-{}-{u}-{}", cfg.seed, n.get())
        };
        let ev = |name: &str, ts: i64, session: &str| {
            Event::track(name)
                .user_id(user.clone())
                .timestamp(Timestamp::from_millis(ts))
                .session_id(session.to_string())
                .message_id(next_id())
        };
        // Signup and onboarding.
        let t0 = start + signup_day * DAY_MS + rng.below(DAY_MS as u64 / 2) as i64 + 8 * 3_600_000;
        let s0 = format!("s{u}-0");
        out.push(
            ev("signup", t0, &s0)
                .context(context_for(&mut rng))
                .property("plan", if rng.unit() < 0.3 { "pro" } else { "basic" })
                .build()?,
        );
        if rng.unit() < 0.7 {
            out.push(ev("onboarding_completed", t0 + 5 * MINUTE_MS, &s0).build()?);
        }
        for day in signup_day + 1..cfg.days as i64 {
            let p = if day < last_day {
                p_active
            } else {
                CHURNED_RETURN
            };
            if rng.unit() >= p {
                continue;
            }
            let mut t = start + day * DAY_MS + (7 * 3_600_000) + rng.below(12 * 3_600_000) as i64;
            let sid = format!("s{u}-{day}");
            // The landing page view carries the session's referrer / UTM.
            let landing = PAGES[rng.below(PAGES.len() as u64) as usize];
            out.push(
                Event::page(landing)
                    .user_id(user.clone())
                    .timestamp(Timestamp::from_millis(t))
                    .session_id(sid.clone())
                    .message_id(next_id())
                    .context(context_for(&mut rng))
                    .build()?,
            );
            t += MINUTE_MS;
            out.push(ev("login", t, &sid).build()?);
            for _ in 0..rng.below(4) {
                t += (1 + rng.below(4) as i64) * MINUTE_MS;
                let path = PAGES[rng.below(PAGES.len() as u64) as usize];
                out.push(
                    Event::page(path)
                        .user_id(user.clone())
                        .timestamp(Timestamp::from_millis(t))
                        .session_id(sid.clone())
                        .message_id(next_id())
                        .build()?,
                );
            }
            if rng.unit() < 0.25 {
                t += 2 * MINUTE_MS;
                out.push(ev("add_to_cart", t, &sid).build()?);
                if rng.unit() < 0.6 {
                    t += 3 * MINUTE_MS;
                    let amount = 10.0 + rng.below(121) as f64;
                    out.push(
                        ev("purchase", t, &sid)
                            .number("amount", amount)
                            .property("currency", "USD")
                            .build()?,
                    );
                }
            }
        }
    }
    // Deterministic to the last field: received as it happened.
    for e in &mut out {
        e.received_at = e.timestamp;
    }
    Ok(out)
}

/// Store the demo events in `project` of `store` when that project has no event yet.
/// Returns the number of events stored (0 when the project was not empty).
pub fn load_if_empty(store: &dyn Store, project: &str, cfg: &DemoConfig) -> Result<u64> {
    if store.stats(project)?.events > 0 {
        return Ok(0);
    }
    let events = generate(cfg)?;
    let mut stored = 0u64;
    for chunk in events.chunks(5_000) {
        stored += store.append(project, chunk)?.inserted as u64;
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, ScanRequest, DEFAULT_PROJECT};
    use std::collections::HashSet;

    #[test]
    fn shape_of_the_data() {
        let end = Timestamp::from_ymd(2026, 3, 1).unwrap();
        let cfg = DemoConfig::new().users(300).days(120).end(end);
        let ev = generate(&cfg).unwrap();
        let start = end.millis() - 120 * DAY_MS;
        assert!(ev
            .iter()
            .all(|e| e.timestamp.millis() >= start && e.timestamp < end));
        let signups: HashSet<_> = ev
            .iter()
            .filter(|e| e.event == "signup")
            .filter_map(|e| e.user_id.clone())
            .collect();
        assert_eq!(signups.len(), 300);
        let buyers: HashSet<_> = ev
            .iter()
            .filter(|e| e.event == "purchase")
            .filter_map(|e| e.user_id.clone())
            .collect();
        assert!(buyers.len() > 30 && buyers.len() < 300, "{}", buyers.len());
        // Some users are gone for the last 30 days, most are not.
        let recent: HashSet<_> = ev
            .iter()
            .filter(|e| e.timestamp.millis() >= end.millis() - 30 * DAY_MS)
            .filter_map(|e| e.user_id.clone())
            .collect();
        assert!(recent.len() > 100 && recent.len() < 290, "{}", recent.len());
        let ids: HashSet<_> = ev.iter().map(|e| e.message_id.clone()).collect();
        assert_eq!(ids.len(), ev.len(), "message ids are unique");
        assert_eq!(generate(&cfg).unwrap(), ev);
        assert_ne!(generate(&cfg.clone().seed(8)).unwrap(), ev);
        assert!(generate(&cfg.clone().users(0)).is_err());
    }

    #[test]
    fn loads_once() {
        let store = MemoryStore::new();
        let cfg = DemoConfig::new()
            .users(20)
            .end(Timestamp::from_ymd(2026, 3, 1).unwrap());
        let n = load_if_empty(&store, DEFAULT_PROJECT, &cfg).unwrap();
        assert!(n > 20);
        assert_eq!(load_if_empty(&store, DEFAULT_PROJECT, &cfg).unwrap(), 0);
        assert_eq!(
            store
                .scan_all(DEFAULT_PROJECT, &ScanRequest::new())
                .unwrap()
                .len() as u64,
            n
        );
    }
}

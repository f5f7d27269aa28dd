//! A deterministic synthetic product-analytics data set for the engine bench: users
//! signing up over ten months, sessions of page views and feature use, a
//! signup -> feature_used -> purchase funnel, purchases with amounts, emails (not
//! interactive), and churners who stop coming back.
//!
//! Events are kept as compact columns (17 bytes per event) and sorted by time, so the
//! same data can be served to the engine through [`SynthStore`](crate::synth_store::SynthStore)
//! and written once to CSV for DuckDB without generating it twice.
//!
//! Every user's timestamps are distinct and strictly increasing (so every analysis has
//! one unambiguous answer), and every amount is a multiple of 0.25 (so sums of amounts
//! are exact in `f64` in any order and both sides can be compared for equality).
//!
//! ```
//! use churn_benches::synth::Synth;
//! let a = Synth::generate(5_000);
//! let b = Synth::generate(5_000);
//! assert_eq!(a.len(), 5_000);
//! assert_eq!(a.ts, b.ts); // deterministic
//! assert!(a.ts.windows(2).all(|w| w[0] <= w[1])); // time order
//! ```

use std::io::Write;
use std::path::Path;

use churn_core::Timestamp;

use crate::Rng;

/// Event names of the synthetic set (index = `name` column).
pub const NAMES: [&str; 8] = [
    "signup",
    "login",
    "page_view",
    "feature_used",
    "add_to_cart",
    "purchase",
    "email_sent",
    "logout",
];
/// `signup`.
pub const SIGNUP: u8 = 0;
/// `login`.
pub const LOGIN: u8 = 1;
/// `page_view`.
pub const PAGE_VIEW: u8 = 2;
/// `feature_used`.
pub const FEATURE_USED: u8 = 3;
/// `add_to_cart`.
pub const ADD_TO_CART: u8 = 4;
/// `purchase`.
pub const PURCHASE: u8 = 5;
/// `email_sent` (non-interactive: not activity).
pub const EMAIL_SENT: u8 = 6;
/// `logout`.
pub const LOGOUT: u8 = 7;

/// Page paths of `page_view` events (index = `aux` column).
pub const PATHS: [&str; 12] = [
    "/",
    "/pricing",
    "/docs",
    "/blog",
    "/features",
    "/dashboard",
    "/settings",
    "/reports",
    "/integrations",
    "/account",
    "/help",
    "/changelog",
];

const DAY: i64 = 86_400_000;
const MINUTE: i64 = 60_000;

/// The generated events, sorted by `(ts, user)`.
#[derive(Debug, Clone, Default)]
pub struct Synth {
    /// Epoch milliseconds.
    pub ts: Vec<i64>,
    /// User number (id `u{n}`).
    pub user: Vec<u32>,
    /// Index into [`NAMES`].
    pub name: Vec<u8>,
    /// `page_view`: index into [`PATHS`]; `purchase`: amount in quarters (0.25 USD).
    pub aux: Vec<u32>,
    /// `u{n}` for every user number.
    pub user_ids: Vec<String>,
}

/// Start of the data: 2026-01-01 (a Thursday).
pub fn start_ms() -> i64 {
    Timestamp::from_ymd(2026, 1, 1).map_or(0, |t| t.millis())
}

impl Synth {
    /// Exactly `events` events (deterministic for a given size).
    pub fn generate(events: usize) -> Synth {
        let mut rng = Rng::new(0x5EED_CAFE ^ events as u64);
        let start = start_ms();
        let end = start + 365 * DAY;
        // (ts, user, name, aux) per user, then sorted.
        let mut rows: Vec<(i64, u32, u8, u32)> = Vec::with_capacity(events + 1_000);
        let mut u = 0u32;
        while rows.len() < events {
            let before = rows.len();
            user_events(&mut rng, u, start, end, &mut rows);
            if rows.len() == before {
                continue;
            }
            u += 1;
        }
        rows.truncate(events);
        rows.sort_unstable_by_key(|r| (r.0, r.1));
        let mut s = Synth {
            ts: Vec::with_capacity(events),
            user: Vec::with_capacity(events),
            name: Vec::with_capacity(events),
            aux: Vec::with_capacity(events),
            user_ids: (0..u).map(|n| format!("u{n}")).collect(),
        };
        for (ts, user, name, aux) in rows {
            s.ts.push(ts);
            s.user.push(user);
            s.name.push(name);
            s.aux.push(aux);
        }
        s
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Amount of event `i` in USD (purchases only).
    pub fn amount(&self, i: usize) -> Option<f64> {
        (self.name[i] == PURCHASE).then(|| f64::from(self.aux[i]) / 4.0)
    }

    /// Path of event `i` (page views only).
    pub fn path(&self, i: usize) -> Option<&'static str> {
        (self.name[i] == PAGE_VIEW).then(|| PATHS[self.aux[i] as usize])
    }

    /// Write `user_id,ts,event,amount,path` (header first; empty = NULL) for DuckDB.
    pub fn write_csv(&self, path: &Path) -> std::io::Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        writeln!(w, "user_id,ts,event,amount,path")?;
        for i in 0..self.len() {
            write!(
                w,
                "{},{},{},",
                self.user_ids[self.user[i] as usize], self.ts[i], NAMES[self.name[i] as usize]
            )?;
            if let Some(a) = self.amount(i) {
                write!(w, "{a}")?;
            }
            w.write_all(b",")?;
            if let Some(p) = self.path(i) {
                w.write_all(p.as_bytes())?;
            }
            w.write_all(b"\n")?;
        }
        w.flush()
    }
}

/// One user's life: signup, weekly sessions until they churn (or the data ends).
fn user_events(rng: &mut Rng, u: u32, start: i64, end: i64, out: &mut Vec<(i64, u32, u8, u32)>) {
    // Signups spread over the first ten months, more of them later (growth).
    let r = rng.below(1_000_000) as f64 / 1_000_000.0;
    let signup_day = (300.0 * r.sqrt()) as i64;
    let mut t = start + signup_day * DAY + rng.below(DAY as u64) as i64;
    // Lifetime: 45% churn within weeks, 35% stay for months, the rest for good.
    let life = match rng.below(20) {
        0..=8 => (1 + rng.below(21)) as i64 * DAY,
        9..=15 => (30 + rng.below(60)) as i64 * DAY,
        _ => 400 * DAY,
    };
    let leave = (t + life).min(end);
    // Heavier users have shorter gaps between sessions (~60 events per user).
    let intensity = 1 + rng.below(4);
    out.push((t, u, SIGNUP, 0));
    let mut first = true;
    while t < leave {
        // One session.
        let len = 2 + rng.below(12);
        let mut name = if first { PAGE_VIEW } else { LOGIN };
        for k in 0..len {
            t += (5 + rng.below(if k == 0 { 120 } else { 400 })) as i64 * 1000;
            let aux = match name {
                PAGE_VIEW => rng.below(PATHS.len() as u64) as u32,
                PURCHASE => (4 + rng.below(400)) as u32,
                _ => 0,
            };
            out.push((t, u, name, aux));
            name = match rng.below(100) {
                0..=49 => PAGE_VIEW,
                50..=74 => FEATURE_USED,
                75..=84 => ADD_TO_CART,
                85..=88 => PURCHASE,
                89..=91 => LOGIN,
                _ => LOGOUT,
            };
        }
        first = false;
        // Sometimes a session pauses for exactly 30 minutes (not split) or 31 (split).
        if rng.below(20) == 0 {
            t += (30 + rng.below(2) as i64) * MINUTE;
            out.push((t, u, PAGE_VIEW, rng.below(PATHS.len() as u64) as u32));
        }
        // An email between sessions now and then (not activity).
        if rng.below(4) == 0 {
            t += (1 + rng.below(3_600)) as i64 * 1000;
            out.push((t, u, EMAIL_SENT, 0));
        }
        // Next session: half a day to three weeks later.
        t += (12 * 3_600 + rng.below(21 * 86_400 / intensity)) as i64 * 1000;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_times_are_strictly_increasing() {
        let s = Synth::generate(20_000);
        let mut last = vec![i64::MIN; s.user_ids.len()];
        for i in 0..s.len() {
            let u = s.user[i] as usize;
            assert!(s.ts[i] > last[u], "user {u} repeats a timestamp");
            last[u] = s.ts[i];
        }
        let per_user = s.len() as f64 / s.user_ids.len() as f64;
        assert!((20.0..400.0).contains(&per_user), "{per_user}");
        assert!(s.name.contains(&PURCHASE) && s.name.contains(&EMAIL_SENT));
    }
}

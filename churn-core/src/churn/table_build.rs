//! The fast path of [`EventTable::from_transactions`]: one pass per half of the rows
//! that fills the columns in place and interns customer ids as borrowed `&str` keys
//! (no allocation per row or per customer until the final id list), then the shared
//! grouping step. From [`PAR_ROWS`] rows on, the two halves run on two threads at a
//! fixed split and are merged in row order, so the table is identical to a one-thread
//! build (same customer order, same row order).
//!
//! Ids are hashed with FxHash (`rustc-hash`): a few multiply-rotate steps per 8 bytes
//! instead of SipHash's rounds. It is not keyed, so crafted ids could collide on
//! purpose; these rows are the caller's own (a CSV, a binding's list), so the cost of
//! that is a slower build of the caller's own table, and every lookup still compares
//! the full id, so results stay exact. The store path (ids sent to the server by
//! clients) keeps std's keyed SipHash in [`super::table::TableBuilder`].

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use super::features::FeatureConfig;
use super::table::{EventTable, KindMap, Transaction};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// From this many rows on, [`build`] interns and sorts on two threads.
pub(crate) const PAR_ROWS: usize = 100_000;

/// A row's checks, shared with [`super::table::TableBuilder::push`].
pub(crate) fn check_row(customer: &str, ts: Timestamp, amount: f64) -> Result<()> {
    if customer.is_empty() {
        return Err(Error::invalid("customer_id", "must not be empty"));
    }
    if !amount.is_finite() {
        return Err(Error::invalid(
            "amount",
            format!("customer {customer} at {ts}: amount must be a finite number"),
        ));
    }
    Ok(())
}

/// Output columns of one half of the rows.
struct Cols<'c> {
    cust: &'c mut [u32],
    ts: &'c mut [i64],
    code: &'c mut [u8],
    amount: &'c mut [f64],
}

impl<'c> Cols<'c> {
    fn split_at(self, at: usize) -> (Cols<'c>, Cols<'c>) {
        let (c0, c1) = self.cust.split_at_mut(at);
        let (t0, t1) = self.ts.split_at_mut(at);
        let (k0, k1) = self.code.split_at_mut(at);
        let (a0, a1) = self.amount.split_at_mut(at);
        (
            Cols {
                cust: c0,
                ts: t0,
                code: k0,
                amount: a0,
            },
            Cols {
                cust: c1,
                ts: t1,
                code: k1,
                amount: a1,
            },
        )
    }
}

/// A name's length with its first and last 8 bytes (zero-padded when shorter): equal
/// names have equal keys, and names of at most 16 bytes with equal keys are equal.
/// Comparing keys is a few integer compares where `==` on `str` calls `memcmp`.
type Key = (usize, u64, u64);

fn key(s: &str) -> Key {
    let b = s.as_bytes();
    let word = |w: &[u8]| {
        let mut a = [0u8; 8];
        a[..w.len()].copy_from_slice(w);
        u64::from_le_bytes(a)
    };
    let n = b.len();
    if n >= 8 {
        (n, word(&b[..8]), word(&b[n - 8..]))
    } else {
        (n, word(b), 0)
    }
}

/// Whether `s` (with key `k`) equals `t` (with key `kt`).
fn same(k: Key, s: &str, kt: Key, t: &str) -> bool {
    k == kt && (k.0 <= 16 || s == t)
}

/// Event names seen with their codes: a linear scan of keys, no hashing.
struct Events<'a, 'k> {
    kinds: &'k KindMap,
    seen: Vec<(Key, &'a str, u8)>,
}

impl<'a> Events<'a, '_> {
    fn code(&mut self, name: &'a str) -> u8 {
        let k = key(name);
        if let Some(&(_, _, c)) = self.seen.iter().find(|(kn, n, _)| same(*kn, n, k, name)) {
            return c;
        }
        let c = self.kinds.code(name);
        self.seen.push((k, name, c));
        c
    }
}

/// Customers of some rows in first-seen order, with their index.
#[derive(Default)]
struct Interned<'a> {
    ids: Vec<&'a str>,
    index: FxHashMap<&'a str, u32>,
}

impl<'a> Interned<'a> {
    fn id(&mut self, s: &'a str) -> u32 {
        match self.index.entry(s) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(v) => {
                let c = self.ids.len() as u32;
                self.ids.push(s);
                v.insert(c);
                c
            }
        }
    }
}

/// Fill `out` from `rows` (same length); customer numbers are local to these rows.
fn intern<'a>(rows: &'a [Transaction], kinds: &KindMap, out: Cols<'_>) -> Result<Interned<'a>> {
    let mut seen = Interned::default();
    // Rows per customer are usually several: a guess that saves most rehashing.
    seen.index.reserve(rows.len() / 8);
    let mut events = Events {
        kinds,
        seen: Vec::new(),
    };
    let mut last: Option<(Key, &'a str, u32)> = None;
    let cols = out
        .cust
        .iter_mut()
        .zip(out.ts.iter_mut())
        .zip(out.code.iter_mut())
        .zip(out.amount.iter_mut());
    for (r, (((cust, ts), code), amount)) in rows.iter().zip(cols) {
        let id = r.customer_id.as_str();
        check_row(id, r.date, r.amount)?;
        // Rows usually come grouped by customer: most rows skip the hash lookup.
        let k = key(id);
        *cust = match last {
            Some((kl, l, c)) if same(kl, l, k, id) => c,
            _ => {
                let c = seen.id(id);
                last = Some((k, id, c));
                c
            }
        };
        *ts = r.date.millis();
        *amount = r.amount;
        *code = events.code(&r.event_type);
    }
    Ok(seen)
}

/// [`EventTable::from_transactions`], two threads from `par_rows` rows.
pub(crate) fn build<'r>(
    rows: &'r [Transaction],
    cfg: &FeatureConfig,
    par_rows: usize,
) -> Result<EventTable> {
    let kinds = KindMap::new(cfg);
    let n = rows.len();
    let mut cust = vec![0u32; n];
    let mut ts = vec![0i64; n];
    let mut code = vec![0u8; n];
    let mut amount = vec![0.0f64; n];
    let out = Cols {
        cust: &mut cust,
        ts: &mut ts,
        code: &mut code,
        amount: &mut amount,
    };
    let mid = if n >= par_rows.max(2) { n / 2 } else { n };
    let (first, second) = if mid < n {
        let (lo, hi) = out.split_at(mid);
        let kinds = &kinds;
        // Each thread also makes the owned id strings of its customers.
        let run = |rows: &'r [Transaction], out| {
            intern(rows, kinds, out).map(|seen| {
                let names: Vec<String> = seen.ids.iter().map(|s| s.to_string()).collect();
                (seen, names)
            })
        };
        let (a, b) = std::thread::scope(|s| {
            let second = s.spawn(move || run(&rows[mid..], hi));
            (run(&rows[..mid], lo), second.join())
        });
        // The first error in row order wins, as in a one-thread build.
        let a = a?;
        let b = b.unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        (a, Some(b))
    } else {
        let seen = intern(rows, &kinds, out)?;
        let names = seen.ids.iter().map(|s| s.to_string()).collect();
        ((seen, names), None)
    };
    let (mut seen, mut names) = first;
    if let Some((b, b_names)) = second {
        // Customers of the second half: known ones keep their number, new ones are
        // numbered after, in first-seen order (what one pass would have given).
        let remap: Vec<u32> = b
            .ids
            .iter()
            .zip(b_names)
            .map(|(id, name)| {
                let known = seen.ids.len();
                let c = seen.id(id);
                if c as usize == known {
                    names.push(name);
                }
                c
            })
            .collect();
        for c in &mut cust[mid..] {
            *c = remap[*c as usize];
        }
    }
    let nc = seen.ids.len();
    let t = EventTable {
        customers: names,
        offsets: Vec::new(),
        ts,
        code,
        amount,
        plan: vec![0; n],
        plans: Vec::new(),
        trait_plan: vec![0; nc],
    };
    Ok(group(t, &cust, par_rows))
}

/// Group rows by customer (stable counting sort), then sort each customer by time
/// (stable). `cust[i]` is row `i`'s customer; the customers are `t.customers`.
pub(crate) fn group(mut t: EventTable, cust: &[u32], par_rows: usize) -> EventTable {
    let nc = t.customers.len();
    let mut offsets = vec![0usize; nc + 1];
    for &c in cust {
        offsets[c as usize + 1] += 1;
    }
    for i in 0..nc {
        offsets[i + 1] += offsets[i];
    }
    if cust.windows(2).all(|w| w[0] <= w[1]) {
        // Already grouped, in first-seen order (the usual CSV layout): sort each
        // customer's rows by time in place, without a permutation of the whole table.
        sort_groups_par(&mut t, &offsets, par_rows);
        t.offsets = offsets;
        return t;
    }
    let mut next = offsets.clone();
    let mut perm = vec![0usize; cust.len()];
    for (row, &c) in cust.iter().enumerate() {
        let slot = &mut next[c as usize];
        perm[*slot] = row;
        *slot += 1;
    }
    for c in 0..nc {
        let s = &mut perm[offsets[c]..offsets[c + 1]];
        if !s.windows(2).all(|w| t.ts[w[0]] <= t.ts[w[1]]) {
            s.sort_by_key(|&r| t.ts[r]);
        }
    }
    t.ts = perm.iter().map(|&r| t.ts[r]).collect();
    t.code = perm.iter().map(|&r| t.code[r]).collect();
    t.amount = perm.iter().map(|&r| t.amount[r]).collect();
    t.plan = perm.iter().map(|&r| t.plan[r]).collect();
    t.offsets = offsets;
    t
}

/// The row columns of a table, or of a range of its customers.
struct Rows<'c> {
    ts: &'c mut [i64],
    code: &'c mut [u8],
    amount: &'c mut [f64],
    plan: &'c mut [u16],
}

/// [`sort_groups`] on two threads (customers split in two halves) from `par_rows` rows.
fn sort_groups_par(t: &mut EventTable, offsets: &[usize], par_rows: usize) {
    let rows = Rows {
        ts: &mut t.ts,
        code: &mut t.code,
        amount: &mut t.amount,
        plan: &mut t.plan,
    };
    let nc = offsets.len() - 1;
    if rows.ts.len() < par_rows.max(2) || nc < 2 {
        sort_groups(rows, offsets);
        return;
    }
    let mid_c = nc / 2;
    let at = offsets[mid_c];
    let (ts0, ts1) = rows.ts.split_at_mut(at);
    let (k0, k1) = rows.code.split_at_mut(at);
    let (a0, a1) = rows.amount.split_at_mut(at);
    let (p0, p1) = rows.plan.split_at_mut(at);
    let lo = Rows {
        ts: ts0,
        code: k0,
        amount: a0,
        plan: p0,
    };
    let hi = Rows {
        ts: ts1,
        code: k1,
        amount: a1,
        plan: p1,
    };
    std::thread::scope(|s| {
        let h = s.spawn(|| sort_groups(hi, &offsets[mid_c..]));
        sort_groups(lo, &offsets[..=mid_c]);
        if let Err(p) = h.join() {
            std::panic::resume_unwind(p);
        }
    });
}

/// Stable sort by time of each customer's row range `offsets[c]..offsets[c + 1]`
/// (offsets relative to `offsets[0]`, the first row of `r`).
fn sort_groups(r: Rows<'_>, offsets: &[usize]) {
    let base = offsets[0];
    // Whole rows are sorted (stable, by time) in a buffer and written back: one gather
    // and one scatter per unsorted customer.
    let mut buf: Vec<(i64, f64, u16, u8)> = Vec::new();
    for w in offsets.windows(2) {
        let (a, b) = (w[0] - base, w[1] - base);
        if r.ts[a..b].windows(2).all(|p| p[0] <= p[1]) {
            continue;
        }
        buf.clear();
        buf.extend((a..b).map(|i| (r.ts[i], r.amount[i], r.plan[i], r.code[i])));
        buf.sort_by_key(|row| row.0);
        for (i, &(t, m, p, c)) in (a..b).zip(&buf) {
            r.ts[i] = t;
            r.amount[i] = m;
            r.plan[i] = p;
            r.code[i] = c;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::churn::table::TableBuilder;

    fn same_table(a: &EventTable, b: &EventTable) {
        assert_eq!(a.customers, b.customers);
        assert_eq!(a.offsets, b.offsets);
        assert_eq!(a.ts, b.ts);
        assert_eq!(a.code, b.code);
        assert_eq!(a.amount, b.amount);
        assert_eq!(a.plan, b.plan);
        assert_eq!(a.trait_plan, b.trait_plan);
    }

    fn rows_of(spec: &[(u8, u8, u8)], grouped: bool) -> Vec<Transaction> {
        // Long and short ids and names: keys of names over 16 bytes can tie.
        let ids = ["a", "customer-0000000001", "customer-0000000002", "c3"];
        let names = [
            "purchase",
            "login",
            "email_sent",
            "notification_sent_a",
            "notification_sent_b",
        ];
        let t0 = Timestamp::from_ymd(2026, 1, 1).unwrap();
        let mut rows: Vec<Transaction> = spec
            .iter()
            .map(|&(c, h, k)| Transaction {
                customer_id: ids[c as usize % ids.len()].to_string(),
                date: t0.add_millis(h as i64 * 3_600_000),
                amount: h as f64,
                event_type: names[k as usize % names.len()].to_string(),
            })
            .collect();
        if grouped {
            rows.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
        }
        rows
    }

    #[test]
    fn keys_tell_names_apart() {
        let pairs = [
            ("", "a"),
            ("abc", "abd"),
            ("purchase", "purchasf"),
            ("x", "x\0"),
        ];
        for (a, b) in pairs {
            assert!(!same(key(a), a, key(b), b), "{a:?} {b:?}");
            assert!(same(key(a), a, key(a), a));
        }
        let (l1, l2) = ("notification_sent_a", "notification_sent_b");
        assert!(!same(key(l1), l1, key(l2), l2));
        let (m1, m2) = ("aaaaaaaa_1_bbbbbbbb", "aaaaaaaa_2_bbbbbbbb");
        assert_eq!(key(m1), key(m2));
        assert!(!same(key(m1), m1, key(m2), m2));
    }

    #[test]
    fn two_threads_report_the_first_bad_row() {
        let mut rows = rows_of(&[(0, 1, 0); 8], false);
        rows[6].amount = f64::NAN;
        rows[2].customer_id.clear();
        let cfg = FeatureConfig::default();
        let e = build(&rows, &cfg, 2).unwrap_err().to_string();
        assert!(e.contains("customer_id"), "{e}");
    }

    proptest! {
        #[test]
        fn split_build_equals_one_pass(
            spec in prop::collection::vec((0u8..4, 0u8..6, 0u8..5), 0..80),
            grouped in any::<bool>(),
        ) {
            let rows = rows_of(&spec, grouped);
            let cfg = FeatureConfig::default();
            let one = build(&rows, &cfg, usize::MAX).unwrap();
            let two = build(&rows, &cfg, 2).unwrap();
            let mut b = TableBuilder::new(&cfg);
            for r in &rows {
                b.push(&r.customer_id, r.date, &r.event_type, r.amount, None).unwrap();
            }
            let pushed = b.finish();
            same_table(&one, &two);
            same_table(&one, &pushed);
            // Grouped and time-sorted per customer, first-seen customer order.
            for c in 0..one.customer_count() {
                let r = one.rows(c);
                prop_assert!(one.ts[r].windows(2).all(|w| w[0] <= w[1]));
            }
        }
    }
}

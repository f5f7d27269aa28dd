//! The per-person pass behind [`revenue`](super::revenue): one walk over each person's
//! run computes revenue, activity churn, subscriptions and conversion per period.

use super::activity::name_mask;
use super::columns::NONE;
use super::period::{Period, Span};
use super::revenue::{Excluded, RevenuePeriod, RevenueRequest};
use super::segment::PersonMask;
use super::view::View;
use crate::error::Result;

/// What one pass computes.
pub(crate) struct Pass {
    pub rows: Vec<RevenuePeriod>,
    pub revenue: f64,
    pub payments: u64,
    pub paying: u64,
    pub active: u64,
    pub excluded: Excluded,
    pub signups: u64,
    pub converted: u64,
}

/// `[start of first period, start of the period after the last)` in ms.
fn window(period: Period, span: Span) -> (i64, i64) {
    (
        period.start(span.first).millis(),
        period.start(span.last + 1).millis(),
    )
}

/// The most frequent currency among revenue events of `span` (ties: alphabetical).
pub(crate) fn pick_currency(
    view: &View,
    req: &RevenueRequest,
    who: &PersonMask,
    span: Span,
) -> Option<String> {
    let (lo, hi) = window(req.period, span);
    let rev = name_mask(&view.names, &req.revenue_events);
    let c = &view.cols;
    let mut counts = vec![0u64; view.currencies.len()];
    for i in (0..view.persons()).filter(|&p| who.has(p)).flat_map(|p| view.run(p)) {
        if rev[c.name[i] as usize] && c.ts[i] >= lo && c.ts[i] < hi && c.aux[i] != NONE {
            if let Some(a) = view.amounts.get(c.aux[i] as usize) {
                if a.currency != NONE {
                    counts[a.currency as usize] += 1;
                }
            }
        }
    }
    (0..counts.len())
        .filter(|&k| counts[k] > 0)
        .map(|k| (counts[k], view.currencies.resolve(k as u32)))
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, s)| s.to_string())
}

pub(crate) fn pass(
    view: &View,
    req: &RevenueRequest,
    who: &PersonMask,
    period: Period,
    from: i64,
    to: i64,
    currency: Option<&str>,
) -> Result<Pass> {
    let span = Span::of(period, from, to)?;
    let n = span.len();
    let (lo, hi) = window(period, span);
    let active_mask = req.active.mask(&view.names);
    let rev_mask = name_mask(&view.names, &req.revenue_events);
    let started = view.names.get(&req.subscription.started).unwrap_or(NONE);
    let cancelled = view.names.get(&req.subscription.cancelled).unwrap_or(NONE);
    let signup = view.names.get(&req.signup_event).unwrap_or(NONE);
    let has_subs = started != NONE || cancelled != NONE;
    let target = currency.map(|c| view.currencies.get(c));
    let counted = |cur: u32| match target {
        None => true,
        Some(t) => cur == NONE || Some(cur) == t,
    };
    let mut revenue = vec![0.0f64; n];
    let mut payments = vec![0u64; n];
    let mut paying = vec![0u64; n];
    let mut active = vec![0u64; n];
    let mut churned = vec![0u64; n];
    let mut subs = vec![0i64; n + 1];
    let mut cancels = vec![0u64; n];
    let mut other = vec![0u64; view.currencies.len()];
    let mut out = Pass {
        rows: Vec::new(),
        revenue: 0.0,
        payments: 0,
        paying: 0,
        active: 0,
        excluded: Excluded::default(),
        signups: 0,
        converted: 0,
    };
    let add_subs = |a: i64, b: i64, subs: &mut [i64]| {
        let (a, b) = (a.max(span.first), b.min(span.last));
        if a <= b {
            subs[(a - span.first) as usize] += 1;
            subs[(b - span.first) as usize + 1] -= 1;
        }
    };
    let c = &view.cols;
    for p in (0..view.persons()).filter(|&p| who.has(p)) {
        let (mut prev_q, mut paid_q) = (None::<i64>, i64::MIN);
        let (mut any_active, mut any_paid) = (false, false);
        let mut sub_from: Option<i64> = None;
        let mut signed: Option<i64> = None;
        let mut converted = false;
        for i in view.run(p) {
            let (name, ts) = (c.name[i], c.ts[i]);
            if active_mask[name as usize] {
                let q = period.of_ms(ts);
                if prev_q != Some(q) {
                    if let Some(pq) = prev_q {
                        if pq >= span.first && pq < span.last && q != pq + 1 {
                            churned[(pq - span.first) as usize] += 1;
                        }
                    }
                    if let Some(k) = span.pos(q) {
                        active[k] += 1;
                        any_active = true;
                    }
                    prev_q = Some(q);
                }
            }
            if rev_mask[name as usize] {
                if signed.is_some_and(|s| ts >= s) && ts < to {
                    converted = true;
                }
                if ts >= lo && ts < hi {
                    let k = (period.of_ms(ts) - span.first) as usize;
                    let amount = view.amounts.get(c.aux[i] as usize);
                    match amount.and_then(|a| a.value.map(|v| (v, a.currency))) {
                        None => out.excluded.missing_amount += 1,
                        Some((v, cur)) if counted(cur) => {
                            revenue[k] += v;
                            payments[k] += 1;
                            let q = span.first + k as i64;
                            if paid_q != q {
                                paid_q = q;
                                paying[k] += 1;
                            }
                            any_paid = true;
                        }
                        Some((_, cur)) => other[cur as usize] += 1,
                    }
                }
            }
            if name == started && sub_from.is_none() {
                sub_from = Some(ts);
            } else if name == cancelled {
                if let Some(a) = sub_from.take() {
                    add_subs(period.of_ms(a) + 1, period.of_ms(ts), &mut subs);
                    if let Some(k) = span.pos(period.of_ms(ts)) {
                        cancels[k] += 1;
                    }
                }
            }
            if name == signup && signed.is_none() {
                signed = Some(ts);
            }
        }
        if let Some(pq) = prev_q {
            if pq >= span.first && pq < span.last {
                churned[(pq - span.first) as usize] += 1;
            }
        }
        if let Some(a) = sub_from {
            add_subs(period.of_ms(a) + 1, span.last, &mut subs);
        }
        out.active += u64::from(any_active);
        out.paying += u64::from(any_paid);
        if signed.is_some_and(|s| s >= from && s < to) {
            out.signups += 1;
            out.converted += u64::from(converted);
        }
    }
    for (k, &x) in other.iter().enumerate() {
        if x > 0 {
            out.excluded.other_currency += x;
            out.excluded
                .by_currency
                .insert(view.currencies.resolve(k as u32).to_string(), x);
        }
    }
    let mut running = 0i64;
    for k in 0..n {
        let idx = span.first + k as i64;
        running += subs[k];
        let last = k + 1 == n;
        let at_start = running.max(0) as u64;
        out.revenue += revenue[k];
        out.payments += payments[k];
        out.rows.push(RevenuePeriod {
            start: period.start(idx),
            label: period.label(idx),
            revenue: revenue[k],
            payments: payments[k],
            paying_users: paying[k],
            active_users: active[k],
            arpu: (active[k] > 0).then(|| revenue[k] / active[k] as f64),
            arppu: (paying[k] > 0).then(|| revenue[k] / paying[k] as f64),
            churned_users: (!last).then_some(churned[k]),
            churn_rate: (!last && active[k] > 0).then(|| churned[k] as f64 / active[k] as f64),
            subscriptions_at_start: has_subs.then_some(at_start),
            cancellations: has_subs.then_some(cancels[k]),
            subscription_churn_rate: (has_subs && at_start > 0)
                .then(|| cancels[k] as f64 / at_start as f64),
        });
    }
    Ok(out)
}

//! Every engine analysis against a plain reference implementation on random event sets
//! (random users, anonymous ids, links, sessions, amounts), including a refresh after
//! half of the messages.

mod engine_support;

use std::collections::{BTreeMap, HashMap, HashSet};

use churn_core::engine::{
    ActiveUsersRequest, Engine, Period, RetentionMode, RetentionRequest, RevenueRequest,
    SessionsRequest,
};
use churn_core::store::{Store, DEFAULT_PROJECT};
use churn_core::Timestamp;
use engine_support::*;
use proptest::prelude::*;

fn period_of(i: u8) -> (Period, &'static str) {
    [
        (Period::Day, "day"),
        (Period::Week, "week"),
        (Period::Month, "month"),
    ][i as usize % 3]
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs())),
        _ => false,
    }
}

fn check_active(engine: &Engine, evs: &[NEv], r: (Option<i64>, Option<i64>), p: u8) {
    let (period, pname) = period_of(p);
    let rep = engine
        .active_users(
            &ActiveUsersRequest::new()
                .range(time_range(r))
                .period(period),
        )
        .unwrap();
    let Some((from, to)) = resolve(evs, r) else {
        assert!(rep.periods.is_empty() && rep.daily.is_empty());
        return;
    };
    let act: Vec<&NEv> = evs.iter().filter(|e| interactive(e)).collect();
    let first: HashMap<&str, i64> = by_person(evs)
        .iter()
        .filter_map(|g| g.iter().find(|e| interactive(e)))
        .map(|e| (e.person.as_str(), e.ts))
        .collect();
    let starts = periods(pname, from, to);
    assert_eq!(rep.periods.len(), starts.len());
    for (row, start) in rep.periods.iter().zip(&starts) {
        assert_eq!(row.start.millis(), midnight(*start));
        let in_p = |ts: i64| period_start(pname, date(ts)) == *start;
        let users = person_set(act.iter().copied().filter(|e| in_p(e.ts)));
        let new = users.iter().filter(|u| in_p(first[u.as_str()])).count();
        assert_eq!(row.active_users, users.len() as u64, "{}", row.label);
        assert_eq!(row.new_users, new as u64, "{}", row.label);
        assert_eq!(row.returning_users, (users.len() - new) as u64);
    }
    let days = periods("day", from, to);
    assert_eq!(rep.daily.len(), days.len());
    for (row, d) in rep.daily.iter().zip(&days) {
        assert_eq!(row.date, d.to_string());
        let window = |n: u64| {
            let lo = *d - chrono::Days::new(n - 1);
            person_set(
                act.iter()
                    .copied()
                    .filter(|e| date(e.ts) >= lo && date(e.ts) <= *d),
            )
            .len() as u64
        };
        assert_eq!(row.dau, window(1), "dau {d}");
        assert_eq!(row.wau_7, window(7), "wau {d}");
        assert_eq!(row.mau_30, window(30), "mau {d}");
        let st = (window(30) > 0).then(|| window(1) as f64 / window(30) as f64);
        assert!(close(row.stickiness, st));
    }
    let mut hist = vec![0u64; days.len() + 1];
    for g in by_person(evs) {
        let ds: HashSet<_> = g
            .iter()
            .filter(|e| interactive(e) && days.contains(&date(e.ts)))
            .map(|e| date(e.ts))
            .collect();
        hist[ds.len()] += 1;
    }
    let got: Vec<u64> = rep.stickiness_histogram.iter().map(|b| b.users).collect();
    assert_eq!(got, hist[1..].to_vec());
    assert_eq!(rep.total_users, hist[1..].iter().sum::<u64>());
}

/// Sessions restated: split on a gap > 30 min or on a different explicit session id
/// (compared with the first one of the session).
fn naive_sessions(evs: &[NEv]) -> Vec<Vec<NEv>> {
    let mut out = Vec::new();
    for g in by_person(evs) {
        let mut cur: Vec<NEv> = Vec::new();
        for e in g.into_iter().filter(|e| interactive(e)) {
            let split = match cur.last() {
                None => false,
                Some(last) => {
                    let sid = cur.iter().find_map(|x| x.session.clone());
                    e.ts - last.ts > 30 * MINUTE
                        || (e.session.is_some() && sid.is_some() && e.session != sid)
                }
            };
            if split {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(e.clone());
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

fn sorted(m: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn check_sessions(engine: &Engine, evs: &[NEv], r: (Option<i64>, Option<i64>), p: u8) {
    let (period, pname) = period_of(p);
    let rep = engine
        .sessions(
            &SessionsRequest::new()
                .range(time_range(r))
                .period(period)
                .top(100),
        )
        .unwrap();
    let Some((from, to)) = resolve(evs, r) else {
        assert_eq!(rep.sessions, 0);
        return;
    };
    let ss: Vec<Vec<NEv>> = naive_sessions(evs)
        .into_iter()
        .filter(|s| s[0].ts >= from && s[0].ts < to)
        .collect();
    assert_eq!(rep.sessions, ss.len() as u64);
    assert_eq!(rep.users, person_set(ss.iter().map(|s| &s[0])).len() as u64);
    let mut durs: Vec<i64> = ss.iter().map(|s| s[s.len() - 1].ts - s[0].ts).collect();
    assert_eq!(rep.total_duration_ms, durs.iter().sum::<i64>());
    durs.sort();
    assert_eq!(
        rep.median_duration_ms,
        durs.get(durs.len().saturating_sub(1) / 2).copied()
    );
    let pages: usize = ss
        .iter()
        .map(|s| s.iter().filter(|e| e.name == "page_view").count())
        .sum();
    let n = ss.len() as f64;
    assert!(close(
        rep.pages_per_session,
        (!ss.is_empty()).then(|| pages as f64 / n)
    ));
    let bounces = ss
        .iter()
        .filter(|s| s.len() == 1 && s[0].name == "page_view")
        .count() as u64;
    assert_eq!(rep.bounces, bounces);
    let starts = periods(pname, from, to);
    let per: Vec<u64> = starts
        .iter()
        .map(|p| {
            ss.iter()
                .filter(|s| period_start(pname, date(s[0].ts)) == *p)
                .count() as u64
        })
        .collect();
    assert_eq!(
        rep.per_period
            .iter()
            .map(|x| x.sessions)
            .collect::<Vec<_>>(),
        per
    );
    let count = |f: &dyn Fn(&Vec<NEv>) -> Option<String>| {
        let mut m: HashMap<String, u64> = HashMap::new();
        for s in &ss {
            if let Some(k) = f(s) {
                *m.entry(k).or_default() += 1;
            }
        }
        sorted(m)
    };
    let got = |v: &[churn_core::engine::Count]| {
        v.iter()
            .map(|c| (c.value.clone(), c.sessions))
            .collect::<Vec<_>>()
    };
    let page_paths = |s: &Vec<NEv>| -> Vec<String> {
        s.iter()
            .filter(|e| e.name == "page_view")
            .filter_map(|e| e.path.clone())
            .collect()
    };
    assert_eq!(
        got(&rep.entry_pages),
        count(&|s| page_paths(s).first().cloned())
    );
    assert_eq!(
        got(&rep.exit_pages),
        count(&|s| page_paths(s).last().cloned())
    );
    // Context is cached for page views and revenue events only (the default).
    let known = |e: &NEv| {
        matches!(
            e.name.as_str(),
            "page_view" | "purchase" | "payment_completed"
        )
    };
    assert_eq!(
        got(&rep.sources),
        count(&|s| Some(if known(&s[0]) {
            s[0].source.clone()
        } else {
            "direct".into()
        }))
    );
    assert_eq!(
        got(&rep.referrers),
        count(&|s| if known(&s[0]) {
            s[0].referrer.clone()
        } else {
            None
        })
    );
}

/// The start of the period after the one starting on `d`.
fn next_start(period: &str, d: chrono::NaiveDate) -> chrono::NaiveDate {
    match period {
        "day" => d + chrono::Days::new(1),
        "week" => d + chrono::Days::new(7),
        _ => d + chrono::Months::new(1),
    }
}

fn check_retention(
    engine: &Engine,
    evs: &[NEv],
    r: (Option<i64>, Option<i64>),
    p: u8,
    recurring: bool,
    as_of: Option<i64>,
) {
    let (period, pname) = period_of(p);
    let mode = if recurring {
        RetentionMode::Recurring
    } else {
        RetentionMode::FirstTime
    };
    // Start: signup only; return: any interactive event.
    let req = RetentionRequest::new()
        .range(time_range(r))
        .period(period)
        .mode(mode)
        .start(churn_core::engine::ActiveDefinition::only([
            "signup", "login",
        ]))
        .periods(4);
    let req = match as_of {
        Some(t) => req.as_of(Timestamp::from_millis(t)),
        None => req,
    };
    let rep = engine.retention(&req).unwrap();
    let Some((from, to)) = resolve(evs, r) else {
        assert!(rep.cohorts.is_empty());
        return;
    };
    let starts = periods(pname, from, to);
    let pos = |ts: i64| {
        starts
            .iter()
            .position(|p| *p == period_start(pname, date(ts)))
    };
    assert_eq!(rep.cohorts.len(), starts.len());
    let mut size = vec![0u64; starts.len()];
    let mut counts = vec![vec![0u64; 4]; starts.len()];
    for g in by_person(evs) {
        let mut cohorts: Vec<Option<usize>> = g
            .iter()
            .filter(|e| e.name == "signup" || e.name == "login")
            .map(|e| pos(e.ts))
            .collect();
        if !recurring {
            cohorts.truncate(1);
        }
        let cohorts: std::collections::BTreeSet<usize> = cohorts.into_iter().flatten().collect();
        let returns: HashSet<usize> = g
            .iter()
            .filter(|e| interactive(e))
            .filter_map(|e| pos(e.ts))
            .collect();
        for c in cohorts {
            size[c] += 1;
            for (k, slot) in counts[c].iter_mut().enumerate() {
                if returns.contains(&(c + k)) {
                    *slot += 1;
                }
            }
        }
    }
    for (i, row) in rep.cohorts.iter().enumerate() {
        assert_eq!(row.start.millis(), midnight(starts[i]));
        assert_eq!(row.size, size[i], "{}", row.label);
        let width = 4.min(starts.len() - i);
        assert_eq!(row.counts, counts[i][..width].to_vec(), "{}", row.label);
        // A cell is complete when its period ended by as_of (default: the range end).
        let limit = as_of.unwrap_or(to);
        let complete: Vec<bool> = (0..width)
            .map(|k| {
                let mut d = starts[i];
                for _ in 0..=k {
                    d = next_start(pname, d);
                }
                midnight(d) <= limit
            })
            .collect();
        assert_eq!(row.complete, complete, "{}", row.label);
        for (k, pct) in row.percentages.iter().enumerate() {
            let want = (size[i] > 0).then(|| 100.0 * counts[i][k] as f64 / size[i] as f64);
            assert!(close(*pct, want));
        }
    }
}

fn check_revenue(engine: &Engine, evs: &[NEv], r: (Option<i64>, Option<i64>), p: u8, usd: bool) {
    let (period, pname) = period_of(p);
    let mut req = RevenueRequest::new()
        .range(time_range(r))
        .period(period)
        .cac(4.0);
    if usd {
        req = req.currency("USD");
    }
    let rep = engine.revenue(&req).unwrap();
    let Some((from, to)) = resolve(evs, r) else {
        assert!(rep.periods.is_empty());
        return;
    };
    let is_rev = |e: &NEv| e.name == "purchase" || e.name == "payment_completed";
    let starts = periods(pname, from, to);
    let pos = |ts: i64| {
        starts
            .iter()
            .position(|p| *p == period_start(pname, date(ts)))
    };
    let in_span: Vec<&NEv> = evs.iter().filter(|e| pos(e.ts).is_some()).collect();
    // Currency: requested, else the most frequent named one (ties: alphabetical).
    let mut freq: BTreeMap<String, u64> = BTreeMap::new();
    for e in in_span.iter().filter(|e| is_rev(e)) {
        if let Some(c) = &e.currency {
            *freq.entry(c.clone()).or_default() += 1;
        }
    }
    let best = freq
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)));
    let cur = if usd {
        Some("USD".to_string())
    } else {
        best.map(|b| b.0.clone())
    };
    assert_eq!(rep.currency, cur);
    let counted = |e: &NEv| {
        e.amount.is_some() && (cur.is_none() || e.currency.is_none() || e.currency == cur)
    };
    let mut other = 0;
    let mut missing = 0;
    for e in in_span.iter().filter(|e| is_rev(e)) {
        if e.amount.is_none() {
            missing += 1;
        } else if !counted(e) {
            other += 1;
        }
    }
    assert_eq!(rep.excluded.other_currency, other);
    assert_eq!(rep.excluded.missing_amount, missing);
    let n = starts.len();
    assert_eq!(rep.periods.len(), n);
    let groups = by_person(evs);
    for (k, row) in rep.periods.iter().enumerate() {
        let here: Vec<&NEv> = in_span
            .iter()
            .copied()
            .filter(|e| pos(e.ts) == Some(k))
            .collect();
        let paid: Vec<&NEv> = here
            .iter()
            .copied()
            .filter(|e| is_rev(e) && counted(e))
            .collect();
        let revenue: f64 = paid.iter().map(|e| e.amount.unwrap()).sum();
        let active = person_set(here.iter().copied().filter(|e| interactive(e)));
        let paying = person_set(paid.iter().copied());
        assert!(close(Some(row.revenue), Some(revenue)), "{}", row.label);
        assert_eq!(row.payments, paid.len() as u64);
        assert_eq!(row.paying_users, paying.len() as u64);
        assert_eq!(row.active_users, active.len() as u64);
        if k + 1 < n {
            let next = person_set(
                in_span
                    .iter()
                    .copied()
                    .filter(|e| interactive(e) && pos(e.ts) == Some(k + 1)),
            );
            let churned = active.difference(&next).count() as u64;
            assert_eq!(row.churned_users, Some(churned), "{}", row.label);
        } else {
            assert_eq!(row.churned_users, None);
        }
        // Subscriptions: state before the period start, cancellations inside it.
        let start_ms = midnight(starts[k]);
        let (mut at_start, mut cancels) = (0u64, 0u64);
        for g in &groups {
            let mut on = false;
            for e in g.iter() {
                if e.name == "subscription_started" {
                    if e.ts >= start_ms && !on {
                        break;
                    }
                    on = true;
                } else if e.name == "subscription_cancelled" {
                    if e.ts >= start_ms {
                        break;
                    }
                    on = false;
                }
            }
            at_start += u64::from(on);
            let mut on = false;
            for e in g.iter() {
                if e.name == "subscription_started" {
                    on = true;
                } else if e.name == "subscription_cancelled" && on {
                    on = false;
                    if pos(e.ts) == Some(k) {
                        cancels += 1;
                    }
                }
            }
        }
        let has_subs = evs.iter().any(|e| e.name.starts_with("subscription_"));
        assert_eq!(
            row.subscriptions_at_start,
            has_subs.then_some(at_start),
            "{}",
            row.label
        );
        assert_eq!(
            row.cancellations,
            has_subs.then_some(cancels),
            "{}",
            row.label
        );
    }
    // Conversion: first signup in [from, to), then any revenue event before `to`.
    let (mut signups, mut converted) = (0, 0);
    for g in &groups {
        if let Some(s) = g.iter().find(|e| e.name == "signup") {
            if s.ts >= from && s.ts < to {
                signups += 1;
                if g.iter().any(|e| is_rev(e) && e.ts >= s.ts && e.ts < to) {
                    converted += 1;
                }
            }
        }
    }
    assert_eq!(
        (rep.conversion.signups, rep.conversion.converted),
        (signups, converted)
    );
    if period == Period::Month {
        let arpus: Vec<f64> = rep.periods.iter().filter_map(|r| r.arpu).collect();
        let churns: Vec<f64> = rep.periods.iter().filter_map(|r| r.churn_rate).collect();
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        assert!(close(rep.ltv.monthly_arpu, mean(&arpus)));
        assert!(close(rep.ltv.monthly_churn_rate, mean(&churns)));
        let ltv = match (mean(&arpus), mean(&churns)) {
            (Some(a), Some(c)) if c > 0.0 => Some(a / c),
            _ => None,
        };
        assert!(close(rep.ltv.ltv, ltv));
        assert!(close(rep.ltv.ltv_to_cac, ltv.map(|l| l / 4.0)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn active_users_match_reference(spec in spec(40, 60), r in range_strategy(), p in 0u8..3) {
        let store = store_of(&spec);
        let evs = naive_events(store.as_ref());
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        check_active(&engine, &evs, r, p);
    }

    #[test]
    fn sessions_match_reference(spec in spec(3, 60), r in range_strategy(), p in 0u8..3) {
        let store = store_of(&spec);
        let evs = naive_events(store.as_ref());
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        check_sessions(&engine, &evs, r, p);
    }

    #[test]
    fn retention_matches_reference(spec in spec(60, 60), r in range_strategy(), p in 0u8..3, rec: bool, as_of in prop::option::of(0i64..80 * 24)) {
        let store = store_of(&spec);
        let evs = naive_events(store.as_ref());
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        let as_of = as_of.map(|h| base() - 5 * DAY + h * 3_600_000);
        check_retention(&engine, &evs, r, p, rec, as_of);
    }

    #[test]
    fn revenue_matches_reference(spec in spec(70, 60), r in range_strategy(), p in 0u8..3, usd: bool) {
        let store = store_of(&spec);
        let evs = naive_events(store.as_ref());
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        check_revenue(&engine, &evs, r, p, usd);
    }

    /// Loading half the messages, then refreshing after the rest, gives the reference
    /// results (identity links may arrive in either half and merge existing persons).
    #[test]
    fn refresh_matches_reference(spec in spec(20, 60), cut in any::<prop::sample::Index>(), r in range_strategy(), p in 0u8..3) {
        let msgs = messages(&spec);
        let cut = cut.index(msgs.len() + 1);
        let store = std::sync::Arc::new(churn_core::store::MemoryStore::new());
        store.apply(DEFAULT_PROJECT, &msgs[..cut]).unwrap();
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        if cut % 2 == 0 {
            // Paths / attribution / amounts read before the refresh: the refresh then
            // fills them for the new events itself (otherwise the first use reads all).
            engine.sessions(&SessionsRequest::new()).unwrap();
        }
        store.apply(DEFAULT_PROJECT, &msgs[cut..]).unwrap();
        let rep = engine.refresh().unwrap();
        prop_assert!(!rep.reloaded);
        prop_assert_eq!(rep.events as usize, spec.events.len());
        let evs = naive_events(store.as_ref());
        check_active(&engine, &evs, r, p);
        check_sessions(&engine, &evs, r, p);
        check_retention(&engine, &evs, r, p, true, None);
        check_revenue(&engine, &evs, r, p, true);
        let fresh = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        let req = ActiveUsersRequest::new().range(time_range(r)).period(Period::Week);
        prop_assert_eq!(engine.active_users(&req).unwrap(), fresh.active_users(&req).unwrap());
        prop_assert_eq!(engine.memory_usage().persons, fresh.memory_usage().persons);
        let _ = Timestamp::from_millis(0);
    }
}

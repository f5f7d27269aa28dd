//! Funnels: the reference (ordered, strict, unordered; windows, exclusions,
//! breakdown) and the comparison with the engine.

use std::collections::{BTreeMap, BTreeSet};

use churn_core::engine::{CmpOp, Engine, FunnelMode, FunnelRequest, FunnelStep};
use proptest::prelude::*;
use serde_json::Value;

use crate::engine_support::*;

#[derive(Debug, Clone)]
struct RStep {
    event: &'static str,
    min_amount: Option<f64>,
}

fn hit(s: &RStep, e: &NEv) -> bool {
    e.name == s.event
        && s.min_amount
            .is_none_or(|m| e.amount.is_some_and(|a| a >= m))
}

#[derive(Debug, Clone)]
pub struct FCase {
    steps: Vec<RStep>,
    mode: u8,
    window: i64,
    exclusion: Option<(RStep, usize, usize)>,
    breakdown: bool,
}

fn rstep() -> impl Strategy<Value = RStep> {
    (
        prop::sample::select(vec![
            "login",
            "feature_used",
            "purchase",
            "page_view",
            "signup",
        ]),
        prop::option::weighted(0.3, 1u8..30),
    )
        .prop_map(|(event, m)| RStep {
            event,
            min_amount: m.map(|m| f64::from(m) / 2.0),
        })
}

pub fn fcase() -> impl Strategy<Value = FCase> {
    (
        prop::collection::vec(rstep(), 2..=3),
        0u8..3,
        prop::sample::select(vec![30 * MINUTE, DAY, 3 * DAY, 15 * 15 * MINUTE / 7]),
        prop::option::weighted(0.4, (rstep(), 1usize..3, 1usize..3)),
        any::<bool>(),
    )
        .prop_map(|(steps, mode, window, ex, breakdown)| {
            let k = steps.len();
            let exclusion = ex.and_then(|(s, a, d)| {
                let b = (a + d).min(k);
                (a < b && mode != 2).then_some((s, a, b))
            });
            FCase {
                steps,
                mode,
                window,
                exclusion,
                breakdown,
            }
        })
}

fn to_step(s: &RStep) -> FunnelStep {
    let mut f = FunnelStep::new(s.event);
    if let Some(m) = s.min_amount {
        f = f.filter("properties.amount", CmpOp::Ge, m);
    }
    f
}

/// One attempt restated: (level, step times, window open at the range end).
type RAttempt = (usize, Vec<i64>, bool);
/// Outcome per person id.
type Outcomes = BTreeMap<String, RAttempt>;

/// Best chain from `evs[i0]` in ordered mode: every chain of distinct events with
/// non-decreasing times inside the window is enumerated; the level is the longest and
/// the time of each step the earliest over all chains reaching it.
fn ordered_ref(evs: &[&NEv], steps: &[RStep], i0: usize, last: i64) -> (usize, Vec<i64>) {
    fn rec(evs: &[&NEv], steps: &[RStep], used: &mut Vec<usize>, last: i64, best: &mut Vec<i64>) {
        let j = used.len();
        let t_prev = evs[*used.last().unwrap()].ts;
        if j == steps.len() {
            return;
        }
        for (i, e) in evs.iter().enumerate() {
            if !used.contains(&i) && e.ts >= t_prev && e.ts <= last && hit(&steps[j], e) {
                if best.len() <= j {
                    best.push(e.ts);
                } else {
                    best[j] = best[j].min(e.ts);
                }
                used.push(i);
                rec(evs, steps, used, last, best);
                used.pop();
            }
        }
    }
    let mut best = vec![evs[i0].ts];
    rec(evs, steps, &mut vec![i0], last, &mut best);
    (best.len(), best)
}

fn strict_ref(evs: &[&NEv], steps: &[RStep], i0: usize, last: i64) -> (usize, Vec<i64>) {
    let mut times = vec![evs[i0].ts];
    for e in &evs[i0 + 1..] {
        if times.len() == steps.len() || e.ts > last || !hit(&steps[times.len()], e) {
            break;
        }
        times.push(e.ts);
    }
    (times.len(), times)
}

/// Most steps assignable to distinct events (brute force over assignments).
fn unordered_ref(window: &[&NEv], steps: &[RStep]) -> usize {
    fn rec(window: &[&NEv], steps: &[RStep], j: usize, used: &mut Vec<usize>) -> usize {
        if j == steps.len() {
            return 0;
        }
        let mut best = rec(window, steps, j + 1, used); // step j unassigned
        for (i, e) in window.iter().enumerate() {
            if !used.contains(&i) && hit(&steps[j], e) {
                used.push(i);
                best = best.max(1 + rec(window, steps, j + 1, used));
                used.pop();
            }
        }
        best
    }
    rec(window, steps, 0, &mut Vec::new())
}

fn breakdown_value(e: &NEv) -> String {
    match e.props.get("currency") {
        None => "(none)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// Per person and breakdown value: (level, times, in progress).
fn funnel_ref(
    evs: &[NEv],
    c: &FCase,
    from: i64,
    to: i64,
) -> (Outcomes, BTreeMap<String, Outcomes>) {
    let mut all = BTreeMap::new();
    let mut by_value: BTreeMap<String, Outcomes> = BTreeMap::new();
    for g in by_person(evs) {
        let mut attempts: Vec<(RAttempt, String)> = Vec::new();
        for (i0, e) in g.iter().enumerate() {
            if e.ts < from || e.ts >= to {
                continue;
            }
            let end = e.ts + c.window;
            let last = end.min(to - 1);
            let open = end >= to;
            let (level, times) = match c.mode {
                2 => {
                    if !c.steps.iter().any(|s| hit(s, e)) {
                        continue;
                    }
                    let window: Vec<&NEv> = g
                        .iter()
                        .copied()
                        .filter(|x| x.ts >= e.ts && x.ts <= last)
                        .collect();
                    (unordered_ref(&window, &c.steps), vec![])
                }
                m => {
                    if !hit(&c.steps[0], e) {
                        continue;
                    }
                    if m == 1 {
                        strict_ref(&g, &c.steps, i0, last)
                    } else {
                        ordered_ref(&g, &c.steps, i0, last)
                    }
                }
            };
            if let Some((x, a, b)) = &c.exclusion {
                if *a <= level {
                    let lo = times[a - 1];
                    let hi = if *b <= level { times[b - 1] - 1 } else { last };
                    if g.iter().any(|y| y.ts > lo && y.ts <= hi && hit(x, y)) {
                        continue;
                    }
                }
            }
            attempts.push(((level, times, open), breakdown_value(e)));
        }
        let combine = |atts: Vec<&RAttempt>| {
            let max = atts.iter().map(|a| a.0).max()?;
            let best = atts.iter().find(|a| a.0 == max)?;
            (max > 0).then(|| (max, best.1.clone(), atts.iter().any(|a| a.2)))
        };
        let person = g[0].person.clone();
        if let Some(o) = combine(attempts.iter().map(|a| &a.0).collect()) {
            all.insert(person.clone(), o);
        }
        let values: BTreeSet<&String> = attempts.iter().map(|a| &a.1).collect();
        for v in values {
            if let Some(o) = combine(
                attempts
                    .iter()
                    .filter(|a| &a.1 == v)
                    .map(|a| &a.0)
                    .collect(),
            ) {
                by_value
                    .entry(v.clone())
                    .or_default()
                    .insert(person.clone(), o);
            }
        }
    }
    (all, by_value)
}

fn lower_median(mut v: Vec<i64>) -> Option<i64> {
    v.sort();
    (!v.is_empty()).then(|| v[(v.len() - 1) / 2])
}

fn check_rows(
    rows: &[churn_core::engine::FunnelStepReport],
    outs: &Outcomes,
    k: usize,
    timed: bool,
) {
    assert_eq!(rows.len(), k);
    for (j, row) in (1..=k).zip(rows) {
        let reach: Vec<_> = outs.iter().filter(|(_, o)| o.0 >= j).collect();
        assert_eq!(row.users, reach.len() as u64, "step {j}");
        let at = |ip: bool| -> Vec<String> {
            outs.iter()
                .filter(|(_, o)| o.0 == j && j < k && o.2 == ip)
                .map(|(p, _)| p.clone())
                .collect()
        };
        assert_eq!(row.dropped_users, at(false), "dropped at {j}");
        assert_eq!(row.in_progress_users, at(true), "in progress at {j}");
        assert_eq!(row.dropped, at(false).len() as u64);
        if timed && j > 1 {
            let prev = lower_median(reach.iter().map(|(_, o)| o.1[j - 1] - o.1[j - 2]).collect());
            let start = lower_median(reach.iter().map(|(_, o)| o.1[j - 1] - o.1[0]).collect());
            assert_eq!(row.median_time_from_previous_ms, prev, "median {j}");
            assert_eq!(row.median_time_from_start_ms, start);
        } else {
            assert_eq!(row.median_time_from_previous_ms, None);
        }
    }
}

pub fn check_funnel(engine: &Engine, evs: &[NEv], r: (Option<i64>, Option<i64>), c: &FCase) {
    let mode = [
        FunnelMode::Ordered,
        FunnelMode::Strict,
        FunnelMode::Unordered,
    ][c.mode as usize];
    let mut req = FunnelRequest::new(c.steps.iter().map(to_step))
        .range(time_range(r))
        .window_ms(c.window)
        .mode(mode);
    if let Some((x, a, b)) = &c.exclusion {
        req = req.exclude(to_step(x), *a, *b);
    }
    if c.breakdown {
        req = req.breakdown("currency");
    }
    let rep = engine.funnel(&req).unwrap();
    let Some((from, to)) = resolve(evs, r) else {
        assert_eq!(rep.entered, 0);
        return;
    };
    let (all, by_value) = funnel_ref(evs, c, from, to);
    let k = c.steps.len();
    check_rows(&rep.steps, &all, k, c.mode != 2);
    let ip = all.values().filter(|o| o.2 && o.0 < k).count() as u64;
    assert_eq!(rep.in_progress, ip);
    if c.breakdown {
        let got: BTreeSet<&String> = rep.breakdown.iter().map(|b| &b.value).collect();
        assert_eq!(got, by_value.keys().collect());
        for b in &rep.breakdown {
            check_rows(&b.steps, &by_value[&b.value], k, c.mode != 2);
        }
    } else {
        assert!(rep.breakdown.is_empty());
    }
}

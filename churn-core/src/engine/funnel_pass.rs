//! The per-attempt chain searches and the per-step rows behind
//! [`funnel`](super::funnel).

use std::collections::HashMap;

use super::funnel::{FunnelMode, FunnelRequest, FunnelStepReport, Matcher, Outcome};
use super::view::View;

/// Maximum matching of steps to events (events grouped by the set of steps they match).
pub(super) fn matching(k: usize, masks: &HashMap<u64, usize>) -> usize {
    let mut slots: Vec<u64> = Vec::new();
    for (&m, &n) in masks {
        slots.extend(std::iter::repeat_n(m, n.min(k)));
    }
    let mut owner: Vec<Option<usize>> = vec![None; slots.len()];
    fn augment(s: usize, slots: &[u64], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
        for j in 0..slots.len() {
            if slots[j] >> s & 1 == 1 && !seen[j] {
                seen[j] = true;
                if owner[j].is_none_or(|o| augment(o, slots, owner, seen)) {
                    owner[j] = Some(s);
                    return true;
                }
            }
        }
        false
    }
    (0..k)
        .filter(|&s| augment(s, &slots, &mut owner, &mut vec![false; slots.len()]))
        .count()
}

/// Ordered: the longest chain from the step-1 event `i0`, every step at the earliest
/// time it can be reached (events with equal timestamps are matched as a group, any
/// order). Events after `last` (ms) are out of the window.
pub(super) fn ordered_chain(
    view: &View,
    steps: &[Matcher],
    i0: usize,
    from: usize,
    end: usize,
    last: i64,
) -> (usize, Vec<i64>) {
    let c = &view.cols;
    let k = steps.len();
    let mut times = vec![c.ts[i0]];
    let mut i = from;
    while i < end && times.len() < k && c.ts[i] <= last {
        let ts = c.ts[i];
        let mut g = i;
        while g < end && c.ts[g] == ts {
            g += 1;
        }
        let group: Vec<usize> = (i..g).filter(|&x| x != i0).collect();
        // Add steps one at a time while a matching of them to distinct events exists.
        let mut owner: Vec<Option<usize>> = vec![None; group.len()];
        let base = times.len();
        for s in base..k {
            let mut seen = vec![false; group.len()];
            if !augment(s, steps, view, &group, &mut owner, &mut seen) {
                break;
            }
            times.push(ts);
        }
        i = g;
    }
    let level = times.len();
    (level, times)
}

fn augment(
    s: usize,
    steps: &[Matcher],
    view: &View,
    group: &[usize],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for j in 0..group.len() {
        if !seen[j] && steps[s].hit(view, group[j]) {
            seen[j] = true;
            let free = match owner[j] {
                None => true,
                Some(o) => augment(o, steps, view, group, owner, seen),
            };
            if free {
                owner[j] = Some(s);
                return true;
            }
        }
    }
    false
}

/// Strict: each next step must be the person's very next event (store order on ties).
pub(super) fn strict_chain(
    view: &View,
    steps: &[Matcher],
    i0: usize,
    end: usize,
    last: i64,
) -> (usize, Vec<i64>) {
    let c = &view.cols;
    let mut times = vec![c.ts[i0]];
    let mut i = i0 + 1;
    while i < end && times.len() < steps.len() && c.ts[i] <= last && steps[times.len()].hit(view, i)
    {
        times.push(c.ts[i]);
        i += 1;
    }
    let level = times.len();
    (level, times)
}

fn lower_median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let mid = (v.len() - 1) / 2;
    Some(*v.select_nth_unstable(mid).1)
}

pub(super) fn step_rows(
    view: &View,
    req: &FunnelRequest,
    outs: &[(usize, Outcome)],
) -> Vec<FunnelStepReport> {
    let k = req.steps.len();
    let limit = req.user_limit.unwrap_or(usize::MAX);
    let ids = |f: &dyn Fn(&Outcome) -> bool| {
        let mut v: Vec<String> = outs
            .iter()
            .filter(|(_, o)| f(o))
            .map(|(p, _)| view.person_id(*p).to_string())
            .collect();
        v.sort_unstable();
        v.truncate(limit);
        v
    };
    let users: Vec<u64> = (1..=k)
        .map(|j| outs.iter().filter(|(_, o)| o.level >= j).count() as u64)
        .collect();
    (1..=k)
        .map(|j| {
            let timed = req.mode != FunnelMode::Unordered && j > 1;
            let times = |base: usize| {
                lower_median(
                    outs.iter()
                        .filter(|(_, o)| o.level >= j)
                        .map(|(_, o)| o.times[j - 1] - o.times[base])
                        .collect(),
                )
            };
            let at_level = |o: &Outcome| o.level == j && j < k;
            FunnelStepReport {
                step: j,
                event: match req.mode {
                    FunnelMode::Unordered => format!("any {j} of {k} steps"),
                    _ => req.steps[j - 1].event.clone(),
                },
                users: users[j - 1],
                conversion_from_first: (users[0] > 0)
                    .then(|| users[j - 1] as f64 / users[0] as f64),
                conversion_from_previous: {
                    let prev = users[j.saturating_sub(2)];
                    (prev > 0).then(|| users[j - 1] as f64 / prev as f64)
                },
                median_time_from_previous_ms: if timed { times(j - 2) } else { None },
                median_time_from_start_ms: if timed { times(0) } else { None },
                dropped: outs
                    .iter()
                    .filter(|(_, o)| at_level(o) && !o.in_progress)
                    .count() as u64,
                in_progress: outs
                    .iter()
                    .filter(|(_, o)| at_level(o) && o.in_progress)
                    .count() as u64,
                dropped_users: ids(&|o| at_level(o) && !o.in_progress),
                in_progress_users: ids(&|o| at_level(o) && o.in_progress),
            }
        })
        .collect()
}

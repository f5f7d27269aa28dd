//! Funnels (three modes, filters, exclusions, breakdown, window edges), paths and
//! segment membership (text and JSON forms) against plain reference implementations on
//! the random event sets of `engine_support`.

mod engine_support;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use churn_core::engine::{
    CmpOp, Engine, FunnelMode, FunnelRequest, FunnelStep, PathDirection, PathsRequest,
    SegmentExpr, SegmentRef, OTHER,
};
use churn_core::event::{Identify, Limits, Message};
use churn_core::store::{Store, DEFAULT_PROJECT};
use churn_core::Timestamp;
use engine_support::*;
use proptest::prelude::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------- funnels

#[derive(Debug, Clone)]
struct RStep {
    event: &'static str,
    min_amount: Option<f64>,
}

fn hit(s: &RStep, e: &NEv) -> bool {
    e.name == s.event && s.min_amount.is_none_or(|m| e.amount.is_some_and(|a| a >= m))
}

#[derive(Debug, Clone)]
struct FCase {
    steps: Vec<RStep>,
    mode: u8,
    window: i64,
    exclusion: Option<(RStep, usize, usize)>,
    breakdown: bool,
}

fn rstep() -> impl Strategy<Value = RStep> {
    (
        prop::sample::select(vec!["login", "feature_used", "purchase", "page_view", "signup"]),
        prop::option::weighted(0.3, 1u8..30),
    )
        .prop_map(|(event, m)| RStep {
            event,
            min_amount: m.map(|m| f64::from(m) / 2.0),
        })
}

fn fcase() -> impl Strategy<Value = FCase> {
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
) -> (BTreeMap<String, (usize, Vec<i64>, bool)>, BTreeMap<String, BTreeMap<String, (usize, Vec<i64>, bool)>>) {
    let mut all = BTreeMap::new();
    let mut by_value: BTreeMap<String, BTreeMap<String, (usize, Vec<i64>, bool)>> = BTreeMap::new();
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
                    let window: Vec<&NEv> =
                        g.iter().copied().filter(|x| x.ts >= e.ts && x.ts <= last).collect();
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
            if let Some(o) = combine(attempts.iter().filter(|a| &a.1 == v).map(|a| &a.0).collect()) {
                by_value.entry(v.clone()).or_default().insert(person.clone(), o);
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
    outs: &BTreeMap<String, (usize, Vec<i64>, bool)>,
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

fn check_funnel(engine: &Engine, evs: &[NEv], r: (Option<i64>, Option<i64>), c: &FCase) {
    let mode = [FunnelMode::Ordered, FunnelMode::Strict, FunnelMode::Unordered][c.mode as usize];
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

// ---------------------------------------------------------------- paths

fn label(e: &NEv) -> String {
    match (&e.path, e.name.as_str()) {
        (Some(p), "page_view") => p.clone(),
        _ => e.name.clone(),
    }
}

type Graph = (BTreeSet<(usize, String, u64)>, BTreeSet<(usize, String, usize, String, u64)>);

fn paths_ref(evs: &[NEv], anchor: &str, next: bool, depth: usize, top: usize, from: i64, to: i64) -> (u64, Graph) {
    let mut seqs: Vec<Vec<String>> = Vec::new();
    for g in by_person(evs) {
        let Some(i0) = g.iter().position(|e| e.name == anchor && e.ts >= from && e.ts < to) else {
            continue;
        };
        let side: Vec<&NEv> = if next {
            g[i0 + 1..].to_vec()
        } else {
            g[..i0].iter().rev().copied().collect()
        };
        seqs.push(side.into_iter().filter(|e| interactive(e)).take(depth).map(label).collect());
    }
    let anchors = seqs.len() as u64;
    for d in 0..depth {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for s in &seqs {
            if let Some(l) = s.get(d) {
                *counts.entry(l.clone()).or_default() += 1;
            }
        }
        let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let keep: Vec<String> = ranked.into_iter().take(top).map(|x| x.0).collect();
        for s in &mut seqs {
            if let Some(l) = s.get_mut(d) {
                if !keep.contains(l) {
                    *l = OTHER.to_string();
                }
            }
        }
    }
    let mut nodes: BTreeMap<(usize, String), u64> = BTreeMap::new();
    let mut edges: BTreeMap<(usize, String, usize, String), u64> = BTreeMap::new();
    for s in &seqs {
        *nodes.entry((0, anchor.to_string())).or_default() += 1;
        let mut prev = (0, anchor.to_string());
        for (d, l) in s.iter().enumerate() {
            let cur = (d + 1, l.clone());
            *nodes.entry(cur.clone()).or_default() += 1;
            let key = if next {
                (prev.0, prev.1.clone(), cur.0, cur.1.clone())
            } else {
                (cur.0, cur.1.clone(), prev.0, prev.1.clone())
            };
            *edges.entry(key).or_default() += 1;
            prev = cur;
        }
    }
    (
        anchors,
        (
            nodes.into_iter().map(|((s, l), n)| (s, l, n)).collect(),
            edges.into_iter().map(|((a, b, c, d), n)| (a, b, c, d, n)).collect(),
        ),
    )
}

fn check_paths(engine: &Engine, evs: &[NEv], r: (Option<i64>, Option<i64>), p: (usize, bool, usize, usize)) {
    let (anchor, next, depth, top) = p;
    let anchor = NAMES[anchor % NAMES.len()];
    let dir = if next { PathDirection::Next } else { PathDirection::Previous };
    let rep = engine
        .paths(&PathsRequest::new(anchor).range(time_range(r)).direction(dir).depth(depth).top(top))
        .unwrap();
    let Some((from, to)) = resolve(evs, r) else {
        assert_eq!(rep.anchors, 0);
        return;
    };
    let (anchors, (nodes, edges)) = paths_ref(evs, anchor, next, depth, top, from, to);
    assert_eq!(rep.anchors, anchors);
    let got_nodes: BTreeSet<_> = rep.nodes.iter().map(|n| (n.step, n.label.clone(), n.users)).collect();
    assert_eq!(got_nodes, nodes);
    let n = |id: usize| (rep.nodes[id].step, rep.nodes[id].label.clone());
    let got_edges: BTreeSet<_> = rep
        .edges
        .iter()
        .map(|e| (n(e.source).0, n(e.source).1, n(e.target).0, n(e.target).1, e.users))
        .collect();
    assert_eq!(got_edges, edges);
}

// ---------------------------------------------------------------- segments

fn leaf() -> impl Strategy<Value = SegmentExpr> {
    let op = prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="]);
    prop_oneof![
        (prop::sample::select(vec!["plan", "age"]), op.clone(), 0u8..4).prop_map(|(k, op, v)| {
            let value = if k == "plan" { format!("\"{}\"", ["free", "pro", "team", "x"][v as usize]) } else { (v * 10).to_string() };
            SegmentExpr::parse(&format!("trait.{k} {op} {value}")).unwrap()
        }),
        (
            prop::sample::select(vec![
                "events_7d", "events_30d", "events_total", "active_days_7d", "active_days_30d",
                "revenue", "purchases", "last_seen_days", "first_seen_days"
            ]),
            op.clone(),
            0u8..12
        )
            .prop_map(|(m, op, v)| SegmentExpr::parse(&format!("metric.{m} {op} {}", f64::from(v) / 2.0)).unwrap()),
        (0..NAMES.len(), op, 0u8..4, prop::option::of(1u8..20)).prop_map(|(n, op, c, d)| {
            let days = d.map_or(String::new(), |d| format!(", {}h", u32::from(d) * 12));
            SegmentExpr::parse(&format!("did({}, {op} {c}{days})", NAMES[n])).unwrap()
        }),
    ]
}

fn expr() -> impl Strategy<Value = SegmentExpr> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(SegmentExpr::And),
            prop::collection::vec(inner.clone(), 0..3).prop_map(SegmentExpr::Or),
            inner.prop_map(|e| SegmentExpr::Not(Box::new(e))),
        ]
    })
}

fn cmp(op: CmpOp, a: Option<&Value>, b: &Value) -> bool {
    // Restated: numbers numerically, strings lexicographically, missing only for `!=`.
    let Some(a) = a else { return op == CmpOp::Ne };
    let ord = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().unwrap().partial_cmp(&y.as_f64().unwrap()),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match op {
        CmpOp::Eq => ord == Some(std::cmp::Ordering::Equal),
        CmpOp::Ne => ord != Some(std::cmp::Ordering::Equal),
        CmpOp::Lt => ord == Some(std::cmp::Ordering::Less),
        CmpOp::Le => matches!(ord, Some(o) if o != std::cmp::Ordering::Greater),
        CmpOp::Gt => ord == Some(std::cmp::Ordering::Greater),
        CmpOp::Ge => matches!(ord, Some(o) if o != std::cmp::Ordering::Less),
        CmpOp::Contains => false,
    }
}

fn eval_ref(e: &SegmentExpr, g: &[&NEv], traits: Option<&churn_core::event::Properties>, t: i64) -> bool {
    let act: Vec<&&NEv> = g.iter().filter(|e| interactive(e) && e.ts < t).collect();
    let days = |w: i64| act.iter().filter(|e| e.ts >= t - w).map(|e| date(e.ts)).collect::<BTreeSet<_>>().len() as f64;
    let rev: Vec<&&NEv> = g.iter().filter(|e| (e.name == "purchase" || e.name == "payment_completed") && e.ts < t).collect();
    match e {
        SegmentExpr::And(v) => v.iter().all(|x| eval_ref(x, g, traits, t)),
        SegmentExpr::Or(v) => v.iter().any(|x| eval_ref(x, g, traits, t)),
        SegmentExpr::Not(x) => !eval_ref(x, g, traits, t),
        SegmentExpr::Trait(c) => cmp(c.op, traits.and_then(|tr| tr.get(&c.key)), &c.value),
        SegmentExpr::Metric(m) => {
            let v = match m.metric.name() {
                "events_7d" => Some(act.iter().filter(|e| e.ts >= t - 7 * DAY).count() as f64),
                "events_30d" => Some(act.iter().filter(|e| e.ts >= t - 30 * DAY).count() as f64),
                "events_total" => Some(act.len() as f64),
                "active_days_7d" => Some(days(7 * DAY)),
                "active_days_30d" => Some(days(30 * DAY)),
                "revenue" => Some(rev.iter().map(|e| e.amount.unwrap_or(0.0)).sum()),
                "purchases" => Some(rev.len() as f64),
                "last_seen_days" => act.last().map(|e| (t - e.ts) as f64 / DAY as f64),
                "first_seen_days" => act.first().map(|e| (t - e.ts) as f64 / DAY as f64),
                other => panic!("{other}"),
            };
            v.is_some_and(|v| cmp(m.op, Some(&json!(v)), &json!(m.value)))
        }
        SegmentExpr::Did(d) => {
            let lo = d.days.map_or(i64::MIN, |x| t - (x * DAY as f64).round() as i64);
            let n = g.iter().filter(|e| e.name == d.event && e.ts >= lo && e.ts < t).count();
            cmp(d.op, Some(&json!(n)), &json!(d.count))
        }
    }
}

fn add_traits(store: &dyn Store, plans: &[u8]) {
    let msgs: Vec<Message> = plans
        .iter()
        .enumerate()
        .map(|(u, &p)| {
            let mut b = Identify::user(format!("u{u}"))
                .message_id(format!("t{u}"))
                .timestamp(Timestamp::from_millis(base()));
            if p < 3 {
                b = b.trait_("plan", ["free", "pro", "team"][p as usize]);
            }
            b = b.trait_("age", i64::from(p) * 10 + 5);
            Message::Identify(b.build_at(Timestamp::from_ymd(2030, 1, 1).unwrap(), &Limits::default()).unwrap())
        })
        .collect();
    store.apply(DEFAULT_PROJECT, &msgs).unwrap();
}

fn check_segment(engine: &Engine, store: &dyn Store, evs: &[NEv], e: &SegmentExpr) {
    let t = evs.iter().map(|e| e.ts).max().map_or(0, |m| m + 1);
    let want: Vec<String> = by_person(evs)
        .iter()
        .filter(|g| {
            let traits = store.user(DEFAULT_PROJECT, &g[0].person).unwrap().map(|u| u.traits);
            eval_ref(e, g, traits.as_ref(), t)
        })
        .map(|g| g[0].person.clone())
        .collect();
    let via_json: SegmentExpr = serde_json::from_value(serde_json::to_value(e).unwrap()).unwrap();
    let via_text = SegmentExpr::parse(&e.to_string()).unwrap();
    // The text form is canonical (one-element lists print as their element).
    assert_eq!(SegmentExpr::parse(&via_text.to_string()).unwrap(), via_text, "text form {e}");
    for x in [via_json, via_text] {
        let mut got = engine.segment_members(&SegmentRef::Expr(x)).unwrap();
        got.sort();
        let mut w = want.clone();
        w.sort();
        assert_eq!(got, w, "{e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn funnels_match_the_reference(spec in spec(6, 50), r in range_strategy(), c in fcase()) {
        let store = store_of(&spec);
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        let evs = naive_events(store.as_ref());
        check_funnel(&engine, &evs, r, &c);
        check_funnel(&engine, &evs, (None, None), &c);
    }

    #[test]
    fn paths_match_the_reference(
        spec in spec(4, 50),
        r in range_strategy(),
        p in (0usize..9, any::<bool>(), 1usize..4, 1usize..4),
    ) {
        let store = store_of(&spec);
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        let evs = naive_events(store.as_ref());
        check_paths(&engine, &evs, r, p);
    }

    #[test]
    fn segment_members_match_the_reference(
        spec in spec(40, 50),
        plans in prop::collection::vec(0u8..4, 0..4),
        e in expr(),
    ) {
        let store = store_of(&spec);
        add_traits(store.as_ref(), &plans);
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        let evs = naive_events(store.as_ref());
        check_segment(&engine, store.as_ref(), &evs, &e);
    }
}

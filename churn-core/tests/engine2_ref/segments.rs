//! Segments: random expressions, the reference evaluation and the comparison
//! with the engine's members.

use std::collections::BTreeSet;

use churn_core::engine::{CmpOp, Engine, SegmentExpr, SegmentRef};
use churn_core::event::{Identify, Limits, Message};
use churn_core::store::{Store, DEFAULT_PROJECT};
use churn_core::Timestamp;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::engine_support::*;

fn leaf() -> impl Strategy<Value = SegmentExpr> {
    let op = prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="]);
    prop_oneof![
        (
            prop::sample::select(vec!["plan", "age"]),
            op.clone(),
            0u8..4
        )
            .prop_map(|(k, op, v)| {
                let value = if k == "plan" {
                    format!("\"{}\"", ["free", "pro", "team", "x"][v as usize])
                } else {
                    (v * 10).to_string()
                };
                SegmentExpr::parse(&format!("trait.{k} {op} {value}")).unwrap()
            }),
        (
            prop::sample::select(vec![
                "events_7d",
                "events_30d",
                "events_total",
                "active_days_7d",
                "active_days_30d",
                "revenue",
                "purchases",
                "last_seen_days",
                "first_seen_days"
            ]),
            op.clone(),
            0u8..12
        )
            .prop_map(|(m, op, v)| SegmentExpr::parse(&format!(
                "metric.{m} {op} {}",
                f64::from(v) / 2.0
            ))
            .unwrap()),
        (0..NAMES.len(), op, 0u8..4, prop::option::of(1u8..20)).prop_map(|(n, op, c, d)| {
            let days = d.map_or(String::new(), |d| format!(", {}h", u32::from(d) * 12));
            SegmentExpr::parse(&format!("did({}, {op} {c}{days})", NAMES[n])).unwrap()
        }),
    ]
}

pub fn expr() -> impl Strategy<Value = SegmentExpr> {
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
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap().partial_cmp(&y.as_f64().unwrap())
        }
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

fn eval_ref(
    e: &SegmentExpr,
    g: &[&NEv],
    traits: Option<&churn_core::event::Properties>,
    t: i64,
) -> bool {
    let act: Vec<&&NEv> = g.iter().filter(|e| interactive(e) && e.ts < t).collect();
    let days = |w: i64| {
        act.iter()
            .filter(|e| e.ts >= t - w)
            .map(|e| date(e.ts))
            .collect::<BTreeSet<_>>()
            .len() as f64
    };
    let rev: Vec<&&NEv> = g
        .iter()
        .filter(|e| (e.name == "purchase" || e.name == "payment_completed") && e.ts < t)
        .collect();
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
            let lo = d
                .days
                .map_or(i64::MIN, |x| t - (x * DAY as f64).round() as i64);
            let n = g
                .iter()
                .filter(|e| e.name == d.event && e.ts >= lo && e.ts < t)
                .count();
            cmp(d.op, Some(&json!(n)), &json!(d.count))
        }
    }
}

pub fn add_traits(store: &dyn Store, plans: &[u8]) {
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
            Message::Identify(
                b.build_at(Timestamp::from_ymd(2030, 1, 1).unwrap(), &Limits::default())
                    .unwrap(),
            )
        })
        .collect();
    store.apply(DEFAULT_PROJECT, &msgs).unwrap();
}

pub fn check_segment(engine: &Engine, store: &dyn Store, evs: &[NEv], e: &SegmentExpr) {
    let t = evs.iter().map(|e| e.ts).max().map_or(0, |m| m + 1);
    let want: Vec<String> = by_person(evs)
        .iter()
        .filter(|g| {
            let traits = store
                .user(DEFAULT_PROJECT, &g[0].person)
                .unwrap()
                .map(|u| u.traits);
            eval_ref(e, g, traits.as_ref(), t)
        })
        .map(|g| g[0].person.clone())
        .collect();
    let via_json: SegmentExpr = serde_json::from_value(serde_json::to_value(e).unwrap()).unwrap();
    let via_text = SegmentExpr::parse(&e.to_string()).unwrap();
    // The text form is canonical (one-element lists print as their element).
    assert_eq!(
        SegmentExpr::parse(&via_text.to_string()).unwrap(),
        via_text,
        "text form {e}"
    );
    for x in [via_json, via_text] {
        let mut got = engine.segment_members(&SegmentRef::Expr(x)).unwrap();
        got.sort();
        let mut w = want.clone();
        w.sort();
        assert_eq!(got, w, "{e}");
    }
}

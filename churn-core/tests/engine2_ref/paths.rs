//! Paths: the reference walk and the comparison with the engine.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use churn_core::engine::{Engine, PathDirection, PathsRequest, OTHER};

use crate::engine_support::*;

fn label(e: &NEv) -> String {
    match (&e.path, e.name.as_str()) {
        (Some(p), "page_view") => p.clone(),
        _ => e.name.clone(),
    }
}

type Graph = (
    BTreeSet<(usize, String, u64)>,
    BTreeSet<(usize, String, usize, String, u64)>,
);

fn paths_ref(
    evs: &[NEv],
    anchor: &str,
    next: bool,
    depth: usize,
    top: usize,
    from: i64,
    to: i64,
) -> (u64, Graph) {
    let mut seqs: Vec<Vec<String>> = Vec::new();
    for g in by_person(evs) {
        let Some(i0) = g
            .iter()
            .position(|e| e.name == anchor && e.ts >= from && e.ts < to)
        else {
            continue;
        };
        let side: Vec<&NEv> = if next {
            g[i0 + 1..].to_vec()
        } else {
            g[..i0].iter().rev().copied().collect()
        };
        seqs.push(
            side.into_iter()
                .filter(|e| interactive(e))
                .take(depth)
                .map(label)
                .collect(),
        );
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
            edges
                .into_iter()
                .map(|((a, b, c, d), n)| (a, b, c, d, n))
                .collect(),
        ),
    )
}

pub fn check_paths(
    engine: &Engine,
    evs: &[NEv],
    r: (Option<i64>, Option<i64>),
    p: (usize, bool, usize, usize),
) {
    let (anchor, next, depth, top) = p;
    let anchor = NAMES[anchor % NAMES.len()];
    let dir = if next {
        PathDirection::Next
    } else {
        PathDirection::Previous
    };
    let rep = engine
        .paths(
            &PathsRequest::new(anchor)
                .range(time_range(r))
                .direction(dir)
                .depth(depth)
                .top(top),
        )
        .unwrap();
    let Some((from, to)) = resolve(evs, r) else {
        assert_eq!(rep.anchors, 0);
        return;
    };
    let (anchors, (nodes, edges)) = paths_ref(evs, anchor, next, depth, top, from, to);
    assert_eq!(rep.anchors, anchors);
    let got_nodes: BTreeSet<_> = rep
        .nodes
        .iter()
        .map(|n| (n.step, n.label.clone(), n.users))
        .collect();
    assert_eq!(got_nodes, nodes);
    let n = |id: usize| (rep.nodes[id].step, rep.nodes[id].label.clone());
    let got_edges: BTreeSet<_> = rep
        .edges
        .iter()
        .map(|e| {
            (
                n(e.source).0,
                n(e.source).1,
                n(e.target).0,
                n(e.target).1,
                e.users,
            )
        })
        .collect();
    assert_eq!(got_edges, edges);
}

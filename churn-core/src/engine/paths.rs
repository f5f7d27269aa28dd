//! Paths: the most frequent events (or pages) after / before a given event, N steps
//! deep, as the nodes and weighted edges of a Sankey chart.

use std::collections::HashMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::activity::ActiveDefinition;
use super::columns::NONE;
use super::resolve_range;
use super::segment::{PersonMask, SegmentRef};
use super::view::View;
use crate::error::{Error, Result};
use crate::event::PAGE_VIEW;
use crate::time::TimeRange;

/// The label the events outside the top K of a step are folded into.
pub const OTHER: &str = "(other)";

/// Which way paths go from the anchor event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathDirection {
    /// The events after the anchor.
    #[default]
    Next,
    /// The events before the anchor.
    Previous,
}

impl FromStr for PathDirection {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "next" | "after" => Ok(PathDirection::Next),
            "previous" | "prev" | "before" => Ok(PathDirection::Previous),
            _ => Err(Error::invalid(
                "direction",
                format!("{s:?} is not next or previous"),
            )),
        }
    }
}

/// Arguments of [`Engine::paths`](super::Engine::paths).
///
/// One path per person: from their first anchor event (`event`, and `page` when given)
/// in `range`, the next (or previous) `depth` events of the person that match `active`,
/// taken from all their events (the range only selects the anchor). A `page_view` step
/// is labelled by its path when `pages` is on (`page_view` when it has none), other
/// steps by their event name. At each step the `top` most frequent labels are kept and
/// the rest folded into [`OTHER`] (ties: by label).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct PathsRequest {
    /// Anchors in `[from, to)`.
    pub range: TimeRange,
    /// The anchor event name.
    pub event: String,
    /// With `event` = `page_view`: only page views of this path.
    pub page: Option<String>,
    /// After or before the anchor.
    pub direction: PathDirection,
    /// Steps from the anchor, 1 to 20 (default 3).
    pub depth: usize,
    /// Labels kept per step, at least 1 (default 5).
    pub top: usize,
    /// Label page views by path.
    pub pages: bool,
    /// Which events make up path steps.
    pub active: ActiveDefinition,
    /// Only persons of this segment.
    pub segment: Option<SegmentRef>,
}

impl Default for PathsRequest {
    fn default() -> Self {
        PathsRequest {
            range: TimeRange::all(),
            event: PAGE_VIEW.to_string(),
            page: None,
            direction: PathDirection::Next,
            depth: 3,
            top: 5,
            pages: true,
            active: ActiveDefinition::default(),
            segment: None,
        }
    }
}

impl PathsRequest {
    /// Paths from `event` with the defaults (next, 3 deep, top 5, pages on).
    pub fn new(event: impl Into<String>) -> Self {
        PathsRequest {
            event: event.into(),
            ..Self::default()
        }
    }
}

builder_setters!(PathsRequest {
    /// Set the range.
    range: TimeRange;
    /// Anchor on page views of this path.
    page: Some(into String);
    /// Set the direction.
    direction: PathDirection;
    /// Set the depth.
    depth: usize;
    /// Set the number of labels kept per step.
    top: usize;
    /// Label page views by path (default) or by event name.
    pages: bool;
    /// Set the events that make up steps.
    active: ActiveDefinition;
    /// Restrict to a segment.
    segment: Some(into SegmentRef);
});

/// A node: a label at a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathNode {
    /// Index in [`PathsReport::nodes`].
    pub id: usize,
    /// Steps from the anchor (0 = the anchor).
    pub step: usize,
    /// Event name, page path, or [`OTHER`].
    pub label: String,
    /// Persons whose path passes here.
    pub users: u64,
}

/// A weighted edge, oriented in time (for `previous`, from the earlier step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathEdge {
    /// Node id.
    pub source: usize,
    /// Node id.
    pub target: usize,
    /// Persons.
    pub users: u64,
}

/// Result of [`Engine::paths`](super::Engine::paths).
///
/// ```json
/// {"event":"signup","direction":"next","anchors":3,
///  "nodes":[{"id":0,"step":0,"label":"signup","users":3},
///           {"id":1,"step":1,"label":"/pricing","users":2}, ...],
///  "edges":[{"source":0,"target":1,"users":2}, ...]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathsReport {
    /// The anchor event.
    pub event: String,
    /// The direction.
    pub direction: PathDirection,
    /// Persons with an anchor in the range.
    pub anchors: u64,
    /// Nodes, by step then users (descending) then label; [`OTHER`] last in its step.
    pub nodes: Vec<PathNode>,
    /// Edges, by source then target.
    pub edges: Vec<PathEdge>,
}

pub(crate) fn paths(view: &View, req: &PathsRequest, who: &PersonMask) -> Result<PathsReport> {
    if !(1..=20).contains(&req.depth) {
        return Err(Error::invalid("depth", "must be 1 to 20"));
    }
    if req.top == 0 {
        return Err(Error::invalid("top", "must be at least 1"));
    }
    if req.event.is_empty() {
        return Err(Error::invalid("event", "empty event name"));
    }
    let mut report = PathsReport {
        event: req.event.clone(),
        direction: req.direction,
        anchors: 0,
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    let (Some((from, to)), Some(anchor)) =
        (resolve_range(view, &req.range)?, view.names.get(&req.event))
    else {
        return Ok(report);
    };
    let page = view.names.get(PAGE_VIEW).unwrap_or(NONE);
    let want_path = match &req.page {
        Some(p) if anchor == page => Some(view.paths.get(p).unwrap_or(NONE - 1)),
        _ => None,
    };
    let mask = req.active.mask(&view.names);
    let c = &view.cols;
    // Labels: event name ids, or names.len() + path id for page paths.
    let n_names = view.names.len() as u32;
    let label = |i: usize| -> u32 {
        if req.pages && c.name[i] == page && c.aux[i] != NONE {
            n_names + c.aux[i]
        } else {
            c.name[i]
        }
    };
    let text = |l: u32| -> String {
        if l >= n_names {
            view.paths.resolve(l - n_names).to_string()
        } else {
            view.names.resolve(l).to_string()
        }
    };
    let mut seqs: Vec<Vec<u32>> = Vec::new();
    for p in (0..view.persons()).filter(|&p| who.has(p)) {
        let run = view.run(p);
        let Some(i0) = run.clone().find(|&i| {
            c.name[i] == anchor
                && c.ts[i] >= from
                && c.ts[i] < to
                && want_path.is_none_or(|w| c.aux[i] == w)
        }) else {
            continue;
        };
        let steps: Vec<u32> = match req.direction {
            PathDirection::Next => (i0 + 1..run.end)
                .filter(|&i| mask[c.name[i] as usize])
                .take(req.depth)
                .map(label)
                .collect(),
            PathDirection::Previous => (run.start..i0)
                .rev()
                .filter(|&i| mask[c.name[i] as usize])
                .take(req.depth)
                .map(label)
                .collect(),
        };
        seqs.push(steps);
    }
    report.anchors = seqs.len() as u64;
    if seqs.is_empty() {
        return Ok(report);
    }
    let anchor_label = match (&req.page, want_path) {
        (Some(p), Some(_)) => p.clone(),
        _ => req.event.clone(),
    };
    // Fold each step to its top labels; u32::MAX stands for OTHER.
    const FOLD: u32 = u32::MAX;
    for d in 0..req.depth {
        let mut counts: HashMap<u32, u64> = HashMap::new();
        for s in &seqs {
            if let Some(&l) = s.get(d) {
                *counts.entry(l).or_default() += 1;
            }
        }
        let mut ranked: Vec<(u32, u64, String)> =
            counts.into_iter().map(|(l, n)| (l, n, text(l))).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.2.cmp(&b.2)));
        let keep: Vec<u32> = ranked.iter().take(req.top).map(|x| x.0).collect();
        for s in &mut seqs {
            if let Some(l) = s.get_mut(d) {
                if !keep.contains(l) {
                    *l = FOLD;
                }
            }
        }
    }
    // Nodes per (step, label), edges per consecutive pair.
    let mut node_users: HashMap<(usize, u32), u64> = HashMap::new();
    type Node = (usize, u32);
    let mut edge_users: HashMap<(Node, Node), u64> = HashMap::new();
    for s in &seqs {
        let mut prev = (0usize, NONE);
        *node_users.entry(prev).or_default() += 1;
        for (d, &l) in s.iter().enumerate() {
            let cur = (d + 1, l);
            *node_users.entry(cur).or_default() += 1;
            *edge_users.entry((prev, cur)).or_default() += 1;
            prev = cur;
        }
    }
    let name_of = |(step, l): (usize, u32)| match (step, l) {
        (0, _) => anchor_label.clone(),
        (_, FOLD) => OTHER.to_string(),
        (_, l) => text(l),
    };
    let mut keys: Vec<((usize, u32), u64, String)> = node_users
        .into_iter()
        .map(|(k, n)| (k, n, name_of(k)))
        .collect();
    keys.sort_by(|a, b| {
        (a.0 .0, a.0 .1 == FOLD, std::cmp::Reverse(a.1), &a.2).cmp(&(
            b.0 .0,
            b.0 .1 == FOLD,
            std::cmp::Reverse(b.1),
            &b.2,
        ))
    });
    let id: HashMap<(usize, u32), usize> = keys.iter().enumerate().map(|(i, k)| (k.0, i)).collect();
    report.nodes = keys
        .into_iter()
        .enumerate()
        .map(|(i, (k, users, label))| PathNode {
            id: i,
            step: k.0,
            label,
            users,
        })
        .collect();
    let mut edges: Vec<PathEdge> = edge_users
        .into_iter()
        .map(|((a, b), users)| {
            let (a, b) = (id[&a], id[&b]);
            match req.direction {
                PathDirection::Next => PathEdge {
                    source: a,
                    target: b,
                    users,
                },
                PathDirection::Previous => PathEdge {
                    source: b,
                    target: a,
                    users,
                },
            }
        })
        .collect();
    edges.sort_by_key(|e| (e.source, e.target));
    report.edges = edges;
    Ok(report)
}

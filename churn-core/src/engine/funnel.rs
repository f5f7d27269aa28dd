//! Funnels: ordered (ClickHouse `windowFunnel`), strict and unordered modes, property
//! filters per step, exclusion steps, breakdown by a property of the first step, drop-off
//! lists and "in progress" users.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::columns::NONE;
use super::funnel_pass::{matching, ordered_chain, step_rows, strict_chain};
use super::props::{property_key, PropTable};
use super::resolve_range;
use super::segment::{PersonMask, SegmentRef};
use super::segment_expr::CmpOp;
use super::view::View;
use crate::error::{Error, Result};
use crate::time::{TimeRange, Timestamp, DAY_MS};

/// Most steps a funnel may have.
pub const MAX_FUNNEL_STEPS: usize = 32;

/// `properties.<key> <op> <value>` on one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyFilter {
    /// Property name (`plan` or `properties.plan`).
    pub key: String,
    /// Operator (see [`CmpOp`]).
    pub op: CmpOp,
    /// Value compared with.
    pub value: Value,
}

/// A funnel step: an event name and property filters (all must hold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    /// Event name.
    pub event: String,
    /// Property filters.
    #[serde(default)]
    pub filters: Vec<PropertyFilter>,
}

impl FunnelStep {
    /// A step on `event` without filters.
    pub fn new(event: impl Into<String>) -> Self {
        FunnelStep {
            event: event.into(),
            filters: Vec::new(),
        }
    }
    /// Add a property filter.
    pub fn filter(mut self, key: impl Into<String>, op: CmpOp, value: impl Into<Value>) -> Self {
        self.filters.push(PropertyFilter {
            key: key.into(),
            op,
            value: value.into(),
        });
        self
    }
}

impl From<&str> for FunnelStep {
    fn from(s: &str) -> Self {
        FunnelStep::new(s)
    }
}

/// An exclusion: an attempt in which an event matching `step` happens strictly after
/// the attempt's step `from_step` and strictly before its step `to_step` (1-based,
/// `from_step < to_step`; when step `to_step` is not reached, up to the end of the
/// window) is dropped: the user leaves the funnel from that attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelExclusion {
    /// The excluded event (and its filters).
    #[serde(flatten)]
    pub step: FunnelStep,
    /// After this step.
    pub from_step: usize,
    /// Before this step.
    pub to_step: usize,
}

/// How steps must follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelMode {
    /// `t1 <= t2 <= ... <= tj <= t1 + W` (ClickHouse `windowFunnel`).
    #[default]
    Ordered,
    /// Ordered, and no other event of the person between consecutive steps.
    Strict,
    /// Steps in any order within the window.
    Unordered,
}

impl FromStr for FunnelMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ordered" => Ok(FunnelMode::Ordered),
            "strict" => Ok(FunnelMode::Strict),
            "unordered" | "any" => Ok(FunnelMode::Unordered),
            _ => Err(Error::invalid(
                "mode",
                format!("{s:?} is not one of ordered, strict, unordered"),
            )),
        }
    }
}

impl fmt::Display for FunnelMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FunnelMode::Ordered => "ordered",
            FunnelMode::Strict => "strict",
            FunnelMode::Unordered => "unordered",
        })
    }
}

/// Arguments of [`Engine::funnel`](super::Engine::funnel).
///
/// Attempts: every event matching step 1 with a timestamp in `range` starts an attempt
/// (unordered: every event matching any step). Only events before the end of the range
/// count. Ordered: steps need distinct events with `t1 <= t2 <= ... <= tj <= t1 + W`
/// (equal timestamps in any store order), and each step is taken at the earliest time
/// it can be reached; exclusions are checked between those times. Strict: each next
/// step must be the person's very next event (store order on equal timestamps), so any
/// other event ends the attempt. Unordered: the most steps matched to distinct events
/// in `[t0, t0 + W]` from an event of any step at `t0`. A person's level is the best
/// attempt's; medians use the first attempt reaching that level.
///
/// In progress: a person who did not complete every step and has an attempt whose
/// window has not closed at the end of the range (`t1 + W >= to`) is reported apart,
/// not as dropped. Breakdown: by `properties.<key>` of the attempt's first event
/// (`(none)` when absent); a person appears under each value of their attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct FunnelRequest {
    /// First steps in `[from, to)`; later steps before `to`.
    pub range: TimeRange,
    /// The steps, 1 to [`MAX_FUNNEL_STEPS`].
    pub steps: Vec<FunnelStep>,
    /// Conversion window from the first step, in ms (default 7 days).
    pub window_ms: i64,
    /// Ordered, strict or unordered.
    pub mode: FunnelMode,
    /// Exclusion steps (ordered and strict modes).
    pub exclusions: Vec<FunnelExclusion>,
    /// Break down by this property of the first step's event.
    pub breakdown: Option<String>,
    /// Largest number of ids in each user list (`None`: all).
    pub user_limit: Option<usize>,
    /// Only persons of this segment.
    pub segment: Option<SegmentRef>,
}

impl Default for FunnelRequest {
    fn default() -> Self {
        FunnelRequest {
            range: TimeRange::all(),
            steps: Vec::new(),
            window_ms: 7 * DAY_MS,
            mode: FunnelMode::Ordered,
            exclusions: Vec::new(),
            breakdown: None,
            user_limit: None,
            segment: None,
        }
    }
}

impl FunnelRequest {
    /// A funnel over `steps` with the defaults (7 days, ordered, all time).
    pub fn new<I, S>(steps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<FunnelStep>,
    {
        FunnelRequest {
            steps: steps.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
    /// Add an exclusion between steps `from_step` and `to_step` (1-based).
    pub fn exclude(
        mut self,
        step: impl Into<FunnelStep>,
        from_step: usize,
        to_step: usize,
    ) -> Self {
        self.exclusions.push(FunnelExclusion {
            step: step.into(),
            from_step,
            to_step,
        });
        self
    }
    fn validate(&self) -> Result<()> {
        let k = self.steps.len();
        if k == 0 || k > MAX_FUNNEL_STEPS {
            return Err(Error::invalid(
                "steps",
                format!("give 1 to {MAX_FUNNEL_STEPS} steps"),
            ));
        }
        if self.window_ms <= 0 {
            return Err(Error::invalid("window_ms", "must be greater than 0"));
        }
        for s in self
            .steps
            .iter()
            .chain(self.exclusions.iter().map(|x| &x.step))
        {
            if s.event.is_empty() {
                return Err(Error::invalid("steps", "empty event name"));
            }
        }
        if self.mode == FunnelMode::Unordered && !self.exclusions.is_empty() {
            return Err(Error::invalid(
                "exclusions",
                "exclusions need ordered or strict mode",
            ));
        }
        for x in &self.exclusions {
            if x.from_step < 1 || x.from_step >= x.to_step || x.to_step > k {
                return Err(Error::invalid(
                    "exclusions",
                    format!(
                        "between steps {} and {}: need 1 <= from < to <= {k}",
                        x.from_step, x.to_step
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The (event, property) pairs the request reads.
    pub(crate) fn wanted_props(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for s in self
            .steps
            .iter()
            .chain(self.exclusions.iter().map(|x| &x.step))
        {
            for f in &s.filters {
                out.push((s.event.clone(), f.key.clone()));
            }
        }
        if let Some(b) = &self.breakdown {
            let starts = match self.mode {
                FunnelMode::Unordered => &self.steps[..],
                _ => &self.steps[..self.steps.len().min(1)],
            };
            out.extend(starts.iter().map(|s| (s.event.clone(), b.clone())));
        }
        out
    }
}

builder_setters!(FunnelRequest {
    /// Set the range.
    range: TimeRange;
    /// Set the conversion window.
    window_ms: i64;
    /// Set the mode.
    mode: FunnelMode;
    /// Break down by a property of the first step's event.
    breakdown: Some(into String);
    /// Bound the user lists.
    user_limit: Some(usize);
    /// Restrict to a segment.
    segment: Some(into SegmentRef);
});

/// One step of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStepReport {
    /// 1-based step number.
    pub step: usize,
    /// The step's event (unordered: "any N steps").
    pub event: String,
    /// Persons reaching this step.
    pub users: u64,
    /// users / users of step 1 (`null` when step 1 has none).
    pub conversion_from_first: Option<f64>,
    /// users / users of the previous step.
    pub conversion_from_previous: Option<f64>,
    /// Median time from the previous step (lower median; `null` for step 1 and
    /// unordered funnels).
    pub median_time_from_previous_ms: Option<i64>,
    /// Median time from step 1.
    pub median_time_from_start_ms: Option<i64>,
    /// Persons whose level is this step and whose windows have all closed.
    pub dropped: u64,
    /// Persons whose level is this step with a window still open at the range end.
    pub in_progress: u64,
    /// Ids of the dropped persons (sorted, bounded by `user_limit`).
    pub dropped_users: Vec<String>,
    /// Ids of the in-progress persons (sorted, bounded by `user_limit`).
    pub in_progress_users: Vec<String>,
}

/// The funnel of one breakdown value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelBreakdown {
    /// The property value (strings as is, other JSON as text, `(none)` when absent).
    pub value: String,
    /// Its steps.
    pub steps: Vec<FunnelStepReport>,
}

/// Result of [`Engine::funnel`](super::Engine::funnel).
///
/// ```json
/// {"mode":"ordered","window_ms":604800000,"from":"2026-01-05T00:00:00.000Z",
///  "to":"2026-01-20T00:00:00.000Z","entered":3,"converted":1,"in_progress":1,
///  "steps":[{"step":1,"event":"signup","users":3,"conversion_from_first":1.0,
///            "conversion_from_previous":1.0,"median_time_from_previous_ms":null,
///            "median_time_from_start_ms":null,"dropped":1,"in_progress":0,
///            "dropped_users":["c"],"in_progress_users":[]}, ...],
///  "breakdown":[]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelReport {
    /// The mode.
    pub mode: FunnelMode,
    /// The window.
    pub window_ms: i64,
    /// Resolved range start.
    pub from: Option<Timestamp>,
    /// Resolved range end (exclusive).
    pub to: Option<Timestamp>,
    /// Persons who entered (reached step 1).
    pub entered: u64,
    /// Persons who reached the last step.
    pub converted: u64,
    /// Persons not converted with a window still open.
    pub in_progress: u64,
    /// The steps.
    pub steps: Vec<FunnelStepReport>,
    /// Per breakdown value (empty without a breakdown), sorted by entered persons.
    pub breakdown: Vec<FunnelBreakdown>,
}

/// A filter resolved: operator, value, the property's values by seq.
type Filter<'a> = (CmpOp, &'a Value, Option<&'a HashMap<u64, Value>>);

/// A step resolved against the view.
pub(super) struct Matcher<'a> {
    name: u32,
    filters: Vec<Filter<'a>>,
}

impl<'a> Matcher<'a> {
    fn new(view: &View, s: &'a FunnelStep, props: &'a PropTable) -> Self {
        Matcher {
            name: view.names.get(&s.event).unwrap_or(NONE),
            filters: s
                .filters
                .iter()
                .map(|f| (f.op, &f.value, props.values(&s.event, &f.key)))
                .collect(),
        }
    }
    pub(super) fn hit(&self, view: &View, i: usize) -> bool {
        view.cols.name[i] == self.name
            && self
                .filters
                .iter()
                .all(|(op, v, m)| op.matches(m.and_then(|m| m.get(&view.cols.seq[i])), v))
    }
}

/// The outcome of one attempt.
struct Attempt {
    level: usize,
    times: Vec<i64>,
    open: bool,
    group: u32,
}

/// Per person: level, best times, in progress.
pub(super) struct Outcome {
    pub(super) level: usize,
    pub(super) times: Vec<i64>,
    pub(super) in_progress: bool,
}

fn combine(attempts: &[&Attempt]) -> Option<Outcome> {
    let best = attempts
        .iter()
        .copied()
        .fold(None::<&Attempt>, |b, a| match b {
            Some(b) if b.level >= a.level => Some(b),
            _ => Some(a),
        })?;
    Some(Outcome {
        level: best.level,
        times: best.times.clone(),
        in_progress: attempts.iter().any(|a| a.open),
    })
}

pub(crate) fn funnel(
    view: &View,
    req: &FunnelRequest,
    who: &PersonMask,
    props: &PropTable,
) -> Result<FunnelReport> {
    req.validate()?;
    let k = req.steps.len();
    let resolved = resolve_range(view, &req.range)?;
    let mut report = FunnelReport {
        mode: req.mode,
        window_ms: req.window_ms,
        from: resolved.map(|r| Timestamp::from_millis(r.0)),
        to: resolved.map(|r| Timestamp::from_millis(r.1)),
        entered: 0,
        converted: 0,
        in_progress: 0,
        steps: Vec::new(),
        breakdown: Vec::new(),
    };
    let (from, to) = resolved.unwrap_or((0, 0));
    let steps: Vec<Matcher> = req
        .steps
        .iter()
        .map(|s| Matcher::new(view, s, props))
        .collect();
    let excl: Vec<(Matcher, usize, usize)> = req
        .exclusions
        .iter()
        .map(|x| (Matcher::new(view, &x.step, props), x.from_step, x.to_step))
        .collect();
    let bkey = req.breakdown.as_deref().map(property_key);
    let mut groups: Vec<String> = Vec::new();
    let mut group_ids: HashMap<String, u32> = HashMap::new();
    let mut group_of = |view: &View, i: usize| -> u32 {
        let Some(key) = bkey else { return 0 };
        let ev = view.names.resolve(view.cols.name[i]);
        let v = props
            .values(ev, key)
            .and_then(|m| m.get(&view.cols.seq[i]))
            .map_or_else(
                || "(none)".to_string(),
                |v| match v {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                },
            );
        *group_ids.entry(v.clone()).or_insert_with(|| {
            groups.push(v);
            (groups.len() - 1) as u32
        })
    };
    let c = &view.cols;
    let w = req.window_ms;
    // (person, outcome) for all attempts and per group.
    let mut all: Vec<(usize, Outcome)> = Vec::new();
    let mut by_group: BTreeMap<u32, Vec<(usize, Outcome)>> = BTreeMap::new();
    let mut attempts: Vec<Attempt> = Vec::new();
    for p in (0..view.persons()).filter(|&p| who.has(p)) {
        attempts.clear();
        let run = view.run(p);
        for i0 in run.clone() {
            let t1 = c.ts[i0];
            if t1 < from || t1 >= to {
                continue;
            }
            let end = t1.saturating_add(w);
            let mut group_start = i0;
            while group_start > run.start && c.ts[group_start - 1] == t1 {
                group_start -= 1;
            }
            let open = end >= to;
            if req.mode == FunnelMode::Unordered {
                if !steps.iter().any(|s| s.hit(view, i0)) {
                    continue;
                }
                let mut masks: HashMap<u64, usize> = HashMap::new();
                for i in group_start..run.end {
                    if c.ts[i] > end || c.ts[i] >= to {
                        break;
                    }
                    let m = steps
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.hit(view, i))
                        .fold(0u64, |m, (j, _)| m | 1 << j);
                    if m != 0 {
                        *masks.entry(m).or_default() += 1;
                    }
                }
                let level = matching(k, &masks);
                attempts.push(Attempt {
                    level,
                    times: Vec::new(),
                    open,
                    group: group_of(view, i0),
                });
                continue;
            }
            if !steps[0].hit(view, i0) {
                continue;
            }
            let (level, times) = if req.mode == FunnelMode::Strict {
                strict_chain(view, &steps, i0, run.end, end.min(to - 1))
            } else {
                ordered_chain(view, &steps, i0, group_start, run.end, end.min(to - 1))
            };
            let dropped = excl.iter().any(|(m, a, b)| {
                if *a > level {
                    return false;
                }
                let lo = times[a - 1];
                let hi = if *b <= level {
                    times[b - 1] - 1
                } else {
                    end.min(to - 1)
                };
                run.clone()
                    .any(|i| c.ts[i] > lo && c.ts[i] <= hi && m.hit(view, i))
            });
            if !dropped {
                attempts.push(Attempt {
                    level,
                    times,
                    open,
                    group: group_of(view, i0),
                });
            }
        }
        let refs: Vec<&Attempt> = attempts.iter().collect();
        if let Some(o) = combine(&refs) {
            if o.level > 0 {
                all.push((p, o));
            }
        }
        if bkey.is_some() {
            let mut gs: Vec<u32> = attempts.iter().map(|a| a.group).collect();
            gs.sort_unstable();
            gs.dedup();
            for g in gs {
                let refs: Vec<&Attempt> = attempts.iter().filter(|a| a.group == g).collect();
                if let Some(o) = combine(&refs).filter(|o| o.level > 0) {
                    by_group.entry(g).or_default().push((p, o));
                }
            }
        }
    }
    let rows = |outs: &[(usize, Outcome)]| step_rows(view, req, outs);
    report.steps = rows(&all);
    report.entered = report.steps.first().map_or(0, |s| s.users);
    report.converted = report.steps.last().map_or(0, |s| s.users);
    report.in_progress = all
        .iter()
        .filter(|(_, o)| o.in_progress && o.level < k)
        .count() as u64;
    let mut bd: Vec<FunnelBreakdown> = by_group
        .into_iter()
        .map(|(g, outs)| FunnelBreakdown {
            value: groups[g as usize].clone(),
            steps: rows(&outs),
        })
        .collect();
    bd.sort_by(|a, b| {
        let n = |x: &FunnelBreakdown| x.steps.first().map_or(0, |s| s.users);
        n(b).cmp(&n(a)).then_with(|| a.value.cmp(&b.value))
    });
    report.breakdown = bd;
    Ok(report)
}

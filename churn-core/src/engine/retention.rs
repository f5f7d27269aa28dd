//! Retention: cohorts by the period of a person's first (qualifying) event, first-time
//! and recurring modes, counts and percentages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::activity::ActiveDefinition;
use super::period::{Period, Span};
use super::resolve_range;
use super::segment::{PersonMask, SegmentRef};
use super::view::View;
use crate::error::{Error, Result};
use crate::time::{TimeRange, Timestamp};

/// How cohorts are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionMode {
    /// A person belongs to the cohort of their first start event ever.
    #[default]
    FirstTime,
    /// Every period with a start event starts the person again in that cohort
    /// (PostHog's "recurring").
    Recurring,
}

impl FromStr for RetentionMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "first_time" | "first" => Ok(RetentionMode::FirstTime),
            "recurring" => Ok(RetentionMode::Recurring),
            _ => Err(Error::invalid(
                "mode",
                format!("{s:?} is not one of first_time, recurring"),
            )),
        }
    }
}

impl fmt::Display for RetentionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RetentionMode::FirstTime => "first_time",
            RetentionMode::Recurring => "recurring",
        })
    }
}

/// Arguments of [`Engine::retention`](super::Engine::retention).
///
/// Cohorts: the periods intersecting `range`. A person in cohort `c` is retained in
/// period `k` (k = 0, 1, ...) when they have a return event in period `c + k`
/// (any time in that period, also before the start event when k = 0; with the default
/// conditions column 0 equals the cohort size). Columns stop at the last period of the
/// range (a triangle) and at `periods` columns.
///
/// Completeness: the cell of period `c + k` is *complete* when that period has ended
/// by `as_of` (default: the range end, which defaults to just after the last event);
/// a period still running (the current week of a live dashboard) is reported with
/// `complete: false`, its count so far being a lower bound, not a drop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct RetentionRequest {
    /// Cohort periods intersecting `[from, to)`.
    pub range: TimeRange,
    /// Cohort and column period.
    pub period: Period,
    /// First-time or recurring cohorts.
    pub mode: RetentionMode,
    /// Events that put a person in a cohort.
    pub start: ActiveDefinition,
    /// Events that count as a return.
    pub returning: ActiveDefinition,
    /// Largest number of columns (`None`: up to the end of the range).
    pub periods: Option<usize>,
    /// Only persons of this segment.
    pub segment: Option<SegmentRef>,
    /// Periods ending after this time are incomplete (`None`: the range end).
    pub as_of: Option<Timestamp>,
}

impl Default for RetentionRequest {
    fn default() -> Self {
        RetentionRequest {
            range: TimeRange::all(),
            period: Period::Week,
            mode: RetentionMode::FirstTime,
            start: ActiveDefinition::default(),
            returning: ActiveDefinition::default(),
            periods: None,
            segment: None,
            as_of: None,
        }
    }
}

impl RetentionRequest {
    /// Defaults: all time, weekly, first-time, default activity for both conditions.
    pub fn new() -> Self {
        Self::default()
    }
}

builder_setters!(RetentionRequest {
    /// Set the range.
    range: TimeRange;
    /// Set the period.
    period: Period;
    /// Set the mode.
    mode: RetentionMode;
    /// Set the start condition.
    start: ActiveDefinition;
    /// Set the return condition.
    returning: ActiveDefinition;
    /// Restrict to a segment.
    segment: Some(into SegmentRef);
    /// Limit the number of columns.
    periods: Some(usize);
    /// Set the time at which completeness is judged (typically "now").
    as_of: Some(Timestamp);
});

/// One cohort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionRow {
    /// Cohort period start.
    pub start: Timestamp,
    /// Cohort period label.
    pub label: String,
    /// Persons in the cohort.
    pub size: u64,
    /// `counts[k]`: persons retained in period `k`.
    pub counts: Vec<u64>,
    /// `100 * counts[k] / size` (`null` for an empty cohort).
    pub percentages: Vec<Option<f64>>,
    /// `complete[k]`: period `k` had ended by `as_of` (otherwise its count is partial).
    #[serde(default)]
    pub complete: Vec<bool>,
}

/// Result of [`Engine::retention`](super::Engine::retention).
///
/// ```json
/// {"period":"week","mode":"first_time","as_of":"2026-01-22T10:00:00.000Z","cohorts":[
///   {"start":"2026-01-05T00:00:00.000Z","label":"2026-W02","size":4,
///    "counts":[4,2,1],"percentages":[100.0,50.0,25.0],"complete":[true,true,false]},
///   {"start":"2026-01-12T00:00:00.000Z","label":"2026-W03","size":2,
///    "counts":[2,1],"percentages":[100.0,50.0],"complete":[true,false]}]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionReport {
    /// Period of cohorts and columns.
    pub period: Period,
    /// Mode used.
    pub mode: RetentionMode,
    /// The time completeness was judged at (`null` when there is no data).
    #[serde(default)]
    pub as_of: Option<Timestamp>,
    /// One row per cohort period.
    pub cohorts: Vec<RetentionRow>,
}

pub(crate) fn retention(
    view: &View,
    req: &RetentionRequest,
    who: &PersonMask,
) -> Result<RetentionReport> {
    if req.periods == Some(0) {
        return Err(Error::invalid("periods", "must be at least 1"));
    }
    let mut report = RetentionReport {
        period: req.period,
        mode: req.mode,
        as_of: None,
        cohorts: Vec::new(),
    };
    let Some((from, to)) = resolve_range(view, &req.range)? else {
        return Ok(report);
    };
    let as_of = req.as_of.map_or(to, |t| t.millis());
    report.as_of = Some(Timestamp::from_millis(as_of));
    let span = Span::of(req.period, from, to)?;
    let ncols = req.periods.unwrap_or(usize::MAX).min(span.len());
    let start_mask = req.start.mask(&view.names);
    let ret_mask = req.returning.mask(&view.names);
    let mut size = vec![0u64; span.len()];
    let mut counts = vec![0u64; span.len() * ncols];
    let (mut starts, mut returns) = (Vec::new(), Vec::new());
    let c = &view.cols;
    for p in (0..view.persons()).filter(|&p| who.has(p)) {
        starts.clear();
        returns.clear();
        for i in view.run(p) {
            let name = c.name[i] as usize;
            let (s, r) = (start_mask[name], ret_mask[name]);
            if !s && !r {
                continue;
            }
            let q = req.period.of_ms(c.ts[i]);
            if s && starts.last() != Some(&q) {
                starts.push(q);
            }
            if r && returns.last() != Some(&q) {
                returns.push(q);
            }
        }
        if req.mode == RetentionMode::FirstTime {
            starts.truncate(1);
        }
        for &cq in &starts {
            let Some(row) = span.pos(cq) else { continue };
            size[row] += 1;
            let at = returns.partition_point(|&r| r < cq);
            for &r in &returns[at..] {
                let k = (r - cq) as usize;
                if r > span.last || k >= ncols {
                    break;
                }
                counts[row * ncols + k] += 1;
            }
        }
    }
    report.cohorts = (0..span.len())
        .map(|row| {
            let idx = span.first + row as i64;
            let width = ncols.min(span.len() - row);
            let cs = counts[row * ncols..row * ncols + width].to_vec();
            let n = size[row];
            RetentionRow {
                start: req.period.start(idx),
                label: req.period.label(idx),
                size: n,
                percentages: cs
                    .iter()
                    .map(|&x| (n > 0).then(|| 100.0 * x as f64 / n as f64))
                    .collect(),
                complete: (0..width)
                    .map(|k| req.period.start(idx + k as i64 + 1).millis() <= as_of)
                    .collect(),
                counts: cs,
            }
        })
        .collect();
    Ok(report)
}

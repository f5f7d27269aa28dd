//! Active users: DAU / WAU / MAU per period, rolling WAU_7 / MAU_30 per day, stickiness
//! (DAU / MAU_30 and the histogram of active days), new vs returning users.

use serde::{Deserialize, Serialize};

use super::activity::ActiveDefinition;
use super::period::{Period, Span};
use super::resolve_range;
use super::segment::{PersonMask, SegmentRef};
use super::view::View;
use crate::error::Result;
use crate::time::{TimeRange, Timestamp, DAY_MS};

/// Arguments of [`Engine::active_users`](super::Engine::active_users).
///
/// The report lists every period (and every day) that intersects `range`, each
/// computed over the whole period. Open ends of `range` are filled from the data.
/// Rolling windows and "new" (first active event ever) look at all events, including
/// those before `range`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct ActiveUsersRequest {
    /// Time range `[from, to)`.
    pub range: TimeRange,
    /// Period of [`ActiveUsersReport::periods`]: day (DAU), week (WAU), month (MAU).
    pub period: Period,
    /// Which events count as activity.
    pub active: ActiveDefinition,
    /// Only persons of this segment.
    pub segment: Option<SegmentRef>,
}

impl ActiveUsersRequest {
    /// Defaults: all time, daily, default activity.
    pub fn new() -> Self {
        Self::default()
    }
}

builder_setters!(ActiveUsersRequest {
    /// Set the range.
    range: TimeRange;
    /// Set the period.
    period: Period;
    /// Set the activity definition.
    active: ActiveDefinition;
    /// Restrict to a segment.
    segment: Some(into SegmentRef);
});

/// Active users in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodActive {
    /// Period start.
    pub start: Timestamp,
    /// `2026-01-05`, `2026-W02` or `2026-01`.
    pub label: String,
    /// Distinct persons active in the period (DAU, WAU or MAU).
    pub active_users: u64,
    /// Of those, persons whose first active event ever falls in this period.
    pub new_users: u64,
    /// Of those, persons active before this period.
    pub returning_users: u64,
}

/// Daily figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyActive {
    /// The day (`2026-01-05`).
    pub date: String,
    /// DAU.
    pub dau: u64,
    /// Distinct persons active in the 7 days ending with this day.
    pub wau_7: u64,
    /// Distinct persons active in the 30 days ending with this day.
    pub mau_30: u64,
    /// DAU / MAU_30 (`null` when MAU_30 is 0).
    pub stickiness: Option<f64>,
}

/// One bar of the stickiness histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistogramBin {
    /// Number of active days in the range.
    pub days: u32,
    /// Persons active on exactly that many days.
    pub users: u64,
}

/// Result of [`Engine::active_users`](super::Engine::active_users).
///
/// ```json
/// {"period":"week","from":"2026-01-05T00:00:00.000Z","to":"2026-01-12T00:00:00.000Z",
///  "total_users":2,
///  "periods":[{"start":"2026-01-05T00:00:00.000Z","label":"2026-W02","active_users":2,
///              "new_users":1,"returning_users":1}],
///  "daily":[{"date":"2026-01-05","dau":2,"wau_7":2,"mau_30":2,"stickiness":1.0}, ...],
///  "stickiness_histogram":[{"days":1,"users":1},{"days":2,"users":1}, ...]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveUsersReport {
    /// Period of `periods`.
    pub period: Period,
    /// Start of the range (resolved).
    pub from: Option<Timestamp>,
    /// End of the range (resolved, exclusive).
    pub to: Option<Timestamp>,
    /// Distinct persons active on any day of the range.
    pub total_users: u64,
    /// One row per period intersecting the range.
    pub periods: Vec<PeriodActive>,
    /// One row per day intersecting the range.
    pub daily: Vec<DailyActive>,
    /// Persons by number of active days in the range, for 1..=days in range.
    pub stickiness_histogram: Vec<HistogramBin>,
}

/// Merges consecutive coverage intervals of one person into a difference array.
struct Coverage {
    width: i64,
    cur: Option<(i64, i64)>,
}

impl Coverage {
    fn new(width: i64) -> Self {
        Coverage { width, cur: None }
    }
    fn add(&mut self, day: i64, days: Span, diff: &mut [i64]) {
        let end = day + self.width - 1;
        match &mut self.cur {
            Some((_, e)) if day <= *e + 1 => *e = end,
            _ => {
                self.flush(days, diff);
                self.cur = Some((day, end));
            }
        }
    }
    fn flush(&mut self, days: Span, diff: &mut [i64]) {
        if let Some((s, e)) = self.cur.take() {
            let s = s.max(days.first);
            let e = e.min(days.last);
            if s <= e {
                diff[(s - days.first) as usize] += 1;
                diff[(e - days.first) as usize + 1] -= 1;
            }
        }
    }
}

pub(crate) fn active_users(
    view: &View,
    req: &ActiveUsersRequest,
    who: &PersonMask,
) -> Result<ActiveUsersReport> {
    let resolved = resolve_range(view, &req.range)?;
    let mut report = ActiveUsersReport {
        period: req.period,
        from: resolved.map(|r| Timestamp::from_millis(r.0)),
        to: resolved.map(|r| Timestamp::from_millis(r.1)),
        total_users: 0,
        periods: Vec::new(),
        daily: Vec::new(),
        stickiness_histogram: Vec::new(),
    };
    let Some((from, to)) = resolved else {
        return Ok(report);
    };
    let days = Span::of(Period::Day, from, to)?;
    let span = Span::of(req.period, from, to)?;
    let mask = req.active.mask(&view.names);
    let n_days = days.len();
    let mut dau = vec![0u64; n_days];
    let mut active = vec![0u64; span.len()];
    let mut new = vec![0u64; span.len()];
    let mut diff7 = vec![0i64; n_days + 1];
    let mut diff30 = vec![0i64; n_days + 1];
    let mut hist = vec![0u64; n_days + 1];
    let c = &view.cols;
    for p in (0..view.persons()).filter(|&p| who.has(p)) {
        let mut last_day = i64::MIN;
        let mut last_q = i64::MIN;
        let mut first_q = None;
        let mut in_range = 0usize;
        let mut w7 = Coverage::new(7);
        let mut m30 = Coverage::new(30);
        for i in view.run(p) {
            if !mask[c.name[i] as usize] {
                continue;
            }
            let day = c.ts[i].div_euclid(DAY_MS);
            if day == last_day {
                continue;
            }
            last_day = day;
            let q = req.period.of_day(day);
            let first_q = *first_q.get_or_insert(q);
            if let Some(k) = days.pos(day) {
                dau[k] += 1;
                in_range += 1;
            }
            w7.add(day, days, &mut diff7);
            m30.add(day, days, &mut diff30);
            if q != last_q {
                last_q = q;
                if let Some(k) = span.pos(q) {
                    active[k] += 1;
                    if q == first_q {
                        new[k] += 1;
                    }
                }
            }
        }
        w7.flush(days, &mut diff7);
        m30.flush(days, &mut diff30);
        hist[in_range] += 1;
    }
    report.total_users = hist[1..].iter().sum();
    report.stickiness_histogram = (1..=n_days)
        .map(|k| HistogramBin {
            days: k as u32,
            users: hist[k],
        })
        .collect();
    report.periods = (0..span.len())
        .map(|k| {
            let idx = span.first + k as i64;
            PeriodActive {
                start: req.period.start(idx),
                label: req.period.label(idx),
                active_users: active[k],
                new_users: new[k],
                returning_users: active[k] - new[k],
            }
        })
        .collect();
    let (mut run7, mut run30) = (0i64, 0i64);
    report.daily = (0..n_days)
        .map(|k| {
            run7 += diff7[k];
            run30 += diff30[k];
            let mau_30 = run30.max(0) as u64;
            DailyActive {
                date: Period::Day.label(days.first + k as i64),
                dau: dau[k],
                wau_7: run7.max(0) as u64,
                mau_30,
                stickiness: (mau_30 > 0).then(|| dau[k] as f64 / mau_30 as f64),
            }
        })
        .collect();
    Ok(report)
}

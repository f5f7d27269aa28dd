//! Sessions: sessionization, counts, duration, pages, bounce rate, attribution, entry
//! and exit pages.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::activity::ActiveDefinition;
use super::columns::NONE;
use super::period::{Period, Span};
use super::resolve_range;
use super::segment::{PersonMask, SegmentRef};
use super::view::View;
use crate::error::{Error, Result};
use crate::event::PAGE_VIEW;
use crate::time::{TimeRange, Timestamp, MINUTE_MS};

/// Default inactivity gap that ends a session: 30 minutes.
pub const DEFAULT_SESSION_GAP_MS: i64 = 30 * MINUTE_MS;

/// Arguments of [`Engine::sessions`](super::Engine::sessions).
///
/// Sessions are built per person from the events matching `active` (so messages sent
/// to the user, such as `email_sent`, neither start nor extend a session), sorted by
/// time: a new session starts when the gap to the previous event is strictly greater
/// than `max_gap_ms`, or when the event carries an explicit `session_id` different from
/// the first explicit `session_id` seen in the current session (events without one
/// never split a session). A session is reported when its first event falls in `range`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct SessionsRequest {
    /// Sessions starting in `[from, to)`.
    pub range: TimeRange,
    /// Period of [`SessionsReport::per_period`].
    pub period: Period,
    /// Which events make up sessions.
    pub active: ActiveDefinition,
    /// Largest gap inside one session, in milliseconds (> 0).
    pub max_gap_ms: i64,
    /// Length of the top lists (sources, pages, ...).
    pub top: usize,
    /// Only persons of this segment.
    pub segment: Option<SegmentRef>,
}

impl Default for SessionsRequest {
    fn default() -> Self {
        SessionsRequest {
            range: TimeRange::all(),
            period: Period::Day,
            active: ActiveDefinition::default(),
            max_gap_ms: DEFAULT_SESSION_GAP_MS,
            top: 10,
            segment: None,
        }
    }
}

impl SessionsRequest {
    /// The defaults: all time, daily counts, 30 minutes, top 10.
    pub fn new() -> Self {
        Self::default()
    }
}

builder_setters!(SessionsRequest {
    /// Set the range.
    range: TimeRange;
    /// Set the period of the per-period counts.
    period: Period;
    /// Set the events sessions are built from.
    active: ActiveDefinition;
    /// Set the largest gap inside a session.
    max_gap_ms: i64;
    /// Set the length of the top lists.
    top: usize;
    /// Restrict to a segment.
    segment: Some(into SegmentRef);
});

/// A value and how many sessions have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// The value (a source, a path, ...).
    pub value: String,
    /// Sessions.
    pub sessions: u64,
}

/// Sessions starting in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodCount {
    /// Period start.
    pub start: Timestamp,
    /// Period label.
    pub label: String,
    /// Sessions starting in it.
    pub sessions: u64,
}

/// Result of [`Engine::sessions`](super::Engine::sessions).
///
/// Bounce: a session made of exactly one event, a `page_view` (one page seen, nothing
/// else done). `bounce_rate` = bounces / sessions. Attribution (source, referrer, UTM)
/// is the session's first event's; `source` is its UTM source, else its referrer host,
/// else `direct`. Entry / exit page: path of the first / last `page_view` of the
/// session (sessions without one are left out of those lists). Lists are sorted by
/// count, then value.
///
/// ```json
/// {"sessions":3,"users":2,"total_duration_ms":600000,"mean_duration_ms":200000.0,
///  "median_duration_ms":0,"pages_per_session":1.33,"bounces":1,"bounce_rate":0.33,
///  "per_period":[{"start":"2026-01-05T00:00:00.000Z","label":"2026-01-05","sessions":3}],
///  "sources":[{"value":"google.com","sessions":2},{"value":"direct","sessions":1}],
///  "referrers":[...],"utm_sources":[...],"utm_mediums":[...],"utm_campaigns":[...],
///  "entry_pages":[{"value":"/","sessions":2}],"exit_pages":[{"value":"/pricing","sessions":2}]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionsReport {
    /// Sessions starting in the range.
    pub sessions: u64,
    /// Distinct persons with such a session.
    pub users: u64,
    /// Sum of durations (last event - first event).
    pub total_duration_ms: i64,
    /// Mean duration (`null` when no session).
    pub mean_duration_ms: Option<f64>,
    /// Median duration (lower median; `null` when no session).
    pub median_duration_ms: Option<i64>,
    /// `page_view` events per session (`null` when no session).
    pub pages_per_session: Option<f64>,
    /// Bounced sessions.
    pub bounces: u64,
    /// bounces / sessions (`null` when no session).
    pub bounce_rate: Option<f64>,
    /// Sessions by start period, for every period intersecting the range.
    pub per_period: Vec<PeriodCount>,
    /// Top sources.
    pub sources: Vec<Count>,
    /// Top referrer hosts (sessions with one).
    pub referrers: Vec<Count>,
    /// Top UTM sources.
    pub utm_sources: Vec<Count>,
    /// Top UTM mediums.
    pub utm_mediums: Vec<Count>,
    /// Top UTM campaigns.
    pub utm_campaigns: Vec<Count>,
    /// Top entry pages.
    pub entry_pages: Vec<Count>,
    /// Top exit pages.
    pub exit_pages: Vec<Count>,
}

struct Acc {
    first: i64,
    last: i64,
    explicit: u32,
    events: u32,
    pages: u32,
    attr: u32,
    entry: u32,
    exit: u32,
}

fn top(mut counts: Vec<(String, u64)>, n: usize) -> Vec<Count> {
    counts.retain(|c| c.1 > 0);
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.truncate(n);
    counts
        .into_iter()
        .map(|(value, sessions)| Count { value, sessions })
        .collect()
}

fn group<'a>(items: impl Iterator<Item = (Option<&'a str>, u64)>, n: usize) -> Vec<Count> {
    let mut m: HashMap<&str, u64> = HashMap::new();
    for (k, c) in items {
        if let Some(k) = k {
            *m.entry(k).or_default() += c;
        }
    }
    top(m.into_iter().map(|(k, c)| (k.to_string(), c)).collect(), n)
}

pub(crate) fn sessions(
    view: &View,
    req: &SessionsRequest,
    who: &PersonMask,
) -> Result<SessionsReport> {
    if req.max_gap_ms <= 0 {
        return Err(Error::invalid("max_gap_ms", "must be greater than 0"));
    }
    let resolved = resolve_range(view, &req.range)?;
    let span = match resolved {
        Some((f, t)) => Some(Span::of(req.period, f, t)?),
        None => None,
    };
    let (from, to) = resolved.unwrap_or((0, 0));
    let mask = req.active.mask(&view.names);
    let page = view.names.get(PAGE_VIEW).unwrap_or(NONE);
    let c = &view.cols;
    let mut per = vec![0u64; span.map_or(0, |s| s.len())];
    let mut attr_n = vec![0u64; view.attrs.list.len()];
    let mut entry_n = vec![0u64; view.paths.len()];
    let mut exit_n = vec![0u64; view.paths.len()];
    let mut durations = Vec::new();
    let (mut pages, mut bounces, mut users) = (0u64, 0u64, 0u64);
    let mut finish = |s: Acc, counted: &mut bool| {
        if s.first < from || s.first >= to {
            return;
        }
        if !*counted {
            *counted = true;
            users += 1;
        }
        durations.push(s.last - s.first);
        pages += u64::from(s.pages);
        bounces += u64::from(s.events == 1 && s.pages == 1);
        if let Some(k) = span.and_then(|sp| sp.pos(req.period.of_ms(s.first))) {
            per[k] += 1;
        }
        attr_n[s.attr as usize] += 1;
        if s.entry != NONE {
            entry_n[s.entry as usize] += 1;
            exit_n[s.exit as usize] += 1;
        }
    };
    for p in (0..view.persons()).filter(|&p| who.has(p)) {
        let mut cur: Option<Acc> = None;
        let mut counted = false;
        for i in view.run(p) {
            let name = c.name[i];
            if !mask[name as usize] {
                continue;
            }
            let (ts, sid) = (c.ts[i], c.session[i]);
            let split = match &cur {
                None => true,
                Some(s) => {
                    ts - s.last > req.max_gap_ms
                        || (sid != NONE && s.explicit != NONE && sid != s.explicit)
                }
            };
            if split {
                if let Some(s) = cur.take() {
                    finish(s, &mut counted);
                }
            }
            let s = cur.get_or_insert(Acc {
                first: ts,
                last: ts,
                explicit: NONE,
                events: 0,
                pages: 0,
                attr: c.attr[i],
                entry: NONE,
                exit: NONE,
            });
            s.last = ts;
            s.events += 1;
            if s.explicit == NONE {
                s.explicit = sid;
            }
            if name == page {
                s.pages += 1;
                let path = c.aux[i];
                if path != NONE {
                    if s.entry == NONE {
                        s.entry = path;
                    }
                    s.exit = path;
                }
            }
        }
        if let Some(s) = cur.take() {
            finish(s, &mut counted);
        }
    }
    let n = durations.len() as u64;
    let total: i64 = durations.iter().sum();
    let median = if durations.is_empty() {
        None
    } else {
        let mid = (durations.len() - 1) / 2;
        Some(*durations.select_nth_unstable(mid).1)
    };
    let ratio = |x: u64| (n > 0).then(|| x as f64 / n as f64);
    let attrs = &view.attrs.list;
    fn by_attr<'a>(
        attrs: &'a [super::columns::Attribution],
        n: &[u64],
        top: usize,
        f: impl Fn(&'a super::columns::Attribution) -> Option<&'a str>,
    ) -> Vec<Count> {
        group(attrs.iter().zip(n).map(|(a, &c)| (f(a), c)), top)
    }
    let path_counts = |v: &[u64]| {
        top(
            (0..v.len())
                .map(|k| (view.paths.resolve(k as u32).to_string(), v[k]))
                .collect(),
            req.top,
        )
    };
    Ok(SessionsReport {
        sessions: n,
        users,
        total_duration_ms: total,
        mean_duration_ms: (n > 0).then(|| total as f64 / n as f64),
        median_duration_ms: median,
        pages_per_session: ratio(pages),
        bounces,
        bounce_rate: ratio(bounces),
        per_period: span.map_or_else(Vec::new, |sp| {
            (0..sp.len())
                .map(|k| {
                    let idx = sp.first + k as i64;
                    PeriodCount {
                        start: req.period.start(idx),
                        label: req.period.label(idx),
                        sessions: per[k],
                    }
                })
                .collect()
        }),
        sources: by_attr(attrs, &attr_n, req.top, |a| Some(a.source.as_str())),
        referrers: by_attr(attrs, &attr_n, req.top, |a| a.referrer.as_deref()),
        utm_sources: by_attr(attrs, &attr_n, req.top, |a| a.utm_source.as_deref()),
        utm_mediums: by_attr(attrs, &attr_n, req.top, |a| a.utm_medium.as_deref()),
        utm_campaigns: by_attr(attrs, &attr_n, req.top, |a| a.utm_campaign.as_deref()),
        entry_pages: path_counts(&entry_n),
        exit_pages: path_counts(&exit_n),
    })
}

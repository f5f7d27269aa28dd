//! Segments (cohorts): evaluating a [`SegmentExpr`] over the persons of the view, saved
//! segments in the store (namespace [`SEGMENTS_NAMESPACE`]), and the person mask every
//! analysis uses to restrict itself to a segment.
//!
//! Reference time: metrics and `did(..)` windows are evaluated as of `T` = the end of
//! the data (last event + 1 ms) unless [`Engine::segment_members_at`](super::Engine::segment_members_at)
//! is given another time; events at or after `T` are ignored. Traits are the store's
//! current traits of the person's user id (anonymous-only persons have none).

use std::collections::HashMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::activity::{name_mask, ActiveDefinition};
use super::columns::NONE;
use super::segment_expr::{Metric, SegmentExpr};
use super::view::View;
use crate::error::{Error, Result};
use crate::event::Properties;
use crate::store::Store;
use crate::time::{Timestamp, DAY_MS};

/// The store namespace saved segments live in.
pub const SEGMENTS_NAMESPACE: &str = "segments";

/// Which persons an analysis covers: a saved segment's name, or an inline expression.
/// JSON: a string is a name, an object is an expression (`{"and": [..]}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SegmentRef {
    /// A saved segment.
    Name(String),
    /// An inline expression.
    Expr(SegmentExpr),
}

impl From<SegmentExpr> for SegmentRef {
    fn from(e: SegmentExpr) -> Self {
        SegmentRef::Expr(e)
    }
}

impl From<&str> for SegmentRef {
    fn from(s: &str) -> Self {
        SegmentRef::Name(s.to_string())
    }
}

/// A saved segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedSegment {
    /// Name (1..=64 of `A-Z a-z 0-9 _ -`, starting with a letter or digit).
    pub name: String,
    /// The condition.
    pub expr: SegmentExpr,
    /// Its text form (for display).
    pub text: String,
    /// Free description.
    #[serde(default)]
    pub description: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

/// Check a segment name.
pub fn validate_segment_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "segment name",
            format!("{name:?}: use 1 to 64 of A-Z a-z 0-9 _ -, starting with a letter or digit"),
        ))
    }
}

/// Saved segments of one project of a store: create, list, get, update, delete.
///
/// ```
/// use churn_core::engine::{SegmentExpr, Segments};
/// use churn_core::store::{MemoryStore, DEFAULT_PROJECT};
///
/// let store = MemoryStore::new();
/// let segs = Segments::new(&store, DEFAULT_PROJECT);
/// segs.create("power", SegmentExpr::parse("metric.events_30d >= 20")?, "")?;
/// assert!(segs.create("power", SegmentExpr::parse("a = 1")?, "").is_err()); // exists
/// assert!(segs.create("no spaces", SegmentExpr::parse("a = 1")?, "").is_err());
/// assert_eq!(segs.list()?[0].name, "power");
/// segs.update("power", SegmentExpr::parse("metric.events_30d >= 30")?, None)?;
/// assert_eq!(segs.get("power")?.text, "metric.events_30d >= 30");
/// assert!(segs.delete("power")?);
/// assert!(segs.get("power").is_err());
/// # Ok::<(), churn_core::Error>(())
/// ```
pub struct Segments<'a> {
    store: &'a dyn Store,
    project: &'a str,
}

impl<'a> Segments<'a> {
    /// The segments of `project` in `store`.
    pub fn new(store: &'a dyn Store, project: &'a str) -> Self {
        Segments { store, project }
    }

    fn write(&self, s: &SavedSegment) -> Result<()> {
        let bytes = serde_json::to_vec(s).map_err(Error::storage)?;
        self.store
            .put_object(self.project, SEGMENTS_NAMESPACE, &s.name, &bytes)
    }

    /// Save a new segment; an error when the name is taken or the expression invalid.
    pub fn create(&self, name: &str, expr: SegmentExpr, description: &str) -> Result<SavedSegment> {
        validate_segment_name(name)?;
        expr.validate()?;
        if self
            .store
            .get_object(self.project, SEGMENTS_NAMESPACE, name)?
            .is_some()
        {
            return Err(Error::invalid(
                "segment name",
                format!("a segment named {name:?} exists (update or delete it)"),
            ));
        }
        let now = Timestamp::now();
        let s = SavedSegment {
            name: name.to_string(),
            text: expr.to_string(),
            expr,
            description: description.to_string(),
            created_at: now,
            updated_at: now,
        };
        self.write(&s)?;
        Ok(s)
    }

    /// A saved segment ([`Error::NotFound`] when absent).
    pub fn get(&self, name: &str) -> Result<SavedSegment> {
        validate_segment_name(name)?;
        let bytes = self
            .store
            .get_object(self.project, SEGMENTS_NAMESPACE, name)?
            .ok_or_else(|| Error::NotFound {
                what: format!("segment {name}"),
            })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::storage(format!("segment {name} is damaged: {e}")))
    }

    /// Every saved segment, by name.
    pub fn list(&self) -> Result<Vec<SavedSegment>> {
        let mut names = self.store.list_objects(self.project, SEGMENTS_NAMESPACE)?;
        names.sort();
        names.iter().map(|n| self.get(n)).collect()
    }

    /// Replace a segment's expression (and description when given).
    pub fn update(
        &self,
        name: &str,
        expr: SegmentExpr,
        description: Option<&str>,
    ) -> Result<SavedSegment> {
        expr.validate()?;
        let mut s = self.get(name)?;
        s.text = expr.to_string();
        s.expr = expr;
        if let Some(d) = description {
            s.description = d.to_string();
        }
        s.updated_at = Timestamp::now();
        self.write(&s)?;
        Ok(s)
    }

    /// Delete a segment; whether it existed.
    pub fn delete(&self, name: &str) -> Result<bool> {
        validate_segment_name(name)?;
        self.store
            .delete_object(self.project, SEGMENTS_NAMESPACE, name)
    }

    /// The expression a reference stands for.
    pub fn resolve(&self, r: &SegmentRef) -> Result<SegmentExpr> {
        match r {
            SegmentRef::Name(n) => Ok(self.get(n)?.expr),
            SegmentRef::Expr(e) => {
                e.validate()?;
                Ok(e.clone())
            }
        }
    }
}

impl FromStr for SegmentRef {
    type Err = Error;
    /// A valid segment name is a name; anything else is parsed as the text form.
    fn from_str(s: &str) -> Result<Self> {
        if validate_segment_name(s).is_ok() {
            Ok(SegmentRef::Name(s.to_string()))
        } else {
            Ok(SegmentRef::Expr(SegmentExpr::parse(s)?))
        }
    }
}

/// Size and statistics of a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentStats {
    /// Members.
    pub count: u64,
    /// Persons in the project.
    pub total_persons: u64,
    /// count / total persons (`null` when there are none).
    pub share: Option<f64>,
    /// Mean activity events (before `T`) per member (`null` without members).
    pub mean_events: Option<f64>,
    /// Sum of `amount` of members' revenue events (every currency).
    pub revenue: f64,
    /// revenue / count (`null` without members).
    pub mean_revenue: Option<f64>,
    /// The reference time the segment was evaluated at.
    pub as_of: Timestamp,
}

/// Which persons an analysis covers (`None`: all).
#[derive(Debug, Clone, Default)]
pub(crate) struct PersonMask(pub Option<Vec<bool>>);

impl PersonMask {
    /// Whether person `p` is covered.
    #[inline]
    pub(crate) fn has(&self, p: usize) -> bool {
        self.0.as_ref().is_none_or(|m| m[p])
    }
}

/// Per-person values an expression is evaluated on.
pub(crate) struct Evaluator<'v> {
    view: &'v View,
    active: Vec<bool>,
    revenue: Vec<bool>,
    as_of: i64,
    traits: HashMap<String, Properties>,
}

impl<'v> Evaluator<'v> {
    pub(crate) fn new(
        view: &'v View,
        store: &dyn Store,
        project: &str,
        expr: &SegmentExpr,
        as_of: Option<i64>,
    ) -> Result<Self> {
        let traits = if expr.uses_traits() {
            store
                .users(project)?
                .into_iter()
                .map(|u| (u.user_id, u.traits))
                .collect()
        } else {
            HashMap::new()
        };
        Ok(Evaluator {
            view,
            active: ActiveDefinition::default().mask(&view.names),
            revenue: name_mask(&view.names, &view.amount_names),
            as_of: as_of.unwrap_or_else(|| default_as_of(view)),
            traits,
        })
    }

    pub(crate) fn as_of(&self) -> i64 {
        self.as_of
    }

    /// Metric `m` of person `p` (`None`: no value).
    pub(crate) fn metric(&self, p: usize, m: Metric) -> Option<f64> {
        let v = self.view;
        let c = &v.cols;
        let t = self.as_of;
        let window = match m {
            Metric::Events7d | Metric::ActiveDays7d => 7 * DAY_MS,
            _ => 30 * DAY_MS,
        };
        let lo = t.saturating_sub(window);
        let (mut n, mut total, mut days, mut last_day) = (0u64, 0u64, 0u64, i64::MIN);
        let (mut first, mut last) = (None, None);
        let (mut rev, mut purchases) = (0.0f64, 0u64);
        for i in v.run(p) {
            let ts = c.ts[i];
            if ts >= t {
                break;
            }
            let name = c.name[i] as usize;
            if self.revenue[name] {
                purchases += 1;
                if let Some(a) = v.amounts.get(c.aux[i] as usize).filter(|_| c.aux[i] != NONE) {
                    rev += a.value.unwrap_or(0.0);
                }
            }
            if !self.active[name] {
                continue;
            }
            total += 1;
            first.get_or_insert(ts);
            last = Some(ts);
            if ts >= lo {
                n += 1;
                let d = ts.div_euclid(DAY_MS);
                if d != last_day {
                    last_day = d;
                    days += 1;
                }
            }
        }
        let days_since = |x: Option<i64>| x.map(|x| (t - x) as f64 / DAY_MS as f64);
        match m {
            Metric::Events7d | Metric::Events30d => Some(n as f64),
            Metric::EventsTotal => Some(total as f64),
            Metric::ActiveDays7d | Metric::ActiveDays30d => Some(days as f64),
            Metric::Revenue => Some(rev),
            Metric::Purchases => Some(purchases as f64),
            Metric::LastSeenDays => days_since(last),
            Metric::FirstSeenDays => days_since(first),
        }
    }

    /// Whether person `p` satisfies `e`.
    pub(crate) fn eval(&self, p: usize, e: &SegmentExpr) -> bool {
        match e {
            SegmentExpr::And(v) => v.iter().all(|x| self.eval(p, x)),
            SegmentExpr::Or(v) => v.iter().any(|x| self.eval(p, x)),
            SegmentExpr::Not(x) => !self.eval(p, x),
            SegmentExpr::Trait(t) => {
                let traits = self.traits.get(self.view.person_id(p));
                t.op.matches(traits.and_then(|tr| tr.get(&t.key)), &t.value)
            }
            SegmentExpr::Metric(m) => self
                .metric(p, m.metric)
                .is_some_and(|x| m.op.matches_f64(x, m.value)),
            SegmentExpr::Did(d) => {
                let v = self.view;
                let Some(name) = v.names.get(&d.event) else {
                    return d.op.matches_f64(0.0, d.count as f64);
                };
                let lo = d.days.map_or(i64::MIN, |days| {
                    self.as_of.saturating_sub((days * DAY_MS as f64).round() as i64)
                });
                let n = v
                    .run(p)
                    .filter(|&i| {
                        v.cols.name[i] == name && v.cols.ts[i] >= lo && v.cols.ts[i] < self.as_of
                    })
                    .count();
                d.op.matches_f64(n as f64, d.count as f64)
            }
        }
    }

    /// The mask of persons satisfying `e`.
    pub(crate) fn mask(&self, e: &SegmentExpr) -> Vec<bool> {
        (0..self.view.persons()).map(|p| self.eval(p, e)).collect()
    }
}

/// The default reference time: the end of the data (last event + 1 ms).
pub(crate) fn default_as_of(view: &View) -> i64 {
    if view.len() == 0 {
        0
    } else {
        view.max_ts.saturating_add(1)
    }
}

/// Statistics of the persons in `mask`.
pub(crate) fn stats(ev: &Evaluator<'_>, mask: &[bool]) -> SegmentStats {
    let (mut count, mut events, mut revenue) = (0u64, 0.0f64, 0.0f64);
    for (p, _) in mask.iter().enumerate().filter(|x| *x.1) {
        count += 1;
        events += ev.metric(p, Metric::EventsTotal).unwrap_or(0.0);
        revenue += ev.metric(p, Metric::Revenue).unwrap_or(0.0);
    }
    let total = mask.len() as u64;
    let per = |x: f64| (count > 0).then(|| x / count as f64);
    SegmentStats {
        count,
        total_persons: total,
        share: (total > 0).then(|| count as f64 / total as f64),
        mean_events: per(events),
        revenue,
        mean_revenue: per(revenue),
        as_of: Timestamp::from_millis(ev.as_of()),
    }
}

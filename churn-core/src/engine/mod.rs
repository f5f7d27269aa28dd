//! The query engine: a compact columnar view of a project's events and the analyses
//! that run over it.
//!
//! [`Engine::load`] reads a project from any [`Store`] once: the core columns through
//! [`Store::scan_rows`], without parsing any JSON. Paths, referrers and amounts (of
//! `page_view` and revenue events only) are read from the store the first time an
//! analysis needs them (sessions, paths, revenue, segments); active users, retention
//! and funnels never wait for them. [`Engine::refresh`] later pulls only the events
//! stored since. Analyses
//! take an argument struct with `Default` and chained setters and return a serde type.
//!
//! Persons: every count is of persons (a user id with every anonymous id linked to
//! it); the [`Engine`] docs give the identity rules.
//!
//! ```
//! use std::sync::Arc;
//! use churn_core::engine::{Engine, ActiveUsersRequest, Period};
//! use churn_core::event::Event;
//! use churn_core::store::{MemoryStore, StoreExt, DEFAULT_PROJECT};
//! use churn_core::Timestamp;
//!
//! let store = Arc::new(MemoryStore::new());
//! let t = Timestamp::from_ymd(2026, 1, 5).unwrap();
//! store.append(DEFAULT_PROJECT, &[
//!     Event::track("login").user_id("u1").timestamp(t).build()?,
//!     Event::track("login").anonymous_id("a1").timestamp(t).build()?,
//! ])?;
//! let engine = Engine::load(store.clone(), DEFAULT_PROJECT)?;
//! let r = engine.active_users(&ActiveUsersRequest::new().period(Period::Day))?;
//! assert_eq!(r.periods[0].active_users, 2);
//! # Ok::<(), churn_core::Error>(())
//! ```

mod active;
mod activity;
mod columns;
mod funnel;
mod funnel_pass;
mod identity;
mod intern;
mod paths;
mod period;
mod profile;
mod props;
mod retention;
mod revenue;
mod revenue_pass;
mod segment;
mod segment_expr;
mod segment_parse;
mod sessions;
mod view;

pub use active::{ActiveUsersReport, ActiveUsersRequest, DailyActive, HistogramBin, PeriodActive};
pub use activity::{ActiveDefinition, DEFAULT_NON_INTERACTIVE};
pub use funnel::{
    FunnelBreakdown, FunnelExclusion, FunnelMode, FunnelReport, FunnelRequest, FunnelStep,
    FunnelStepReport, PropertyFilter, MAX_FUNNEL_STEPS,
};
pub use paths::{PathDirection, PathEdge, PathNode, PathsReport, PathsRequest, OTHER};
pub use period::{Period, MAX_PERIODS};
pub use profile::{
    BillingState, BillingStatus, FeatureCount, ProfileConfig, ProfileRequest, TicketStats,
    UsageTrend, UserProfile,
};
pub use retention::{RetentionMode, RetentionReport, RetentionRequest, RetentionRow};
pub use revenue::{
    Conversion, Excluded, LifetimeValue, RevenuePeriod, RevenueReport, RevenueRequest,
    RevenueTotals, SubscriptionEvents,
};
pub use segment::{
    validate_segment_name, SavedSegment, SegmentRef, SegmentStats, Segments, SEGMENTS_NAMESPACE,
};
pub use segment_expr::{
    parse_duration_ms, CmpOp, DidCondition, Metric, MetricCondition, SegmentExpr, TraitCondition,
    METRICS,
};
pub use sessions::{Count, PeriodCount, SessionsReport, SessionsRequest};
pub use view::{ContextCapture, RefreshReport};

use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::store::Store;
use crate::time::{TimeRange, Timestamp};
use props::PropCache;
use segment::{Evaluator, PersonMask};
use view::View;

/// The event names whose `amount` is revenue by default.
pub const DEFAULT_REVENUE_EVENTS: &[&str] = &["purchase", "payment_completed"];

/// How an [`Engine`] loads its view.
///
/// ```
/// use churn_core::engine::{EngineConfig, ContextCapture};
/// let c = EngineConfig::new().revenue_events(["order_paid"]).context(ContextCapture::AllEvents);
/// assert_eq!(c.revenue_events, vec!["order_paid".to_string()]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct EngineConfig {
    /// Event names whose `amount` / `currency` are cached at load (more can be added
    /// later by a [`RevenueRequest`] naming them).
    pub revenue_events: Vec<String>,
    /// Which events' referrer / UTM context is cached.
    pub context: ContextCapture,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            revenue_events: DEFAULT_REVENUE_EVENTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            context: ContextCapture::default(),
        }
    }
}

impl EngineConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
}

builder_setters!(EngineConfig {
    /// Set the revenue event names.
    revenue_events: [into String];
    /// Set which events' context is cached.
    context: ContextCapture;
});

/// Memory held by an engine's view. The per-event columns take 36 bytes per event:
/// timestamp and seq (8 each), and name, raw id, session id, path-or-amount index and
/// attribution index (4 each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryUsage {
    /// Events in the view.
    pub events: u64,
    /// Persons in the view.
    pub persons: u64,
    /// Bytes of the per-event columns.
    pub column_bytes: u64,
    /// `column_bytes / events` (0 when empty).
    pub column_bytes_per_event: f64,
    /// Bytes of everything else: offsets, string tables, links, cached amounts.
    pub other_bytes: u64,
}

/// The query engine over one project of a store. `Send + Sync`: share it in an `Arc`.
///
/// Identity: a *person* is a user id together with every id linked to it. Links come
/// from the store (`identify` with an anonymous id, `alias`) and from events carrying
/// both a `user_id` and a different `anonymous_id` (they link the anonymous id to the
/// user, as PostHog's `$identify` does); the first link of an anonymous id wins, links
/// that would form a cycle are ignored, and chains resolve to their end. An event
/// belongs to the person of its `user_id`, else of its `anonymous_id`.
///
/// Staleness: [`Engine::refresh`] sees new events and links. Deletions
/// ([`Store::delete_user`], [`Store::purge_before`]) are detected by the event count
/// and trigger a full reload; after [`Store::rewrite_user`] call [`Engine::reload`].
pub struct Engine {
    store: Arc<dyn Store>,
    project: String,
    config: EngineConfig,
    view: RwLock<View>,
    refresh_lock: Mutex<()>,
    /// The store's [`Store::change_token`] read just before the view last read the
    /// store (`None`: unknown, read again).
    seen: Mutex<Option<u64>>,
    props: Mutex<PropCache>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("project", &self.project)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Load `project` of `store` with the default [`EngineConfig`].
    pub fn load(store: Arc<dyn Store>, project: &str) -> Result<Engine> {
        Self::load_with(store, project, EngineConfig::default())
    }

    /// Load `project` of `store` with `config`.
    pub fn load_with(store: Arc<dyn Store>, project: &str, config: EngineConfig) -> Result<Engine> {
        let mut view = View::new(config.revenue_events.clone(), config.context)?;
        let token = store.change_token()?;
        view.ingest(store.as_ref(), project)?;
        Ok(Engine {
            store,
            project: project.to_string(),
            config,
            view: RwLock::new(view),
            refresh_lock: Mutex::new(()),
            seen: Mutex::new(token),
            props: Mutex::new(PropCache::default()),
        })
    }

    /// Merge events stored since the last load or refresh, and new identity links.
    /// Falls back to a full reload when the store lost events since. When the store's
    /// [`Store::change_token`] is the one seen before the last read, nothing was
    /// committed since and the store is not read at all (a few microseconds on SQLite
    /// instead of two queries).
    pub fn refresh(&self) -> Result<RefreshReport> {
        let _guard = self.refresh_lock.lock();
        // Read before the store is: a commit landing during the read changes it again.
        let token = self.store.change_token()?;
        if token.is_some() && *self.seen.lock() == token {
            let v = self.view.read();
            return Ok(RefreshReport {
                new_events: 0,
                identities_changed: false,
                reloaded: false,
                events: v.len() as u64,
                persons: v.persons() as u64,
            });
        }
        *self.seen.lock() = None;
        let (report, store_events) = self
            .view
            .write()
            .ingest(self.store.as_ref(), &self.project)?;
        if report.events != store_events {
            return self.reload_locked();
        }
        *self.seen.lock() = token;
        Ok(report)
    }

    /// Rebuild the view from the store.
    pub fn reload(&self) -> Result<RefreshReport> {
        let _guard = self.refresh_lock.lock();
        self.reload_locked()
    }

    fn reload_locked(&self) -> Result<RefreshReport> {
        *self.seen.lock() = None;
        let token = self.store.change_token()?;
        let names = self.view.read().amount_names.clone();
        let mut fresh = View::new(names, self.config.context)?;
        let (mut report, _) = fresh.ingest(self.store.as_ref(), &self.project)?;
        report.reloaded = true;
        *self.view.write() = fresh;
        *self.seen.lock() = token;
        Ok(report)
    }

    /// A read guard on the view with paths, attribution and amounts filled (read from
    /// the store on first use: [`Engine::load`] reads the core columns only).
    fn props_view(&self) -> Result<RwLockReadGuard<'_, View>> {
        loop {
            {
                let v = self.view.read();
                if v.props_ready {
                    return Ok(v);
                }
            }
            let _guard = self.refresh_lock.lock();
            self.view
                .write()
                .ensure_props(self.store.as_ref(), &self.project)?;
        }
    }

    /// The view for an analysis: segments may read cached amounts, so a request with a
    /// segment gets the filled view.
    fn view_for(&self, segment: Option<&SegmentRef>) -> Result<RwLockReadGuard<'_, View>> {
        match segment {
            Some(_) => self.props_view(),
            None => Ok(self.view.read()),
        }
    }

    /// The project this engine reads.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// Memory held by the view.
    pub fn memory_usage(&self) -> MemoryUsage {
        let v = self.view.read();
        let cb = v.column_bytes();
        MemoryUsage {
            events: v.len() as u64,
            persons: v.persons() as u64,
            column_bytes: cb as u64,
            column_bytes_per_event: if v.len() == 0 {
                0.0
            } else {
                cb as f64 / v.len() as f64
            },
            other_bytes: v.other_bytes() as u64,
        }
    }

    /// Total bytes held by the view (columns and side tables).
    pub fn memory_bytes(&self) -> usize {
        let v = self.view.read();
        v.column_bytes() + v.other_bytes()
    }

    /// Active users: DAU / WAU / MAU, rolling WAU_7 / MAU_30, stickiness, new vs
    /// returning. See [`ActiveUsersRequest`].
    pub fn active_users(&self, req: &ActiveUsersRequest) -> Result<ActiveUsersReport> {
        let v = self.view_for(req.segment.as_ref())?;
        let who = self.person_mask(&v, req.segment.as_ref())?;
        active::active_users(&v, req, &who)
    }

    /// Sessions. See [`SessionsRequest`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use churn_core::engine::{Engine, SessionsRequest};
    /// use churn_core::event::Event;
    /// use churn_core::store::{MemoryStore, StoreExt, DEFAULT_PROJECT};
    /// use churn_core::Timestamp;
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let t = Timestamp::from_ymd(2026, 1, 5).unwrap();
    /// let min = 60_000;
    /// store.append(DEFAULT_PROJECT, &[
    ///     Event::page("/").user_id("u1").timestamp(t).build()?,
    ///     Event::page("/pricing").user_id("u1").timestamp(t.add_millis(30 * min)).build()?,
    ///     Event::page("/").user_id("u1").timestamp(t.add_millis(61 * min)).build()?,
    /// ])?;
    /// let engine = Engine::load(store, DEFAULT_PROJECT)?;
    /// let r = engine.sessions(&SessionsRequest::new())?;
    /// assert_eq!((r.sessions, r.bounces), (2, 1)); // a gap of 31 minutes splits
    /// assert_eq!(r.total_duration_ms, 30 * min);
    /// assert_eq!(r.exit_pages[0].value, "/");
    /// let json = serde_json::to_value(&r)?;
    /// assert_eq!(json["per_period"][0]["label"], "2026-01-05");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sessions(&self, req: &SessionsRequest) -> Result<SessionsReport> {
        let v = self.props_view()?;
        let who = self.person_mask(&v, req.segment.as_ref())?;
        sessions::sessions(&v, req, &who)
    }

    /// Retention cohorts. See [`RetentionRequest`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use churn_core::engine::{Engine, RetentionRequest, Period};
    /// use churn_core::event::Event;
    /// use churn_core::store::{MemoryStore, StoreExt, DEFAULT_PROJECT};
    /// use churn_core::Timestamp;
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let day = |d| Timestamp::from_ymd(2026, 1, d).unwrap();
    /// store.append(DEFAULT_PROJECT, &[
    ///     Event::track("signup").user_id("a").timestamp(day(5)).build()?,
    ///     Event::track("signup").user_id("b").timestamp(day(6)).build()?,
    ///     Event::track("login").user_id("a").timestamp(day(13)).build()?,
    /// ])?;
    /// let engine = Engine::load(store, DEFAULT_PROJECT)?;
    /// let r = engine.retention(&RetentionRequest::new().period(Period::Week))?;
    /// assert_eq!(r.cohorts[0].label, "2026-W02");
    /// assert_eq!(r.cohorts[0].counts, vec![2, 1]);
    /// assert_eq!(r.cohorts[0].percentages, vec![Some(100.0), Some(50.0)]);
    /// // Week 3 has not ended at the end of the data (the default `as_of`): partial.
    /// assert_eq!(r.cohorts[0].complete, vec![true, false]);
    /// let later = RetentionRequest::new().period(Period::Week).as_of(day(19));
    /// assert_eq!(engine.retention(&later)?.cohorts[0].complete, vec![true, true]);
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn retention(&self, req: &RetentionRequest) -> Result<RetentionReport> {
        let v = self.view_for(req.segment.as_ref())?;
        let who = self.person_mask(&v, req.segment.as_ref())?;
        retention::retention(&v, req, &who)
    }

    /// Revenue and churn. See [`RevenueRequest`]. Revenue event names not cached yet
    /// are fetched from the store first.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use churn_core::engine::{Engine, RevenueRequest};
    /// use churn_core::event::Event;
    /// use churn_core::store::{MemoryStore, StoreExt, DEFAULT_PROJECT};
    /// use churn_core::Timestamp;
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let jan = Timestamp::from_ymd(2026, 1, 10).unwrap();
    /// let feb = Timestamp::from_ymd(2026, 2, 10).unwrap();
    /// store.append(DEFAULT_PROJECT, &[
    ///     Event::track("purchase").user_id("a").timestamp(jan)
    ///         .number("amount", 30.0).property("currency", "USD").build()?,
    ///     Event::track("purchase").user_id("a").timestamp(jan)
    ///         .number("amount", 99.0).property("currency", "EUR").build()?,
    ///     Event::track("login").user_id("b").timestamp(jan).build()?,
    ///     Event::track("login").user_id("a").timestamp(feb).build()?,
    /// ])?;
    /// let engine = Engine::load(store, DEFAULT_PROJECT)?;
    /// let r = engine.revenue(&RevenueRequest::new().currency("USD").cac(10.0))?;
    /// let jan = &r.periods[0];
    /// assert_eq!((jan.revenue, jan.active_users, jan.arpu), (30.0, 2, Some(15.0)));
    /// assert_eq!(jan.churn_rate, Some(0.5)); // b is not active in February
    /// assert_eq!(r.excluded.other_currency, 1);
    /// assert_eq!(r.ltv.ltv, Some(15.0)); // mean monthly ARPU (15 + 0) / 2 over churn 0.5
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn revenue(&self, req: &RevenueRequest) -> Result<RevenueReport> {
        {
            let v = self.props_view()?;
            if req
                .revenue_events
                .iter()
                .all(|n| v.amount_names.contains(n))
            {
                let who = self.person_mask(&v, req.segment.as_ref())?;
                return revenue::revenue(&v, req, &who);
            }
        }
        let _guard = self.refresh_lock.lock();
        let mut v = self.view.write();
        v.ensure_amounts(self.store.as_ref(), &self.project, &req.revenue_events)?;
        v.ensure_props(self.store.as_ref(), &self.project)?;
        let who = self.person_mask(&v, req.segment.as_ref())?;
        revenue::revenue(&v, req, &who)
    }

    /// The persons a request covers: all, or the members of its segment. The one
    /// place every analysis is restricted to a segment.
    fn person_mask(&self, view: &View, segment: Option<&SegmentRef>) -> Result<PersonMask> {
        let Some(r) = segment else {
            return Ok(PersonMask(None));
        };
        let expr = Segments::new(self.store.as_ref(), &self.project).resolve(r)?;
        let ev = Evaluator::new(view, self.store.as_ref(), &self.project, &expr, None)?;
        Ok(PersonMask(Some(ev.mask(&expr))))
    }

    /// Saved segments of this engine's project.
    pub fn segments(&self) -> Segments<'_> {
        Segments::new(self.store.as_ref(), &self.project)
    }

    /// Ids of the persons in a segment (a saved name or an expression), sorted, as of
    /// the end of the data.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use churn_core::engine::{Engine, SegmentExpr, SegmentRef};
    /// use churn_core::event::Event;
    /// use churn_core::store::{MemoryStore, StoreExt, DEFAULT_PROJECT};
    /// use churn_core::Timestamp;
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let t = Timestamp::from_ymd(2026, 1, 5).unwrap();
    /// let mut evs = vec![Event::track("login").user_id("b").timestamp(t).build()?];
    /// for h in 0..3 {
    ///     evs.push(Event::track("feature_used").user_id("a")
    ///         .timestamp(t.add_millis(h * 3_600_000)).build()?);
    /// }
    /// store.append(DEFAULT_PROJECT, &evs)?;
    /// let engine = Engine::load(store, DEFAULT_PROJECT)?;
    /// let e = SegmentExpr::parse("did(feature_used, >= 3, 14d)")?;
    /// assert_eq!(engine.segment_members(&SegmentRef::Expr(e.clone()))?, vec!["a"]);
    /// engine.segments().create("heavy", e, "three feature uses in two weeks")?;
    /// let stats = engine.segment_stats(&"heavy".into())?;
    /// assert_eq!((stats.count, stats.share), (1, Some(0.5)));
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn segment_members(&self, segment: &SegmentRef) -> Result<Vec<String>> {
        self.segment_members_at(segment, None)
    }

    /// [`Engine::segment_members`] with metrics and `did` windows evaluated as of `as_of`.
    pub fn segment_members_at(
        &self,
        segment: &SegmentRef,
        as_of: Option<Timestamp>,
    ) -> Result<Vec<String>> {
        let v = self.props_view()?;
        let expr = self.segments().resolve(segment)?;
        let ev = Evaluator::new(
            &v,
            self.store.as_ref(),
            &self.project,
            &expr,
            as_of.map(|t| t.millis()),
        )?;
        let mut ids: Vec<String> = ev
            .mask(&expr)
            .iter()
            .enumerate()
            .filter(|x| *x.1)
            .map(|(p, _)| v.person_id(p).to_string())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Size and statistics of a segment.
    pub fn segment_stats(&self, segment: &SegmentRef) -> Result<SegmentStats> {
        let v = self.props_view()?;
        let expr = self.segments().resolve(segment)?;
        let ev = Evaluator::new(&v, self.store.as_ref(), &self.project, &expr, None)?;
        Ok(segment::stats(&ev, &ev.mask(&expr)))
    }

    /// Funnel conversion. See [`FunnelRequest`]. Properties named by step filters or
    /// the breakdown are fetched from the store for those events only, and cached.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use churn_core::engine::{Engine, FunnelRequest};
    /// use churn_core::event::Event;
    /// use churn_core::store::{MemoryStore, StoreExt, DEFAULT_PROJECT};
    /// use churn_core::{TimeRange, Timestamp};
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let day = |d| Timestamp::from_ymd(2026, 1, d).unwrap();
    /// let ev = |n: &str, u: &str, d| Event::track(n).user_id(u).timestamp(day(d)).build();
    /// store.append(DEFAULT_PROJECT, &[
    ///     ev("signup", "a", 1)?, ev("purchase", "a", 8)?, // exactly 7 days: converts
    ///     ev("signup", "b", 1)?, ev("purchase", "b", 9)?, // 8 days: drops
    ///     ev("signup", "c", 18)?,                         // window still open
    /// ])?;
    /// let engine = Engine::load(store, DEFAULT_PROJECT)?;
    /// let range = TimeRange::new(day(1), day(20));
    /// let r = engine.funnel(&FunnelRequest::new(["signup", "purchase"]).range(range))?;
    /// assert_eq!((r.entered, r.converted, r.in_progress), (3, 1, 1));
    /// assert_eq!(r.steps[0].dropped_users, vec!["b"]);
    /// assert_eq!(r.steps[0].in_progress_users, vec!["c"]);
    /// assert_eq!(r.steps[1].median_time_from_previous_ms, Some(7 * 86_400_000));
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn funnel(&self, req: &FunnelRequest) -> Result<FunnelReport> {
        let v = self.view_for(req.segment.as_ref())?;
        let who = self.person_mask(&v, req.segment.as_ref())?;
        let props = self.props.lock().ensure(
            self.store.as_ref(),
            &self.project,
            &v,
            &req.wanted_props(),
        )?;
        funnel::funnel(&v, req, &who, &props)
    }

    /// Paths after or before an event, as a Sankey graph. See [`PathsRequest`].
    pub fn paths(&self, req: &PathsRequest) -> Result<PathsReport> {
        let v = self.props_view()?;
        let who = self.person_mask(&v, req.segment.as_ref())?;
        paths::paths(&v, req, &who)
    }

    /// The profile of one person (a user id or an anonymous id). See [`ProfileRequest`].
    pub fn user_profile(&self, req: &ProfileRequest) -> Result<UserProfile> {
        let v = self.view.read();
        profile::profile(&v, self.store.as_ref(), &self.project, req)
    }
}

/// `[from, to)` in epoch ms of `range` with open ends filled from the data, or `None`
/// when nothing is left.
pub(crate) fn resolve_range(view: &View, range: &TimeRange) -> Result<Option<(i64, i64)>> {
    if let (Some(f), Some(t)) = (range.from, range.to) {
        if f > t {
            return Err(crate::Error::invalid(
                "range",
                format!("from ({f}) is after to ({t})"),
            ));
        }
    }
    if view.len() == 0 && (range.from.is_none() || range.to.is_none()) {
        return Ok(None);
    }
    let from = range.from.map_or(view.min_ts, |t| t.millis());
    let to = range
        .to
        .map_or(view.max_ts.saturating_add(1), |t| t.millis());
    Ok((from < to).then_some((from, to)))
}

// `Engine` is shared by the bindings and the server: keep it `Send + Sync`.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
};

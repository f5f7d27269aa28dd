//! The columnar in-memory view of one project's events, built from any
//! [`Store`] and brought up to date incrementally.
//!
//! Layout (CSR): persons are numbered `0..persons()`; person `p` owns the events at
//! positions `offsets[p]..offsets[p + 1]` of the flat [`Columns`], sorted by
//! `(timestamp, seq)`. Strings (names, ids, session ids, paths, currencies) are
//! interned; per-event data never sits in a hash map.
//!
//! Loading is two-phase: the core columns (time, name, id, session) come from
//! [`Store::scan_rows`] (no JSON is parsed); the per-event context and properties the
//! view caches (page paths, referrer / UTM attribution, revenue amounts) need full
//! events from [`Store::scan`] and are read only when an analysis first needs them
//! ([`View::ensure_props`]: sessions, paths, revenue, segments), then kept up to date
//! by every later ingest.
//!
//! Updating: [`View::ingest`] reads only events with `seq` above the last one seen
//! (and the identity links), then rebuilds the grouping in one linear pass over the
//! columns already in memory (a stable counting sort by person, then an adaptive sort of
//! each person's run, which is linear when the run is already sorted). It never
//! re-reads old events from the store, and the result is the same as a fresh load,
//! including when a new link merges two persons or moves an id to another person.

use std::ops::{ControlFlow, Range};

use serde_json::Value;

use super::columns::{Amount, Attribution, Attributions, Columns, NONE};
use super::identity::Identity;
use super::intern::Interner;
use crate::error::{Error, Result};
use crate::event::{referrer_host, Event, PAGE_VIEW};
use crate::store::{ScanRequest, Store};

/// Which events' context (referrer, UTM) the view fetches and caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextCapture {
    /// `page_view` and revenue events only (the events web SDKs attach page context
    /// to). Other events count as having no referrer / UTM (`direct`).
    #[default]
    PageViewsAndRevenue,
    /// Every event (slower loads: every event's context is read from the store).
    AllEvents,
}

/// What one [`View::ingest`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefreshReport {
    /// Events added to the view.
    pub new_events: u64,
    /// Whether the identity links changed (persons were regrouped).
    pub identities_changed: bool,
    /// Whether the view was rebuilt from the store because the store lost events
    /// (deletion, purge) since the last refresh.
    pub reloaded: bool,
    /// Events in the view afterwards.
    pub events: u64,
    /// Persons in the view afterwards.
    pub persons: u64,
}

/// The columnar view. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct View {
    pub names: Interner,
    pub ids: Interner,
    pub sessions: Interner,
    pub paths: Interner,
    pub currencies: Interner,
    pub attrs: Attributions,
    pub amounts: Vec<Amount>,
    /// Event names whose amounts are cached (aux points into `amounts`).
    pub amount_names: Vec<String>,
    pub capture: ContextCapture,
    identity: Identity,
    /// An event carried a new anonymous-to-user link since the last rebuild.
    links_added: bool,
    /// Root id of each person.
    pub person_root: Vec<u32>,
    /// CSR offsets, `persons + 1` entries.
    pub offsets: Vec<usize>,
    pub cols: Columns,
    pub last_seq: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    /// `aux` / `attr` are filled for every event (else they wait for
    /// [`View::ensure_props`]).
    pub props_ready: bool,
}

impl View {
    /// An empty view that will cache amounts of `amount_names`.
    pub(crate) fn new(amount_names: Vec<String>, capture: ContextCapture) -> Result<View> {
        if amount_names.iter().any(|n| n == PAGE_VIEW) {
            return Err(Error::invalid(
                "revenue_events",
                "page_view cannot be a revenue event",
            ));
        }
        Ok(View {
            amount_names,
            capture,
            offsets: vec![0],
            ..View::default()
        })
    }

    /// Number of persons with at least one event.
    pub(crate) fn persons(&self) -> usize {
        self.person_root.len()
    }

    /// Positions of person `p`'s events.
    pub(crate) fn run(&self, p: usize) -> Range<usize> {
        self.offsets[p]..self.offsets[p + 1]
    }

    /// Number of events.
    pub(crate) fn len(&self) -> usize {
        self.cols.len()
    }

    /// The display id of person `p` (the id all its ids link to).
    pub(crate) fn person_id(&self, p: usize) -> &str {
        self.ids.resolve(self.person_root[p])
    }

    /// The person an id (user id or linked anonymous id) belongs to, when it has events.
    pub(crate) fn person_of(&self, id: &str) -> Option<usize> {
        let raw = self.ids.get(id)?;
        let roots = self.identity.roots(self.ids.len());
        let root = *roots.get(raw as usize)?;
        self.person_root.binary_search(&root).ok()
    }

    /// Pull events after `last_seq` and the identity links from `store`, and merge them.
    /// Also returns how many events the store said it held, so a caller can detect
    /// deletions (the view then holds more events than the store).
    pub(crate) fn ingest(
        &mut self,
        store: &dyn Store,
        project: &str,
    ) -> Result<(RefreshReport, u64)> {
        let stats = store.stats(project)?;
        let upto = stats.max_seq;
        let mut fresh = Columns::default();
        if upto > self.last_seq {
            let req = ScanRequest::new().after_seq(self.last_seq);
            let mut err = None;
            store.scan_rows(project, &req, &mut |r| {
                if r.seq > upto {
                    return ControlFlow::Break(());
                }
                match self.add_row(&mut fresh, r) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(e) => {
                        err = Some(e);
                        ControlFlow::Break(())
                    }
                }
            })?;
            if let Some(e) = err {
                return Err(e);
            }
            if self.props_ready {
                self.fetch_props(store, project, &mut fresh, upto)?;
            }
        }
        let mut links = Vec::new();
        for l in store.identities(project)? {
            links.push((
                self.ids.intern(&l.anonymous_id)?,
                self.ids.intern(&l.user_id)?,
            ));
        }
        let identities_changed = self.identity.set_store_links(links) | self.links_added;
        self.links_added = false;
        let new_events = fresh.len() as u64;
        if new_events > 0 || identities_changed {
            self.rebuild(fresh)?;
        }
        self.last_seq = self.last_seq.max(upto);
        let report = RefreshReport {
            new_events,
            identities_changed,
            reloaded: false,
            events: self.len() as u64,
            persons: self.persons() as u64,
        };
        Ok((report, stats.events))
    }

    fn add_row(&mut self, fresh: &mut Columns, r: &crate::store::EventRow<'_>) -> Result<()> {
        let name = self.names.intern(r.event)?;
        let user = r.user_id.map(|u| self.ids.intern(u)).transpose()?;
        let anon = r.anonymous_id.map(|a| self.ids.intern(a)).transpose()?;
        let id = match (user, anon) {
            (Some(u), Some(a)) => {
                self.links_added |= self.identity.add_event_link(a, u);
                u
            }
            (Some(u), None) => u,
            (None, Some(a)) => a,
            (None, None) => self.ids.intern("")?,
        };
        let session = match r.session_id {
            Some(s) => self.sessions.intern(s)?,
            None => NONE,
        };
        fresh.push(r.timestamp.millis(), r.seq, name, id, session);
        Ok(())
    }

    /// Fill `aux` / `attr` of every event from the stored context and properties, once
    /// (later ingests keep them filled).
    pub(crate) fn ensure_props(&mut self, store: &dyn Store, project: &str) -> Result<()> {
        if self.props_ready {
            return Ok(());
        }
        let mut names: Vec<String> = Vec::new();
        if self.capture == ContextCapture::PageViewsAndRevenue {
            names.push(PAGE_VIEW.to_string());
            names.extend(self.amount_names.iter().cloned());
        }
        let ids: Vec<u32> = names.iter().filter_map(|n| self.names.get(n)).collect();
        let all = self.capture == ContextCapture::AllEvents;
        // Positions by seq of the events to fill.
        let mut by_seq: Vec<(u64, u32)> = (0..self.len())
            .filter(|&i| all || ids.contains(&self.cols.name[i]))
            .map(|i| (self.cols.seq[i], i as u32))
            .collect();
        by_seq.sort_unstable();
        if !by_seq.is_empty() {
            let mut req = ScanRequest::new();
            if !all {
                req = req.events(names);
            }
            let upto = self.last_seq;
            let mut cols = std::mem::take(&mut self.cols);
            let mut err = None;
            let scanned = store.scan(project, &req, &mut |e| {
                if e.seq > upto {
                    return ControlFlow::Break(());
                }
                if let Ok(k) = by_seq.binary_search_by_key(&e.seq, |x| x.0) {
                    if let Err(x) = self.set_props(&mut cols, by_seq[k].1 as usize, &e.event) {
                        err = Some(x);
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            });
            self.cols = cols;
            scanned?;
            if let Some(e) = err {
                return Err(e);
            }
        }
        self.props_ready = true;
        Ok(())
    }

    /// Fill `aux` / `attr` of `fresh` (in seq order) from the stored properties.
    fn fetch_props(
        &mut self,
        store: &dyn Store,
        project: &str,
        fresh: &mut Columns,
        upto: u64,
    ) -> Result<()> {
        let mut req = ScanRequest::new().after_seq(self.last_seq);
        if self.capture == ContextCapture::PageViewsAndRevenue {
            let mut names = vec![PAGE_VIEW.to_string()];
            names.extend(self.amount_names.iter().cloned());
            req = req.events(names);
        }
        let mut err = None;
        store.scan(project, &req, &mut |e| {
            if e.seq > upto {
                return ControlFlow::Break(());
            }
            if let Ok(pos) = fresh.seq.binary_search(&e.seq) {
                if let Err(x) = self.set_props(fresh, pos, &e.event) {
                    err = Some(x);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })?;
        err.map_or(Ok(()), Err)
    }

    fn set_props(&mut self, cols: &mut Columns, pos: usize, e: &Event) -> Result<()> {
        let c = &e.context;
        let a = Attribution {
            source: c.source(),
            referrer: c
                .referrer
                .as_deref()
                .map(referrer_host)
                .filter(|h| !h.is_empty())
                .map(str::to_string),
            utm_source: c.utm.source.clone(),
            utm_medium: c.utm.medium.clone(),
            utm_campaign: c.utm.campaign.clone(),
        };
        cols.attr[pos] = self.attrs.intern(a);
        if e.event == PAGE_VIEW {
            let path = c
                .path
                .as_deref()
                .or_else(|| e.properties.get("path").and_then(Value::as_str));
            if let Some(p) = path {
                cols.aux[pos] = self.paths.intern(p)?;
            }
        } else if self.amount_names.contains(&e.event) {
            cols.aux[pos] = self.push_amount(e)?;
        }
        Ok(())
    }

    fn push_amount(&mut self, e: &Event) -> Result<u32> {
        let currency = match e.properties.get("currency").and_then(Value::as_str) {
            Some(c) => self.currencies.intern(&c.trim().to_ascii_uppercase())?,
            None => NONE,
        };
        let i = u32::try_from(self.amounts.len())
            .map_err(|_| Error::invalid("view", "too many revenue events"))?;
        self.amounts.push(Amount {
            value: e.amount(),
            currency,
        });
        Ok(i)
    }

    /// Start caching amounts of `names` too (fetching them for events already loaded).
    pub(crate) fn ensure_amounts(
        &mut self,
        store: &dyn Store,
        project: &str,
        names: &[String],
    ) -> Result<()> {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !self.amount_names.contains(n))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if missing.iter().any(|n| n == PAGE_VIEW) {
            return Err(Error::invalid(
                "revenue_events",
                "page_view cannot be a revenue event",
            ));
        }
        self.amount_names.extend(missing.iter().cloned());
        if !self.props_ready {
            // `ensure_props` will read them with the others.
            return Ok(());
        }
        let ids: Vec<u32> = missing.iter().filter_map(|n| self.names.get(n)).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mut by_seq: Vec<(u64, usize)> = (0..self.len())
            .filter(|&i| ids.contains(&self.cols.name[i]))
            .map(|i| (self.cols.seq[i], i))
            .collect();
        by_seq.sort_unstable();
        let upto = self.last_seq;
        let mut err = None;
        store.scan(project, &ScanRequest::new().events(missing), &mut |e| {
            if e.seq > upto {
                return ControlFlow::Break(());
            }
            if let Ok(k) = by_seq.binary_search_by_key(&e.seq, |x| x.0) {
                match self.push_amount(&e.event) {
                    Ok(i) => self.cols.aux[by_seq[k].1] = i,
                    Err(x) => {
                        err = Some(x);
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        })?;
        err.map_or(Ok(()), Err)
    }

    /// Regroup old and `fresh` events by (possibly new) person and sort each run.
    fn rebuild(&mut self, fresh: Columns) -> Result<()> {
        let roots = self.identity.roots(self.ids.len());
        let mut cols = std::mem::take(&mut self.cols);
        cols.append(fresh);
        let n = cols.len();
        if n >= u32::MAX as usize {
            return Err(Error::invalid("view", "more than 4 billion events"));
        }
        let mut person_of_root = vec![NONE; self.ids.len()];
        for &i in &cols.id {
            person_of_root[roots[i as usize] as usize] = 0;
        }
        self.person_root.clear();
        for (r, slot) in person_of_root.iter_mut().enumerate() {
            if *slot != NONE {
                *slot = self.person_root.len() as u32;
                self.person_root.push(r as u32);
            }
        }
        let persons = self.person_root.len();
        let person = |i: usize| person_of_root[roots[cols.id[i] as usize] as usize] as usize;
        let mut offsets = vec![0usize; persons + 1];
        for i in 0..n {
            offsets[person(i) + 1] += 1;
        }
        for p in 0..persons {
            offsets[p + 1] += offsets[p];
        }
        let mut next = offsets.clone();
        let mut perm = vec![0u32; n];
        for i in 0..n {
            let p = person(i);
            perm[next[p]] = i as u32;
            next[p] += 1;
        }
        // Each run is sorted on a contiguous copy of its keys: sorting the positions
        // with keys read through them would miss the cache at every comparison (a
        // person's events are spread over the columns).
        let mut keyed: Vec<(i64, u64, u32)> = Vec::new();
        for p in 0..persons {
            let run = &mut perm[offsets[p]..offsets[p + 1]];
            keyed.clear();
            keyed.extend(
                run.iter()
                    .map(|&i| (cols.ts[i as usize], cols.seq[i as usize], i)),
            );
            // `seq` is unique, so this is the `(timestamp, seq)` order.
            keyed.sort();
            for (slot, k) in run.iter_mut().zip(&keyed) {
                *slot = k.2;
            }
        }
        let mut out = cols.gather(&perm);
        drop(cols);
        out.shrink_to_fit();
        self.min_ts = out.ts.iter().copied().min().unwrap_or(0);
        self.max_ts = out.ts.iter().copied().max().unwrap_or(0);
        self.cols = out;
        self.offsets = offsets;
        Ok(())
    }

    /// Bytes held by the per-event columns.
    pub(crate) fn column_bytes(&self) -> usize {
        self.cols.heap_bytes()
    }

    /// Bytes held by everything else (offsets, string tables, side tables).
    pub(crate) fn other_bytes(&self) -> usize {
        self.offsets.capacity() * 8
            + self.person_root.capacity() * 4
            + self.names.heap_bytes()
            + self.ids.heap_bytes()
            + self.sessions.heap_bytes()
            + self.paths.heap_bytes()
            + self.currencies.heap_bytes()
            + self.attrs.heap_bytes()
            + self.amounts.capacity() * std::mem::size_of::<Amount>()
            + self.identity.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::columns::BYTES_PER_EVENT;
    use crate::event::{Event, Identify, Message};
    use crate::store::{MemoryStore, StoreExt, DEFAULT_PROJECT};
    use crate::time::Timestamp;

    fn ev(name: &str, user: Option<&str>, anon: Option<&str>, ms: i64) -> Event {
        let mut b = Event::track(name).timestamp(Timestamp::from_millis(ms));
        if let Some(u) = user {
            b = b.user_id(u);
        }
        if let Some(a) = anon {
            b = b.anonymous_id(a);
        }
        b.build_at(Timestamp::from_millis(i64::MAX / 2), &Default::default())
            .unwrap()
    }

    #[test]
    fn csr_runs_are_grouped_sorted_and_regrouped_on_merge() {
        let t0 = 1_767_312_000_000;
        let store = MemoryStore::new();
        store
            .append(
                DEFAULT_PROJECT,
                &[
                    ev("b", Some("u1"), None, t0 + 5),
                    ev("a", None, Some("x"), t0 + 1),
                    ev("c", Some("u1"), None, t0 + 5),
                    ev("d", Some("u2"), None, t0),
                ],
            )
            .unwrap();
        let mut v = View::new(vec![], ContextCapture::default()).unwrap();
        v.ingest(&store, DEFAULT_PROJECT).unwrap();
        assert_eq!(v.persons(), 3);
        let u1 = (0..3).find(|&p| v.person_id(p) == "u1").unwrap();
        let r = v.run(u1);
        // Equal timestamps keep seq order.
        assert_eq!(v.cols.seq[r.clone()], [1, 3]);
        assert_eq!(v.column_bytes(), v.len() * BYTES_PER_EVENT);
        // Link x to u1: its earlier event joins the front of u1's run.
        let link = Identify::user("u1").anonymous_id("x").build().unwrap();
        store
            .apply(DEFAULT_PROJECT, &[Message::Identify(link)])
            .unwrap();
        let (rep, n) = v.ingest(&store, DEFAULT_PROJECT).unwrap();
        assert!(rep.identities_changed);
        assert_eq!((rep.new_events, n, v.persons()), (0, 4, 2));
        let u1 = (0..2).find(|&p| v.person_id(p) == "u1").unwrap();
        let names: Vec<&str> = v.run(u1).map(|i| v.names.resolve(v.cols.name[i])).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }
}

//! [`EventTable`]: the columnar, per-customer sorted event table every churn feature and
//! label is computed from. Built from plain [`Transaction`] rows (a seed-format CSV is
//! enough) or from any [`Store`].

use std::collections::HashMap;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::features::FeatureConfig;
use super::table_build::{self, check_row, PAR_ROWS};
use crate::error::Result;
use crate::store::{ScanRequest, Store};
use crate::time::Timestamp;

/// One row of a plain transactions table (`customer_id,event_date,amount,event_type`).
///
/// ```
/// use churn_core::churn::Transaction;
/// use churn_core::Timestamp;
/// let t = Transaction::purchase("c1", Timestamp::from_ymd(2026, 1, 5).unwrap(), 19.9);
/// assert_eq!(t.event_type, "purchase");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// The customer.
    pub customer_id: String,
    /// When it happened.
    pub date: Timestamp,
    /// Amount (0 for events that carry none).
    pub amount: f64,
    /// Event name (`purchase`, `login`, `ticket_opened`, ...).
    pub event_type: String,
}

impl Transaction {
    /// A `purchase` row.
    pub fn purchase(customer_id: impl Into<String>, date: Timestamp, amount: f64) -> Self {
        Transaction {
            customer_id: customer_id.into(),
            date,
            amount,
            event_type: "purchase".into(),
        }
    }

    /// A row of any event type.
    pub fn event(
        customer_id: impl Into<String>,
        date: Timestamp,
        event_type: impl Into<String>,
    ) -> Self {
        Transaction {
            customer_id: customer_id.into(),
            date,
            amount: 0.0,
            event_type: event_type.into(),
        }
    }
}

/// What an event means to the churn features; configured by name in [`FeatureConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum Kind {
    Other = 0,
    Purchase,
    TicketOpened,
    TicketResolved,
    EmailOpened,
    EmailSent,
    NotificationClicked,
    NotificationSent,
    SubscriptionActive,
    SubscriptionCancelled,
    PaymentFailed,
    CancellationAttempt,
    OnboardingCompleted,
}

/// Bit set in an event code when the event does not count as activity.
pub(crate) const PASSIVE: u8 = 0x80;

impl Kind {
    pub(crate) fn of(code: u8) -> Kind {
        const ALL: [Kind; 13] = [
            Kind::Other,
            Kind::Purchase,
            Kind::TicketOpened,
            Kind::TicketResolved,
            Kind::EmailOpened,
            Kind::EmailSent,
            Kind::NotificationClicked,
            Kind::NotificationSent,
            Kind::SubscriptionActive,
            Kind::SubscriptionCancelled,
            Kind::PaymentFailed,
            Kind::CancellationAttempt,
            Kind::OnboardingCompleted,
        ];
        ALL.get((code & !PASSIVE) as usize)
            .copied()
            .unwrap_or(Kind::Other)
    }
}

/// Event name -> event code (kind plus the passive bit), from a [`FeatureConfig`].
#[derive(Debug, Clone)]
pub(crate) struct KindMap(HashMap<String, u8>);

impl KindMap {
    pub(crate) fn new(cfg: &FeatureConfig) -> Self {
        let mut m: HashMap<String, u8> = HashMap::new();
        let groups: [(&[String], Kind); 12] = [
            (&cfg.purchase_events, Kind::Purchase),
            (&cfg.ticket_opened_events, Kind::TicketOpened),
            (&cfg.ticket_resolved_events, Kind::TicketResolved),
            (&cfg.email_opened_events, Kind::EmailOpened),
            (&cfg.email_sent_events, Kind::EmailSent),
            (&cfg.notification_clicked_events, Kind::NotificationClicked),
            (&cfg.notification_sent_events, Kind::NotificationSent),
            (&cfg.subscription_active_events, Kind::SubscriptionActive),
            (
                &cfg.subscription_cancelled_events,
                Kind::SubscriptionCancelled,
            ),
            (&cfg.payment_failed_events, Kind::PaymentFailed),
            (&cfg.cancellation_attempt_events, Kind::CancellationAttempt),
            (&cfg.onboarding_events, Kind::OnboardingCompleted),
        ];
        for (names, kind) in groups {
            for n in names {
                m.entry(n.clone()).or_insert(kind as u8);
            }
        }
        for n in &cfg.passive_events {
            *m.entry(n.clone()).or_insert(Kind::Other as u8) |= PASSIVE;
        }
        KindMap(m)
    }

    pub(crate) fn code(&self, name: &str) -> u8 {
        self.0.get(name).copied().unwrap_or(Kind::Other as u8)
    }
}

/// Events in columns, grouped by customer and sorted by time within each customer.
///
/// ```
/// use churn_core::churn::{EventTable, FeatureConfig, Transaction};
/// use churn_core::Timestamp;
/// let d = |day| Timestamp::from_ymd(2026, 1, day).unwrap();
/// let rows = vec![
///     Transaction::purchase("b", d(3), 5.0),
///     Transaction::purchase("a", d(2), 7.0),
///     Transaction::event("b", d(1), "login"),
/// ];
/// let table = EventTable::from_transactions(&rows, &FeatureConfig::default())?;
/// assert_eq!(table.customer_count(), 2);
/// assert_eq!(table.len(), 3);
/// # Ok::<(), churn_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct EventTable {
    pub(crate) customers: Vec<String>,
    /// Row range of customer `c`: `offsets[c]..offsets[c + 1]`.
    pub(crate) offsets: Vec<usize>,
    pub(crate) ts: Vec<i64>,
    pub(crate) code: Vec<u8>,
    pub(crate) amount: Vec<f64>,
    /// Plan code per event (0 = none, else index + 1 into `plans`).
    pub(crate) plan: Vec<u16>,
    pub(crate) plans: Vec<String>,
    /// Plan code per customer from user traits (0 = none).
    pub(crate) trait_plan: Vec<u16>,
}

/// Accumulates rows in arrival order; [`TableBuilder::finish`] groups and sorts them.
#[derive(Debug)]
pub(crate) struct TableBuilder {
    kinds: KindMap,
    t: EventTable,
    cust: Vec<u32>,
    /// Customer id -> number. Std's keyed SipHash on purpose: this builder reads the
    /// store, whose ids come from clients of the server, so crafted collisions must not
    /// slow it down (`from_transactions` reads the caller's own rows: FxHash there).
    index: HashMap<String, u32>,
    plan_index: HashMap<String, u16>,
    /// Last customer seen: rows usually come grouped by customer, so most rows skip
    /// the hash lookup.
    last_customer: Option<u32>,
    /// Event names seen so far with their codes (first [`EVENT_CACHE`] names): a short
    /// linear scan with no allocation beats hashing for the handful of names real data
    /// has.
    events: Vec<(Box<str>, u8)>,
}

/// How many distinct event names [`TableBuilder`] keeps in its allocation-free cache.
const EVENT_CACHE: usize = 32;

impl TableBuilder {
    pub(crate) fn new(cfg: &FeatureConfig) -> Self {
        TableBuilder {
            kinds: KindMap::new(cfg),
            t: EventTable::default(),
            cust: Vec::new(),
            index: HashMap::new(),
            plan_index: HashMap::new(),
            last_customer: None,
            events: Vec::new(),
        }
    }

    pub(crate) fn with_capacity(cfg: &FeatureConfig, rows: usize) -> Self {
        let mut b = Self::new(cfg);
        b.cust.reserve(rows);
        b.t.ts.reserve(rows);
        b.t.code.reserve(rows);
        b.t.amount.reserve(rows);
        b.t.plan.reserve(rows);
        b
    }

    fn customer(&mut self, id: &str) -> u32 {
        if let Some(c) = self.last_customer {
            if self.t.customers[c as usize] == id {
                return c;
            }
        }
        if let Some(&c) = self.index.get(id) {
            self.last_customer = Some(c);
            return c;
        }
        let c = self.t.customers.len() as u32;
        self.t.customers.push(id.to_string());
        self.index.insert(id.to_string(), c);
        self.t.trait_plan.push(0);
        self.last_customer = Some(c);
        c
    }

    fn event_code(&mut self, name: &str) -> u8 {
        if let Some(&(_, code)) = self.events.iter().find(|(n, _)| &**n == name) {
            return code;
        }
        let code = self.kinds.code(name);
        if self.events.len() < EVENT_CACHE {
            self.events.push((name.into(), code));
        }
        code
    }

    fn plan_code(&mut self, plan: &str) -> u16 {
        if let Some(&p) = self.plan_index.get(plan) {
            return p;
        }
        self.t.plans.push(plan.to_string());
        let p = self.t.plans.len().min(u16::MAX as usize) as u16;
        self.plan_index.insert(plan.to_string(), p);
        p
    }

    pub(crate) fn push(
        &mut self,
        customer: &str,
        ts: Timestamp,
        event: &str,
        amount: f64,
        plan: Option<&str>,
    ) -> Result<()> {
        check_row(customer, ts, amount)?;
        let c = self.customer(customer);
        let p = match plan {
            Some(p) if !p.is_empty() => self.plan_code(p),
            _ => 0,
        };
        self.cust.push(c);
        self.t.ts.push(ts.millis());
        let code = self.event_code(event);
        self.t.code.push(code);
        self.t.amount.push(amount);
        self.t.plan.push(p);
        Ok(())
    }

    pub(crate) fn set_trait_plan(&mut self, customer: &str, plan: &str) {
        if plan.is_empty() {
            return;
        }
        let c = self.customer(customer) as usize;
        let p = self.plan_code(plan);
        self.t.trait_plan[c] = p;
    }

    /// Group rows by customer (stable counting sort), then sort each customer by time.
    pub(crate) fn finish(self) -> EventTable {
        let TableBuilder { t, cust, .. } = self;
        table_build::group(t, &cust, PAR_ROWS)
    }
}

impl EventTable {
    /// Build from already-parsed transaction rows. Event types are mapped to meanings
    /// (purchase, ticket, email, ...) by `cfg`; unknown types count as activity.
    /// Errors on an empty customer id or a non-finite amount.
    /// From 100,000 rows on, the rows are read on two threads (same result).
    pub fn from_transactions(rows: &[Transaction], cfg: &FeatureConfig) -> Result<Self> {
        table_build::build(rows, cfg, PAR_ROWS)
    }

    /// Build from every event of a store's project. A customer is the person: events
    /// under an anonymous id linked to a user count for that user. The amount is the
    /// `cfg.amount_property` property; the plan is the `cfg.plan_property` property of
    /// events that carry it (as of each event, so it never leaks the future), and, when
    /// `cfg.plan_trait` is set, the user's current trait (a snapshot: see its docs).
    pub fn from_store(store: &dyn Store, project: &str, cfg: &FeatureConfig) -> Result<Self> {
        let links: HashMap<String, String> = store
            .identities(project)?
            .into_iter()
            .map(|l| (l.anonymous_id, l.user_id))
            .collect();
        let mut b = TableBuilder::new(cfg);
        let mut err = None;
        store.scan(project, &ScanRequest::new(), &mut |se| {
            let e = &se.event;
            let who = match (&e.user_id, &e.anonymous_id) {
                (Some(u), _) => u.as_str(),
                (None, Some(a)) => links.get(a).map(String::as_str).unwrap_or(a),
                (None, None) => return ControlFlow::Continue(()),
            };
            let amount = e
                .properties
                .get(&cfg.amount_property)
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            let plan = e.properties.get(&cfg.plan_property).and_then(Value::as_str);
            match b.push(who, e.timestamp, &e.event, amount, plan) {
                Ok(()) => ControlFlow::Continue(()),
                Err(x) => {
                    err = Some(x);
                    ControlFlow::Break(())
                }
            }
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        if let Some(key) = &cfg.plan_trait {
            for u in store.users(project)? {
                if let Some(p) = u.traits.get(key).and_then(Value::as_str) {
                    b.set_trait_plan(&u.user_id, p);
                }
            }
        }
        Ok(b.finish())
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Number of customers.
    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    /// Customer ids, in table order.
    pub fn customers(&self) -> &[String] {
        &self.customers
    }

    /// Plan names seen in events or traits, in first-seen order.
    pub fn plans(&self) -> &[String] {
        &self.plans
    }

    /// Row range of customer `c`.
    pub(crate) fn rows(&self, c: usize) -> std::ops::Range<usize> {
        self.offsets[c]..self.offsets[c + 1]
    }

    /// First row of customer `c`'s range at or after time `t` (rows are time-sorted).
    pub(crate) fn cut(&self, c: usize, t: i64) -> usize {
        let r = self.rows(c);
        r.start + self.ts[r.clone()].partition_point(|&x| x < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::store::{MemoryStore, StoreExt, DEFAULT_PROJECT};

    fn d(day: u32) -> Timestamp {
        Timestamp::from_ymd(2026, 1, day).unwrap()
    }

    #[test]
    fn groups_by_customer_and_sorts_by_time() {
        let rows = vec![
            Transaction::purchase("b", d(9), 1.0),
            Transaction::purchase("a", d(5), 2.0),
            Transaction::purchase("b", d(2), 3.0),
            Transaction::event("a", d(1), "email_sent"),
        ];
        let t = EventTable::from_transactions(&rows, &FeatureConfig::default()).unwrap();
        assert_eq!(t.customers, vec!["b", "a"]);
        assert_eq!(t.offsets, vec![0, 2, 4]);
        assert_eq!(t.amount, vec![3.0, 1.0, 0.0, 2.0]);
        assert_eq!(t.code[2], Kind::EmailSent as u8 | PASSIVE);
        assert_eq!(Kind::of(t.code[3]), Kind::Purchase);
        assert_eq!(t.cut(0, d(5).millis()), 1);
    }

    #[test]
    fn grouped_rows_sort_the_same_as_interleaved_rows() {
        // Grouped input takes the in-place path, interleaved input the permutation;
        // ties in time keep arrival order in both.
        let grouped = vec![
            Transaction::purchase("b", d(9), 1.0),
            Transaction::purchase("b", d(2), 3.0),
            Transaction::event("b", d(2), "email_sent"),
            Transaction::purchase("a", d(5), 2.0),
            Transaction::event("a", d(1), "login"),
        ];
        let mut interleaved = grouped.clone();
        interleaved.swap(2, 3);
        let cfg = FeatureConfig::default();
        let g = EventTable::from_transactions(&grouped, &cfg).unwrap();
        let i = EventTable::from_transactions(&interleaved, &cfg).unwrap();
        assert_eq!(g.offsets, vec![0, 3, 5]);
        assert_eq!(g.amount, vec![3.0, 0.0, 1.0, 0.0, 2.0]);
        assert_eq!(Kind::of(g.code[1]), Kind::EmailSent);
        for t in [&g, &i] {
            assert_eq!(t.customers, g.customers);
            assert_eq!(t.offsets, g.offsets);
            assert_eq!(t.ts, g.ts);
            assert_eq!(t.code, g.code);
            assert_eq!(t.amount, g.amount);
        }
    }

    #[test]
    fn refuses_bad_rows() {
        let mut r = Transaction::purchase("a", d(1), f64::NAN);
        assert!(EventTable::from_transactions(&[r.clone()], &FeatureConfig::default()).is_err());
        r.amount = 1.0;
        r.customer_id.clear();
        assert!(EventTable::from_transactions(&[r], &FeatureConfig::default()).is_err());
    }

    #[test]
    fn store_merges_anonymous_ids_and_reads_plans() {
        let s = MemoryStore::new();
        let ev = |name: &str, who: &str, anon: bool| {
            let b = Event::track(name).timestamp(d(3));
            if anon {
                b.anonymous_id(who)
            } else {
                b.user_id(who)
            }
        };
        s.append(
            DEFAULT_PROJECT,
            &[
                ev("purchase", "u1", false)
                    .number("amount", 5.0)
                    .build()
                    .unwrap(),
                ev("login", "anon", true).build().unwrap(),
                ev("subscription_started", "u1", false)
                    .property("plan", "pro")
                    .build()
                    .unwrap(),
            ],
        )
        .unwrap();
        let msg = crate::event::Message::Alias(crate::event::Alias::new("u1", "anon").unwrap());
        s.apply(DEFAULT_PROJECT, &[msg]).unwrap();
        let t = EventTable::from_store(&s, DEFAULT_PROJECT, &FeatureConfig::default()).unwrap();
        assert_eq!(t.customers, vec!["u1"]);
        assert_eq!(t.len(), 3);
        assert_eq!(t.plans, vec!["pro"]);
        assert_eq!(t.amount.iter().sum::<f64>(), 5.0);
    }
}

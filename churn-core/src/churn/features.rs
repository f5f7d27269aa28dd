//! Churn features as of a time T: only events with timestamp < T are read.
//!
//! Every feature is defined for every customer (no NaN): where a quantity is undefined
//! the documented fill value below is used, so models never see a hole. The columns, in
//! order (the [`FeatureSchema`] that travels with every matrix):
//!
//! | name | meaning (as of T) | fill |
//! |---|---|---|
//! | `recency_days` | days since the last active event | `tenure_days` when none is active |
//! | `recency_purchase_days` | days since the last purchase | `tenure_days` |
//! | `frequency` | number of purchases | |
//! | `monetary` | sum of purchase amounts | |
//! | `tenure_days` | days since the first event | |
//! | `purchase_age_days` | days since the first purchase (BG/NBD's T) | 0 |
//! | `active_days_{7,30,90}` | distinct UTC days with an active event in the last 7/30/90 days (a stand-in for sessions) | |
//! | `events_{7,30,90}` | active events in the last 7/30/90 days | |
//! | `trend_30` | ln((events in [T-30d,T) + 1) / (events in [T-60d,T-30d) + 1)) | |
//! | `avg_transaction_value` | monetary / frequency | 0 |
//! | `mean_interpurchase_days` | (last - first purchase) / (frequency - 1) | `tenure_days` (a lower bound) |
//! | `last_interpurchase_days` | gap between the last two purchases | `tenure_days` |
//! | `open_tickets` | tickets opened and not resolved (FIFO pairing) | |
//! | `mean_resolution_days` | mean opened-to-resolved time | 0 |
//! | `email_open_rate` | emails opened / sent, capped at 1 | 0 |
//! | `notification_click_rate` | notifications clicked / sent, capped at 1 | 0 |
//! | `cancellation_attempts` | count | |
//! | `onboarding_completed` | 1 when an onboarding event happened | |
//! | `billing_active`, `billing_past_due`, `billing_cancelled` | one-hot of the last subscription / payment-failure event | all 0 |
//! | `plan=<name>` | one-hot of the plan, one column per plan of the vocabulary | all 0 |
//!
//! "Active" events are all but the passive ones ([`FeatureConfig::passive_events`]).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

pub use crate::event_names::FeatureConfig;

use super::table::{EventTable, Kind, PASSIVE};
use crate::error::{Error, Result};
use crate::time::{Timestamp, DAY_MS};

impl FeatureConfig {
    /// This config with `plans` filled from `table` when empty (sorted).
    pub fn resolved_for(&self, table: &EventTable) -> FeatureConfig {
        let mut c = self.clone();
        if c.plans.is_empty() {
            c.plans = table.plans().to_vec();
            c.plans.sort();
        }
        c
    }
}

/// What a feature column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// A real number.
    Numeric,
    /// A count (non-negative integer).
    Count,
    /// 0 or 1.
    Binary,
}

/// One column of a feature matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Column name.
    pub name: String,
    /// What it holds.
    pub kind: FeatureKind,
}

/// Ordered column names and kinds; travels with every matrix and every trained model.
///
/// ```
/// use churn_core::churn::{FeatureConfig, FeatureSchema};
/// let s = FeatureSchema::for_config(&FeatureConfig::default().plans(["pro"]));
/// assert_eq!(s.names()[0], "recency_days");
/// assert_eq!(s.names().last(), Some(&"plan=pro"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FeatureSchema {
    /// The columns, in matrix order.
    pub columns: Vec<FeatureSpec>,
}

const N_BASE: usize = 25;
const BASE: [(&str, FeatureKind); N_BASE] = {
    use FeatureKind::*;
    [
        ("recency_days", Numeric),
        ("recency_purchase_days", Numeric),
        ("frequency", Count),
        ("monetary", Numeric),
        ("tenure_days", Numeric),
        ("purchase_age_days", Numeric),
        ("active_days_7", Count),
        ("active_days_30", Count),
        ("active_days_90", Count),
        ("events_7", Count),
        ("events_30", Count),
        ("events_90", Count),
        ("trend_30", Numeric),
        ("avg_transaction_value", Numeric),
        ("mean_interpurchase_days", Numeric),
        ("last_interpurchase_days", Numeric),
        ("open_tickets", Count),
        ("mean_resolution_days", Numeric),
        ("email_open_rate", Numeric),
        ("notification_click_rate", Numeric),
        ("cancellation_attempts", Count),
        ("onboarding_completed", Binary),
        ("billing_active", Binary),
        ("billing_past_due", Binary),
        ("billing_cancelled", Binary),
    ]
};

impl FeatureSchema {
    /// The schema the feature extractor produces for `cfg` (with its plan vocabulary).
    pub fn for_config(cfg: &FeatureConfig) -> Self {
        let mut columns: Vec<FeatureSpec> = BASE
            .iter()
            .map(|(n, k)| FeatureSpec {
                name: n.to_string(),
                kind: *k,
            })
            .collect();
        columns.extend(cfg.plans.iter().map(|p| FeatureSpec {
            name: format!("plan={p}"),
            kind: FeatureKind::Binary,
        }));
        FeatureSchema { columns }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Column names in order.
    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// Index of a column.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// `Ok` when `other` is the same schema, else [`Error::SchemaMismatch`] naming the
    /// first difference.
    pub fn check_same(&self, other: &FeatureSchema) -> Result<()> {
        for (i, (a, b)) in self.columns.iter().zip(&other.columns).enumerate() {
            if a != b {
                return Err(Error::SchemaMismatch {
                    reason: format!(
                        "column {i} is {:?} ({:?}) in the model but {:?} ({:?}) in the data",
                        a.name, a.kind, b.name, b.kind
                    ),
                });
            }
        }
        if self.len() != other.len() {
            return Err(Error::SchemaMismatch {
                reason: format!(
                    "the model has {} columns, the data {}",
                    self.len(),
                    other.len()
                ),
            });
        }
        Ok(())
    }
}

/// From this many customers on, [`features_for`] fills the rows on two threads.
const PAR_CUSTOMERS: usize = 20_000;

/// Features of a set of customers as of one time.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// Customer ids, one per row.
    pub customers: Vec<String>,
    /// Table index of each row's customer.
    pub(crate) rows: Vec<u32>,
    /// Values, `customers.len()` x `schema.len()`.
    pub x: Array2<f64>,
    /// Column names and kinds.
    pub schema: FeatureSchema,
    /// The as-of time: only events before it were read.
    pub as_of: Timestamp,
}

/// Features of every customer with at least one event before `as_of`.
///
/// ```
/// use churn_core::churn::{features_at, EventTable, FeatureConfig, Transaction};
/// use churn_core::Timestamp;
/// let d = |day| Timestamp::from_ymd(2026, 1, day).unwrap();
/// let rows = vec![
///     Transaction::purchase("a", d(1), 10.0),
///     Transaction::purchase("a", d(11), 30.0),
///     Transaction::purchase("a", d(25), 99.0), // on or after T: ignored
/// ];
/// let cfg = FeatureConfig::default();
/// let table = EventTable::from_transactions(&rows, &cfg)?;
/// let f = features_at(&table, d(21), &cfg)?;
/// let col = |n: &str| f.x[[0, f.schema.index_of(n).unwrap()]];
/// assert_eq!(col("frequency"), 2.0);
/// assert_eq!(col("monetary"), 40.0);
/// assert_eq!(col("recency_days"), 10.0);
/// assert_eq!(col("mean_interpurchase_days"), 10.0);
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn features_at(
    table: &EventTable,
    as_of: Timestamp,
    cfg: &FeatureConfig,
) -> Result<FeatureMatrix> {
    let t = as_of.millis();
    let keep: Vec<u32> = (0..table.customer_count())
        .filter(|&c| table.cut(c, t) > table.rows(c).start)
        .map(|c| c as u32)
        .collect();
    features_for(table, &keep, as_of, cfg)
}

/// Features of the given customers (table indices) as of `as_of`. Customers without
/// any event before `as_of` get a row of zeros with `tenure_days` 0.
pub(crate) fn features_for(
    table: &EventTable,
    customers: &[u32],
    as_of: Timestamp,
    cfg: &FeatureConfig,
) -> Result<FeatureMatrix> {
    let schema = FeatureSchema::for_config(cfg);
    // Map table plan codes to one-hot columns of the vocabulary.
    let plan_col: Vec<Option<usize>> = std::iter::once(None)
        .chain(
            table
                .plans
                .iter()
                .map(|p| cfg.plans.iter().position(|q| q == p).map(|i| N_BASE + i)),
        )
        .collect();
    let width = schema.len();
    if let Some(&c) = customers
        .iter()
        .find(|&&c| c as usize >= table.customer_count())
    {
        return Err(Error::invalid(
            "customers",
            format!("no customer {c} in the table"),
        ));
    }
    let mut data = vec![0.0f64; customers.len() * width];
    // Rows are independent: from PAR_CUSTOMERS customers on, the second half is filled
    // by a second thread (fixed split, disjoint rows, so the same matrix).
    let fill = |cs: &[u32], out: &mut [f64]| -> Vec<String> {
        let mut queue: Vec<i64> = Vec::new();
        for (&c, row) in cs.iter().zip(out.chunks_exact_mut(width.max(1))) {
            queue.clear();
            one_customer(
                table,
                c as usize,
                as_of.millis(),
                &plan_col,
                &mut queue,
                row,
            );
        }
        cs.iter()
            .map(|&c| table.customers[c as usize].clone())
            .collect()
    };
    let ids = if customers.len() >= PAR_CUSTOMERS && width > 0 {
        let mid = customers.len() / 2;
        let (lo, hi) = data.split_at_mut(mid * width);
        let (mut a, b) = std::thread::scope(|s| {
            let h = s.spawn(|| fill(&customers[mid..], hi));
            (fill(&customers[..mid], lo), h.join())
        });
        a.extend(b.unwrap_or_else(|p| std::panic::resume_unwind(p)));
        a
    } else {
        fill(customers, &mut data)
    };
    let x = Array2::from_shape_vec((customers.len(), width), data)
        .map_err(|e| Error::model(format!("feature matrix shape: {e}")))?;
    Ok(FeatureMatrix {
        customers: ids,
        rows: customers.to_vec(),
        x,
        schema,
        as_of,
    })
}

fn days(ms: i64) -> f64 {
    ms as f64 / DAY_MS as f64
}

/// Fill `out` (one row, schema order) from customer `c`'s events before `t`.
fn one_customer(
    table: &EventTable,
    c: usize,
    t: i64,
    plan_col: &[Option<usize>],
    queue: &mut Vec<i64>,
    out: &mut [f64],
) {
    let range = table.rows(c);
    let end = table.cut(c, t);
    if end == range.start {
        return;
    }
    let windows = [t - 7 * DAY_MS, t - 30 * DAY_MS, t - 90 * DAY_MS];
    let prev30 = t - 60 * DAY_MS;
    let mut active_days = [0u32; 3];
    let mut events = [0u32; 3];
    let mut last_day = [i64::MIN; 3];
    let (mut last30, mut before30) = (0u32, 0u32);
    let mut last_active = None;
    let (mut freq, mut monetary) = (0u32, 0.0f64);
    let (mut first_p, mut prev_p, mut last_p) = (None, None, None);
    let (mut res_sum, mut res_n, mut q_head) = (0i64, 0u32, 0usize);
    let (mut em_open, mut em_sent, mut n_click, mut n_sent) = (0u32, 0u32, 0u32, 0u32);
    let (mut attempts, mut onboarded) = (0u32, false);
    let mut billing: Option<Kind> = None;
    let mut plan = 0u16;
    for i in range.start..end {
        let ts = table.ts[i];
        let code = table.code[i];
        if code & PASSIVE == 0 {
            last_active = Some(ts);
            let day = ts.div_euclid(DAY_MS);
            for w in 0..3 {
                if ts >= windows[w] {
                    events[w] += 1;
                    if day != last_day[w] {
                        last_day[w] = day;
                        active_days[w] += 1;
                    }
                }
            }
            if ts >= windows[1] {
                last30 += 1;
            } else if ts >= prev30 {
                before30 += 1;
            }
        }
        if table.plan[i] != 0 {
            plan = table.plan[i];
        }
        match Kind::of(code) {
            Kind::Purchase => {
                freq += 1;
                monetary += table.amount[i];
                first_p.get_or_insert(ts);
                prev_p = last_p;
                last_p = Some(ts);
            }
            Kind::TicketOpened => queue.push(ts),
            Kind::TicketResolved => {
                if let Some(&opened) = queue.get(q_head) {
                    q_head += 1;
                    res_sum += ts - opened;
                    res_n += 1;
                }
            }
            Kind::EmailOpened => em_open += 1,
            Kind::EmailSent => em_sent += 1,
            Kind::NotificationClicked => n_click += 1,
            Kind::NotificationSent => n_sent += 1,
            k @ (Kind::SubscriptionActive | Kind::SubscriptionCancelled | Kind::PaymentFailed) => {
                billing = Some(k)
            }
            Kind::CancellationAttempt => attempts += 1,
            Kind::OnboardingCompleted => onboarded = true,
            Kind::Other => {}
        }
    }
    if plan == 0 {
        plan = table.trait_plan[c];
    }
    let tenure = days(t - table.ts[range.start]);
    let rate = |a: u32, b: u32| {
        if b == 0 {
            0.0
        } else {
            (a as f64 / b as f64).min(1.0)
        }
    };
    let v: [f64; N_BASE] = [
        last_active.map_or(tenure, |x| days(t - x)),
        last_p.map_or(tenure, |x| days(t - x)),
        freq as f64,
        monetary,
        tenure,
        first_p.map_or(0.0, |x| days(t - x)),
        active_days[0] as f64,
        active_days[1] as f64,
        active_days[2] as f64,
        events[0] as f64,
        events[1] as f64,
        events[2] as f64,
        ((last30 as f64 + 1.0) / (before30 as f64 + 1.0)).ln(),
        if freq == 0 {
            0.0
        } else {
            monetary / freq as f64
        },
        match (first_p, last_p) {
            (Some(f), Some(l)) if freq >= 2 => days(l - f) / (freq - 1) as f64,
            _ => tenure,
        },
        match (prev_p, last_p) {
            (Some(p), Some(l)) => days(l - p),
            _ => tenure,
        },
        (queue.len() - q_head) as f64,
        if res_n == 0 {
            0.0
        } else {
            days(res_sum) / res_n as f64
        },
        rate(em_open, em_sent),
        rate(n_click, n_sent),
        attempts as f64,
        onboarded as u8 as f64,
        (billing == Some(Kind::SubscriptionActive)) as u8 as f64,
        (billing == Some(Kind::PaymentFailed)) as u8 as f64,
        (billing == Some(Kind::SubscriptionCancelled)) as u8 as f64,
    ];
    out[..N_BASE].copy_from_slice(&v);
    if let Some(Some(col)) = plan_col.get(plan as usize) {
        out[*col] = 1.0;
    }
}

#[cfg(test)]
#[path = "features_tests.rs"]
mod tests;

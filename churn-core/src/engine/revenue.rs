//! Revenue and churn: revenue, paying users, ARPU, ARPPU, activity and subscription
//! churn per period, simple LTV and LTV/CAC, signup-to-payment conversion.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::activity::ActiveDefinition;
use super::period::{Period, Span};
use super::resolve_range;
use super::revenue_pass::{pass, pick_currency, Pass};
use super::segment::{PersonMask, SegmentRef};
use super::view::View;
use super::DEFAULT_REVENUE_EVENTS;
use crate::error::{Error, Result};
use crate::time::{TimeRange, Timestamp};

/// Names of the subscription lifecycle events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubscriptionEvents {
    /// A subscription starts (default `subscription_started`).
    pub started: String,
    /// A subscription is cancelled (default `subscription_cancelled`).
    pub cancelled: String,
}

impl Default for SubscriptionEvents {
    fn default() -> Self {
        SubscriptionEvents {
            started: "subscription_started".into(),
            cancelled: "subscription_cancelled".into(),
        }
    }
}

/// Arguments of [`Engine::revenue`](super::Engine::revenue).
///
/// Periods: every period intersecting `range`, each computed over the whole period.
/// Revenue: the sum of `properties.amount` of `revenue_events` in the report currency
/// (events without `currency` count as the report currency; others are left out and
/// counted in [`Excluded`]; currencies compare case-insensitively). With no `currency`
/// given, the most frequent one among the revenue events of the range is used.
/// Activity (ARPU's denominator, churn) follows `active`. Subscriptions are tracked per
/// person: a `started` event makes the person subscribed, a `cancelled` one ends it
/// (repeats in the same state are ignored); "active at the start of m" uses the events
/// strictly before the start of m.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct RevenueRequest {
    /// Range `[from, to)`.
    pub range: TimeRange,
    /// Period of the rows (default month).
    pub period: Period,
    /// Report currency (ISO code); `None` picks the most frequent.
    pub currency: Option<String>,
    /// Events whose `amount` is revenue.
    pub revenue_events: Vec<String>,
    /// Which events count as activity.
    pub active: ActiveDefinition,
    /// Subscription event names.
    pub subscription: SubscriptionEvents,
    /// The signup event for the conversion figure.
    pub signup_event: String,
    /// Customer acquisition cost, for LTV/CAC.
    pub cac: Option<f64>,
    /// Only persons of this segment.
    pub segment: Option<SegmentRef>,
}

impl Default for RevenueRequest {
    fn default() -> Self {
        RevenueRequest {
            range: TimeRange::all(),
            period: Period::Month,
            currency: None,
            revenue_events: DEFAULT_REVENUE_EVENTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            active: ActiveDefinition::default(),
            subscription: SubscriptionEvents::default(),
            signup_event: "signup".into(),
            cac: None,
            segment: None,
        }
    }
}

impl RevenueRequest {
    /// Defaults: all time, monthly, most frequent currency, `purchase` and
    /// `payment_completed`, `signup`.
    pub fn new() -> Self {
        Self::default()
    }
}

builder_setters!(RevenueRequest {
    /// Set the revenue event names.
    revenue_events: [into String];
    /// Set the range.
    range: TimeRange;
    /// Set the period.
    period: Period;
    /// Set the report currency.
    currency: Some(into String);
    /// Set the activity definition.
    active: ActiveDefinition;
    /// Set the subscription event names.
    subscription: SubscriptionEvents;
    /// Set the signup event name.
    signup_event: into String;
    /// Restrict to a segment.
    segment: Some(into SegmentRef);
    /// Set the customer acquisition cost.
    cac: Some(f64);
});

/// Figures of one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevenuePeriod {
    /// Period start.
    pub start: Timestamp,
    /// Period label.
    pub label: String,
    /// Sum of amounts.
    pub revenue: f64,
    /// Revenue events counted.
    pub payments: u64,
    /// Distinct paying persons.
    pub paying_users: u64,
    /// Distinct active persons.
    pub active_users: u64,
    /// revenue / active users.
    pub arpu: Option<f64>,
    /// revenue / paying users.
    pub arppu: Option<f64>,
    /// Persons active in this period and not in the next (`null` for the last period).
    pub churned_users: Option<u64>,
    /// churned / active (`null` for the last period or when nobody was active).
    pub churn_rate: Option<f64>,
    /// Subscriptions active at the period start (`null` without subscription events).
    pub subscriptions_at_start: Option<u64>,
    /// Cancellations in the period (`null` without subscription events).
    pub cancellations: Option<u64>,
    /// cancellations / subscriptions at start.
    pub subscription_churn_rate: Option<f64>,
}

/// Figures over all periods of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevenueTotals {
    /// Sum of amounts.
    pub revenue: f64,
    /// Revenue events counted.
    pub payments: u64,
    /// Distinct paying persons.
    pub paying_users: u64,
    /// Distinct active persons.
    pub active_users: u64,
    /// revenue / active users.
    pub arpu: Option<f64>,
    /// revenue / paying users.
    pub arppu: Option<f64>,
}

/// Revenue events left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excluded {
    /// Events in another currency.
    pub other_currency: u64,
    /// Those, by currency.
    pub by_currency: BTreeMap<String, u64>,
    /// Events without a numeric `amount`.
    pub missing_amount: u64,
}

/// Simple lifetime value, from monthly figures of the range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifetimeValue {
    /// Mean of the monthly ARPU over months with active users.
    pub monthly_arpu: Option<f64>,
    /// Mean of the monthly activity churn rates defined in the range.
    pub monthly_churn_rate: Option<f64>,
    /// monthly ARPU / monthly churn rate.
    pub ltv: Option<f64>,
    /// The CAC given.
    pub cac: Option<f64>,
    /// LTV / CAC.
    pub ltv_to_cac: Option<f64>,
}

/// Signup to first payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversion {
    /// Persons whose first signup event is in the range.
    pub signups: u64,
    /// Of those, persons with a revenue event (any currency) at or after the signup and
    /// before the end of the range.
    pub converted: u64,
    /// converted / signups.
    pub rate: Option<f64>,
}

/// Result of [`Engine::revenue`](super::Engine::revenue).
///
/// ```json
/// {"currency":"USD","period":"month",
///  "periods":[{"start":"2026-01-01T00:00:00.000Z","label":"2026-01","revenue":30.0,
///    "payments":2,"paying_users":1,"active_users":2,"arpu":15.0,"arppu":30.0,
///    "churned_users":1,"churn_rate":0.5,"subscriptions_at_start":null,
///    "cancellations":null,"subscription_churn_rate":null}, ...],
///  "totals":{"revenue":30.0,"payments":2,"paying_users":1,"active_users":2,
///    "arpu":15.0,"arppu":30.0},
///  "excluded":{"other_currency":1,"by_currency":{"EUR":1},"missing_amount":0},
///  "ltv":{"monthly_arpu":15.0,"monthly_churn_rate":0.5,"ltv":30.0,"cac":10.0,"ltv_to_cac":3.0},
///  "conversion":{"signups":2,"converted":1,"rate":0.5}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevenueReport {
    /// Report currency (`null` when no revenue event names one).
    pub currency: Option<String>,
    /// Period of the rows.
    pub period: Period,
    /// One row per period intersecting the range.
    pub periods: Vec<RevenuePeriod>,
    /// Over all rows.
    pub totals: RevenueTotals,
    /// Events left out.
    pub excluded: Excluded,
    /// Simple LTV.
    pub ltv: LifetimeValue,
    /// Signup to first payment.
    pub conversion: Conversion,
}

fn div(a: f64, b: u64) -> Option<f64> {
    (b > 0).then(|| a / b as f64)
}

fn mean(v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let xs: Vec<f64> = v.flatten().collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

pub(crate) fn revenue(
    view: &View,
    req: &RevenueRequest,
    who: &PersonMask,
) -> Result<RevenueReport> {
    if let Some(c) = req.cac {
        if !c.is_finite() || c <= 0.0 {
            return Err(Error::invalid("cac", "must be a finite number above 0"));
        }
    }
    let resolved = resolve_range(view, &req.range)?;
    let currency = match (&req.currency, resolved) {
        (Some(c), _) => Some(c.trim().to_ascii_uppercase()),
        (None, Some((f, t))) => pick_currency(view, req, who, Span::of(req.period, f, t)?),
        (None, None) => None,
    };
    let mut report = RevenueReport {
        currency: currency.clone(),
        period: req.period,
        periods: Vec::new(),
        totals: RevenueTotals {
            revenue: 0.0,
            payments: 0,
            paying_users: 0,
            active_users: 0,
            arpu: None,
            arppu: None,
        },
        excluded: Excluded::default(),
        ltv: LifetimeValue {
            monthly_arpu: None,
            monthly_churn_rate: None,
            ltv: None,
            cac: req.cac,
            ltv_to_cac: None,
        },
        conversion: Conversion {
            signups: 0,
            converted: 0,
            rate: None,
        },
    };
    let Some((from, to)) = resolved else {
        return Ok(report);
    };
    let main = pass(view, req, who, req.period, from, to, currency.as_deref())?;
    let monthly = if req.period == Period::Month {
        None
    } else {
        Some(pass(
            view,
            req,
            who,
            Period::Month,
            from,
            to,
            currency.as_deref(),
        )?)
    };
    let m = monthly.as_ref().unwrap_or(&main);
    let ltv = &mut report.ltv;
    ltv.monthly_arpu = mean(m.rows.iter().map(|r| r.arpu));
    ltv.monthly_churn_rate = mean(m.rows.iter().map(|r| r.churn_rate));
    ltv.ltv = match (ltv.monthly_arpu, ltv.monthly_churn_rate) {
        (Some(a), Some(c)) if c > 0.0 => Some(a / c),
        _ => None,
    };
    ltv.ltv_to_cac = ltv.ltv.zip(req.cac).map(|(l, c)| l / c);
    let Pass {
        rows,
        revenue,
        payments,
        paying,
        active,
        excluded,
        signups,
        converted,
    } = main;
    report.totals = RevenueTotals {
        revenue,
        payments,
        paying_users: paying,
        active_users: active,
        arpu: div(revenue, active),
        arppu: div(revenue, paying),
    };
    report.periods = rows;
    report.excluded = excluded;
    report.conversion = Conversion {
        signups,
        converted,
        rate: div(converted as f64, signups),
    };
    Ok(report)
}

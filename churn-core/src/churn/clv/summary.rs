//! Per-customer summaries (frequency, recency, age, mean spend) from a transaction log,
//! with the conventions of Python `lifetimes`' `summary_data_from_transaction_data`.

use std::collections::HashMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::churn::features::FeatureConfig;
pub use crate::churn::table::Transaction;
use crate::time::DAY_MS;
use crate::{Error, Result, Timestamp};

/// The unit in which recency and age are expressed (and so the unit of the model's
/// time parameters and of prediction horizons).
///
/// Purchases are always grouped by UTC calendar day; `Weeks` divides day counts by 7
/// (fractional weeks), which is what `lifetimes` does with `freq="D", freq_multiplier=7`
/// and how the published CDNOW figures were computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Days.
    #[default]
    Days,
    /// Weeks of 7 days (fractional).
    Weeks,
}

impl TimeUnit {
    /// Days in one unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Days => 1.0,
            TimeUnit::Weeks => 7.0,
        }
    }
}

impl FromStr for TimeUnit {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "d" | "day" | "days" => Ok(TimeUnit::Days),
            "w" | "week" | "weeks" => Ok(TimeUnit::Weeks),
            other => Err(Error::invalid(
                "time_unit",
                format!("unknown time unit {other:?} (use days or weeks)"),
            )),
        }
    }
}

/// The sufficient statistics of one customer for BG/NBD and Gamma-Gamma.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// Customer id.
    pub customer_id: String,
    /// Repeat purchases: purchase days after the first one (`x`).
    pub frequency: u32,
    /// Time from the first to the last purchase day (`t_x`), in the configured unit.
    pub recency: f64,
    /// Time from the first purchase day to the calibration end (`T`).
    pub age: f64,
    /// Mean spend per repeat purchase day (first purchase excluded); 0 if `frequency` is 0.
    pub monetary_value: f64,
}

impl CustomerSummary {
    /// A summary from raw figures (checked when a model uses it).
    pub fn new(frequency: u32, recency: f64, age: f64, monetary_value: f64) -> Self {
        Self {
            customer_id: String::new(),
            frequency,
            recency,
            age,
            monetary_value,
        }
    }

    /// Checks the figures: finite, `0 <= recency <= age`, `recency == 0` for one-time
    /// buyers.
    pub fn validate(&self, index: usize) -> Result<()> {
        let bad = |reason: String| Err(Error::invalid(format!("summaries[{index}]"), reason));
        if !self.recency.is_finite() || !self.age.is_finite() || !self.monetary_value.is_finite() {
            return bad("recency, age and monetary_value must be finite".into());
        }
        if self.recency < 0.0 || self.age < 0.0 {
            return bad(format!(
                "recency ({}) and age ({}) must not be negative",
                self.recency, self.age
            ));
        }
        if self.recency > self.age * (1.0 + 1e-12) {
            return bad(format!(
                "recency ({}) is larger than age ({})",
                self.recency, self.age
            ));
        }
        if self.frequency == 0 && self.recency != 0.0 {
            return bad(format!(
                "a customer without repeat purchases must have recency 0 (got {})",
                self.recency
            ));
        }
        Ok(())
    }
}

/// How to summarise a transaction log.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SummaryConfig {
    /// End of the calibration period, exclusive: transactions at or after it are ignored.
    /// Age is measured to the UTC day holding the last instant before it, so an end at
    /// midnight of 1997-10-01 gives the `lifetimes` figures for
    /// `observation_period_end="1997-09-30"`.
    pub calibration_end: Timestamp,
    /// Unit of recency and age.
    pub unit: TimeUnit,
}

impl SummaryConfig {
    /// A config with the given end and unit days.
    pub fn new(calibration_end: Timestamp) -> Self {
        Self {
            calibration_end,
            unit: TimeUnit::Days,
        }
    }

    /// Sets the unit.
    pub fn unit(mut self, unit: TimeUnit) -> Self {
        self.unit = unit;
        self
    }
}

/// Summarises a transaction log, one [`CustomerSummary`] per customer with a purchase
/// before the calibration end, sorted by customer id.
///
/// The log is the same [`Transaction`] rows the churn features read: only purchase rows
/// (event types in [`FeatureConfig::default`]'s `purchase_events`: `purchase`,
/// `payment_completed`) count; other events are skipped. Use [`summarize_with`] for
/// other purchase event names.
///
/// Purchases on the same UTC day collapse into one (amounts summed); the first purchase
/// day is not counted in `frequency` nor in `monetary_value`.
///
/// ```
/// use churn_core::churn::clv::{summarize, SummaryConfig, Transaction};
/// use churn_core::Timestamp;
/// let day = |d| Timestamp::from_ymd(2024, 1, d).unwrap();
/// let log = vec![
///     Transaction::purchase("a", day(1), 10.0),
///     Transaction::purchase("a", day(1), 5.0), // same day: merged
///     Transaction::purchase("a", day(4), 20.0),
///     Transaction::purchase("a", day(11), 40.0),
///     Transaction::purchase("b", day(9), 7.0),
/// ];
/// let s = summarize(&log, &SummaryConfig::new(day(21)))?;
/// assert_eq!((s[0].frequency, s[0].recency, s[0].age, s[0].monetary_value), (2, 10.0, 19.0, 30.0));
/// assert_eq!((s[1].frequency, s[1].recency, s[1].age, s[1].monetary_value), (0, 0.0, 11.0, 0.0));
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn summarize(
    transactions: &[Transaction],
    config: &SummaryConfig,
) -> Result<Vec<CustomerSummary>> {
    summarize_with(
        transactions,
        config,
        &FeatureConfig::default().purchase_events,
    )
}

/// [`summarize`] counting the rows whose `event_type` is one of `purchase_events`.
pub fn summarize_with(
    transactions: &[Transaction],
    config: &SummaryConfig,
    purchase_events: &[String],
) -> Result<Vec<CustomerSummary>> {
    let end = config.calibration_end.millis();
    let end_day = (end - 1).div_euclid(DAY_MS);
    let mut by_customer: HashMap<&str, Vec<(i64, f64)>> = HashMap::new();
    for (i, t) in transactions.iter().enumerate() {
        if !t.amount.is_finite() {
            return Err(Error::invalid(
                format!("transactions[{i}].amount"),
                format!("must be a finite number, got {}", t.amount),
            ));
        }
        if t.date.millis() >= end || !purchase_events.contains(&t.event_type) {
            continue;
        }
        by_customer
            .entry(t.customer_id.as_str())
            .or_default()
            .push((t.date.millis().div_euclid(DAY_MS), t.amount));
    }
    let unit = config.unit.days();
    let mut out: Vec<CustomerSummary> = by_customer
        .into_iter()
        .map(|(id, mut rows)| {
            rows.sort_unstable_by_key(|r| r.0);
            // Collapse to purchase days with summed amounts.
            let mut days: Vec<(i64, f64)> = Vec::with_capacity(rows.len());
            for (d, a) in rows {
                match days.last_mut() {
                    Some(last) if last.0 == d => last.1 += a,
                    _ => days.push((d, a)),
                }
            }
            let first = days[0].0;
            let last = days[days.len() - 1].0;
            let frequency = (days.len() - 1) as u32;
            let monetary_value = if frequency == 0 {
                0.0
            } else {
                days[1..].iter().map(|d| d.1).sum::<f64>() / frequency as f64
            };
            CustomerSummary {
                customer_id: id.to_string(),
                frequency,
                recency: (last - first) as f64 / unit,
                age: (end_day - first) as f64 / unit,
                monetary_value,
            }
        })
        .collect();
    out.sort_unstable_by(|a, b| a.customer_id.cmp(&b.customer_id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, hour: i64) -> Timestamp {
        Timestamp::from_ymd(y, m, d)
            .unwrap()
            .add_millis(hour * 3_600_000)
    }

    #[test]
    fn hand_worked_example_in_weeks() {
        let log = vec![
            Transaction::purchase("c", at(2024, 1, 1, 9), 1.0),
            Transaction::purchase("c", at(2024, 1, 8, 23), 3.0),
            Transaction::purchase("c", at(2024, 1, 8, 1), 2.0),
            Transaction::purchase("c", at(2024, 1, 15, 0), 100.0), // at the end: excluded
        ];
        let end = at(2024, 1, 15, 0);
        // Non-purchase events of the same log are not purchases.
        let mut log = log;
        log.push(Transaction::event("c", at(2024, 1, 10, 0), "login"));
        log.push(Transaction::event("d", at(2024, 1, 10, 0), "login"));
        let s = summarize(&log, &SummaryConfig::new(end).unit(TimeUnit::Weeks)).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].frequency, 1);
        assert!((s[0].recency - 1.0).abs() < 1e-12);
        assert!((s[0].age - 13.0 / 7.0).abs() < 1e-12);
        assert_eq!(s[0].monetary_value, 5.0);
        // An end one hour into the 15th includes that day.
        let s = summarize(&log, &SummaryConfig::new(at(2024, 1, 15, 1))).unwrap();
        assert_eq!((s[0].frequency, s[0].recency, s[0].age), (2, 14.0, 14.0));
        assert_eq!(s[0].monetary_value, 52.5);
    }

    #[test]
    fn empty_and_bad_input() {
        let end = at(2024, 1, 1, 0);
        assert!(summarize(&[], &SummaryConfig::new(end)).unwrap().is_empty());
        let bad = vec![Transaction::purchase("c", at(2023, 1, 1, 0), f64::NAN)];
        let e = summarize(&bad, &SummaryConfig::new(end)).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARGUMENT");
        assert_eq!("weeks".parse::<TimeUnit>().unwrap(), TimeUnit::Weeks);
        assert!("fortnights".parse::<TimeUnit>().is_err());
        assert!(CustomerSummary::new(0, 3.0, 5.0, 0.0).validate(0).is_err());
        assert!(CustomerSummary::new(2, 6.0, 5.0, 0.0).validate(0).is_err());
        assert!(CustomerSummary::new(2, 3.0, 5.0, f64::NAN)
            .validate(0)
            .is_err());
        assert!(CustomerSummary::new(2, 3.0, 5.0, 1.0).validate(0).is_ok());
    }
}

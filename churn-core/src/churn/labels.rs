//! Churn labels and leakage-free temporal splits.
//!
//! Per DEFINITIONS: as of T, with lookback L and horizon H (default 30 days), a customer
//! is in the population when they had an active event in `[T-L, T)`, and is **churned**
//! when they have no active event in `[T, T+H)` or a subscription cancellation there.
//! Features read only events before T ([`features_at`](super::features_at)); labels read
//! only `[T, T+H)`. [`TemporalSplit`] puts the test T at or after the train T + H, so the
//! training labels end before the test features begin to be scored.

use std::collections::HashMap;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::features::{features_for, FeatureConfig, FeatureMatrix};
use super::table::{EventTable, Kind, PASSIVE};
use crate::error::{Error, Result};
use crate::time::{Timestamp, DAY_MS};

/// Lookback and horizon of automatic labels, in days.
///
/// ```
/// use churn_core::churn::LabelConfig;
/// let c = LabelConfig::default().horizon_days(14);
/// assert_eq!((c.lookback_days, c.horizon_days), (90, 14));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LabelConfig {
    /// Days before T in which a customer must have been active to be scored (default 90).
    pub lookback_days: u32,
    /// Days after T in which activity means "not churned" (default 30).
    pub horizon_days: u32,
}

impl Default for LabelConfig {
    fn default() -> Self {
        LabelConfig {
            lookback_days: 90,
            horizon_days: 30,
        }
    }
}

impl LabelConfig {
    /// Set the lookback.
    pub fn lookback_days(mut self, d: u32) -> Self {
        self.lookback_days = d;
        self
    }

    /// Set the horizon.
    pub fn horizon_days(mut self, d: u32) -> Self {
        self.horizon_days = d;
        self
    }

    fn check(&self) -> Result<()> {
        if self.horizon_days == 0 || self.lookback_days == 0 {
            return Err(Error::invalid(
                "label config",
                "lookback_days and horizon_days must be at least 1",
            ));
        }
        Ok(())
    }
}

/// The time window a dataset (and a model trained on it) describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingWindow {
    /// Features as of this time (events strictly before it).
    pub as_of: Timestamp,
    /// Population lookback, days.
    pub lookback_days: u32,
    /// Label horizon, days: labels come from `[as_of, as_of + horizon)`.
    pub horizon_days: u32,
}

/// Features with a churn label per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The features (rows = customers).
    pub features: FeatureMatrix,
    /// `true` = churned, one per row.
    pub labels: Vec<bool>,
    /// The window the labels describe.
    pub window: TrainingWindow,
}

impl Dataset {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Share of churned rows (0 when empty).
    pub fn churn_rate(&self) -> f64 {
        if self.labels.is_empty() {
            return 0.0;
        }
        self.labels.iter().filter(|&&y| y).count() as f64 / self.labels.len() as f64
    }

    /// Labels from an explicit column (customer id -> churned) instead of the automatic
    /// rule. Rows whose customer has no label are dropped; none left is an error.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use churn_core::churn::{features_at, Dataset, EventTable, FeatureConfig, Transaction};
    /// use churn_core::Timestamp;
    /// let d = |day| Timestamp::from_ymd(2026, 1, day).unwrap();
    /// let rows = vec![Transaction::purchase("a", d(1), 1.0), Transaction::purchase("b", d(2), 1.0)];
    /// let cfg = FeatureConfig::default();
    /// let f = features_at(&EventTable::from_transactions(&rows, &cfg)?, d(10), &cfg)?;
    /// let ds = Dataset::with_labels(f, &HashMap::from([("b".to_string(), true)]), 30)?;
    /// assert_eq!((ds.features.customers.clone(), ds.labels.clone()), (vec!["b".to_string()], vec![true]));
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn with_labels(
        features: FeatureMatrix,
        labels: &HashMap<String, bool>,
        horizon_days: u32,
    ) -> Result<Dataset> {
        let keep: Vec<usize> = (0..features.customers.len())
            .filter(|&i| labels.contains_key(&features.customers[i]))
            .collect();
        if keep.is_empty() {
            return Err(Error::invalid(
                "labels",
                "no customer of the feature matrix has a label",
            ));
        }
        let y = keep
            .iter()
            .map(|&i| labels.get(&features.customers[i]).copied().unwrap_or(false))
            .collect();
        let features = select_rows(&features, &keep);
        let as_of = features.as_of;
        Ok(Dataset {
            features,
            labels: y,
            window: TrainingWindow {
                as_of,
                lookback_days: 0,
                horizon_days,
            },
        })
    }

    /// The rows at `idx` (in that order).
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        Dataset {
            features: select_rows(&self.features, idx),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            window: self.window,
        }
    }
}

impl Dataset {
    /// The rows at `idx` without their customer ids (`features.customers` is left
    /// empty): for fitting, which reads only the matrix, labels, schema and window, and
    /// would otherwise clone an id string per row.
    pub(crate) fn subset_for_fit(&self, idx: &[usize]) -> Dataset {
        let f = &self.features;
        Dataset {
            features: FeatureMatrix {
                customers: Vec::new(),
                rows: idx.iter().map(|&i| f.rows[i]).collect(),
                x: gather_rows(&f.x, idx),
                schema: f.schema.clone(),
                as_of: f.as_of,
            },
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            window: self.window,
        }
    }
}

/// Rows `idx` of `x` (in that order): `select` on `Axis(0)`, by row slices when `x` is
/// row-major (ndarray's `select` concatenates one view per row, several times slower).
fn gather_rows(x: &Array2<f64>, idx: &[usize]) -> Array2<f64> {
    let w = x.ncols();
    if let Some(all) = x.as_slice() {
        let mut v = Vec::with_capacity(idx.len() * w);
        for &i in idx {
            v.extend_from_slice(&all[i * w..(i + 1) * w]);
        }
        if let Ok(a) = Array2::from_shape_vec((idx.len(), w), v) {
            return a;
        }
    }
    x.select(ndarray::Axis(0), idx)
}

fn select_rows(f: &FeatureMatrix, idx: &[usize]) -> FeatureMatrix {
    FeatureMatrix {
        customers: idx.iter().map(|&i| f.customers[i].clone()).collect(),
        rows: idx.iter().map(|&i| f.rows[i]).collect(),
        x: gather_rows(&f.x, idx),
        schema: f.schema.clone(),
        as_of: f.as_of,
    }
}

/// From this many customers on, [`labelled_at`] picks its population on two threads.
const PAR_LABEL_CUSTOMERS: usize = 20_000;

/// Automatic labels as of `as_of`: the population (active in the lookback) with their
/// features (events before `as_of`) and labels (events in the horizon).
///
/// ```
/// use churn_core::churn::{labelled_at, EventTable, FeatureConfig, LabelConfig, Transaction};
/// use churn_core::Timestamp;
/// let d = |day| Timestamp::from_ymd(2026, 3, day).unwrap();
/// let rows = vec![
///     Transaction::event("stays", d(1), "login"),
///     Transaction::event("stays", d(20), "login"),
///     Transaction::event("leaves", d(2), "login"),
///     Transaction::event("leaves", d(12), "email_sent"), // passive: not activity
/// ];
/// let cfg = FeatureConfig::default();
/// let table = EventTable::from_transactions(&rows, &cfg)?;
/// let ds = labelled_at(&table, d(10), &cfg, &LabelConfig::default())?;
/// assert_eq!(ds.features.customers, vec!["stays", "leaves"]);
/// assert_eq!(ds.labels, vec![false, true]);
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn labelled_at(
    table: &EventTable,
    as_of: Timestamp,
    cfg: &FeatureConfig,
    labels: &LabelConfig,
) -> Result<Dataset> {
    labels.check()?;
    let t = as_of.millis();
    let from = t.saturating_sub(labels.lookback_days as i64 * DAY_MS);
    let end = t.saturating_add(labels.horizon_days as i64 * DAY_MS);
    let label = |cs: std::ops::Range<usize>| {
        let (mut pop, mut y) = (Vec::new(), Vec::new());
        for c in cs {
            let lo = table.cut(c, from);
            let cut = table.cut(c, t);
            if !(lo..cut).any(|i| table.code[i] & PASSIVE == 0) {
                continue;
            }
            let hi = table.cut(c, end);
            let active = (cut..hi).any(|i| table.code[i] & PASSIVE == 0);
            let cancelled =
                (cut..hi).any(|i| Kind::of(table.code[i]) == Kind::SubscriptionCancelled);
            pop.push(c as u32);
            y.push(!active || cancelled);
        }
        (pop, y)
    };
    // Customers are independent: two halves on two threads for large tables, joined in
    // customer order.
    let nc = table.customer_count();
    let (pop, y) = if nc >= PAR_LABEL_CUSTOMERS {
        let (a, b) = std::thread::scope(|s| {
            let h = s.spawn(|| label(nc / 2..nc));
            (label(0..nc / 2), h.join())
        });
        let ((mut pop, mut y), (pb, yb)) = (a, b.unwrap_or_else(|p| std::panic::resume_unwind(p)));
        pop.extend(pb);
        y.extend(yb);
        (pop, y)
    } else {
        label(0..nc)
    };
    let features = features_for(table, &pop, as_of, cfg)?;
    Ok(Dataset {
        features,
        labels: y,
        window: TrainingWindow {
            as_of,
            lookback_days: labels.lookback_days,
            horizon_days: labels.horizon_days,
        },
    })
}

/// A train / test split in time that cannot leak: train features before `train_cutoff`,
/// train labels from `[train_cutoff, train_cutoff + H)`, test features before
/// `test_cutoff >= train_cutoff + H`, test labels from `[test_cutoff, test_cutoff + H)`.
/// The constructor refuses any other arrangement, and the fields are private.
///
/// ```
/// use churn_core::churn::{LabelConfig, TemporalSplit};
/// use churn_core::Timestamp;
/// let d = |m, day| Timestamp::from_ymd(2026, m, day).unwrap();
/// assert!(TemporalSplit::new(d(1, 1), d(1, 31), LabelConfig::default()).is_ok());
/// assert!(TemporalSplit::new(d(1, 1), d(1, 30), LabelConfig::default()).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemporalSplit {
    train_cutoff: Timestamp,
    test_cutoff: Timestamp,
    labels: LabelConfig,
}

impl TemporalSplit {
    /// A split; errors unless `test_cutoff >= train_cutoff + horizon`.
    pub fn new(
        train_cutoff: Timestamp,
        test_cutoff: Timestamp,
        labels: LabelConfig,
    ) -> Result<Self> {
        labels.check()?;
        let train_end = train_cutoff.add_millis(labels.horizon_days as i64 * DAY_MS);
        if test_cutoff < train_end {
            return Err(Error::invalid(
                "test_cutoff",
                format!(
                    "{test_cutoff} is before the end of the training labels' horizon ({train_end}); \
                     the test cutoff must be at least train_cutoff + horizon"
                ),
            ));
        }
        Ok(TemporalSplit {
            train_cutoff,
            test_cutoff,
            labels,
        })
    }

    /// The train cutoff.
    pub fn train_cutoff(&self) -> Timestamp {
        self.train_cutoff
    }

    /// The test cutoff.
    pub fn test_cutoff(&self) -> Timestamp {
        self.test_cutoff
    }

    /// Lookback and horizon.
    pub fn labels(&self) -> LabelConfig {
        self.labels
    }

    /// The training dataset (reads only events before `train_cutoff + H`).
    pub fn train(&self, table: &EventTable, cfg: &FeatureConfig) -> Result<Dataset> {
        labelled_at(table, self.train_cutoff, cfg, &self.labels)
    }

    /// The test dataset (features before `test_cutoff`, labels in its horizon).
    pub fn test(&self, table: &EventTable, cfg: &FeatureConfig) -> Result<Dataset> {
        labelled_at(table, self.test_cutoff, cfg, &self.labels)
    }
}

#[cfg(test)]
#[path = "labels_tests.rs"]
mod tests;

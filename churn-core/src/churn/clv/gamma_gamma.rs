//! Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV:
//! using iso-value curves for customer base analysis"), and customer lifetime value.
//!
//! A customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers
//! (`lifetimes` calls γ `v`); spend is assumed independent of the purchase process.

use serde::{Deserialize, Serialize};

use super::bgnbd::BgNbd;
use super::optim::{minimize_with_restarts, OptimizerConfig};
use super::special::ln_gamma;
use super::summary::CustomerSummary;
use super::FitReport;
use crate::{Error, Result};

/// Fitted Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    /// Shape of the per-transaction gamma.
    pub p: f64,
    /// Shape of the gamma of the per-customer rate ν.
    pub q: f64,
    /// Rate of the gamma of ν (γ in the paper).
    pub v: f64,
}

impl GammaGammaParams {
    fn check(&self) -> Result<()> {
        let ok = |x: f64| x.is_finite() && x > 0.0;
        if !(ok(self.p) && ok(self.q) && ok(self.v)) {
            return Err(Error::Model {
                message: format!("Gamma-Gamma parameters must be positive and finite: {self:?}"),
            });
        }
        if self.q <= 1.0 {
            return Err(Error::Model {
                message: format!(
                    "Gamma-Gamma q = {} <= 1: the mean spend is infinite under this fit",
                    self.q
                ),
            });
        }
        Ok(())
    }
}

/// Settings of a Gamma-Gamma fit.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GammaGammaConfig {
    /// L2 penalty on (p, q, v) added to the mean negative log-likelihood
    /// (`lifetimes`' `penalizer_coef`).
    pub penalizer: f64,
    /// Optimiser settings.
    pub optimizer: OptimizerConfig,
}

impl GammaGammaConfig {
    /// Sets the penalizer.
    pub fn penalizer(mut self, penalizer: f64) -> Self {
        self.penalizer = penalizer;
        self
    }
}

/// A fitted Gamma-Gamma model.
///
/// ```
/// use churn_core::churn::clv::{CustomerSummary, GammaGamma, GammaGammaConfig};
/// let data: Vec<CustomerSummary> = (0..300)
///     .map(|i| CustomerSummary::new(1 + i % 4, 1.0, 10.0, 10.0 + ((i * 37) % 23) as f64))
///     .collect();
/// let gg = GammaGamma::fit(&data, &GammaGammaConfig::default())?;
/// let spend = gg.expected_average_profit(&CustomerSummary::new(3, 5.0, 10.0, 30.0))?;
/// assert!(spend > gg.population_mean() && spend < 30.0); // shrunk towards the mean
/// # Ok::<(), churn_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// The parameters.
    pub params: GammaGammaParams,
    /// How the fit went.
    pub report: FitReport,
}

impl GammaGamma {
    /// Fits on the repeat customers (`frequency > 0`) of `data`; one-time buyers are
    /// skipped, as in `lifetimes`. Every repeat customer needs a positive mean spend.
    pub fn fit(data: &[CustomerSummary], config: &GammaGammaConfig) -> Result<Self> {
        if !(config.penalizer.is_finite() && config.penalizer >= 0.0) {
            return Err(Error::invalid("penalizer", "must be finite and >= 0"));
        }
        let mut rows = Vec::new();
        for (i, s) in data.iter().enumerate() {
            s.validate(i)?;
            if s.frequency == 0 {
                continue;
            }
            if s.monetary_value <= 0.0 {
                return Err(Error::invalid(
                    format!("summaries[{i}].monetary_value"),
                    format!(
                        "Gamma-Gamma needs a positive mean spend, got {}",
                        s.monetary_value
                    ),
                ));
            }
            rows.push((s.frequency as f64, s.monetary_value));
        }
        if rows.is_empty() {
            return Err(Error::Model {
                message:
                    "no repeat customers: Gamma-Gamma is fitted on customers with frequency > 0"
                        .into(),
            });
        }
        let n = rows.len() as f64;
        let pen = config.penalizer;
        let mut objective = |w: &[f64]| {
            let (p, q, v) = (w[0].exp(), w[1].exp(), w[2].exp());
            let (lg_q, ln_v) = (ln_gamma(q), v.ln());
            let ll: f64 = rows
                .iter()
                .map(|&(x, m)| {
                    ln_gamma(p * x + q) - ln_gamma(p * x) - lg_q
                        + q * ln_v
                        + (p * x - 1.0) * m.ln()
                        + p * x * x.ln()
                        - (p * x + q) * (x * m + v).ln()
                })
                .sum();
            -ll / n + pen * (p * p + q * q + v * v)
        };
        let mean_m = rows.iter().map(|r| r.1).sum::<f64>() / n;
        let starts = [
            vec![0.0, 0.0, 0.0],
            vec![0.0, 1.0, mean_m.ln()],
            vec![1.5, 1.0, mean_m.ln() + 1.0],
            vec![-1.0, 0.5, mean_m.ln() - 1.0],
        ];
        let m = minimize_with_restarts(&mut objective, &starts, &config.optimizer).ok_or_else(
            || Error::Model {
                message: "no starting point".into(),
            },
        )?;
        let params = GammaGammaParams {
            p: m.x[0].exp(),
            q: m.x[1].exp(),
            v: m.x[2].exp(),
        };
        if !m.converged || !m.f.is_finite() {
            return Err(Error::Model {
                message: format!(
                    "Gamma-Gamma fit did not converge after {} iterations (best {params:?}); \
                     try a penalizer",
                    m.iterations
                ),
            });
        }
        params.check()?;
        Ok(Self {
            params,
            report: FitReport {
                converged: true,
                iterations: m.iterations,
                evaluations: m.evaluations,
                objective: m.f,
                log_likelihood: -m.f * n
                    + pen * n * (params.p.powi(2) + params.q.powi(2) + params.v.powi(2)),
                n_customers: rows.len(),
            },
        })
    }

    /// A model from known parameters.
    pub fn from_params(params: GammaGammaParams) -> Result<Self> {
        params.check()?;
        Ok(Self {
            params,
            report: FitReport::default(),
        })
    }

    /// Mean spend per transaction across the population, p·v / (q − 1).
    pub fn population_mean(&self) -> f64 {
        let GammaGammaParams { p, q, v } = self.params;
        p * v / (q - 1.0)
    }

    /// Expected spend per future transaction of this customer:
    /// `p (v + x m) / (p x + q − 1)`, a weighted mean of the population mean and the
    /// customer's own mean; the population mean for one-time buyers.
    pub fn expected_average_profit(&self, s: &CustomerSummary) -> Result<f64> {
        self.params.check()?;
        s.validate(0)?;
        let GammaGammaParams { p, q, v } = self.params;
        let x = s.frequency as f64;
        let m = if s.frequency == 0 {
            0.0
        } else {
            s.monetary_value
        };
        Ok(p * (v + x * m) / (p * x + q - 1.0))
    }
}

/// How CLV discounts future purchases.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClvConfig {
    /// Number of periods summed.
    pub periods: u32,
    /// Length of one period in the model's time unit (30 for months with a daily model,
    /// 4.345 for months with a weekly one).
    pub period_length: f64,
    /// Discount rate per period (0.01 = 1 % a period).
    pub discount_rate: f64,
}

impl Default for ClvConfig {
    /// Twelve months of 30 days at 1 % a month, for a model fitted in days.
    fn default() -> Self {
        Self {
            periods: 12,
            period_length: 30.0,
            discount_rate: 0.01,
        }
    }
}

/// Customer lifetime value over `config.periods` periods:
///
/// `CLV = Σ_{k=1..K} spend · (E[N(kΔ)] − E[N((k−1)Δ)]) / (1 + d)^k`
///
/// where `E[N(t)]` is BG/NBD's expected purchases in the next t, `spend` the Gamma-Gamma
/// expected spend per purchase, Δ the period length and d the discount rate: purchases
/// expected in period k are discounted as if paid at its end. This is `lifetimes`'
/// `customer_lifetime_value` (its `freq` factor is our `period_length`).
///
/// ```
/// use churn_core::churn::clv::*;
/// let bg = BgNbd::from_params(BgNbdParams { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 })?;
/// let gg = GammaGamma::from_params(GammaGammaParams { p: 6.25, q: 3.74, v: 15.44 })?;
/// let c = CustomerSummary::new(2, 30.43, 38.86, 22.35);
/// let cfg = ClvConfig { periods: 12, period_length: 4.345, discount_rate: 0.01 };
/// let clv = customer_lifetime_value(&bg, &gg, &c, &cfg)?;
/// assert!((clv - 36.27).abs() < 0.1);
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn customer_lifetime_value(
    bgnbd: &BgNbd,
    gamma_gamma: &GammaGamma,
    s: &CustomerSummary,
    config: &ClvConfig,
) -> Result<f64> {
    if !(config.period_length.is_finite() && config.period_length > 0.0) {
        return Err(Error::invalid("period_length", "must be finite and > 0"));
    }
    if !(config.discount_rate.is_finite() && config.discount_rate > -1.0) {
        return Err(Error::invalid("discount_rate", "must be finite and > -1"));
    }
    let spend = gamma_gamma.expected_average_profit(s)?;
    let mut prev = 0.0;
    let mut clv = 0.0;
    for k in 1..=config.periods {
        let e = bgnbd.expected_purchases(s, k as f64 * config.period_length)?;
        clv += spend * (e - prev) / (1.0 + config.discount_rate).powi(k as i32);
        prev = e;
    }
    Ok(clv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profit_shrinks_towards_population_mean() {
        let gg = GammaGamma::from_params(GammaGammaParams {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        })
        .unwrap();
        let pop = gg.population_mean();
        assert!((pop - 6.25 * 15.44 / 2.74).abs() < 1e-12);
        let one_timer = CustomerSummary::new(0, 0.0, 10.0, 0.0);
        assert!((gg.expected_average_profit(&one_timer).unwrap() - pop).abs() < 1e-12);
        let mut last_gap = f64::INFINITY;
        for x in [1, 3, 10, 100] {
            let s = CustomerSummary::new(x, 1.0, 10.0, 100.0);
            let e = gg.expected_average_profit(&s).unwrap();
            assert!(e > pop && e < 100.0);
            assert!(100.0 - e < last_gap);
            last_gap = 100.0 - e;
        }
    }

    #[test]
    fn bad_input_gives_errors() {
        let cfg = GammaGammaConfig::default();
        assert!(GammaGamma::fit(&[], &cfg).is_err());
        assert!(GammaGamma::fit(&[CustomerSummary::new(0, 0.0, 3.0, 0.0)], &cfg).is_err());
        let neg = CustomerSummary::new(2, 1.0, 3.0, -5.0);
        assert_eq!(
            GammaGamma::fit(&[neg], &cfg).unwrap_err().code(),
            "ERR_INVALID_ARGUMENT"
        );
        assert!(GammaGamma::from_params(GammaGammaParams {
            p: 1.0,
            q: 0.5,
            v: 1.0
        })
        .is_err());
        let bg = BgNbd::from_params(super::super::BgNbdParams {
            r: 1.0,
            alpha: 1.0,
            a: 2.0,
            b: 2.0,
        })
        .unwrap();
        let gg = GammaGamma::from_params(GammaGammaParams {
            p: 2.0,
            q: 3.0,
            v: 4.0,
        })
        .unwrap();
        let s = CustomerSummary::new(1, 1.0, 2.0, 5.0);
        let bad = ClvConfig {
            period_length: 0.0,
            ..ClvConfig::default()
        };
        assert!(customer_lifetime_value(&bg, &gg, &s, &bad).is_err());
        // No discounting: CLV = spend x expected purchases over the whole horizon.
        let flat = ClvConfig {
            periods: 4,
            period_length: 5.0,
            discount_rate: 0.0,
        };
        let clv = customer_lifetime_value(&bg, &gg, &s, &flat).unwrap();
        let want =
            gg.expected_average_profit(&s).unwrap() * bg.expected_purchases(&s, 20.0).unwrap();
        assert!((clv - want).abs() < 1e-9 * want);
    }
}

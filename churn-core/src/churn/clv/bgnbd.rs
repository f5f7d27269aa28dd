//! BG/NBD: the beta-geometric / negative binomial model of repeat buying (Fader, Hardie &
//! Lee 2005, "Counting your customers the easy way").
//!
//! Generative story: a customer buys at Poisson rate λ while alive, λ ~ Gamma(r, α)
//! (shape r, rate α); after every repeat purchase they drop out with probability p,
//! p ~ Beta(a, b). The first purchase (time 0) is not counted.
//!
//! # Churn score: P(no purchase in the next H)
//! A live customer can only drop out right after a purchase, so "no purchase in
//! (T, T+H]" means "dead at T" or "alive at T and the Poisson clock does not tick in
//! the next H". Integrating over the posterior of (λ, p) given (x, t_x, T):
//!
//! ```text
//! L_alive(T) = B(a, b+x)/B(a,b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
//! L_dead     = [x>0] B(a+1, b+x-1)/B(a,b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))
//! P(no purchase in (T, T+H]) = (L_alive(T+H) + L_dead) / (L_alive(T) + L_dead)
//!                            = P(dead) + P(alive) · ((α+T) / (α+T+H))^(r+x)
//! ```
//!
//! (`L_alive(T+H)` is the likelihood of the data and no purchase up to T+H while still
//! alive: `e^{-λ(T+H)}` replaces `e^{-λT}`.) Unlike `1 - P(alive)`, which is 0 for every
//! one-time buyer, this is `((α+T)/(α+T+H))^r` for them: high for old one-time buyers.

use serde::{Deserialize, Serialize};

use super::optim::{bfgs, minimize_with_restarts, OptimizerConfig};
use super::special::{ln_gamma, ln_hyp2f1};
use super::summary::CustomerSummary;
use super::FitReport;
use crate::{Error, Result};

/// Fitted BG/NBD parameters (time in the unit of the summaries used to fit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Rate (inverse scale) of the purchase-rate gamma, in time units.
    pub alpha: f64,
    /// First shape of the dropout-probability beta.
    pub a: f64,
    /// Second shape of the dropout-probability beta.
    pub b: f64,
}

impl BgNbdParams {
    fn check(&self) -> Result<()> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if ok(self.r) && ok(self.alpha) && ok(self.a) && ok(self.b) {
            Ok(())
        } else {
            Err(Error::Model {
                message: format!("BG/NBD parameters must be positive and finite: {self:?}"),
            })
        }
    }
}

/// Settings of a BG/NBD fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdConfig {
    /// L2 penalty on (r, α, a, b) added to the mean negative log-likelihood, as
    /// `lifetimes`' `penalizer_coef` (α taken in units where the oldest customer's age
    /// is 1, as `lifetimes` does). 0 = plain maximum likelihood.
    pub penalizer: f64,
    /// Optimiser settings.
    pub optimizer: OptimizerConfig,
    /// Fit with BFGS and the analytic gradient, Nelder-Mead as the fallback (default
    /// true); false = Nelder-Mead only (the slower pre-gradient method).
    #[serde(default = "yes")]
    pub gradient: bool,
}

fn yes() -> bool {
    true
}

impl Default for BgNbdConfig {
    fn default() -> Self {
        Self {
            penalizer: 0.0,
            optimizer: OptimizerConfig::default(),
            gradient: true,
        }
    }
}

impl BgNbdConfig {
    /// Chooses BFGS with the analytic gradient (true, default) or Nelder-Mead only.
    pub fn gradient(mut self, on: bool) -> Self {
        self.gradient = on;
        self
    }

    /// Sets the penalizer.
    pub fn penalizer(mut self, penalizer: f64) -> Self {
        self.penalizer = penalizer;
        self
    }
}

/// Everything BG/NBD says about one customer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdScore {
    /// P(alive at the end of calibration).
    pub p_alive: f64,
    /// Expected purchases in the next `horizon`.
    pub expected_purchases: f64,
    /// P(no purchase in the next `horizon`): the churn score.
    pub p_no_purchase: f64,
}

/// A fitted BG/NBD model.
///
/// ```
/// use churn_core::churn::clv::{BgNbd, BgNbdConfig, CustomerSummary};
/// let data: Vec<CustomerSummary> = (0..200)
///     .map(|i| {
///         let x = (i % 7) as u32;
///         let t = 30.0 + (i % 10) as f64;
///         let tx = if x == 0 { 0.0 } else { t * ((i % 5) as f64 + 1.0) / 6.0 };
///         CustomerSummary::new(x, tx, t, 0.0)
///     })
///     .collect();
/// let model = BgNbd::fit(&data, &BgNbdConfig::default())?;
/// let one_time_buyer = CustomerSummary::new(0, 0.0, 39.0, 0.0);
/// assert_eq!(model.probability_alive(&one_time_buyer)?, 1.0);
/// assert!(model.probability_no_purchase(&one_time_buyer, 10.0)? < 1.0);
/// # Ok::<(), churn_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// The parameters.
    pub params: BgNbdParams,
    /// How the fit went.
    pub report: FitReport,
}

/// Unique (x, t_x, T) rows with their counts, times scaled so the largest age is 1.
struct Prepared {
    rows: Vec<(f64, f64, f64, f64)>,
    /// Distinct x with total weight.
    xs: Vec<(f64, f64)>,
    total_weight: f64,
}

fn prepare(data: &[CustomerSummary], scale: f64) -> Prepared {
    use std::collections::HashMap;
    let mut rows: HashMap<(u32, u64, u64), f64> = HashMap::new();
    let mut xs: HashMap<u32, f64> = HashMap::new();
    for s in data {
        let tx = if s.frequency == 0 {
            0.0
        } else {
            s.recency * scale
        };
        *rows
            .entry((s.frequency, tx.to_bits(), (s.age * scale).to_bits()))
            .or_default() += 1.0;
        *xs.entry(s.frequency).or_default() += 1.0;
    }
    let mut rows: Vec<_> = rows
        .into_iter()
        .map(|((x, tx, t), w)| (x as f64, f64::from_bits(tx), f64::from_bits(t), w))
        .collect();
    rows.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
    });
    let mut xs: Vec<_> = xs.into_iter().map(|(x, w)| (x as f64, w)).collect();
    xs.sort_by(|a, b| a.0.total_cmp(&b.0));
    Prepared {
        rows,
        xs,
        total_weight: data.len() as f64,
    }
}

/// Mean log-likelihood per customer at the given (scaled) parameters.
fn mean_log_likelihood(p: &Prepared, r: f64, alpha: f64, a: f64, b: f64) -> f64 {
    let (lg_r, lg_ab, lg_b) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b));
    let mut total = 0.0;
    for &(x, w) in &p.xs {
        total += w
            * (ln_gamma(r + x) - lg_r + r * alpha.ln() + lg_ab + ln_gamma(b + x)
                - lg_b
                - ln_gamma(a + b + x));
    }
    let ln_a = a.ln();
    // Rows are sorted by x: ln(b + x - 1) once per distinct x.
    let mut cur_x = f64::NAN;
    let mut ln_ratio = 0.0;
    for &(x, tx, t, w) in &p.rows {
        let ln_alpha_t = (alpha + t).ln();
        let ll = if x > 0.0 {
            if x != cur_x {
                cur_x = x;
                ln_ratio = ln_a - (b + x - 1.0).ln();
            }
            // ln(e^{A3} + e^{A4}) = A3 + ln(1 + e^{A4 - A3})
            let d = ln_ratio + (r + x) * (ln_alpha_t - (alpha + tx).ln());
            -(r + x) * ln_alpha_t
                + if d > 0.0 {
                    d + (-d).exp().ln_1p()
                } else {
                    d.exp().ln_1p()
                }
        } else {
            -(r + x) * ln_alpha_t
        };
        total += w * ll;
    }
    total / p.total_weight
}

#[path = "bgnbd_grad.rs"]
mod grad;
use grad::mean_log_likelihood_grad;

impl BgNbd {
    /// Fits by maximum likelihood on the log-parameters: BFGS with the analytic
    /// gradient (digamma) from several starting points, keeping the best converged run;
    /// Nelder-Mead with restarts when no BFGS run converges.
    ///
    /// Errors: no customers, invalid summaries, every customer a one-time buyer or every
    /// age 0 (the likelihood has no interior maximum), or no convergence.
    pub fn fit(data: &[CustomerSummary], config: &BgNbdConfig) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::invalid("summaries", "no customers to fit BG/NBD on"));
        }
        if !(config.penalizer.is_finite() && config.penalizer >= 0.0) {
            return Err(Error::invalid("penalizer", "must be finite and >= 0"));
        }
        for (i, s) in data.iter().enumerate() {
            s.validate(i)?;
        }
        let max_age = data.iter().map(|s| s.age).fold(0.0_f64, f64::max);
        if max_age <= 0.0 {
            return Err(Error::Model {
                message: "every customer has age 0: nothing to learn from".into(),
            });
        }
        let repeaters = data.iter().filter(|s| s.frequency > 0).count();
        if repeaters == 0 {
            return Err(Error::Model {
                message: "every customer is a one-time buyer: BG/NBD cannot tell a low \
                          purchase rate from dropout (need repeat purchases)"
                    .into(),
            });
        }
        let scale = 1.0 / max_age;
        let prepared = prepare(data, scale);
        let pen = config.penalizer;
        let mut objective = |v: &[f64]| {
            let (r, alpha, a, b) = (v[0].exp(), v[1].exp(), v[2].exp(), v[3].exp());
            -mean_log_likelihood(&prepared, r, alpha, a, b)
                + pen * (r * r + alpha * alpha + a * a + b * b)
        };
        let starts = [
            vec![0.1, 0.1, 0.1, 0.1],
            vec![0.0, 0.0, 0.0, 0.0],
            vec![-1.0, -2.0, -0.5, 1.0],
            vec![1.0, 0.0, 1.0, 2.0],
            vec![-2.0, -3.0, 0.5, 0.5],
        ];
        // Objective and gradient in log-parameters v = ln θ: d/dv = θ · d/dθ.
        let mut with_grad = |v: &[f64]| {
            let th = [v[0].exp(), v[1].exp(), v[2].exp(), v[3].exp()];
            let (ll, g) = mean_log_likelihood_grad(&prepared, th[0], th[1], th[2], th[3]);
            let f = -ll + pen * th.iter().map(|t| t * t).sum::<f64>();
            let grad: Vec<f64> = (0..4)
                .map(|i| (-g[i] + 2.0 * pen * th[i]) * th[i])
                .collect();
            (f, grad)
        };
        // BFGS with the analytic gradient from every start; Nelder-Mead restarts when
        // none converges (flat or non-finite regions).
        let mut best: Option<super::optim::Minimum> = None;
        let (mut iterations, mut evaluations) = (0, 0);
        for s in starts.iter().filter(|_| config.gradient) {
            let m = bfgs(&mut with_grad, s, &config.optimizer);
            iterations += m.iterations;
            evaluations += m.evaluations;
            if m.converged && m.f.is_finite() && best.as_ref().is_none_or(|b| m.f < b.f) {
                best = Some(m);
            }
        }
        let m = match best {
            Some(mut m) => {
                m.iterations = iterations;
                m.evaluations = evaluations;
                m
            }
            None => {
                let mut m = minimize_with_restarts(&mut objective, &starts, &config.optimizer)
                    .ok_or_else(|| Error::Model {
                        message: "no starting point".into(),
                    })?;
                m.iterations += iterations;
                m.evaluations += evaluations;
                m
            }
        };
        let params = BgNbdParams {
            r: m.x[0].exp(),
            alpha: m.x[1].exp() / scale,
            a: m.x[2].exp(),
            b: m.x[3].exp(),
        };
        if !m.converged || !m.f.is_finite() {
            return Err(Error::Model {
                message: format!(
                    "BG/NBD fit did not converge after {} iterations (best {params:?}); \
                     try a penalizer such as 0.001",
                    m.iterations
                ),
            });
        }
        params.check()?;
        let ll = mean_log_likelihood(
            &prepared,
            m.x[0].exp(),
            m.x[1].exp(),
            m.x[2].exp(),
            m.x[3].exp(),
        );
        Ok(Self {
            params,
            report: FitReport {
                converged: true,
                iterations: m.iterations,
                evaluations: m.evaluations,
                objective: m.f,
                // Undo the time scaling: each customer's density picks up 1/scale per
                // observed repeat-purchase time; report the likelihood in original units.
                log_likelihood: ll * data.len() as f64
                    + data.iter().map(|s| s.frequency as f64).sum::<f64>() * scale.ln(),
                n_customers: data.len(),
            },
        })
    }

    /// A model from known parameters (for instance loaded from elsewhere).
    pub fn from_params(params: BgNbdParams) -> Result<Self> {
        params.check()?;
        Ok(Self {
            params,
            report: FitReport::default(),
        })
    }

    fn check(&self, s: &CustomerSummary) -> Result<()> {
        self.params.check()?;
        s.validate(0)
    }

    /// `ln` of P(dead)/P(alive) for a customer; -inf for one-time buyers.
    fn ln_dead_over_alive(&self, s: &CustomerSummary) -> f64 {
        let BgNbdParams { r, alpha, a, b } = self.params;
        if s.frequency == 0 {
            return f64::NEG_INFINITY;
        }
        let x = s.frequency as f64;
        a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + s.age).ln() - (alpha + s.recency).ln())
    }

    /// P(alive) at the end of calibration. Exactly 1 for one-time buyers (the model lets
    /// customers drop out only after a repeat purchase).
    pub fn probability_alive(&self, s: &CustomerSummary) -> Result<f64> {
        self.check(s)?;
        let l = self.ln_dead_over_alive(s);
        Ok(if l == f64::NEG_INFINITY {
            1.0
        } else if l > 0.0 {
            (-l).exp() / (1.0 + (-l).exp())
        } else {
            1.0 / (1.0 + l.exp())
        })
    }

    /// P(no purchase in the next `horizon` time units) = P(dead) + P(alive) ·
    /// ((α+T)/(α+T+H))^(r+x): the churn score (see the module docs for the derivation).
    pub fn probability_no_purchase(&self, s: &CustomerSummary, horizon: f64) -> Result<f64> {
        check_horizon(horizon)?;
        let p_alive = self.probability_alive(s)?;
        let BgNbdParams { r, alpha, .. } = self.params;
        let x = s.frequency as f64;
        let ln_survive = (r + x) * ((alpha + s.age).ln() - (alpha + s.age + horizon).ln());
        // 1 - P(alive) (1 - survive), with expm1 for small horizons.
        Ok((1.0 + p_alive * ln_survive.exp_m1()).clamp(0.0, 1.0))
    }

    /// Expected purchases in the next `horizon` (Fader, Hardie & Lee 2005, eq. 10),
    /// with the Gaussian hypergeometric function summed as a series.
    pub fn expected_purchases(&self, s: &CustomerSummary, horizon: f64) -> Result<f64> {
        check_horizon(horizon)?;
        let p_alive = self.probability_alive(s)?;
        if horizon == 0.0 {
            return Ok(0.0);
        }
        let BgNbdParams { r, alpha, a, b } = self.params;
        let x = s.frequency as f64;
        let t = s.age;
        let at_a = |a: f64| -> Result<f64> {
            let z = horizon / (alpha + t + horizon);
            let ln_f = (r + x) * ((alpha + t).ln() - (alpha + t + horizon).ln())
                + ln_hyp2f1(r + x, b + x, a + b + x - 1.0, z)?;
            Ok((a + b + x - 1.0) / (a - 1.0) * (-ln_f.exp_m1()) * p_alive)
        };
        near_one(a, at_a)
    }

    /// Expected purchases in `(0, t]` of a customer just acquired (paper eq. 9).
    pub fn expected_purchases_new_customer(&self, t: f64) -> Result<f64> {
        check_horizon(t)?;
        self.params.check()?;
        if t == 0.0 {
            return Ok(0.0);
        }
        let BgNbdParams { r, alpha, a, b } = self.params;
        near_one(a, |a| {
            let ln_f = r * (alpha.ln() - (alpha + t).ln())
                + ln_hyp2f1(r, b, a + b - 1.0, t / (alpha + t))?;
            Ok((a + b - 1.0) / (a - 1.0) * (-ln_f.exp_m1()))
        })
    }

    /// P(alive), expected purchases and P(no purchase) over `horizon`, in one call.
    pub fn score(&self, s: &CustomerSummary, horizon: f64) -> Result<BgNbdScore> {
        Ok(BgNbdScore {
            p_alive: self.probability_alive(s)?,
            expected_purchases: self.expected_purchases(s, horizon)?,
            p_no_purchase: self.probability_no_purchase(s, horizon)?,
        })
    }
}

fn check_horizon(h: f64) -> Result<()> {
    if h.is_finite() && h >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "horizon",
            format!("must be finite and >= 0, got {h}"),
        ))
    }
}

/// The expected-purchase formulas have a removable singularity at a = 1 (0/0); there we
/// average the values just below and above.
fn near_one(a: f64, f: impl Fn(f64) -> Result<f64>) -> Result<f64> {
    const EPS: f64 = 1e-4;
    if (a - 1.0).abs() < EPS {
        Ok(0.5 * (f(1.0 - EPS)? + f(1.0 + EPS)?))
    } else {
        f(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> BgNbd {
        BgNbd::from_params(BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        })
        .unwrap()
    }

    #[test]
    fn no_purchase_formula_agrees_with_likelihood_ratio() {
        // P(no purchase) = (L_alive(T+H) + L_dead) / (L_alive(T) + L_dead), computed
        // here directly from the pieces of the likelihood.
        let m = model();
        let BgNbdParams { r, alpha, a, b } = m.params;
        for &(x, tx, t, h) in &[
            (0u32, 0.0, 30.0, 10.0),
            (1, 2.0, 38.0, 39.0),
            (6, 30.0, 38.0, 4.0),
            (25, 27.0, 37.0, 52.0),
        ] {
            let xf = x as f64;
            let lb = |p: f64, q: f64| ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q);
            let common = ln_gamma(r + xf) - ln_gamma(r) + r * alpha.ln() - lb(a, b);
            let alive = |age: f64| (common + lb(a, b + xf) - (r + xf) * (alpha + age).ln()).exp();
            let dead = if x > 0 {
                (common + lb(a + 1.0, b + xf - 1.0) - (r + xf) * (alpha + tx).ln()).exp()
            } else {
                0.0
            };
            let want = (alive(t + h) + dead) / (alive(t) + dead);
            let s = CustomerSummary::new(x, tx, t, 0.0);
            let got = m.probability_no_purchase(&s, h).unwrap();
            assert!((got - want).abs() < 1e-12, "{x}: {got} vs {want}");
            let pa = m.probability_alive(&s).unwrap();
            assert!((pa - alive(t) / (alive(t) + dead)).abs() < 1e-12);
        }
    }

    #[test]
    fn one_time_buyers_are_alive_but_likely_to_churn() {
        let m = model();
        let s = CustomerSummary::new(0, 0.0, 38.0, 0.0);
        assert_eq!(m.probability_alive(&s).unwrap(), 1.0);
        let p = m.probability_no_purchase(&s, 39.0).unwrap();
        let want = ((4.414 + 38.0) / (4.414 + 38.0 + 39.0_f64)).powf(0.243);
        assert!((p - want).abs() < 1e-12);
        assert!(p > 0.8);
        assert_eq!(m.probability_no_purchase(&s, 0.0).unwrap(), 1.0);
        assert_eq!(m.expected_purchases(&s, 0.0).unwrap(), 0.0);
    }

    #[test]
    fn expected_purchases_is_increasing_and_continuous_at_a_one() {
        let s = CustomerSummary::new(3, 20.0, 38.0, 0.0);
        let m = model();
        let mut last = 0.0;
        for h in [1.0, 5.0, 20.0, 100.0] {
            let e = m.expected_purchases(&s, h).unwrap();
            assert!(e > last);
            last = e;
        }
        let at = |a: f64| {
            let mut p = m.params;
            p.a = a;
            BgNbd::from_params(p)
                .unwrap()
                .expected_purchases(&s, 10.0)
                .unwrap()
        };
        let (below, at1, above) = (at(0.999), at(1.0), at(1.001));
        assert!(at1 > below.min(above) - 1e-6 && at1 < below.max(above) + 1e-6);
        assert!(m.expected_purchases_new_customer(39.0).unwrap() > 0.0);
    }

    #[test]
    fn bad_input_gives_errors() {
        let m = model();
        let s = CustomerSummary::new(1, 2.0, 5.0, 0.0);
        assert!(m.probability_no_purchase(&s, -1.0).is_err());
        assert!(m.expected_purchases(&s, f64::NAN).is_err());
        assert!(m
            .probability_alive(&CustomerSummary::new(1, 6.0, 5.0, 0.0))
            .is_err());
        assert!(BgNbd::fit(&[], &BgNbdConfig::default()).is_err());
        let one_timers = vec![CustomerSummary::new(0, 0.0, 5.0, 0.0); 10];
        let e = BgNbd::fit(&one_timers, &BgNbdConfig::default()).unwrap_err();
        assert_eq!(e.code(), "ERR_MODEL");
        let zero_age = vec![CustomerSummary::new(0, 0.0, 0.0, 0.0); 3];
        assert!(BgNbd::fit(&zero_age, &BgNbdConfig::default()).is_err());
        assert!(BgNbd::fit(
            std::slice::from_ref(&s),
            &BgNbdConfig::default().penalizer(f64::NAN)
        )
        .is_err());
        assert!(BgNbd::from_params(BgNbdParams {
            r: -1.0,
            alpha: 1.0,
            a: 1.0,
            b: 1.0
        })
        .is_err());
    }
}

//! Probability calibration: Platt scaling (a logistic curve on the raw score's logit)
//! and isotonic regression (pool adjacent violators), chosen on a calibration split.
//!
//! Neither ever returns exactly 0 or 1: a calibration set of `n` rows cannot support a
//! probability closer to 0 or 1 than `1 / (n + 2)`. Each isotonic block of `k` rows with
//! `s` churners is smoothed to Laplace's rule of succession `(s + 1) / (k + 2)` (the
//! posterior mean under a uniform prior; blocks that then break monotonicity are pooled
//! again), and Platt's curve is clipped to `[1 / (n + 2), (n + 1) / (n + 2)]`. Without
//! this a pure top block (every churner of the calibration split above some raw score)
//! mapped a few percent of all users to exactly 1.0.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const EPS: f64 = 1e-12;

fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Which calibration to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Fit both on one half of the calibration split, keep the one with the lower Brier
    /// score on the other half, refit it on the whole split (default).
    #[default]
    Auto,
    /// Platt scaling.
    Platt,
    /// Isotonic regression.
    Isotonic,
    /// No calibration.
    None,
}

impl FromStr for CalibrationMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "platt" | "sigmoid" => Ok(Self::Platt),
            "isotonic" => Ok(Self::Isotonic),
            "none" => Ok(Self::None),
            _ => Err(Error::invalid(
                "calibration",
                format!("{s:?}: expected auto, platt, isotonic or none"),
            )),
        }
    }
}

/// A fitted map from a model's raw probability to a calibrated one (monotone).
///
/// ```
/// use churn_core::churn::Calibrator;
/// let raw = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9];
/// let y = [false, false, true, false, true, false, true, true];
/// let iso = Calibrator::fit_isotonic(&raw, &y)?;
/// assert!(iso.apply(0.1) <= iso.apply(0.5) && iso.apply(0.5) <= iso.apply(0.9));
/// // Two retained rows below every churner: (0 + 1) / (2 + 2), never 0.
/// assert_eq!(iso.apply(0.1), 0.25);
/// assert!(iso.apply(0.99) < 1.0);
/// # Ok::<(), churn_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibrator {
    /// Raw probabilities unchanged.
    Identity,
    /// `sigmoid(a * logit(p) + b)` clipped to `[lo, hi]`.
    Platt {
        /// Slope.
        a: f64,
        /// Offset.
        b: f64,
        /// Lowest value returned: `1 / (n + 2)` for `n` calibration rows (0 in models
        /// saved before the clip existed).
        #[serde(default)]
        lo: f64,
        /// Highest value returned: `(n + 1) / (n + 2)` (1 in older models).
        #[serde(default = "one")]
        hi: f64,
    },
    /// Piecewise-linear interpolation through `(x, y)` (non-decreasing), clipped at the
    /// ends, as scikit-learn's `IsotonicRegression(out_of_bounds="clip")`; each `y` is a
    /// smoothed block rate `(s + 1) / (k + 2)`, so strictly inside (0, 1).
    Isotonic {
        /// Raw probabilities (sorted).
        x: Vec<f64>,
        /// Calibrated values (non-decreasing).
        y: Vec<f64>,
    },
}

fn one() -> f64 {
    1.0
}

fn check(p: &[f64], y: &[bool]) -> Result<()> {
    if p.len() != y.len() {
        return Err(Error::invalid(
            "calibration",
            "scores and labels differ in length",
        ));
    }
    if p.is_empty() {
        return Err(Error::model("calibration needs at least one row"));
    }
    if let Some(i) = p.iter().position(|v| !v.is_finite()) {
        return Err(Error::model(format!(
            "calibration: score {i} is not finite"
        )));
    }
    Ok(())
}

impl Calibrator {
    /// Platt scaling by Newton's method on the log-loss, with Platt's smoothed targets
    /// `(N+ + 1) / (N+ + 2)` and `1 / (N- + 2)`. Needs both classes.
    pub fn fit_platt(p: &[f64], y: &[bool]) -> Result<Self> {
        check(p, y)?;
        let np = y.iter().filter(|&&v| v).count() as f64;
        let nn = y.len() as f64 - np;
        if np == 0.0 || nn == 0.0 {
            return Err(Error::model(
                "Platt scaling needs both classes in the calibration data",
            ));
        }
        let (tp, tn) = ((np + 1.0) / (np + 2.0), 1.0 / (nn + 2.0));
        let s: Vec<f64> = p.iter().map(|&v| logit(v)).collect();
        let t: Vec<f64> = y.iter().map(|&v| if v { tp } else { tn }).collect();
        let loss = |a: f64, b: f64| -> f64 {
            s.iter()
                .zip(&t)
                .map(|(&si, &ti)| {
                    let z = a * si + b;
                    // log(1 + e^z) - t z, stable
                    z.max(0.0) + (-z.abs()).exp().ln_1p() - ti * z
                })
                .sum()
        };
        let (mut a, mut b) = (1.0, ((np + 1.0) / (nn + 1.0)).ln());
        let mut f = loss(a, b);
        for _ in 0..100 {
            let (mut g1, mut g2, mut h11, mut h12, mut h22) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
            for (&si, &ti) in s.iter().zip(&t) {
                let q = sigmoid(a * si + b);
                let d = q - ti;
                let w = q * (1.0 - q);
                g1 += d * si;
                g2 += d;
                h11 += w * si * si;
                h12 += w * si;
                h22 += w;
            }
            let det = h11 * h22 - h12 * h12;
            if det.abs() < 1e-300 {
                break;
            }
            let da = (h22 * g1 - h12 * g2) / det;
            let db = (h11 * g2 - h12 * g1) / det;
            let mut step = 1.0;
            let mut improved = false;
            while step > 1e-10 {
                let (na, nb) = (a - step * da, b - step * db);
                let nf = loss(na, nb);
                if nf <= f + 1e-12 {
                    (a, b, improved) = (na, nb, (f - nf).abs() > 1e-12 * f.abs().max(1.0));
                    f = nf;
                    break;
                }
                step /= 2.0;
            }
            if !improved {
                break;
            }
        }
        let n = y.len() as f64;
        Ok(Calibrator::Platt {
            a,
            b,
            lo: 1.0 / (n + 2.0),
            hi: (n + 1.0) / (n + 2.0),
        })
    }

    /// Isotonic regression by pool adjacent violators (equal scores pooled first), each
    /// block smoothed to `(churners + 1) / (rows + 2)` and pooled again where the
    /// smoothing broke monotonicity (a weighted PAV on the smoothed counts).
    pub fn fit_isotonic(p: &[f64], y: &[bool]) -> Result<Self> {
        check(p, y)?;
        let mut idx: Vec<usize> = (0..p.len()).collect();
        idx.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
        let mut blocks: Vec<Block> = Vec::new();
        for &i in &idx {
            let yi = y[i] as u8 as f64;
            match blocks.last_mut() {
                Some(last) if last.hi == p[i] => {
                    last.sum += yi;
                    last.count += 1.0;
                }
                _ => blocks.push(Block {
                    lo: p[i],
                    hi: p[i],
                    sum: yi,
                    count: 1.0,
                }),
            }
            pool_adjacent_violators(&mut blocks);
        }
        // Laplace smoothing: one pseudo churner and one pseudo retained row per block.
        let mut smoothed: Vec<Block> = Vec::with_capacity(blocks.len());
        for b in blocks {
            smoothed.push(Block {
                sum: b.sum + 1.0,
                count: b.count + 2.0,
                ..b
            });
            pool_adjacent_violators(&mut smoothed);
        }
        let mut xs = Vec::with_capacity(smoothed.len() * 2);
        let mut ys = Vec::with_capacity(smoothed.len() * 2);
        for b in smoothed {
            xs.push(b.lo);
            ys.push(b.rate());
            if b.hi > b.lo {
                xs.push(b.hi);
                ys.push(b.rate());
            }
        }
        Ok(Calibrator::Isotonic { x: xs, y: ys })
    }

    /// Fit the calibration `method` on raw scores `p` with labels `y`. `Auto` compares
    /// Platt and isotonic on alternate rows (fit on even, Brier on odd), and falls back
    /// to [`Calibrator::Identity`] when there are fewer than 20 rows or one class only.
    pub fn fit(method: CalibrationMethod, p: &[f64], y: &[bool]) -> Result<Self> {
        check(p, y)?;
        match method {
            CalibrationMethod::None => Ok(Calibrator::Identity),
            CalibrationMethod::Platt => Self::fit_platt(p, y),
            CalibrationMethod::Isotonic => Self::fit_isotonic(p, y),
            CalibrationMethod::Auto => {
                let half = |odd: bool| -> (Vec<f64>, Vec<bool>) {
                    (0..p.len())
                        .filter(|i| (i % 2 == 1) == odd)
                        .map(|i| (p[i], y[i]))
                        .unzip()
                };
                let (pa, ya) = half(false);
                let (pb, yb) = half(true);
                let both = |v: &[bool]| v.iter().any(|&b| b) && v.iter().any(|&b| !b);
                if p.len() < 20 || !both(&ya) || !both(&yb) {
                    return Ok(Calibrator::Identity);
                }
                let brier = |c: &Calibrator| -> f64 {
                    pb.iter()
                        .zip(&yb)
                        .map(|(&s, &t)| (c.apply(s) - t as u8 as f64).powi(2))
                        .sum::<f64>()
                };
                let platt = Self::fit_platt(&pa, &ya)?;
                let iso = Self::fit_isotonic(&pa, &ya)?;
                if brier(&iso) < brier(&platt) {
                    Self::fit_isotonic(p, y)
                } else {
                    Self::fit_platt(p, y)
                }
            }
        }
    }

    /// The calibrated probability of raw probability `p`.
    pub fn apply(&self, p: f64) -> f64 {
        match self {
            Calibrator::Identity => p,
            Calibrator::Platt { a, b, lo, hi } => sigmoid(a * logit(p) + b).clamp(*lo, *hi),
            Calibrator::Isotonic { x, y } => {
                let (Some(&x0), Some(&xn)) = (x.first(), x.last()) else {
                    return p;
                };
                if p <= x0 {
                    return y[0];
                }
                if p >= xn {
                    return y[y.len() - 1];
                }
                let j = x.partition_point(|&v| v <= p);
                let (xa, xb, ya, yb) = (x[j - 1], x[j], y[j - 1], y[j]);
                if xb == xa {
                    yb
                } else {
                    ya + (yb - ya) * (p - xa) / (xb - xa)
                }
            }
        }
    }

    /// Check a loaded calibrator (finite values, matching lengths, sorted `x`).
    pub(crate) fn validate(&self) -> Result<()> {
        let ok = match self {
            Calibrator::Identity => true,
            Calibrator::Platt { a, b, lo, hi } => {
                a.is_finite()
                    && b.is_finite()
                    && (0.0..=0.5).contains(lo)
                    && (0.5..=1.0).contains(hi)
            }
            Calibrator::Isotonic { x, y } => {
                x.len() == y.len()
                    && x.iter().chain(y).all(|v| v.is_finite())
                    && x.windows(2).all(|w| w[0] <= w[1])
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::model(
                "the calibration is damaged (non-finite or inconsistent values)",
            ))
        }
    }

    /// Short name (`identity`, `platt`, `isotonic`).
    pub fn name(&self) -> &'static str {
        match self {
            Calibrator::Identity => "identity",
            Calibrator::Platt { .. } => "platt",
            Calibrator::Isotonic { .. } => "isotonic",
        }
    }
}

/// A run of sorted raw scores `[lo, hi]` sharing one calibrated rate `sum / count`.
#[derive(Debug, Clone, Copy)]
struct Block {
    lo: f64,
    hi: f64,
    sum: f64,
    count: f64,
}

impl Block {
    fn rate(&self) -> f64 {
        self.sum / self.count
    }
}

/// Merge the last block into its predecessor while their rates are not increasing.
fn pool_adjacent_violators(blocks: &mut Vec<Block>) {
    while blocks.len() >= 2 {
        let n = blocks.len();
        let (prev, cur) = (blocks[n - 2], blocks[n - 1]);
        if prev.rate() < cur.rate() {
            break;
        }
        blocks[n - 2] = Block {
            lo: prev.lo,
            hi: cur.hi,
            sum: prev.sum + cur.sum,
            count: prev.count + cur.count,
        };
        blocks.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn isotonic_hand_worked() {
        // y by score order: 1 0 0 1 -> pools the first three (1 of 3), the last stays
        // alone (1 of 1); smoothed: (1 + 1) / (3 + 2) and (1 + 1) / (1 + 2).
        let c =
            Calibrator::fit_isotonic(&[0.1, 0.2, 0.3, 0.4], &[true, false, false, true]).unwrap();
        assert_eq!(
            c,
            Calibrator::Isotonic {
                x: vec![0.1, 0.3, 0.4],
                y: vec![0.4, 0.4, 2.0 / 3.0]
            }
        );
        assert!((c.apply(0.35) - (0.4 + 0.5 * (2.0 / 3.0 - 0.4))).abs() < 1e-12);
        assert_eq!(c.apply(0.0), 0.4);
        assert_eq!(c.apply(0.9), 2.0 / 3.0);
    }

    #[test]
    fn smoothing_pools_again_when_it_breaks_monotonicity() {
        // Raw PAV blocks: [0] (0 of 1) then [1 0 0 0 0 0 0 0 0 0] pooled to 1 of 10 (the
        // 1 sorts first). Smoothed: 1/3 > 2/12, so they pool: (0 + 1 + 2) / (1 + 10 + 4).
        let p: Vec<f64> = (0..11).map(|i| i as f64 / 10.0).collect();
        let y: Vec<bool> = (0..11).map(|i| i == 1).collect();
        let c = Calibrator::fit_isotonic(&p, &y).unwrap();
        assert_eq!(
            c,
            Calibrator::Isotonic {
                x: vec![0.0, 1.0],
                y: vec![3.0 / 15.0, 3.0 / 15.0]
            }
        );
    }

    #[test]
    fn separable_data_never_gives_0_or_1() {
        // 40 retained rows below 10 churners: the old fit returned exactly 0 and 1.
        let p: Vec<f64> = (0..50).map(|i| i as f64 / 50.0).collect();
        let y: Vec<bool> = (0..50).map(|i| i >= 40).collect();
        let iso = Calibrator::fit_isotonic(&p, &y).unwrap();
        assert_eq!(iso.apply(0.0), 1.0 / 42.0);
        assert_eq!(iso.apply(1.0), 11.0 / 12.0);
        let platt = Calibrator::fit_platt(&p, &y).unwrap();
        assert_eq!(platt.apply(0.0), 1.0 / 52.0);
        assert_eq!(platt.apply(1.0), 51.0 / 52.0);
    }

    #[test]
    fn platt_recovers_a_known_curve() {
        // Labels drawn deterministically from p_true = sigmoid(2 * logit(raw) - 0.5).
        let mut p = Vec::new();
        let mut y = Vec::new();
        for i in 0..2000 {
            let raw = (i as f64 + 0.5) / 2000.0;
            let truth = sigmoid(2.0 * logit(raw) - 0.5);
            // low-discrepancy sequence in place of random draws
            let u = (i as f64 * 0.618_033_988_75).fract();
            p.push(raw);
            y.push(u < truth);
        }
        let Calibrator::Platt { a, b, .. } = Calibrator::fit_platt(&p, &y).unwrap() else {
            panic!("not platt")
        };
        assert!((a - 2.0).abs() < 0.25, "a = {a}");
        assert!((b + 0.5).abs() < 0.25, "b = {b}");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Calibrator::fit_platt(&[0.2, 0.3], &[true, true]).is_err());
        assert!(Calibrator::fit_isotonic(&[], &[]).is_err());
        assert!(Calibrator::fit_isotonic(&[f64::NAN], &[true]).is_err());
        assert_eq!(
            Calibrator::fit(CalibrationMethod::Auto, &[0.1, 0.9], &[false, true]).unwrap(),
            Calibrator::Identity
        );
        assert!("sigmoid".parse::<CalibrationMethod>().is_ok());
        assert!("magic".parse::<CalibrationMethod>().is_err());
    }

    proptest! {
        #[test]
        fn isotonic_is_monotone_and_strictly_inside_0_1(
            rows in prop::collection::vec((0u8..20, any::<bool>()), 1..60)
        ) {
            let p: Vec<f64> = rows.iter().map(|r| r.0 as f64 / 20.0).collect();
            let y: Vec<bool> = rows.iter().map(|r| r.1).collect();
            let c = Calibrator::fit_isotonic(&p, &y).unwrap();
            let mut xs = p.clone();
            xs.sort_by(f64::total_cmp);
            for w in xs.windows(2) {
                prop_assert!(c.apply(w[0]) <= c.apply(w[1]) + 1e-12);
            }
            // Never closer to 0 or 1 than one pseudo row in n + 2 allows.
            let n = p.len() as f64;
            for &v in &xs {
                let q = c.apply(v);
                prop_assert!(q >= 1.0 / (n + 2.0) - 1e-12 && q <= (n + 1.0) / (n + 2.0) + 1e-12);
            }
        }
    }
}

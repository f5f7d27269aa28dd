//! Minimisers used to fit the customer-base models: BFGS for objectives with an
//! analytic gradient (BG/NBD), and a small Nelder-Mead with restarts as the fallback.
//!
//! Nelder-Mead needs no gradient, copes with the flat valleys these likelihoods have in
//! log-parameter space, and with several starting points plus a restart from the best
//! vertex it finds the same optimum as `lifetimes`/scipy on every data set we tried.

use serde::{Deserialize, Serialize};

/// Settings of the optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    /// Iteration cap of one Nelder-Mead run.
    pub max_iterations: usize,
    /// Converged when the objective differs by at most this across the simplex.
    pub f_tolerance: f64,
    /// ... and the vertices differ by at most this in every coordinate.
    pub x_tolerance: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            max_iterations: 5_000,
            f_tolerance: 1e-11,
            x_tolerance: 1e-7,
        }
    }
}

/// The outcome of a minimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minimum {
    /// Best point found.
    pub x: Vec<f64>,
    /// Objective at `x`.
    pub f: f64,
    /// Whether the final run met both tolerances.
    pub converged: bool,
    /// Nelder-Mead iterations over all runs.
    pub iterations: usize,
    /// Objective evaluations over all runs.
    pub evaluations: usize,
}

/// One Nelder-Mead run from `start` with an initial simplex of step `step` per coordinate.
/// Non-finite objective values are treated as `+inf`, so the simplex walks away from them.
pub fn nelder_mead<F: FnMut(&[f64]) -> f64>(
    f: &mut F,
    start: &[f64],
    step: f64,
    cfg: &OptimizerConfig,
) -> Minimum {
    let n = start.len();
    let mut evals = 0usize;
    let mut eval = |x: &[f64], evals: &mut usize| {
        *evals += 1;
        let v = f(x);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };
    let mut simplex: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    simplex.push(start.to_vec());
    for i in 0..n {
        let mut v = start.to_vec();
        v[i] += step;
        simplex.push(v);
    }
    let mut values: Vec<f64> = simplex.iter().map(|v| eval(v, &mut evals)).collect();
    let (alpha, gamma, rho, sigma) = (1.0, 2.0, 0.5, 0.5);
    let mut converged = false;
    let mut iterations = 0;
    while iterations < cfg.max_iterations {
        // Order vertices by value (NaN cannot occur: mapped to +inf).
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        let f_spread = values[n] - values[0];
        let x_spread = simplex[1..]
            .iter()
            .flat_map(|v| v.iter().zip(&simplex[0]).map(|(a, b)| (a - b).abs()))
            .fold(0.0_f64, f64::max);
        if f_spread.is_finite() && f_spread <= cfg.f_tolerance && x_spread <= cfg.x_tolerance {
            converged = true;
            break;
        }
        iterations += 1;
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|v| v[j]).sum::<f64>() / n as f64)
            .collect();
        let towards = |t: f64, from: &[f64]| -> Vec<f64> {
            centroid
                .iter()
                .zip(from)
                .map(|(c, w)| c + t * (w - c))
                .collect()
        };
        let reflected = towards(-alpha, &simplex[n]);
        let fr = eval(&reflected, &mut evals);
        if fr < values[0] {
            let expanded = towards(-gamma, &simplex[n]);
            let fe = eval(&expanded, &mut evals);
            if fe < fr {
                simplex[n] = expanded;
                values[n] = fe;
            } else {
                simplex[n] = reflected;
                values[n] = fr;
            }
        } else if fr < values[n - 1] {
            simplex[n] = reflected;
            values[n] = fr;
        } else {
            let (contracted, fc) = if fr < values[n] {
                let c = towards(-rho, &simplex[n]);
                let fc = eval(&c, &mut evals);
                (c, fc)
            } else {
                let c = towards(rho, &simplex[n]);
                let fc = eval(&c, &mut evals);
                (c, fc)
            };
            if fc < values[n].min(fr) {
                simplex[n] = contracted;
                values[n] = fc;
            } else {
                // Shrink towards the best vertex.
                let best = simplex[0].clone();
                for i in 1..=n {
                    for j in 0..n {
                        simplex[i][j] = best[j] + sigma * (simplex[i][j] - best[j]);
                    }
                    values[i] = eval(&simplex[i], &mut evals);
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    Minimum {
        x: simplex[best].clone(),
        f: values[best],
        converged,
        iterations,
        evaluations: evals,
    }
}

/// Runs Nelder-Mead from every start (loose tolerances), then restarts from the best
/// point found with the full tolerances (a fresh
/// simplex undoes a collapsed one) until a restart no longer improves the objective by
/// more than the tolerance. `converged` is true when the last run converged.
pub fn minimize_with_restarts<F: FnMut(&[f64]) -> f64>(
    f: &mut F,
    starts: &[Vec<f64>],
    cfg: &OptimizerConfig,
) -> Option<Minimum> {
    let mut iterations = 0;
    let mut evaluations = 0;
    let mut best: Option<Minimum> = None;
    // Starts are explored with loose tolerances; only the best one is polished.
    let coarse = OptimizerConfig {
        max_iterations: cfg.max_iterations,
        f_tolerance: cfg.f_tolerance.max(1e-6),
        x_tolerance: cfg.x_tolerance.max(1e-3),
    };
    for s in starts {
        let m = nelder_mead(f, s, 0.5, &coarse);
        iterations += m.iterations;
        evaluations += m.evaluations;
        if best.as_ref().is_none_or(|b| m.f < b.f) {
            best = Some(m);
        }
    }
    let mut best = best?;
    for _ in 0..5 {
        let m = nelder_mead(f, &best.x, 0.05, cfg);
        iterations += m.iterations;
        evaluations += m.evaluations;
        let improved = m.f < best.f - cfg.f_tolerance;
        if m.f <= best.f {
            best = m;
        } else {
            best.converged = m.converged;
        }
        if !improved {
            break;
        }
    }
    best.iterations = iterations;
    best.evaluations = evaluations;
    Some(best)
}

/// BFGS with a backtracking (Armijo) line search, for a smooth objective that returns
/// its value and gradient. Non-finite values count as `+inf` (the step is shortened).
/// Converged when the largest gradient component is below `sqrt(f_tolerance)` scaled by
/// `1 + |f|`, or when a full iteration moves neither `f` by more than `f_tolerance` nor
/// any coordinate by more than `x_tolerance`.
pub fn bfgs<F: FnMut(&[f64]) -> (f64, Vec<f64>)>(
    f: &mut F,
    start: &[f64],
    cfg: &OptimizerConfig,
) -> Minimum {
    let n = start.len();
    let mut x = start.to_vec();
    let (mut fx, mut g) = f(&x);
    let mut evaluations = 1;
    let mut h = vec![vec![0.0; n]; n];
    for (i, row) in h.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let done = |x: Vec<f64>, fx: f64, converged: bool, it: usize, ev: usize| Minimum {
        x,
        f: fx,
        converged,
        iterations: it,
        evaluations: ev,
    };
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return done(x, f64::INFINITY, false, 0, evaluations);
    }
    let gtol = cfg.f_tolerance.sqrt();
    for it in 1..=cfg.max_iterations {
        if g.iter().fold(0.0_f64, |m, v| m.max(v.abs())) <= gtol * (1.0 + fx.abs()) {
            return done(x, fx, true, it - 1, evaluations);
        }
        // Direction d = -H g; fall back to steepest descent if it is not downhill.
        let mut d: Vec<f64> = (0..n)
            .map(|i| -(0..n).map(|j| h[i][j] * g[j]).sum::<f64>())
            .collect();
        let mut slope: f64 = d.iter().zip(&g).map(|(a, b)| a * b).sum();
        if slope.is_nan() || slope >= 0.0 {
            for (i, row) in h.iter_mut().enumerate() {
                row.iter_mut().for_each(|v| *v = 0.0);
                row[i] = 1.0;
            }
            d = g.iter().map(|v| -v).collect();
            slope = -g.iter().map(|v| v * v).sum::<f64>();
        }
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..60 {
            let xn: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + step * b).collect();
            let (fnew, gnew) = f(&xn);
            evaluations += 1;
            if fnew.is_finite()
                && gnew.iter().all(|v| v.is_finite())
                && fnew <= fx + 1e-4 * step * slope
            {
                accepted = Some((xn, fnew, gnew));
                break;
            }
            step *= 0.5;
        }
        let Some((xn, fnew, gnew)) = accepted else {
            // No decrease along a descent direction: at the precision limit.
            let small =
                g.iter().fold(0.0_f64, |m, v| m.max(v.abs())) <= 1e3 * gtol * (1.0 + fx.abs());
            return done(x, fx, small, it, evaluations);
        };
        let sv: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = gnew.iter().zip(&g).map(|(a, b)| a - b).collect();
        let df = fx - fnew;
        let dx = sv.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        x = xn;
        fx = fnew;
        g = gnew;
        if df.abs() <= cfg.f_tolerance * (1.0 + fx.abs()) && dx <= cfg.x_tolerance {
            return done(x, fx, true, it, evaluations);
        }
        let sy: f64 = sv.iter().zip(&yv).map(|(a, b)| a * b).sum();
        if sy > 1e-16 {
            if it == 1 {
                // Scale the initial inverse Hessian (Nocedal & Wright 6.20).
                let yy: f64 = yv.iter().map(|v| v * v).sum();
                for (i, row) in h.iter_mut().enumerate() {
                    row.iter_mut().for_each(|v| *v = 0.0);
                    row[i] = sy / yy;
                }
            }
            // H <- (I - ρ s yᵀ) H (I - ρ y sᵀ) + ρ s sᵀ
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| h[i][j] * yv[j]).sum())
                .collect();
            let yhy: f64 = yv.iter().zip(&hy).map(|(a, b)| a * b).sum();
            for i in 0..n {
                for j in 0..n {
                    h[i][j] +=
                        rho * ((1.0 + rho * yhy) * sv[i] * sv[j] - hy[i] * sv[j] - sv[i] * hy[j]);
                }
            }
        }
    }
    done(x, fx, false, cfg.max_iterations, evaluations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfgs_finds_rosenbrock_minimum_and_survives_non_finite_values() {
        let mut rosen = |x: &[f64]| {
            let f = (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
            let g = vec![
                -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]),
                200.0 * (x[1] - x[0] * x[0]),
            ];
            (f, g)
        };
        let m = bfgs(&mut rosen, &[-1.2, 1.0], &OptimizerConfig::default());
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-5 && (m.x[1] - 1.0).abs() < 1e-5,
            "{m:?}"
        );
        assert!(m.evaluations < 200, "{m:?}");
        // NaN right of x = 2: the line search backs off to the minimum at 1.
        let mut walled = |x: &[f64]| {
            if x[0] > 2.0 {
                (f64::NAN, vec![f64::NAN])
            } else {
                ((x[0] - 1.0).powi(2), vec![2.0 * (x[0] - 1.0)])
            }
        };
        let m = bfgs(&mut walled, &[-30.0], &OptimizerConfig::default());
        assert!(m.converged && (m.x[0] - 1.0).abs() < 1e-6, "{m:?}");
        let mut bad = |_: &[f64]| (f64::NAN, vec![0.0]);
        assert!(!bfgs(&mut bad, &[0.0], &OptimizerConfig::default()).converged);
    }

    #[test]
    fn finds_rosenbrock_minimum() {
        let mut f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = minimize_with_restarts(&mut f, &[vec![-1.2, 1.0]], &OptimizerConfig::default())
            .unwrap();
        assert!(m.converged);
        assert!(
            (m.x[0] - 1.0).abs() < 1e-5 && (m.x[1] - 1.0).abs() < 1e-5,
            "{:?}",
            m.x
        );
    }

    #[test]
    fn walks_away_from_non_finite_values() {
        // Undefined (NaN) for x < 0; minimum at x = 2.
        let mut f = |x: &[f64]| {
            if x[0] < 0.0 {
                f64::NAN
            } else {
                (x[0] - 2.0).powi(2)
            }
        };
        let m = minimize_with_restarts(&mut f, &[vec![0.1]], &OptimizerConfig::default()).unwrap();
        assert!((m.x[0] - 2.0).abs() < 1e-6);
    }

    #[test]
    fn reports_non_convergence() {
        let cfg = OptimizerConfig {
            max_iterations: 3,
            ..OptimizerConfig::default()
        };
        let mut f = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
        let m = minimize_with_restarts(&mut f, &[vec![5.0, 5.0, 5.0]], &cfg).unwrap();
        assert!(!m.converged);
        assert!(minimize_with_restarts(&mut f, &[], &cfg).is_none());
    }
}

//! Weighted, L2-penalised logistic regression by Newton's method (IRLS), the default
//! solver of [`super::logistic::LogisticModel`].
//!
//! Each Newton step makes one pass over the rows that accumulates the gradient and the
//! packed upper triangle of the Hessian together, in fixed chunks of rows; with many
//! rows the chunks are split between two threads at a fixed boundary and the two sums
//! added in a fixed order, so the result does not depend on scheduling.

use ndarray::{Array1, Array2};

use super::calibrate::sigmoid;
use crate::error::{Error, Result};

/// Rows per accumulation chunk: partial sums stay small before they are added up.
const CHUNK: usize = 4096;
/// From this many rows on, each pass is split between two threads.
const PAR_ROWS: usize = 20_000;

/// Solve `a x = b` for symmetric positive definite `a` (Cholesky, with jitter on
/// failure).
fn solve_spd(a: &Array2<f64>, b: &Array1<f64>) -> Result<Array1<f64>> {
    let n = b.len();
    let tr = (0..n).map(|i| a[[i, i]].abs()).sum::<f64>().max(1.0);
    for jitter in [0.0, 1e-10, 1e-8, 1e-6] {
        let mut l = Array2::<f64>::zeros((n, n));
        let mut ok = true;
        'outer: for i in 0..n {
            for j in 0..=i {
                let mut s = a[[i, j]];
                for k in 0..j {
                    s -= l[[i, k]] * l[[j, k]];
                }
                if i == j {
                    let d = s + jitter * tr;
                    if d <= 0.0 || !d.is_finite() {
                        ok = false;
                        break 'outer;
                    }
                    l[[i, i]] = d.sqrt();
                } else {
                    l[[i, j]] = s / l[[j, j]];
                }
            }
        }
        if !ok {
            continue;
        }
        let mut y = b.clone();
        for i in 0..n {
            for k in 0..i {
                y[i] -= l[[i, k]] * y[k];
            }
            y[i] /= l[[i, i]];
        }
        for i in (0..n).rev() {
            for k in i + 1..n {
                y[i] -= l[[k, i]] * y[k];
            }
            y[i] /= l[[i, i]];
        }
        return Ok(y);
    }
    Err(Error::model("logistic regression: the Hessian is singular"))
}

/// Gradient and packed upper-triangle Hessian terms of the rows of `x` (row-major,
/// `k` columns, plus an implicit intercept column of ones): `[g (k + 1) | h]`.
fn newton_terms(x: &[f64], k: usize, eta: &[f64], y: &[f64], w: &[f64]) -> Vec<f64> {
    let m = k + 1;
    let mut acc = vec![0.0; m + m * (m + 1) / 2];
    let mut part = vec![0.0; acc.len()];
    let mut row = vec![1.0; m];
    for start in (0..eta.len()).step_by(CHUNK) {
        part.fill(0.0);
        let (g, h) = part.split_at_mut(m);
        for i in start..(start + CHUNK).min(eta.len()) {
            row[..k].copy_from_slice(&x[i * k..(i + 1) * k]);
            let p = sigmoid(eta[i]);
            let r = w[i] * (p - y[i]);
            let hw = w[i] * p * (1.0 - p);
            let mut off = 0;
            for a in 0..m {
                let xa = row[a];
                g[a] += r * xa;
                let s = hw * xa;
                let len = m - a;
                for (hv, xb) in h[off..off + len].iter_mut().zip(&row[a..]) {
                    *hv += s * xb;
                }
                off += len;
            }
        }
        for (a, v) in acc.iter_mut().zip(&part) {
            *a += v;
        }
    }
    acc
}

/// [`newton_terms`] over all rows, split between two threads for large inputs.
fn newton_terms_par(x: &[f64], k: usize, eta: &[f64], y: &[f64], w: &[f64]) -> Vec<f64> {
    let n = eta.len();
    if n < PAR_ROWS {
        return newton_terms(x, k, eta, y, w);
    }
    let mid = n.div_ceil(CHUNK) / 2 * CHUNK;
    let (a, b) = std::thread::scope(|s| {
        let first = s.spawn(|| newton_terms(&x[..mid * k], k, &eta[..mid], &y[..mid], &w[..mid]));
        let second = newton_terms(&x[mid * k..], k, &eta[mid..], &y[mid..], &w[mid..]);
        (first.join(), second)
    });
    // A panic in the worker can only be a bug; fall back to one thread rather than abort.
    let mut a = match a {
        Ok(a) => a,
        Err(_) => return newton_terms(x, k, eta, y, w),
    };
    for (u, v) in a.iter_mut().zip(&b) {
        *u += v;
    }
    a
}

/// Linear predictor of every row into `eta`, and each row's weighted log-loss into
/// `loss`.
fn eta_loss(
    x: &[f64],
    k: usize,
    beta: &[f64],
    y: &[f64],
    w: &[f64],
    eta: &mut [f64],
    loss: &mut [f64],
) {
    for (i, (e, l)) in eta.iter_mut().zip(loss.iter_mut()).enumerate() {
        let v = x[i * k..(i + 1) * k]
            .iter()
            .zip(&beta[..k])
            .fold(0.0, |s, (a, b)| s + a * b)
            + beta[k];
        *e = v;
        *l = w[i] * (v.max(0.0) + (-v.abs()).exp().ln_1p() - y[i] * v);
    }
}

/// Linear predictor of every row into `eta`, and the penalised weighted log-loss. The
/// rows' terms are computed on two threads for large inputs (fixed split) and always
/// summed in row order on one, so the loss does not depend on the split.
#[allow(clippy::too_many_arguments)]
fn eta_objective(
    x: &[f64],
    k: usize,
    beta: &[f64],
    y: &[f64],
    w: &[f64],
    l2: f64,
    eta: &mut [f64],
    loss: &mut [f64],
) -> f64 {
    let n = eta.len();
    if n < PAR_ROWS {
        eta_loss(x, k, beta, y, w, eta, loss);
    } else {
        let mid = n / 2;
        let (e0, e1) = eta.split_at_mut(mid);
        let (l0, l1) = loss.split_at_mut(mid);
        std::thread::scope(|s| {
            let h = s.spawn(|| eta_loss(&x[mid * k..], k, beta, &y[mid..], &w[mid..], e1, l1));
            eta_loss(&x[..mid * k], k, beta, &y[..mid], &w[..mid], e0, l0);
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p);
            }
        });
    }
    let f = loss.iter().fold(0.0, |f, l| f + l);
    f + 0.5 * l2 * beta[..k].iter().map(|b| b * b).sum::<f64>()
}

/// Weighted Newton on `[z | 1]`; returns (beta, intercept, iterations, converged).
pub(super) fn irls(
    z: &Array2<f64>,
    y: &[f64],
    w: &[f64],
    l2: f64,
    max_iter: u64,
) -> Result<(Array1<f64>, f64, u64, bool)> {
    let (n, k) = z.dim();
    let m = k + 1;
    let z = z.as_standard_layout();
    let x = z
        .as_slice()
        .ok_or_else(|| Error::model("logistic regression: design matrix not contiguous"))?;
    let mut beta = vec![0.0; m];
    let mut eta = vec![0.0; n];
    let mut ne = vec![0.0; n];
    let mut loss = vec![0.0; n];
    let mut f = eta_objective(x, k, &beta, y, w, l2, &mut eta, &mut loss);
    let done = |beta: &[f64], it, conv| (Array1::from(beta[..k].to_vec()), beta[k], it, conv);
    for it in 1..=max_iter {
        let t = newton_terms_par(x, k, &eta, y, w);
        let mut g = Array1::from(t[..m].to_vec());
        let mut h = Array2::<f64>::zeros((m, m));
        let mut off = m;
        for a in 0..m {
            for b in a..m {
                h[[a, b]] = t[off];
                h[[b, a]] = t[off];
                off += 1;
            }
        }
        for j in 0..k {
            g[j] += l2 * beta[j];
            h[[j, j]] += l2;
        }
        let d = solve_spd(&h, &g)?;
        let mut step = 1.0;
        loop {
            let nb: Vec<f64> = beta.iter().zip(&d).map(|(b, d)| b - d * step).collect();
            let nf = eta_objective(x, k, &nb, y, w, l2, &mut ne, &mut loss);
            if nf <= f || step < 1e-8 {
                let change = (f - nf).abs();
                let max_step = d.iter().fold(0.0f64, |m, v| m.max(v.abs())) * step;
                beta = nb;
                std::mem::swap(&mut eta, &mut ne);
                f = nf;
                if max_step < 1e-8 || change <= 1e-12 * f.abs().max(1.0) {
                    return Ok(done(&beta, it, true));
                }
                break;
            }
            step /= 2.0;
        }
    }
    Ok(done(&beta, max_iter, false))
}

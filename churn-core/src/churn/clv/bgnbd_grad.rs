//! The gradient of the BG/NBD mean log-likelihood (for BFGS), checked against finite
//! differences of [`super::mean_log_likelihood`].

use super::super::special::{digamma, ln_gamma};
use super::Prepared;

/// Mean log-likelihood and its gradient in (r, α, a, b) (digamma for the Γ terms).
pub(super) fn mean_log_likelihood_grad(
    p: &Prepared,
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
) -> (f64, [f64; 4]) {
    let (lg_r, lg_ab, lg_b) = (ln_gamma(r), ln_gamma(a + b), ln_gamma(b));
    let (dg_r, dg_ab, dg_b) = (digamma(r), digamma(a + b), digamma(b));
    let ln_alpha = alpha.ln();
    let mut total = 0.0;
    let mut g = [0.0; 4];
    for &(x, w) in &p.xs {
        total += w
            * (ln_gamma(r + x) - lg_r + r * ln_alpha + lg_ab + ln_gamma(b + x)
                - lg_b
                - ln_gamma(a + b + x));
        let dg_abx = digamma(a + b + x);
        g[0] += w * (digamma(r + x) - dg_r + ln_alpha);
        g[1] += w * r / alpha;
        g[2] += w * (dg_ab - dg_abx);
        g[3] += w * (dg_ab + digamma(b + x) - dg_b - dg_abx);
    }
    let ln_a = a.ln();
    for &(x, tx, t, w) in &p.rows {
        let ln_alpha_t = (alpha + t).ln();
        let rx = r + x;
        // -(r+x) ln(α+T)
        total -= w * rx * ln_alpha_t;
        g[0] -= w * ln_alpha_t;
        g[1] -= w * rx / (alpha + t);
        if x > 0.0 {
            let ln_alpha_tx = (alpha + tx).ln();
            let d = ln_a - (b + x - 1.0).ln() + rx * (ln_alpha_t - ln_alpha_tx);
            // softplus(d) and its slope sigmoid(d)
            let (sp, sig) = if d > 0.0 {
                let e = (-d).exp();
                (d + e.ln_1p(), 1.0 / (1.0 + e))
            } else {
                let e = d.exp();
                (e.ln_1p(), e / (1.0 + e))
            };
            total += w * sp;
            g[0] += w * sig * (ln_alpha_t - ln_alpha_tx);
            g[1] += w * sig * rx * (1.0 / (alpha + t) - 1.0 / (alpha + tx));
            g[2] += w * sig / a;
            g[3] -= w * sig / (b + x - 1.0);
        }
    }
    let n = p.total_weight;
    (total / n, g.map(|v| v / n))
}

#[cfg(test)]
mod tests {
    use super::super::{mean_log_likelihood, prepare};
    use super::*;
    use crate::churn::clv::CustomerSummary;

    #[test]
    fn gradient_matches_finite_differences() {
        let data: Vec<CustomerSummary> = (0..60)
            .map(|i| {
                let x = (i % 5) as u32;
                let t = 20.0 + (i % 9) as f64;
                let tx = if x == 0 {
                    0.0
                } else {
                    t * ((i % 4) as f64 + 1.0) / 5.0
                };
                CustomerSummary::new(x, tx, t, 0.0)
            })
            .collect();
        let p = prepare(&data, 1.0 / 28.0);
        for th in [
            [0.24, 4.4 / 28.0, 0.79, 2.4],
            [1.7, 0.3, 0.2, 0.6],
            [0.05, 2.0, 3.0, 9.0],
        ] {
            let (f, g) = mean_log_likelihood_grad(&p, th[0], th[1], th[2], th[3]);
            let plain = mean_log_likelihood(&p, th[0], th[1], th[2], th[3]);
            assert!((f - plain).abs() < 1e-12, "{f} vs {plain}");
            for i in 0..4 {
                let h = 1e-6 * th[i];
                let (mut up, mut dn) = (th, th);
                up[i] += h;
                dn[i] -= h;
                let fd = (mean_log_likelihood(&p, up[0], up[1], up[2], up[3])
                    - mean_log_likelihood(&p, dn[0], dn[1], dn[2], dn[3]))
                    / (2.0 * h);
                assert!(
                    (g[i] - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                    "param {i} at {th:?}: {} vs {fd}",
                    g[i]
                );
            }
        }
    }
}

//! Special functions used by the customer-base models: `ln Γ` (Lanczos) and the Gaussian
//! hypergeometric function `2F1` (power series, evaluated in log space).

use crate::{Error, Result};

/// Lanczos coefficients for g = 7, n = 9 (the set used by Numerical Recipes 3rd ed. and
/// many libm-free implementations); relative error about 1e-15 for x > 0.
const LANCZOS_G: f64 = 7.0;
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// Natural log of the gamma function, `ln Γ(x)`, for `x > 0` (Lanczos approximation,
/// reflection formula below 0.5). Returns `+inf` at 0 and NaN for negative input, which
/// callers never pass (model parameters are positive by construction).
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::INFINITY;
    }
    if x < 0.5 {
        // Γ(x) Γ(1-x) = π / sin(πx)
        let s = (std::f64::consts::PI * x).sin();
        return (std::f64::consts::PI / s).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    let t = x + LANCZOS_G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Largest number of series terms [`ln_hyp2f1`] sums before giving up.
const HYP2F1_MAX_TERMS: usize = 2_000_000;

/// `ln 2F1(a, b; c; z)` for `a, b, c > 0` and `0 <= z < 1`, by the power series
/// `Σ (a)_n (b)_n / ((c)_n n!) z^n`.
///
/// All terms are positive, so there is no cancellation; the running sum is rescaled
/// whenever it grows past 1e250, so large arguments (a customer with hundreds of
/// purchases) do not overflow. The series stops when the geometric bound on the tail,
/// `term · ρ / (1 − ρ)` with `ρ = max(current term ratio, z)`, is below 1e-15 of the sum;
/// it fails with [`Error::Model`] if that has not happened after two million terms
/// (z extremely close to 1).
pub fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64> {
    if !(a > 0.0 && b > 0.0 && c > 0.0 && a.is_finite() && b.is_finite() && c.is_finite()) {
        return Err(Error::Model {
            message: format!("2F1 needs positive finite a, b, c (got {a}, {b}, {c})"),
        });
    }
    if !(0.0..1.0).contains(&z) {
        return Err(Error::Model {
            message: format!("2F1 series needs 0 <= z < 1 (got {z})"),
        });
    }
    if z == 0.0 {
        return Ok(0.0);
    }
    const RESCALE: f64 = 1e250;
    let ln_rescale = RESCALE.ln();
    let mut term = 1.0_f64;
    let mut sum = 1.0_f64;
    let mut log_offset = 0.0_f64;
    for n in 0..HYP2F1_MAX_TERMS {
        let nf = n as f64;
        let ratio = (a + nf) * (b + nf) / ((c + nf) * (nf + 1.0)) * z;
        term *= ratio;
        sum += term;
        if sum > RESCALE {
            sum /= RESCALE;
            term /= RESCALE;
            log_offset += ln_rescale;
        }
        let rho = ratio.max(z);
        if rho < 1.0 && term * rho / (1.0 - rho) <= 1e-15 * sum {
            return Ok(sum.ln() + log_offset);
        }
    }
    Err(Error::Model {
        message: format!(
            "2F1({a}, {b}; {c}; {z}) series did not converge in {HYP2F1_MAX_TERMS} terms"
        ),
    })
}

/// The digamma function ψ(x) = d/dx ln Γ(x) for x > 0: the recurrence
/// ψ(x) = ψ(x+1) - 1/x up to x >= 10, then the asymptotic series (error < 1e-12).
/// NaN for x <= 0 or NaN.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || x.is_infinite() {
        return if x == f64::INFINITY {
            f64::INFINITY
        } else {
            f64::NAN
        };
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // ln x - 1/(2x) - Σ B_2k / (2k x^2k)
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 * (1.0 / 132.0)))));
    acc + x.ln() - 0.5 * inv - series
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn digamma_matches_known_values_and_ln_gamma_slope() {
        // ψ(1) = -γ, ψ(1/2) = -γ - 2 ln 2, ψ(n+1) = ψ(n) + 1/n.
        let euler = 0.577_215_664_901_532_9;
        assert!(close(digamma(1.0), -euler, 1e-12));
        assert!(close(digamma(0.5), -euler - 2.0 * 2f64.ln(), 1e-12));
        assert!(close(digamma(11.0), digamma(10.0) + 0.1, 1e-12));
        for x in [0.03, 0.7, 2.5, 9.0, 40.0, 1e4] {
            let h = 1e-5 * x;
            let fd = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(close(digamma(x), fd, 1e-6), "{x}: {} vs {fd}", digamma(x));
        }
        assert!(digamma(0.0).is_nan() && digamma(-1.0).is_nan() && digamma(f64::NAN).is_nan());
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        // Integers: ln((n-1)!)
        let mut fact = 1.0_f64;
        for n in 1..30 {
            if n > 1 {
                fact *= (n - 1) as f64;
            }
            assert!(close(ln_gamma(n as f64), fact.ln(), 1e-13), "n = {n}");
        }
        let sqrt_pi = std::f64::consts::PI.sqrt();
        assert!(close(ln_gamma(0.5), sqrt_pi.ln(), 1e-14));
        assert!(close(ln_gamma(1.5), (sqrt_pi / 2.0).ln(), 1e-14));
        // Γ(1/3) = 2.678938534707747633...
        assert!(close(
            ln_gamma(1.0 / 3.0),
            2.678_938_534_707_747_6_f64.ln(),
            1e-14
        ));
        // Small x: ln Γ(x) ≈ -ln x - γ x
        let x = 1e-10;
        assert!(close(
            ln_gamma(x),
            -x.ln() - 0.577_215_664_901_532_9 * x,
            1e-12
        ));
        // Large x against Stirling with three correction terms.
        for &x in &[50.0_f64, 1e3, 1e6] {
            let stirling =
                (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * x)
                    - 1.0 / (360.0 * x.powi(3))
                    + 1.0 / (1260.0 * x.powi(5));
            assert!(close(ln_gamma(x), stirling, 1e-13), "x = {x}");
        }
        assert!(ln_gamma(-1.0).is_nan());
        assert_eq!(ln_gamma(0.0), f64::INFINITY);
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1-z)/z
        for &z in &[0.01_f64, 0.3, 0.7, 0.99] {
            let want = (-(1.0 - z).ln() / z).ln();
            assert!(
                close(ln_hyp2f1(1.0, 1.0, 2.0, z).unwrap(), want, 1e-12),
                "z = {z}"
            );
        }
        // 2F1(a, b; b; z) = (1-z)^(-a)
        for &(a, b, z) in &[(0.5_f64, 2.0, 0.4_f64), (3.0, 1.5, 0.9), (30.0, 40.0, 0.5)] {
            let want = -a * (1.0 - z).ln();
            assert!(close(ln_hyp2f1(a, b, b, z).unwrap(), want, 1e-12));
        }
        // Huge parameters do not overflow: 2F1(a, 1; 1; z) = (1-z)^(-a) with a = 5000.
        let v = ln_hyp2f1(5000.0, 1.0, 1.0, 0.9).unwrap();
        assert!(close(v, -5000.0 * 0.1_f64.ln(), 1e-10), "{v}");
        assert_eq!(ln_hyp2f1(1.0, 1.0, 2.0, 0.0).unwrap(), 0.0);
        assert!(ln_hyp2f1(1.0, 1.0, 2.0, 1.0).is_err());
        assert!(ln_hyp2f1(-1.0, 1.0, 2.0, 0.5).is_err());
    }
}

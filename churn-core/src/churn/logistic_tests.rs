use ndarray::Array2;

use super::*;
use crate::churn::features::{FeatureKind, FeatureSpec};

fn schema(n: usize) -> FeatureSchema {
    FeatureSchema {
        columns: (0..n)
            .map(|i| FeatureSpec {
                name: format!("f{i}"),
                kind: FeatureKind::Numeric,
            })
            .collect(),
    }
}

/// Deterministic data: 100 churned, 300 retained (ratio exactly 3), two informative
/// features and one noise feature.
fn data() -> (Array2<f64>, Vec<bool>) {
    let n = 400;
    let mut x = Array2::zeros((n, 3));
    let mut y = Vec::new();
    for i in 0..n {
        let u = (i as f64 * 0.618_033_988_75).fract();
        let v = (i as f64 * 0.414_213_562_37).fract();
        let w = (i as f64 * 0.732_050_807_57).fract();
        let churned = i % 4 == 0;
        x[[i, 0]] = 10.0 * u + if churned { 4.0 } else { 0.0 };
        x[[i, 1]] = 100.0 * v - if churned { 30.0 } else { 0.0 };
        x[[i, 2]] = w;
        y.push(churned);
    }
    (x, y)
}

fn fit(x: &Array2<f64>, y: &[bool], p: LogisticParams) -> Result<LogisticModel> {
    LogisticModel::fit(x.view(), y, &schema(x.ncols()), &p)
}

#[test]
fn irls_solves_the_weighted_objective() {
    let (x, y) = data();
    let m = fit(&x, &y, LogisticParams::default().l2(0.5)).unwrap();
    assert!(m.fit_report.converged);
    // Gradient of sum_i w_i logloss_i + l2/2 |beta|^2 at the solution, plainly.
    let mut g = [0.0; 4];
    for i in 0..x.nrows() {
        let z: Vec<f64> = (0..3)
            .map(|j| (x[[i, j]] - m.mean[j]) / m.scale[j])
            .collect();
        let eta = m.intercept + (0..3).map(|j| m.coef[j] * z[j]).sum::<f64>();
        let w = if y[i] { 3.0 } else { 1.0 };
        let r = w * (1.0 / (1.0 + (-eta).exp()) - y[i] as u8 as f64);
        for j in 0..3 {
            g[j] += r * z[j];
        }
        g[3] += r;
    }
    for (gj, cj) in g.iter_mut().zip(&m.coef) {
        *gj += 0.5 * cj;
    }
    assert!(g.iter().all(|v| v.abs() < 1e-6), "gradient {g:?}");
    assert!(m.coef[0] > 0.0 && m.coef[1] < 0.0);
}

#[test]
fn linfa_with_oversampling_matches_weighted_irls() {
    let (x, y) = data();
    let a = fit(&x, &y, LogisticParams::default()).unwrap();
    let b = fit(&x, &y, LogisticParams::default().solver(Solver::Linfa)).unwrap();
    for j in 0..3 {
        assert!(
            (a.coef[j] - b.coef[j]).abs() < 1e-3,
            "coef {j}: {} vs {}",
            a.coef[j],
            b.coef[j]
        );
    }
    assert!((a.intercept - b.intercept).abs() < 1e-3);
    // Unweighted differs: balanced weights move the intercept up.
    let c = fit(
        &x,
        &y,
        LogisticParams::default().class_weight(ClassWeight::None),
    )
    .unwrap();
    assert!(a.intercept > c.intercept + 0.5);
}

#[test]
fn explanation_sums_to_the_logit() {
    let (x, y) = data();
    let m = fit(&x, &y, LogisticParams::default()).unwrap();
    let p = m.predict_proba(x.view()).unwrap();
    for r in [0, 7, 123] {
        let c = m.explain(x.row(r)).unwrap();
        let logit = m.intercept() + c.iter().map(|c| c.contribution).sum::<f64>();
        assert!((1.0 / (1.0 + (-logit).exp()) - p[r]).abs() < 1e-12);
        assert_eq!(c[0].value, x[[r, 0]]);
    }
    assert_eq!(m.contribution_scale(), ContributionScale::Logit);
}

#[test]
fn constant_columns_are_dropped_all_constant_is_an_error() {
    let (mut x, y) = data();
    x.column_mut(2).fill(7.0);
    let m = fit(&x, &y, LogisticParams::default()).unwrap();
    assert_eq!(m.dropped(), ["f2".to_string()]);
    assert_eq!(m.coefficients()[2], 0.0);
    x.fill(1.0);
    let e = fit(&x, &y, LogisticParams::default()).unwrap_err();
    assert!(e.to_string().contains("constant"), "{e}");
}

#[test]
fn nan_is_refused_or_imputed_infinity_refused() {
    let (mut x, y) = data();
    x[[5, 1]] = f64::NAN;
    let e = fit(&x, &y, LogisticParams::default()).unwrap_err();
    assert!(
        e.to_string().contains("\"f1\"") && e.to_string().contains("row 5"),
        "{e}"
    );
    let m = fit(
        &x,
        &y,
        LogisticParams::default().nan_policy(NanPolicy::ImputeMedian),
    )
    .unwrap();
    let p = m.predict_proba(x.view()).unwrap();
    assert!(p.iter().all(|v| v.is_finite()));
    x[[6, 0]] = f64::INFINITY;
    assert!(fit(
        &x,
        &y,
        LogisticParams::default().nan_policy(NanPolicy::ImputeMedian)
    )
    .is_err());
    // A model without imputation refuses NaN at scoring time too.
    let (x2, y2) = data();
    let m2 = fit(&x2, &y2, LogisticParams::default()).unwrap();
    assert!(m2.predict_proba(x.view()).is_err());
}

#[test]
fn bad_shapes_and_classes() {
    let (x, y) = data();
    let empty = Array2::<f64>::zeros((0, 3));
    assert!(fit(&empty, &[], LogisticParams::default())
        .unwrap_err()
        .to_string()
        .contains("empty"));
    let one = vec![true; x.nrows()];
    assert!(fit(&x, &one, LogisticParams::default())
        .unwrap_err()
        .to_string()
        .contains("single class"));
    assert!(fit(&x, &y[..10], LogisticParams::default()).is_err());
    let e = LogisticModel::fit(x.view(), &y, &schema(4), &LogisticParams::default()).unwrap_err();
    assert_eq!(e.code(), "ERR_SCHEMA_MISMATCH");
    let m = fit(&x, &y, LogisticParams::default()).unwrap();
    assert_eq!(
        m.predict_proba(Array2::zeros((2, 5)).view())
            .unwrap_err()
            .code(),
        "ERR_SCHEMA_MISMATCH"
    );
    assert!(fit(&x, &y, LogisticParams::default().l2(-1.0)).is_err());
    assert!("newton".parse::<Solver>().is_err());
}

#[test]
fn separable_data_stays_finite_with_l2() {
    let x = Array2::from_shape_vec((6, 1), vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0]).unwrap();
    let y = [false, false, false, true, true, true];
    for s in [Solver::Irls, Solver::Linfa] {
        let m = fit(&x, &y, LogisticParams::default().solver(s)).unwrap();
        let p = m.predict_proba(x.view()).unwrap();
        assert!(p[0] < 0.5 && p[5] > 0.5, "{s:?}: {p}");
    }
}

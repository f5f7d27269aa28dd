//! Timing of the customer-base and tree models at the scale (100k customers,
//! 100k x 30 features). Prints the median of a few runs: `cargo bench -p churn-core --bench clv_trees`.

use std::time::{Duration, Instant};

use churn_core::churn::clv::{BgNbd, BgNbdConfig, BgNbdParams, CustomerSummary};
use churn_core::churn::trees::{
    GradientBoosting, GradientBoostingConfig, RandomForest, RandomForestConfig,
};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};

fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[times.len() / 2], last.expect("runs > 0"))
}

fn customers(n: usize, whole_days: bool) -> Vec<CustomerSummary> {
    let p = BgNbdParams {
        r: 0.5,
        alpha: 40.0,
        a: 0.8,
        b: 2.5,
    };
    let mut rng = StdRng::seed_from_u64(1);
    (0..n)
        .map(|_| {
            let age = 30.0 + (rng.random::<f64>() * 335.0).floor();
            let lambda = Gamma::new(p.r, 1.0 / p.alpha).unwrap().sample(&mut rng);
            let drop = Beta::new(p.a, p.b).unwrap().sample(&mut rng);
            let (mut t, mut x, mut tx) = (0.0, 0u32, 0.0);
            loop {
                t += Exp::new(lambda).unwrap().sample(&mut rng);
                if t > age {
                    break;
                }
                x += 1;
                tx = if whole_days { f64::floor(t) } else { t };
                if rng.random::<f64>() < drop {
                    break;
                }
            }
            CustomerSummary::new(x, if x == 0 { 0.0 } else { tx }, age, 0.0)
        })
        .collect()
}

fn main() {
    for whole_days in [true, false] {
        let data = customers(100_000, whole_days);
        let label = if whole_days {
            "recency in whole days"
        } else {
            "continuous recency, no duplicates"
        };
        let (t_nm, nm) = median(3, || {
            BgNbd::fit(&data, &BgNbdConfig::default().gradient(false)).unwrap()
        });
        let (t, m) = median(3, || BgNbd::fit(&data, &BgNbdConfig::default()).unwrap());
        println!(
            "BG/NBD fit, 100k customers ({label}): Nelder-Mead median {:.3} s ({} evaluations, \
             -LL/n {:.9}); BFGS + analytic gradient median {:.3} s ({} evaluations, -LL/n {:.9}): \
             {:.1}x faster; params {:?}",
            t_nm.as_secs_f64(),
            nm.report.evaluations,
            nm.report.objective,
            t.as_secs_f64(),
            m.report.evaluations,
            m.report.objective,
            t_nm.as_secs_f64() / t.as_secs_f64(),
            m.params
        );
        let (t, _) = median(3, || {
            data.iter()
                .map(|c| m.probability_no_purchase(c, 30.0).unwrap())
                .sum::<f64>()
        });
        println!(
            "BG/NBD P(no purchase in 30 days) for 100k customers: median {:.2} ms",
            t.as_secs_f64() * 1e3
        );
        let (t, _) = median(3, || {
            data.iter()
                .map(|c| m.expected_purchases(c, 30.0).unwrap())
                .sum::<f64>()
        });
        println!(
            "BG/NBD expected purchases (2F1) for 100k customers: median {:.2} ms",
            t.as_secs_f64() * 1e3
        );
    }

    let (n, p) = (100_000, 30);
    let mut rng = StdRng::seed_from_u64(7);
    let x = Array2::from_shape_fn((n, p), |_| rng.random::<f64>());
    let y: Vec<bool> = (0..n)
        .map(|i| {
            let r = x.row(i);
            let z = 3.0 * (r[0] - 0.5) + 2.0 * (((r[1] > 0.5) ^ (r[2] > 0.5)) as i32 as f64) - 1.0
                + r[3] * r[4] * 2.0
                - 1.0;
            rng.random::<f64>() < 1.0 / (1.0 + (-z).exp())
        })
        .collect();
    let gbc = GradientBoostingConfig::default();
    let (t, gb) = median(3, || GradientBoosting::fit(&x, &y, None, &gbc).unwrap());
    println!(
        "GBT fit 100k x 30, 100 trees depth 6: median {:.3} s",
        t.as_secs_f64()
    );
    let (t, _) = median(3, || gb.predict_proba(&x).unwrap());
    println!("GBT predict 100k: median {:.1} ms", t.as_secs_f64() * 1e3);
    let (t, _) = median(3, || gb.explain(&x.row(0).to_vec()).unwrap());
    println!(
        "GBT TreeSHAP one row: median {:.1} us",
        t.as_secs_f64() * 1e6
    );
    let rfc = RandomForestConfig::default();
    let (t, rf) = median(3, || RandomForest::fit(&x, &y, None, &rfc).unwrap());
    println!(
        "Random forest fit 100k x 30, 100 trees depth 12: median {:.3} s",
        t.as_secs_f64()
    );
    let (t, _) = median(3, || rf.predict_proba(&x).unwrap());
    println!(
        "Random forest predict 100k: median {:.1} ms",
        t.as_secs_f64() * 1e3
    );
}

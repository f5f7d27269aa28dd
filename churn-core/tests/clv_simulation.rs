//! BG/NBD and Gamma-Gamma against data simulated from their generative processes
//! (seeded RNG): parameter recovery, and the P(no purchase) churn score against the
//! simulated future.

use churn_core::churn::clv::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};

struct Simulated {
    summary: CustomerSummary,
    /// A purchase happened in (T, T + horizon].
    bought_in_horizon: bool,
}

/// One customer: first purchase at 0, Poisson(λ) purchases, dropout with probability p
/// after each repeat purchase; observed up to `age`, followed to `age + horizon`.
fn simulate(rng: &mut StdRng, params: BgNbdParams, age: f64, horizon: f64) -> Simulated {
    let lambda = Gamma::new(params.r, 1.0 / params.alpha)
        .unwrap()
        .sample(rng);
    let p = Beta::new(params.a, params.b).unwrap().sample(rng);
    let gap = Exp::new(lambda).unwrap();
    let (mut t, mut x, mut tx, mut future) = (0.0, 0u32, 0.0, false);
    loop {
        t += gap.sample(rng);
        if t > age + horizon {
            break;
        }
        if t <= age {
            x += 1;
            tx = t;
        } else {
            future = true;
            break;
        }
        if rng.random::<f64>() < p {
            break;
        }
    }
    Simulated {
        summary: CustomerSummary::new(x, tx, age, 0.0),
        bought_in_horizon: future,
    }
}

const TRUE: BgNbdParams = BgNbdParams {
    r: 0.5,
    alpha: 6.0,
    a: 0.8,
    b: 2.5,
};

#[test]
fn bgnbd_recovers_simulated_parameters() {
    let mut rng = StdRng::seed_from_u64(20240601);
    let data: Vec<CustomerSummary> = (0..20_000)
        .map(|_| {
            let age = 20.0 + 32.0 * rng.random::<f64>();
            simulate(&mut rng, TRUE, age, 0.0).summary
        })
        .collect();
    let fit = BgNbd::fit(&data, &BgNbdConfig::default()).unwrap();
    let p = fit.params;
    println!("true {TRUE:?}\nfit  {p:?}\n{:?}", fit.report);
    // Tolerances from the sampling spread of the MLE at n = 20k (a, b are the noisiest).
    assert!((p.r / TRUE.r - 1.0).abs() < 0.08, "r {}", p.r);
    assert!(
        (p.alpha / TRUE.alpha - 1.0).abs() < 0.10,
        "alpha {}",
        p.alpha
    );
    assert!((p.a / TRUE.a - 1.0).abs() < 0.20, "a {}", p.a);
    assert!((p.b / TRUE.b - 1.0).abs() < 0.25, "b {}", p.b);
}

#[test]
fn probability_no_purchase_matches_monte_carlo() {
    let mut rng = StdRng::seed_from_u64(7);
    let (age, horizon) = (40.0, 20.0);
    let sims: Vec<Simulated> = (0..200_000)
        .map(|_| simulate(&mut rng, TRUE, age, horizon))
        .collect();
    let model = BgNbd::from_params(TRUE).unwrap();
    // Groups defined by the observed summary only: within each, the mean predicted
    // P(no purchase) must equal the observed share without a purchase (tower property).
    type Group = (&'static str, fn(&CustomerSummary) -> bool);
    let groups: [Group; 6] = [
        ("x = 0", |s| s.frequency == 0),
        ("x = 1", |s| s.frequency == 1),
        ("x in 2..=4, recent", |s| {
            (2..=4).contains(&s.frequency) && s.recency > 30.0
        }),
        ("x in 2..=4, lapsed", |s| {
            (2..=4).contains(&s.frequency) && s.recency <= 30.0
        }),
        ("x >= 5", |s| s.frequency >= 5),
        ("all", |_| true),
    ];
    for (name, keep) in groups {
        let members: Vec<&Simulated> = sims.iter().filter(|s| keep(&s.summary)).collect();
        let n = members.len() as f64;
        assert!(n > 2_000.0, "{name}: only {n} customers");
        let observed = members.iter().filter(|s| !s.bought_in_horizon).count() as f64 / n;
        let predicted = members
            .iter()
            .map(|s| model.probability_no_purchase(&s.summary, horizon).unwrap())
            .sum::<f64>()
            / n;
        let one_minus_alive = members
            .iter()
            .map(|s| 1.0 - model.probability_alive(&s.summary).unwrap())
            .sum::<f64>()
            / n;
        let sd = (observed * (1.0 - observed) / n).sqrt();
        println!("{name:<20} n={n:>7} observed={observed:.4} P(no purchase)={predicted:.4} 1-P(alive)={one_minus_alive:.4} sd={sd:.4}");
        assert!(
            (observed - predicted).abs() < 4.0 * sd + 1e-3,
            "{name}: {observed} vs {predicted}"
        );
    }
    // For one-time buyers the summary is exact, (0, 0, T), so the closed form itself is
    // checked: ((α+T)/(α+T+H))^r, while 1 - P(alive) would say 0.
    let one_timers: Vec<&Simulated> = sims.iter().filter(|s| s.summary.frequency == 0).collect();
    let observed =
        one_timers.iter().filter(|s| !s.bought_in_horizon).count() as f64 / one_timers.len() as f64;
    let closed = ((TRUE.alpha + age) / (TRUE.alpha + age + horizon)).powf(TRUE.r);
    let sd = (observed * (1.0 - observed) / one_timers.len() as f64).sqrt();
    assert!(
        (observed - closed).abs() < 4.0 * sd,
        "{observed} vs {closed}"
    );
    assert!(observed > 0.8);
}

#[test]
fn expected_purchases_match_monte_carlo() {
    // E[purchases in (T, T+H] | summary], averaged over the whole population.
    let mut rng = StdRng::seed_from_u64(11);
    let (age, horizon) = (30.0, 15.0);
    let model = BgNbd::from_params(TRUE).unwrap();
    let n = 100_000;
    let (mut observed, mut predicted) = (0.0, 0.0);
    for _ in 0..n {
        let lambda = Gamma::new(TRUE.r, 1.0 / TRUE.alpha)
            .unwrap()
            .sample(&mut rng);
        let p = Beta::new(TRUE.a, TRUE.b).unwrap().sample(&mut rng);
        let gap = Exp::new(lambda).unwrap();
        let (mut t, mut x, mut tx, mut future) = (0.0, 0u32, 0.0, 0u32);
        loop {
            t += gap.sample(&mut rng);
            if t > age + horizon {
                break;
            }
            if t <= age {
                x += 1;
                tx = t;
            } else {
                future += 1;
            }
            if rng.random::<f64>() < p {
                break;
            }
        }
        observed += future as f64;
        predicted += model
            .expected_purchases(&CustomerSummary::new(x, tx, age, 0.0), horizon)
            .unwrap();
    }
    let (observed, predicted) = (observed / n as f64, predicted / n as f64);
    println!("mean future purchases: observed {observed:.4}, predicted {predicted:.4}");
    assert!(
        (observed - predicted).abs() < 0.03 * observed,
        "{observed} vs {predicted}"
    );
    // And for a brand-new customer over the same window length.
    let new = model.expected_purchases_new_customer(age).unwrap();
    assert!(new > 0.0);
}

#[test]
fn gamma_gamma_recovers_simulated_parameters() {
    let (p, q, v) = (6.0, 4.0, 15.0);
    let mut rng = StdRng::seed_from_u64(3);
    let data: Vec<CustomerSummary> = (0..5_000)
        .map(|_| {
            let nu = Gamma::new(q, 1.0 / v).unwrap().sample(&mut rng);
            let x = 1 + (rng.random::<f64>() * 8.0) as u32;
            let spend = Gamma::new(p, 1.0 / nu).unwrap();
            let mean = (0..x).map(|_| spend.sample(&mut rng)).sum::<f64>() / x as f64;
            CustomerSummary::new(x, 1.0, 2.0, mean)
        })
        .collect();
    let fit = GammaGamma::fit(&data, &GammaGammaConfig::default()).unwrap();
    let g = fit.params;
    println!("Gamma-Gamma fit {g:?}");
    assert!((g.p / p - 1.0).abs() < 0.10, "p {}", g.p);
    assert!((g.q / q - 1.0).abs() < 0.15, "q {}", g.q);
    assert!((g.v / v - 1.0).abs() < 0.20, "v {}", g.v);
}

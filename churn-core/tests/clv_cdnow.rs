//! BG/NBD and Gamma-Gamma on the CDNOW sample shipped with Python `lifetimes`
//! (`lifetimes/datasets/CDNOW_sample.txt`, 2,357 customers, copied unchanged).
//!
//! Reference figures were produced with lifetimes 0.11.3 (pandas 1.5, numpy 1.26,
//! scipy 1.13) by:
//!
//! ```text
//! df = pd.read_csv("CDNOW_sample.txt", header=None, sep=r"\s+",
//!     names=["customer_id", "customer_index", "date", "quantity", "amount"],
//!     converters={"date": lambda x: dt.datetime.strptime(x, "%Y%m%d")})
//! s = summary_data_from_transaction_data(df, "customer_id", "date",
//!     monetary_value_col="amount", observation_period_end="1997-09-30",
//!     freq="D", freq_multiplier=7)
//! bgf = BetaGeoFitter().fit(s.frequency, s.recency, s["T"])
//! ggf = GammaGammaFitter().fit(s[s.frequency > 0].frequency, s[s.frequency > 0].monetary_value)
//! bgf.conditional_probability_alive(x, tx, T)
//! bgf.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T)   # and 4
//! ggf.conditional_expected_average_profit(x, m)
//! ggf.customer_lifetime_value(bgf, s.frequency, s.recency, s["T"], s.monetary_value,
//!     time=12, discount_rate=0.01, freq="W")
//! ```
//!
//! `freq="D", freq_multiplier=7` (days counted, expressed in weeks) reproduces the
//! published r = 0.243, α = 4.414, a = 0.793, b = 2.426; `freq="W"` (pandas weekly
//! periods) gives other values (r = 0.291, α = 6.85), so TimeUnit::Weeks follows the former.

use churn_core::churn::clv::*;
use churn_core::Timestamp;

fn load() -> Vec<CustomerSummary> {
    let text = include_str!("data/CDNOW_sample.txt");
    let mut log = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let d = f[2];
        let ts = Timestamp::from_ymd(
            d[..4].parse().unwrap(),
            d[4..6].parse().unwrap(),
            d[6..].parse().unwrap(),
        )
        .unwrap();
        log.push(Transaction::purchase(
            f[0].trim_start_matches('0'),
            ts,
            f[4].parse().unwrap(),
        ));
    }
    let end = Timestamp::from_ymd(1997, 10, 1).unwrap(); // exclusive: through 1997-09-30
    summarize(&log, &SummaryConfig::new(end).unit(TimeUnit::Weeks)).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

/// (id, x, t_x, T, m, P(alive), E[N(39)], E[N(4)], expected profit, CLV) from lifetimes.
#[allow(clippy::type_complexity)]
const REFERENCE: [(&str, u32, f64, f64, f64, f64, f64, f64, f64, f64); 7] = [
    (
        "4",
        2,
        30.428571428571427,
        38.857142857142854,
        22.345,
        0.7266202977882558,
        1.2259944296717087,
        0.14732771388350924,
        24.653918713234063,
        36.27397745115884,
    ),
    (
        "18",
        0,
        0.0,
        38.42857142857143,
        0.0,
        1.0,
        0.1965487848502833,
        0.02233563668130497,
        35.170371330453904,
        8.417957595001974,
    ),
    (
        "21",
        1,
        1.7142857142857142,
        38.857142857142854,
        11.77,
        0.21239102434936685,
        0.20341882760529692,
        0.02393705099444644,
        18.91001847533574,
        4.640936126483129,
    ),
    (
        "111",
        7,
        29.428571428571427,
        38.857142857142854,
        73.74142857142856,
        0.6418347405112999,
        3.3375715773236396,
        0.4175629562618747,
        71.46470572273971,
        283.5581079165361,
    ),
    (
        "441",
        5,
        36.142857142857146,
        38.142857142857146,
        17.472,
        0.8629496076102335,
        3.3309707350046462,
        0.41370102309778223,
        18.900812201113954,
        74.97166563265738,
    ),
    (
        "1760",
        29,
        37.714285714285715,
        38.0,
        26.26137931034483,
        0.9692212746052595,
        20.055250150778335,
        2.583839351295381,
        26.39426350309982,
        625.4292624217807,
    ),
    (
        "3501",
        25,
        27.285714285714285,
        36.857142857142854,
        37.214,
        0.04092984909317373,
        0.7485489382308234,
        0.09673986788964303,
        37.17872479782015,
        32.8619239409763,
    ),
];

#[test]
fn cdnow_summaries_match_lifetimes() {
    let s = load();
    assert_eq!(s.len(), 2357);
    assert_eq!(s.iter().filter(|c| c.frequency > 0).count(), 946);
    for r in REFERENCE {
        let c = s.iter().find(|c| c.customer_id == r.0).unwrap();
        assert_eq!(c.frequency, r.1, "{}", r.0);
        assert!(
            (c.recency - r.2).abs() < 1e-9 && (c.age - r.3).abs() < 1e-9,
            "{}",
            r.0
        );
        assert!((c.monetary_value - r.4).abs() < 1e-9, "{}", r.0);
    }
}

#[test]
fn cdnow_bgnbd_and_gamma_gamma_match_lifetimes() {
    let s = load();
    let bg = BgNbd::fit(&s, &BgNbdConfig::default()).unwrap();
    let p = bg.params;
    println!("BG/NBD {p:?} {:?}", bg.report);
    // Published (Fader, Hardie & Lee 2005; lifetimes docs), within 1 %.
    for (got, published) in [(p.r, 0.243), (p.alpha, 4.414), (p.a, 0.793), (p.b, 2.426)] {
        assert!(rel(got, published) < 0.01, "{got} vs {published}");
    }
    // lifetimes' own optimum, to 1e-4.
    for (got, lt) in [
        (p.r, 0.24259454342106715),
        (p.alpha, 4.413602716077372),
        (p.a, 0.7929218333478433),
        (p.b, 2.4259057287216237),
    ] {
        assert!(rel(got, lt) < 1e-4, "{got} vs {lt}");
    }
    // Same mean penalised objective as lifetimes at its optimum (0.25034992194, in the
    // scaled time units), ours no larger.
    assert!(
        bg.report.objective <= 0.2503499219404222 + 1e-9,
        "{}",
        bg.report.objective
    );
    // Fader, Hardie & Lee (2005) report LL = -9582.4 for this fit.
    assert!(
        (bg.report.log_likelihood + 9582.4).abs() < 0.05,
        "{}",
        bg.report.log_likelihood
    );

    let rep: Vec<CustomerSummary> = s.iter().filter(|c| c.frequency > 0).cloned().collect();
    let gg = GammaGamma::fit(&rep, &GammaGammaConfig::default()).unwrap();
    let g = gg.params;
    println!("Gamma-Gamma {g:?} {:?}", gg.report);
    for (got, published) in [(g.p, 6.25), (g.q, 3.74), (g.v, 15.44)] {
        assert!(rel(got, published) < 0.01, "{got} vs {published}");
    }
    for (got, lt) in [
        (g.p, 6.249572277638514),
        (g.q, 3.744224674757883),
        (g.v, 15.443521018353357),
    ] {
        assert!(rel(got, lt) < 1e-3, "{got} vs {lt}");
    }
    // Fitting on all customers skips one-time buyers: same result.
    assert_eq!(
        GammaGamma::fit(&s, &GammaGammaConfig::default())
            .unwrap()
            .params,
        g
    );

    let clv_cfg = ClvConfig {
        periods: 12,
        period_length: 4.345,
        discount_rate: 0.01,
    };
    for r in REFERENCE {
        let c = s.iter().find(|c| c.customer_id == r.0).unwrap();
        let checks = [
            ("p_alive", bg.probability_alive(c).unwrap(), r.5),
            ("e39", bg.expected_purchases(c, 39.0).unwrap(), r.6),
            ("e4", bg.expected_purchases(c, 4.0).unwrap(), r.7),
            ("profit", gg.expected_average_profit(c).unwrap(), r.8),
            (
                "clv",
                customer_lifetime_value(&bg, &gg, c, &clv_cfg).unwrap(),
                r.9,
            ),
        ];
        for (what, got, want) in checks {
            assert!(
                rel(got, want) < 2e-4,
                "customer {} {what}: {got} vs {want}",
                r.0
            );
        }
        // The churn score is a probability, consistent with P(alive).
        let churn = bg.probability_no_purchase(c, 39.0).unwrap();
        assert!(churn >= 1.0 - bg.probability_alive(c).unwrap() - 1e-12 && churn <= 1.0);
    }
    let mean_profit: f64 = s
        .iter()
        .map(|c| gg.expected_average_profit(c).unwrap())
        .sum::<f64>()
        / s.len() as f64;
    assert!(rel(mean_profit, 35.252273112570954) < 2e-4, "{mean_profit}");
    let total_clv: f64 = s
        .iter()
        .map(|c| customer_lifetime_value(&bg, &gg, c, &clv_cfg).unwrap())
        .sum();
    assert!(rel(total_clv, 71507.95331613746) < 2e-4, "{total_clv}");
}

#[test]
fn cdnow_penalizer_shrinks_parameters() {
    let s = load();
    let plain = BgNbd::fit(&s, &BgNbdConfig::default()).unwrap().params;
    let pen = BgNbd::fit(&s, &BgNbdConfig::default().penalizer(0.1))
        .unwrap()
        .params;
    assert!(pen.a + pen.b < plain.a + plain.b, "{pen:?} vs {plain:?}");
}

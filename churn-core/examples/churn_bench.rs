//! Churn pipeline timings on synthetic data: 100k customers, 1M events.
//!
//! `cargo run --release -p churn-core --example churn_bench [customers] [events]`
//!
//! Prints the median of several runs for: transactions -> event table, features +
//! labels, logistic training (IRLS and linfa), scoring every customer, and one-customer
//! predict. The side-by-side Python comparison lives in `benches/` (later).

use std::time::{Duration, Instant};

use churn_core::churn::*;
use churn_core::Timestamp;

const DAY: i64 = 86_400_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// CPU time of this thread (Linux `/proc/thread-self/schedstat`, nanoseconds); the
/// bench machine is shared, so CPU time is reported beside wall time.
fn cpu_now() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(
        s.split_whitespace().next()?.parse().ok()?,
    ))
}

/// Median wall time and median thread CPU time of `runs` runs.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> ((Duration, Duration), T) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut out = None;
    for _ in 0..runs {
        let (s, c) = (Instant::now(), cpu_now());
        out = Some(f());
        wall.push(s.elapsed());
        cpu.push(match (c, cpu_now()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => s.elapsed(),
        });
    }
    ((median(wall), median(cpu)), out.expect("runs >= 1"))
}

/// Deterministic synthetic events: staggered starts, a third of customers stop early,
/// a mix of purchases, logins, emails, notifications and tickets.
fn generate(customers: u64, events: u64) -> Vec<Transaction> {
    let t0 = Timestamp::from_ymd(2025, 1, 1).expect("valid date");
    let per = (events / customers).max(1);
    let kinds = [
        "purchase",
        "login",
        "login",
        "email_sent",
        "email_opened",
        "feature_used",
        "notification_sent",
        "ticket_opened",
        "ticket_resolved",
        "purchase",
    ];
    let mut rows = Vec::with_capacity((customers * per) as usize);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for c in 0..customers {
        let start = (rnd() % 200) as i64;
        let life = if c % 3 == 0 {
            20 + (rnd() % 150) as i64
        } else {
            365
        };
        let id = format!("cust{c:06}");
        for _ in 0..per {
            let d = start + (rnd() % life as u64) as i64;
            let k = kinds[(rnd() % kinds.len() as u64) as usize];
            let amount = if k == "purchase" {
                5.0 + (rnd() % 100) as f64
            } else {
                0.0
            };
            rows.push(Transaction {
                customer_id: id.clone(),
                date: t0.add_millis(d * DAY + (rnd() % DAY as u64) as i64),
                amount,
                event_type: k.to_string(),
            });
        }
    }
    rows
}

fn main() -> churn_core::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let customers = args.first().copied().unwrap_or(100_000);
    let events = args.get(1).copied().unwrap_or(1_000_000);
    let runs = 5;
    let rows = generate(customers, events);
    let t0 = Timestamp::from_ymd(2025, 1, 1).expect("valid date");
    let as_of = t0.add_millis(250 * DAY);
    println!(
        "churn_bench: {} customers, {} events, median of {runs} runs",
        customers,
        rows.len()
    );

    let cfg = FeatureConfig::default();
    let (t_table, table) = time(runs, || EventTable::from_transactions(&rows, &cfg));
    let table = table?;
    let cfg = cfg.resolved_for(&table);
    let (t_feat, ds) = time(runs, || {
        labelled_at(&table, as_of, &cfg, &LabelConfig::default())
    });
    let ds = ds?;
    let (t_feat_only, _) = time(runs, || features_at(&table, as_of, &cfg));
    println!(
        "  rows {} x {} features, churn rate {:.3}",
        ds.len(),
        ds.features.schema.len(),
        ds.churn_rate()
    );

    let train = |solver| {
        TrainedModel::train_logistic(
            "bench",
            &ds,
            &cfg,
            &TrainConfig::default(),
            &LogisticParams::default().solver(solver),
        )
    };
    let (t_irls, model) = time(runs, || train(Solver::Irls));
    let model = model?;
    let (t_linfa, linfa_model) = time(1, || train(Solver::Linfa));
    let linfa_model = linfa_model?;

    let th = RiskThresholds::default();
    let (t_score, scores) = time(runs, || score_all(&model, &table, as_of, &th));
    let scores = scores?;
    let f = features_at(&table, as_of, &cfg)?;
    let (t_score_matrix, _) = time(runs, || score_matrix(&model, &f, &th));

    // One-customer predict: the rows of 1,000 customers, each predicted in turn.
    let mut by_customer: Vec<Vec<Transaction>> = Vec::new();
    for chunk in rows
        .chunk_by(|a, b| a.customer_id == b.customer_id)
        .take(1000)
    {
        by_customer.push(chunk.to_vec());
    }
    let mut single = Vec::new();
    let mut single_cpu = Vec::new();
    for rs in &by_customer {
        let (s, c) = (Instant::now(), cpu_now());
        let r = predict_customer(&model, rs, as_of, &th);
        single.push(s.elapsed());
        if let (Some(a), Some(b)) = (c, cpu_now()) {
            single_cpu.push(b.saturating_sub(a));
        }
        if let Err(e) = r {
            if by_customer.len() < 2 {
                return Err(e);
            }
        }
    }

    // Holdout quality of both solvers (not a speed figure; a sanity check).
    let split = TemporalSplit::new(as_of, as_of.add_millis(30 * DAY), LabelConfig::default())?;
    let test = split.test(&table, &cfg)?;
    let auc_irls = evaluate(&model, &test, 0.5)?.roc_auc;
    let auc_linfa = evaluate(&linfa_model, &test, 0.5)?.roc_auc;

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let line = |what: &str, (w, c): (Duration, Duration), goal: &str| {
        println!(
            "  {what:<34} wall {:>9.1} ms   cpu {:>9.1} ms  {goal}",
            ms(w),
            ms(c)
        );
    };
    let sum = |a: (Duration, Duration), b: (Duration, Duration)| (a.0 + b.0, a.1 + b.1);
    line("transactions -> event table", t_table, "");
    line("features + labels (as of T)", t_feat, "");
    line("features only (all customers)", t_feat_only, "");
    let AnyModel::Logistic(lr) = &model.model else {
        unreachable!("logistic trained")
    };
    line(
        "train logistic, IRLS + calibration",
        t_irls,
        &format!(
            "({} Newton steps, {})",
            lr.fit_report.iterations,
            model.calibrator.name()
        ),
    );
    line("train logistic, linfa + calibration", t_linfa, "");
    line(
        "table + features + IRLS",
        sum(sum(t_table, t_feat), t_irls),
        "(goal < 2000)",
    );
    line(
        &format!("score all ({}) incl. features", scores.len()),
        t_score,
        "",
    );
    line(
        "score all from the feature matrix",
        t_score_matrix,
        "(goal < 100)",
    );
    let (sw, sc) = (median(single), median(single_cpu));
    println!(
        "  {:<34} wall {:>9.1} us   cpu {:>9.1} us  (goal < 50)",
        "single-customer predict (median)",
        sw.as_secs_f64() * 1e6,
        sc.as_secs_f64() * 1e6
    );
    println!("  holdout ROC AUC: IRLS {auc_irls:.4}, linfa {auc_linfa:.4}");
    // One machine-readable line for benches/churn_quality.py.
    println!(
        "JSON {}",
        serde_json::json!({
            "customers": customers,
            "as_of_ms": as_of.millis(),
            "events": rows.len(),
            "table_features_train_ms": ms(sum(sum(t_table, t_feat), t_irls).0),
            "score_all_incl_features_ms": ms(t_score.0),
            "score_all_from_matrix_ms": ms(t_score_matrix.0),
            "single_predict_us": sw.as_secs_f64() * 1e6,
            "holdout_roc_auc": auc_irls,
        })
    );
    // CHURN_BENCH_CSV=path writes the generated transactions for the Python peers.
    if let Ok(path) = std::env::var("CHURN_BENCH_CSV") {
        use std::io::Write;
        let file = std::fs::File::create(&path).map_err(|source| churn_core::Error::Io {
            path: path.clone().into(),
            source,
        })?;
        let mut w = std::io::BufWriter::new(file);
        let io = |source| churn_core::Error::Io {
            path: path.clone().into(),
            source,
        };
        writeln!(w, "customer_id,event_date,amount,event_type").map_err(io)?;
        for r in &rows {
            writeln!(
                w,
                "{},{},{},{}",
                r.customer_id,
                r.date.millis(),
                r.amount,
                r.event_type
            )
            .map_err(io)?;
        }
        w.flush().map_err(io)?;
    }
    Ok(())
}

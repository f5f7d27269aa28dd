//! Quality run on the CDNOW sample for `benches/churn_quality.py`: every churnlens model
//! on one temporal holdout, and the feature matrices written as CSV so the Python peers
//! (scikit-learn `HistGradientBoostingClassifier`, `lifetimes` BG/NBD) use the same
//! features and labels.
//!
//! `cargo run --release -p churn-core --example churn_quality -- CDNOW_sample.txt OUT_DIR`
//!
//! Split: test cutoff 1998-01-01, horizon 90 days (label: no purchase in
//! [1998-01-01, 1998-04-01)), train cutoff one horizon earlier (1997-10-03); lookback
//! 730 days so every customer who bought before a cutoff is scored (as `lifetimes` does).

use std::io::Write;

use churn_core::churn::*;
use churn_core::{Error, Result, Timestamp};

fn write_csv(path: &std::path::Path, d: &Dataset) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    let names = d.features.schema.names().join(",");
    writeln!(w, "customer_id,{names},churned").map_err(io)?;
    for (i, c) in d.features.customers.iter().enumerate() {
        let row: Vec<String> = d.features.x.row(i).iter().map(|v| v.to_string()).collect();
        writeln!(w, "{c},{},{}", row.join(","), d.labels[i] as u8).map_err(io)?;
    }
    w.flush().map_err(io)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, out) = match args.as_slice() {
        [i, o] => (i.clone(), std::path::PathBuf::from(o)),
        _ => {
            return Err(Error::invalid(
                "args",
                "usage: churn_quality CDNOW_sample.txt OUT_DIR",
            ))
        }
    };
    let text = std::fs::read_to_string(&input).map_err(|source| Error::Io {
        path: input.clone().into(),
        source,
    })?;
    let mut rows = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = || {
            Error::invalid(
                format!("line {}", n + 1),
                "expected id index yyyymmdd qty amount",
            )
        };
        let (id, d, amount) = match f.as_slice() {
            [id, _, d, _, a] if d.len() == 8 => (id, d, a.parse::<f64>().map_err(|_| bad())?),
            _ => return Err(bad()),
        };
        let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
        let ts = Timestamp::from_ymd(num(&d[..4])? as i32, num(&d[4..6])?, num(&d[6..])?)
            .ok_or_else(bad)?;
        rows.push(Transaction::purchase(id.to_string(), ts, amount));
    }
    let cfg = FeatureConfig::default();
    let table = EventTable::from_transactions(&rows, &cfg)?;
    let test_cutoff = Timestamp::from_ymd(1998, 1, 1).ok_or_else(|| Error::model("date"))?;
    let labels = LabelConfig::default().horizon_days(90).lookback_days(730);
    let split = TemporalSplit::new(
        test_cutoff.add_millis(-90 * 86_400_000),
        test_cutoff,
        labels,
    )?;
    let fc = cfg.resolved_for(&table);
    std::fs::create_dir_all(&out).map_err(|source| Error::Io {
        path: out.clone(),
        source,
    })?;
    write_csv(&out.join("train.csv"), &split.train(&table, &fc)?)?;
    write_csv(&out.join("test.csv"), &split.test(&table, &fc)?)?;
    let report = compare_models(&table, &split, &fc, &CompareConfig::default().folds(5))?;
    eprintln!("{}", report.to_table());
    let v = serde_json::json!({
        "test_cutoff": test_cutoff.to_string(),
        "train_cutoff": split.train_cutoff().to_string(),
        "horizon_days": 90,
        "models": report.rows.iter().map(|r| serde_json::json!({
            "model": r.model, "roc_auc": r.metrics.roc_auc, "pr_auc": r.metrics.pr_auc,
            "log_loss": r.metrics.log_loss, "brier": r.metrics.brier,
            "cv_roc_auc": r.cv_roc_auc.map(|c| c.0),
        })).collect::<Vec<_>>(),
        "best": report.best,
    });
    println!("JSON {v}");
    Ok(())
}

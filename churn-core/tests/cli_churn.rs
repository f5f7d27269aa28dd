//! Runs the real `churn` binary on `examples/data/transactions.csv`: train (every model
//! kind, best saved in the registry), score to CSV and JSON, and the HTML report.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn churn(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_churn"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run churn");
    assert!(
        out.status.success(),
        "churn {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sample() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/data/transactions.csv")
        .display()
        .to_string()
}

#[test]
fn train_score_report_on_the_sample_data() {
    let dir = tempfile::tempdir().unwrap();
    let csv = sample();

    // Train every kind; the comparison table lists them and the best is saved.
    let out = churn(
        dir.path(),
        &["train", "--csv", &csv, "--model", "best", "--name", "demo"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for m in [
        "logistic",
        "random_forest",
        "gradient_boosting",
        "bg_nbd",
        "roc_auc",
    ] {
        assert!(text.contains(m), "{m} missing from:\n{text}");
    }
    assert!(text.contains("as demo@1"), "{text}");
    // The sample's malformed rows are skipped with a warning, not fatal.
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 10 bad rows"));

    // One kind, a second version.
    let out = churn(
        dir.path(),
        &[
            "train", "--csv", &csv, "--model", "bgnbd", "--name", "demo", "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["saved"]["version"], 2);
    assert_eq!(v["saved"]["kind"], "bg_nbd");
    let auc = v["comparison"]["rows"][0]["metrics"]["roc_auc"]
        .as_f64()
        .unwrap();
    assert!((0.5..=1.0).contains(&auc), "{auc}");

    // Score with version 1 to CSV.
    churn(
        dir.path(),
        &[
            "score",
            "--csv",
            &csv,
            "--model",
            "demo@1",
            "--out",
            "scores.csv",
        ],
    );
    let scores = std::fs::read_to_string(dir.path().join("scores.csv")).unwrap();
    let mut lines = scores.lines();
    assert_eq!(
        lines.next(),
        Some("customer_id,probability,segment,top_reasons")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 85, "one row per customer");
    for r in &rows {
        let f: Vec<&str> = r.splitn(4, ',').collect();
        let p: f64 = f[1].parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{r}");
        assert!(["low", "medium", "high", "critical"].contains(&f[2]), "{r}");
    }
    assert!(
        rows.iter().any(|r| r.contains("recency")),
        "reasons name features"
    );

    // Latest version (BG/NBD) to JSON: reasons in terms of its own inputs.
    churn(
        dir.path(),
        &[
            "score",
            "--csv",
            &csv,
            "--model",
            "demo",
            "--out",
            "scores.json",
        ],
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("scores.json")).unwrap()).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 85);
    let reasons: Vec<&str> = rows
        .iter()
        .flat_map(|r| r["top_reasons"].as_array().unwrap())
        .map(|c| c["feature"].as_str().unwrap())
        .collect();
    assert!(
        !reasons.is_empty() && reasons.iter().all(|f| f.starts_with("bgnbd:")),
        "{reasons:?}"
    );

    // A model that does not exist is a clear error.
    let bad = Command::new(env!("CARGO_BIN_EXE_churn"))
        .current_dir(dir.path())
        .args(["score", "--csv", &csv, "--model", "nope"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nope"));

    // The HTML report: self-contained, five charts with data, the comparison table.
    churn(
        dir.path(),
        &[
            "report",
            "--csv",
            &csv,
            "--out",
            "report.html",
            "--title",
            "<Acme & Co>",
        ],
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<script") && !html.contains("http://cdn") && !html.contains("https://")
    );
    assert!(html.contains("&lt;Acme &amp; Co&gt;") && !html.contains("<Acme"));
    for id in [
        "score-histogram",
        "risk-segments",
        "calibration",
        "feature-importance",
        "lift",
    ] {
        let at = html
            .find(&format!("data-chart=\"{id}\""))
            .unwrap_or_else(|| panic!("no {id} chart"));
        let chart = &html[at..at + html[at..].find("</svg>").unwrap()];
        let marks = chart.matches("<rect class=\"bar\"").count() + chart.matches("<circle").count();
        // Importance: at least BG/NBD's three inputs; the others have more marks.
        let need = if id == "feature-importance" { 3 } else { 4 };
        assert!(marks >= need, "{id} has {marks} marks");
    }
    // The histogram's bar values add up to the customers scored.
    let at = html.find("data-chart=\"score-histogram\"").unwrap();
    let chart = &html[at..at + html[at..].find("</svg>").unwrap()];
    let total: f64 = chart
        .split("data-value=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 85.0);
    assert!(html.contains("class=\"comparison\"") && html.contains("(best)"));
}

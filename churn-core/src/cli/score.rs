//! `churn score`: score every customer with a saved model, with risk segments and the
//! top reasons, as CSV or JSON.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::train::{load_data, load_model, spinner, DataArgs};
use super::{print, Ctx, Run};
use crate::churn::{explain_row, features_at, RiskThresholds};
use crate::churn::ChurnModel;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Score every customer with a saved model: churn probability, risk segment and the
/// features pushing the score up most.
///
/// Output: CSV (`customer_id,probability,segment,top_reasons`) or JSON, chosen by the
/// --out extension (.json), to standard output without --out.
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// Where the transactions come from.
    #[command(flatten)]
    pub data: DataArgs,
    /// The model: NAME (latest version) or NAME@VERSION.
    #[arg(long, value_name = "NAME[@VERSION]", default_value = "churn")]
    pub model: String,
    /// Write to this file (.csv or .json) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Score as of this time [default: the day after the last event].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<Timestamp>,
    /// Reasons listed per customer.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub reasons: usize,
}

/// One output row.
#[derive(Debug, Serialize)]
struct Row {
    customer_id: String,
    probability: f64,
    segment: String,
    top_reasons: Vec<Reason>,
}

#[derive(Debug, Serialize)]
struct Reason {
    feature: String,
    value: f64,
    contribution: f64,
}

impl Run for ScoreArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let (version, model) = load_model(ctx, &self.model)?;
        let data = load_data(ctx, &self.data)?;
        let as_of = self.as_of.unwrap_or(data.end);
        let pb = spinner(ctx, "scoring");
        let f = features_at(&data.table, as_of, &model.feature_config)?;
        let th = RiskThresholds::default();
        let mut rows = Vec::with_capacity(f.customers.len());
        for r in 0..f.customers.len() {
            let e = explain_row(&model, &f, r, self.reasons, &th)?;
            rows.push(Row {
                customer_id: e.customer_id,
                probability: e.probability,
                segment: e.segment.to_string(),
                top_reasons: e
                    .top_up
                    .into_iter()
                    .map(|c| Reason {
                        feature: c.feature,
                        value: c.value,
                        contribution: c.contribution,
                    })
                    .collect(),
            });
        }
        pb.finish_and_clear();
        let json = self
            .out
            .as_ref()
            .and_then(|p| p.extension())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let bytes = if json {
            serde_json::to_vec_pretty(&rows).map_err(|e| Error::model(e.to_string()))?
        } else {
            to_csv(&rows)?
        };
        match &self.out {
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes).map_err(|source| Error::Io {
                    path: PathBuf::from("<stdout>"),
                    source,
                })
            }
            Some(path) => {
                std::fs::write(path, &bytes).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                let mut seg = [0usize; 4];
                for r in &rows {
                    let i = ["low", "medium", "high", "critical"]
                        .iter()
                        .position(|s| *s == r.segment)
                        .unwrap_or(0);
                    seg[i] += 1;
                }
                print(&format!(
                    "scored {} customers as of {as_of} with {}@{version} ({}) -> {}\n  low {}  medium {}  high {}  critical {}\n",
                    rows.len(),
                    model.name,
                    model.model.kind(),
                    path.display(),
                    seg[0],
                    seg[1],
                    seg[2],
                    seg[3]
                ))
            }
        }
    }
}

fn to_csv(rows: &[Row]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| Error::model(format!("writing CSV: {e}"));
    w.write_record(["customer_id", "probability", "segment", "top_reasons"])
        .map_err(err)?;
    for r in rows {
        let reasons: Vec<String> = r
            .top_reasons
            .iter()
            .map(|c| format!("{}={} ({:+.4})", c.feature, fmt_value(c.value), c.contribution))
            .collect();
        w.write_record([
            r.customer_id.as_str(),
            &format!("{:.6}", r.probability),
            &r.segment,
            &reasons.join("; "),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::model(format!("writing CSV: {e}")))
}

fn fmt_value(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

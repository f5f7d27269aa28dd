//! `churn report`: a self-contained HTML churn report (inline SVG charts, no network).

use std::path::PathBuf;

use super::train::{compare, load_data, load_model, spinner, split_for, DataArgs, Horizon};
use super::{print, Ctx, Run};
use crate::churn::report::{mean_abs_contributions, render_html, Holdout, ReportInput};
use crate::churn::{features_at, score_matrix, ModelKind, RiskThresholds};
use crate::churn::ChurnModel;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Write a self-contained HTML churn report: score distribution, risk segments,
/// calibration and lift curves on a temporal holdout, feature importance and the
/// comparison of every model kind.
///
/// Every model kind is trained on the holdout split (as `churn train --model best`);
/// the best one is reported unless --model names a saved model.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Where the transactions come from.
    #[command(flatten)]
    pub data: DataArgs,
    /// The HTML file to write.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Report on this saved model (NAME or NAME@VERSION) instead of the best one.
    #[arg(long, value_name = "NAME[@VERSION]")]
    pub model: Option<String>,
    /// Score as of this time [default: the day after the last event].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<Timestamp>,
    /// Churn horizon of the holdout.
    #[arg(long, value_name = "DAYS", default_value = "30d")]
    pub horizon: Horizon,
    /// Report title.
    #[arg(long, default_value = "Churn report")]
    pub title: String,
}

impl Run for ReportArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let data = load_data(ctx, &self.data)?;
        let split = split_for(&data, None, self.horizon)?;
        let (comparison, models) = compare(ctx, &data, &split, &ModelKind::ALL, None)?;
        let (version, mut model) = match &self.model {
            Some(spec) => {
                let (v, m) = load_model(ctx, spec)?;
                (Some(v), m)
            }
            None => {
                let best = comparison.best.clone().unwrap_or_default();
                let m = models
                    .into_iter()
                    .find(|m| m.model.kind().as_str() == best)
                    .ok_or_else(|| Error::model("no model could be trained"))?;
                (None, m)
            }
        };
        let pb = spinner(ctx, "scoring and drawing");
        let test = split.test(&data.table, &model.feature_config)?;
        let p = model.predict(&test.features)?;
        let holdout = Holdout {
            labels: test.labels.clone(),
            scores: p.to_vec(),
        };
        if model.metrics.is_none() {
            model.metrics = crate::churn::Metrics::compute(&holdout.labels, &holdout.scores, 0.5).ok();
        }
        let as_of = self.as_of.unwrap_or(data.end);
        let f = features_at(&data.table, as_of, &model.feature_config)?;
        let scores = score_matrix(&model, &f, &RiskThresholds::default())?;
        let importance = mean_abs_contributions(&model, &f, 500)?;
        let html = render_html(&ReportInput {
            title: self.title.clone(),
            source: data.source.clone(),
            model: &model,
            version,
            scores: &scores,
            as_of,
            holdout: &holdout,
            importance: &importance,
            comparison: &comparison,
        })?;
        pb.finish_and_clear();
        std::fs::write(&self.out, html).map_err(|source| Error::Io {
            path: self.out.clone(),
            source,
        })?;
        print(&format!(
            "{}\nwrote {} ({} customers, model {})\n",
            comparison.to_table(),
            self.out.display(),
            scores.len(),
            model.model.kind()
        ))
    }
}

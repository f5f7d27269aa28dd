//! `churn train`: train churn models on a temporal split, print the comparison, save
//! the chosen model in the store's registry. Also the data loading and split helpers
//! `churn score` and `churn report` share.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{print, Ctx, Run};
use crate::churn::{
    compare_and_keep, read_transactions_csv_lenient, CompareConfig, ComparisonReport, EventTable,
    FeatureConfig, LabelConfig, ModelKind, ModelRegistry, TemporalSplit, TrainedModel,
};
use crate::churn::ChurnModel;
use crate::error::{Error, Result};
use crate::time::{Timestamp, DAY_MS};

/// A horizon such as `30d`, `4w` or `30` (days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon(pub u32);

impl FromStr for Horizon {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        let (num, mult) = match t.strip_suffix('w') {
            Some(n) => (n, 7),
            None => (t.strip_suffix('d').unwrap_or(&t), 1),
        };
        match num.parse::<u32>() {
            Ok(n) if n > 0 && n <= 3650 / mult => Ok(Horizon(n * mult)),
            _ => Err(Error::invalid(
                "--horizon",
                format!("{s:?}: expected days like 30d, weeks like 4w (1 day to 10 years)"),
            )),
        }
    }
}

/// `--model` of `churn train`: one kind or `best` (train all, keep the best).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelChoice {
    /// One model kind.
    Kind(ModelKind),
    /// Every kind; the best holdout ROC AUC is saved.
    Best,
}

impl FromStr for ModelChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("best") || s.eq_ignore_ascii_case("all") {
            Ok(ModelChoice::Best)
        } else {
            s.parse().map(ModelChoice::Kind)
        }
    }
}

/// Where the transactions come from: a CSV file, or the store at `--db`.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Read a transactions CSV (`customer_id,event_date,amount,event_type`) instead of
    /// the store.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

/// Loaded data.
pub(crate) struct Data {
    pub table: EventTable,
    pub source: String,
    pub features: FeatureConfig,
    /// Midnight (UTC) after the last event: "now" for this data.
    pub end: Timestamp,
}

pub(crate) fn spinner(ctx: &Ctx, msg: &str) -> ProgressBar {
    if !ctx.interactive {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        b.set_style(style);
    }
    b.set_message(msg.to_string());
    b.enable_steady_tick(Duration::from_millis(120));
    b
}

pub(crate) fn load_data(ctx: &Ctx, data: &DataArgs) -> Result<Data> {
    let pb = spinner(ctx, "reading transactions");
    let cfg = FeatureConfig::default();
    let (table, source) = match &data.csv {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let (mut rows, mut bad) = read_transactions_csv_lenient(std::io::BufReader::new(file))?;
            // As `churn import` does: an event dated after tomorrow is an error.
            let limit = Timestamp::now().add_millis(DAY_MS);
            rows.retain(|r| {
                let ok = r.date <= limit;
                if !ok {
                    bad.push(Error::invalid(
                        "event_date",
                        format!("{} of customer {} is in the future", r.date, r.customer_id),
                    ));
                }
                ok
            });
            if !bad.is_empty() {
                eprintln!("warning: skipped {} bad rows of {}:", bad.len(), path.display());
                for e in bad.iter().take(5) {
                    eprintln!("  {e}");
                }
            }
            (EventTable::from_transactions(&rows, &cfg)?, path.display().to_string())
        }
        None => {
            let store = ctx.open_existing_store()?;
            (
                EventTable::from_store(&*store, &ctx.project, &cfg)?,
                format!("{} (project {})", ctx.db.display(), ctx.project),
            )
        }
    };
    pb.finish_and_clear();
    let last = table
        .ts
        .iter()
        .copied()
        .max()
        .ok_or_else(|| Error::model("no transactions: nothing to train or score on (empty data)"))?;
    let end = Timestamp::from_millis((last.div_euclid(DAY_MS) + 1) * DAY_MS);
    let features = cfg.resolved_for(&table);
    Ok(Data {
        table,
        source,
        features,
        end,
    })
}

/// The split: test cutoff `as_of` (default: end of data minus the horizon, so its
/// labels are observed), train cutoff one horizon earlier.
pub(crate) fn split_for(data: &Data, as_of: Option<Timestamp>, horizon: Horizon) -> Result<TemporalSplit> {
    let h = horizon.0 as i64 * DAY_MS;
    let test = as_of.unwrap_or(Timestamp::from_millis(data.end.millis() - h));
    if test.millis() + h > data.end.millis() {
        eprintln!(
            "warning: the holdout horizon ends after the last event ({}); its labels are incomplete",
            data.end
        );
    }
    TemporalSplit::new(
        Timestamp::from_millis(test.millis() - h),
        test,
        LabelConfig::default().horizon_days(horizon.0),
    )
}

pub(crate) fn compare(
    ctx: &Ctx,
    data: &Data,
    split: &TemporalSplit,
    kinds: &[ModelKind],
    folds: Option<usize>,
) -> Result<(ComparisonReport, Vec<TrainedModel>)> {
    let bar = if ctx.interactive {
        let b = ProgressBar::new(kinds.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{spinner} training [{bar:20}] {pos}/{len} {msg} {elapsed}") {
            b.set_style(style.progress_chars("=> "));
        }
        b.enable_steady_tick(Duration::from_millis(120));
        b
    } else {
        ProgressBar::hidden()
    };
    let mut cfg = CompareConfig::default().kinds(kinds);
    cfg.folds = folds;
    let mut started = false;
    let out = compare_and_keep(&data.table, split, &data.features, &cfg, &mut |k| {
        if started {
            bar.inc(1);
        }
        started = true;
        bar.set_message(k.as_str());
    });
    bar.finish_and_clear();
    out
}

/// Train churn models on a temporal holdout and save one in the store's model registry.
///
/// Features are taken before the train cutoff (as-of minus the horizon), labels in the
/// horizon after it; the models are evaluated on customers as of --as-of, labelled in
/// the horizon after that. Prints the metrics of every model trained.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Where the transactions come from.
    #[command(flatten)]
    pub data: DataArgs,
    /// logistic, forest, gbt, bgnbd, or best (train all, save the best by holdout ROC AUC).
    #[arg(long, value_name = "KIND", default_value = "best")]
    pub model: ModelChoice,
    /// Holdout cutoff [default: the last event's day + 1 minus the horizon].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<Timestamp>,
    /// Churn horizon: no purchase or activity within it after the cutoff = churned.
    #[arg(long, value_name = "DAYS", default_value = "30d")]
    pub horizon: Horizon,
    /// Registry name of the saved model.
    #[arg(long, value_name = "NAME", default_value = "churn")]
    pub name: String,
    /// Also k-fold cross-validate every model on the training window.
    #[arg(long, value_name = "K")]
    pub folds: Option<usize>,
    /// Print the comparison as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl Run for TrainArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let data = load_data(ctx, &self.data)?;
        let split = split_for(&data, self.as_of, self.horizon)?;
        let kinds: Vec<ModelKind> = match self.model {
            ModelChoice::Best => ModelKind::ALL.to_vec(),
            ModelChoice::Kind(k) => vec![k],
        };
        let (report, models) = compare(ctx, &data, &split, &kinds, self.folds)?;
        let best = report.best.clone().unwrap_or_default();
        let Some(mut model) = models.into_iter().find(|m| m.model.kind().as_str() == best) else {
            return Err(Error::model("no model could be trained"));
        };
        model.name = self.name.clone();
        let store = ctx.open_store()?;
        let version = ModelRegistry::new(&*store, &ctx.project).save(&model)?;
        if self.json {
            let v = serde_json::json!({"comparison": report, "saved": {"name": self.name, "version": version, "kind": best}});
            return print(&format!("{v:#}\n"));
        }
        print(&format!(
            "{}\nsaved {} model as {}@{version} in {}\n",
            report.to_table(),
            best,
            self.name,
            ctx.db.display()
        ))
    }
}

/// Parse `NAME` or `NAME@VERSION`.
pub(crate) fn parse_model_ref(s: &str) -> Result<(String, Option<u32>)> {
    match s.rsplit_once('@') {
        None => Ok((s.to_string(), None)),
        Some((n, v)) => v
            .parse()
            .map(|v| (n.to_string(), Some(v)))
            .map_err(|_| Error::invalid("--model", format!("{s:?}: expected NAME or NAME@VERSION"))),
    }
}

pub(crate) fn load_model(ctx: &Ctx, spec: &str) -> Result<(u32, TrainedModel)> {
    let (name, version) = parse_model_ref(spec)?;
    let store = ctx.open_existing_store()?;
    let reg = ModelRegistry::new(&*store, &ctx.project);
    match version {
        Some(v) => Ok((v, reg.load(&name, v)?)),
        None => reg.load_latest(&name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        assert_eq!("30d".parse::<Horizon>().unwrap(), Horizon(30));
        assert_eq!("4w".parse::<Horizon>().unwrap(), Horizon(28));
        assert_eq!("7".parse::<Horizon>().unwrap(), Horizon(7));
        assert!("0d".parse::<Horizon>().is_err());
        assert!("soon".parse::<Horizon>().is_err());
        assert_eq!("best".parse::<ModelChoice>().unwrap(), ModelChoice::Best);
        assert_eq!(
            "forest".parse::<ModelChoice>().unwrap(),
            ModelChoice::Kind(ModelKind::RandomForest)
        );
        assert_eq!(
            "gbt".parse::<ModelChoice>().unwrap(),
            ModelChoice::Kind(ModelKind::GradientBoosting)
        );
        assert!("svm".parse::<ModelChoice>().is_err());
        assert_eq!(parse_model_ref("churn@3").unwrap(), ("churn".into(), Some(3)));
        assert_eq!(parse_model_ref("churn").unwrap(), ("churn".into(), None));
        assert!(parse_model_ref("churn@x").is_err());
    }
}

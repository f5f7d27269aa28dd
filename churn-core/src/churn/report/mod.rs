//! A self-contained HTML churn report: one file, no script, no CDN, charts as inline
//! SVG drawn by [`svg`]: score distribution, risk segments, calibration curve (holdout),
//! feature importance (mean |contribution| over scored customers), lift curve
//! (holdout), and the model comparison table. Every user string is escaped.

pub mod svg;

use serde::{Deserialize, Serialize};

pub use svg::escape;
use svg::{bar_chart, hbar_chart, line_chart, Corner, Series, COLORS};

use super::compare::{lift_curve, ComparisonReport};
use super::features::FeatureMatrix;
use super::model::{ChurnModel, TrainedModel};
use super::score::{CustomerScore, RiskSegment};
use crate::error::Result;
use crate::time::Timestamp;

/// Mean absolute contribution per feature over up to `max_rows` rows of `f` (evenly
/// spaced), largest first: a global importance that works for every model kind (for
/// BG/NBD its three inputs).
pub fn mean_abs_contributions(
    model: &TrainedModel,
    f: &FeatureMatrix,
    max_rows: usize,
) -> Result<Vec<(String, f64)>> {
    model.schema().check_same(&f.schema)?;
    let n = f.x.nrows();
    let step = n.div_ceil(max_rows.max(1)).max(1);
    let mut sums: Vec<(String, f64)> = Vec::new();
    let mut rows = 0usize;
    for r in (0..n).step_by(step) {
        let c = model.model.explain(f.x.row(r))?;
        if sums.is_empty() {
            sums = c.iter().map(|c| (c.feature.clone(), 0.0)).collect();
        }
        for (s, c) in sums.iter_mut().zip(&c) {
            s.1 += c.contribution.abs();
        }
        rows += 1;
    }
    sums.iter_mut().for_each(|s| s.1 /= rows.max(1) as f64);
    sums.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(sums)
}

/// Holdout labels and calibrated scores of the reported model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Holdout {
    /// Churned or not, per holdout customer.
    pub labels: Vec<bool>,
    /// The model's calibrated score, per holdout customer.
    pub scores: Vec<f64>,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// Title (escaped).
    pub title: String,
    /// Where the data came from (escaped).
    pub source: String,
    /// The model scored and described.
    pub model: &'a TrainedModel,
    /// Its registry version, if saved.
    pub version: Option<u32>,
    /// Scores of every customer.
    pub scores: &'a [CustomerScore],
    /// As of when they were scored.
    pub as_of: Timestamp,
    /// The holdout of the reported model.
    pub holdout: &'a Holdout,
    /// Global feature importance, largest first.
    pub importance: &'a [(String, f64)],
    /// The model comparison.
    pub comparison: &'a ComparisonReport,
}

const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1120px;color:#222}\
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #eee;padding-bottom:4px}\
.meta{color:#666;font-size:13px}.grid{display:flex;flex-wrap:wrap;gap:16px}.card{border:1px solid #e5e5e5;border-radius:6px;padding:8px}\
table{border-collapse:collapse;font-size:13px}th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}\
th:first-child,td:first-child{text-align:left}tr.best{background:#eef6ff;font-weight:600}\
.kpi{display:inline-block;margin-right:28px}.kpi b{display:block;font-size:22px}";

fn segment_counts(scores: &[CustomerScore]) -> [usize; 4] {
    let mut c = [0usize; 4];
    for s in scores {
        c[match s.segment {
            RiskSegment::Low => 0,
            RiskSegment::Medium => 1,
            RiskSegment::High => 2,
            RiskSegment::Critical => 3,
        }] += 1;
    }
    c
}

fn comparison_table(c: &ComparisonReport) -> String {
    let mut s = String::from("<table class=\"comparison\"><tr><th>model</th><th>ROC AUC</th><th>PR AUC</th><th>log-loss</th><th>Brier</th><th>lift top 10%</th><th>capture top 10%</th><th>k-fold AUC</th><th>train s</th></tr>");
    for r in &c.rows {
        let m = &r.metrics;
        let best = c.best.as_deref() == Some(r.model.as_str());
        s.push_str(&format!(
            "<tr{}><td>{}{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.2}</td><td>{:.1}%</td><td>{}</td><td>{:.2}</td></tr>",
            if best { " class=\"best\"" } else { "" },
            escape(&r.model),
            if best { " (best)" } else { "" },
            m.roc_auc,
            m.pr_auc,
            m.log_loss,
            m.brier,
            m.lift_top_decile,
            100.0 * m.capture_top_decile,
            r.cv_roc_auc.map_or("-".into(), |(a, sd)| format!("{a:.4} ± {sd:.4}")),
            r.train_seconds
        ));
    }
    for k in &c.skipped {
        s.push_str(&format!(
            "<tr><td>{}</td><td colspan=\"8\" style=\"text-align:left\">skipped: {}</td></tr>",
            escape(&k.model),
            escape(&k.error)
        ));
    }
    s.push_str("</table>");
    s
}

/// Render the report as one HTML document.
///
/// ```
/// use churn_core::churn::report::escape;
/// // Every user string goes through `escape` before reaching the page.
/// assert_eq!(escape("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
/// ```
pub fn render_html(r: &ReportInput<'_>) -> Result<String> {
    let n = r.scores.len();
    // Score distribution: 20 bins of width 0.05.
    let mut hist = vec![0.0; 20];
    for s in r.scores {
        hist[((s.probability * 20.0) as usize).min(19)] += 1.0;
    }
    let bins: Vec<String> = (0..20).map(|i| format!("{:.2}", i as f64 / 20.0)).collect();
    let histogram = bar_chart(
        "score-histogram",
        "Churn score distribution",
        &bins,
        &hist,
        &[COLORS[0]],
        "calibrated churn probability (bin start)",
        "customers",
    );
    let seg = segment_counts(r.scores);
    let segments = bar_chart(
        "risk-segments",
        "Customers per risk segment",
        &[
            "low".into(),
            "medium".into(),
            "high".into(),
            "critical".into(),
        ],
        &seg.map(|v| v as f64),
        &["#009E73", "#F0E442", "#E69F00", "#D55E00"],
        "risk segment",
        "customers",
    );
    let mut cal_series = Vec::new();
    let mut lift_series = Vec::new();
    let (mut calibration, mut lift) = (String::new(), String::new());
    if !r.holdout.labels.is_empty() {
        let bins = super::eval::calibration_table(&r.holdout.labels, &r.holdout.scores, 10)?;
        cal_series.push(Series {
            name: format!("{} (holdout deciles)", r.model.model.kind()),
            points: bins
                .iter()
                .map(|b| (b.mean_predicted, b.observed_rate))
                .collect(),
        });
        let mut pts = vec![(0.0, 0.0)];
        pts.extend(lift_curve(&r.holdout.labels, &r.holdout.scores, 20)?);
        lift_series.push(Series {
            name: format!("{} (holdout)", r.model.model.kind()),
            points: pts,
        });
        calibration = line_chart(
            "calibration",
            "Calibration curve (holdout)",
            &cal_series,
            Some("perfectly calibrated"),
            ("mean predicted probability", "observed churn rate"),
            Corner::TopLeft,
        );
        lift = line_chart(
            "lift",
            "Lift (gain) curve (holdout)",
            &lift_series,
            Some("random targeting"),
            (
                "share of customers contacted (highest score first)",
                "share of churners reached",
            ),
            Corner::BottomRight,
        );
    }
    let top: Vec<&(String, f64)> = r.importance.iter().filter(|t| t.1 > 0.0).take(15).collect();
    let importance = hbar_chart(
        "feature-importance",
        "Feature importance (mean |contribution|)",
        &top.iter().map(|t| t.0.clone()).collect::<Vec<_>>(),
        &top.iter().map(|t| t.1).collect::<Vec<_>>(),
        &format!(
            "mean |contribution| ({:?} scale)",
            r.model.model.contribution_scale()
        ),
    );
    let mean = r.scores.iter().map(|s| s.probability).sum::<f64>() / n.max(1) as f64;
    let mut top_risk: Vec<&CustomerScore> = r.scores.iter().collect();
    top_risk.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    let mut risk_rows = String::new();
    for s in top_risk.iter().take(15) {
        risk_rows.push_str(&format!(
            "<tr><td>{}</td><td>{:.3}</td><td>{}</td></tr>",
            escape(&s.customer_id),
            s.probability,
            s.segment
        ));
    }
    let m = r.model;
    let version = r.version.map_or(String::new(), |v| format!("@{v}"));
    Ok(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{CSS}</style></head><body>\
<h1>{title}</h1><p class=\"meta\">Data: {source}. Scored as of {as_of}. Model <b>{name}{version}</b> ({kind}), trained as of {trained_as_of} with a {h}-day horizon; generated by churnlens {lib}.</p>\
<div><span class=\"kpi\">customers<b>{n}</b></span><span class=\"kpi\">mean churn score<b>{mean:.3}</b></span><span class=\"kpi\">high + critical<b>{hc}</b></span><span class=\"kpi\">holdout ROC AUC<b>{auc}</b></span></div>\
<h2>Scores</h2><div class=\"grid\"><div class=\"card\">{histogram}</div><div class=\"card\">{segments}</div></div>\
<h2>Model quality (temporal holdout)</h2><div class=\"grid\"><div class=\"card\">{calibration}</div><div class=\"card\">{lift}</div></div>\
<h2>What drives the score</h2><div class=\"card\">{importance}</div>\
<h2>Model comparison</h2><p class=\"meta\">{dataset}</p>{table}\
<h2>Highest risk customers</h2><table><tr><th>customer</th><th>probability</th><th>segment</th></tr>{risk_rows}</table>\
</body></html>\n",
        title = escape(&r.title),
        source = escape(&r.source),
        as_of = r.as_of,
        name = escape(&m.name),
        kind = m.model.kind(),
        trained_as_of = m.window.as_of,
        h = m.window.horizon_days,
        lib = super::persist::LIBRARY_VERSION,
        hc = seg[2] + seg[3],
        auc = m.metrics.as_ref().map_or("-".into(), |x| format!("{:.3}", x.roc_auc)),
        dataset = escape(&r.comparison.dataset),
        table = comparison_table(r.comparison),
    ))
}

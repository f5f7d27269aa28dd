//! `churn funnel`: conversion through steps within a window.

use super::analysis::{dur, pct, table, AnalysisArgs};
use super::{Ctx, Run};
use crate::engine::{FunnelMode, FunnelRequest, FunnelStepReport};
use crate::error::Result;

/// Funnel conversion: persons reaching each step within the window of their first step,
/// drop-offs, in-progress persons and median times.
#[derive(Debug, clap::Args)]
pub struct FunnelArgs {
    /// Step event names, comma separated (signup,feature_used,purchase).
    #[arg(long, value_delimiter = ',', required = true, value_name = "E1,E2,...")]
    pub steps: Vec<String>,
    /// Conversion window from the first step (7d, 12h, 30m).
    #[arg(long, default_value = "7d", value_parser = super::analysis::duration)]
    pub window: i64,
    /// ordered, strict or unordered.
    #[arg(long, default_value = "ordered", value_name = "MODE")]
    pub mode: FunnelMode,
    /// Break down by this property of the first step's event.
    #[arg(long, value_name = "KEY")]
    pub breakdown: Option<String>,
    /// Ids listed per step (dropped / in progress) in the JSON.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub limit: usize,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: AnalysisArgs,
}

fn rows(steps: &[FunnelStepReport]) -> Vec<Vec<String>> {
    steps
        .iter()
        .map(|s| {
            vec![
                s.step.to_string(),
                s.event.clone(),
                s.users.to_string(),
                pct(s.conversion_from_first),
                pct(s.conversion_from_previous),
                dur(s.median_time_from_previous_ms.map(|x| x as f64)),
                s.dropped.to_string(),
                s.in_progress.to_string(),
            ]
        })
        .collect()
}

const HEADERS: &[&str] = &["step", "event", "users", "of first", "of previous", "median time", "dropped", "in progress"];

impl Run for FunnelArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let mut req = FunnelRequest::new(self.steps.iter().map(String::as_str))
            .range(self.common.range()?)
            .window_ms(self.window)
            .mode(self.mode)
            .user_limit(self.limit);
        req.breakdown = self.breakdown.clone();
        req.segment = self.common.segment();
        let r = self.common.engine(ctx)?.funnel(&req)?;
        self.common.output(&r, || {
            let mut out = table(HEADERS, &rows(&r.steps));
            out.push_str(&format!(
                "\nentered {}  converted {}  in progress {}\n",
                r.entered, r.converted, r.in_progress
            ));
            for b in &r.breakdown {
                out.push_str(&format!("\n{} = {}\n", self.breakdown.as_deref().unwrap_or(""), b.value));
                out.push_str(&table(HEADERS, &rows(&b.steps)));
            }
            out
        })
    }
}

//! `churn retention`: cohort retention table.

use super::analysis::{pct, table, AnalysisArgs};
use super::{Ctx, Run};
use crate::engine::{Period, RetentionMode, RetentionRequest};
use crate::error::Result;

/// Retention by cohort (the period of each person's first event).
#[derive(Debug, clap::Args)]
pub struct RetentionArgs {
    /// Cohort period.
    #[arg(long, default_value = "week", value_name = "day|week|month")]
    pub period: Period,
    /// first_time or recurring.
    #[arg(long, default_value = "first_time", value_name = "MODE")]
    pub mode: RetentionMode,
    /// Largest number of columns.
    #[arg(long, value_name = "N")]
    pub periods: Option<usize>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: AnalysisArgs,
}

impl Run for RetentionArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let mut req = RetentionRequest::new()
            .range(self.common.range()?)
            .period(self.period)
            .mode(self.mode);
        req.periods = self.periods;
        req.segment = self.common.segment();
        let r = self.common.engine(ctx)?.retention(&req)?;
        self.common.output(&r, || {
            let cols = r.cohorts.iter().map(|c| c.counts.len()).max().unwrap_or(0);
            let names: Vec<String> = (0..cols).map(|k| format!("+{k}")).collect();
            let mut headers = vec!["cohort", "size"];
            headers.extend(names.iter().map(String::as_str));
            let rows: Vec<Vec<String>> = r
                .cohorts
                .iter()
                .map(|c| {
                    let mut row = vec![c.label.clone(), c.size.to_string()];
                    row.extend(c.percentages.iter().enumerate().map(|(k, p)| {
                        let cell = pct(p.map(|x| x / 100.0));
                        if c.complete.get(k).copied().unwrap_or(true) {
                            cell
                        } else {
                            cell + "*"
                        }
                    }));
                    row
                })
                .collect();
            let mut out = table(&headers, &rows);
            if r.cohorts.iter().any(|c| c.complete.contains(&false)) {
                out.push_str("* period not over yet: partial count\n");
            }
            out
        })
    }
}

//! `churn sessions`: session counts, duration, bounce rate, sources and pages.

use super::analysis::{dur, num, pct, table, AnalysisArgs};
use super::{Ctx, Run};
use crate::engine::{Period, SessionsRequest};
use crate::error::Result;

/// Sessions: counts per period, duration, pages, bounce rate, top sources and pages.
#[derive(Debug, clap::Args)]
pub struct SessionsArgs {
    /// Period of the counts.
    #[arg(long, default_value = "day", value_name = "day|week|month")]
    pub period: Period,
    /// Session gap (30m, 1h, ...).
    #[arg(long, default_value = "30m", value_parser = super::analysis::duration)]
    pub gap: i64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: AnalysisArgs,
}

impl Run for SessionsArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let mut req = SessionsRequest::new()
            .range(self.common.range()?)
            .period(self.period)
            .max_gap_ms(self.gap);
        req.segment = self.common.segment();
        let r = self.common.engine(ctx)?.sessions(&req)?;
        self.common.output(&r, || {
            let mut out = format!(
                "sessions {}  users {}  mean duration {}  median {}  pages/session {}  bounce rate {}\n\n",
                r.sessions,
                r.users,
                dur(r.mean_duration_ms),
                dur(r.median_duration_ms.map(|x| x as f64)),
                num(r.pages_per_session),
                pct(r.bounce_rate)
            );
            let rows: Vec<Vec<String>> = r
                .per_period
                .iter()
                .map(|p| vec![p.label.clone(), p.sessions.to_string()])
                .collect();
            out.push_str(&table(&["period", "sessions"], &rows));
            let top: Vec<Vec<String>> = r
                .sources
                .iter()
                .map(|c| vec![c.value.clone(), c.sessions.to_string()])
                .collect();
            if !top.is_empty() {
                out.push('\n');
                out.push_str(&table(&["source", "sessions"], &top));
            }
            out
        })
    }
}

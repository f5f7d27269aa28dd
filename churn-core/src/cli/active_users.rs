//! `churn active-users`: DAU / WAU / MAU with new and returning users.

use super::analysis::{table, AnalysisArgs};
use super::{Ctx, Run};
use crate::engine::{ActiveUsersRequest, Period};
use crate::error::Result;

/// Active users per day, week or month, with new and returning users.
#[derive(Debug, clap::Args)]
pub struct ActiveUsersArgs {
    /// Period: day (DAU), week (WAU) or month (MAU).
    #[arg(long, default_value = "day", value_name = "day|week|month")]
    pub period: Period,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: AnalysisArgs,
}

impl Run for ActiveUsersArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let mut req = ActiveUsersRequest::new()
            .range(self.common.range()?)
            .period(self.period);
        req.segment = self.common.segment();
        let r = self.common.engine(ctx)?.active_users(&req)?;
        self.common.output(&r, || {
            let rows: Vec<Vec<String>> = r
                .periods
                .iter()
                .map(|p| {
                    vec![
                        p.label.clone(),
                        p.active_users.to_string(),
                        p.new_users.to_string(),
                        p.returning_users.to_string(),
                    ]
                })
                .collect();
            let mut out = table(&[self.period.to_string().as_str(), "active", "new", "returning"], &rows);
            out.push_str(&format!("\ndistinct active users in range: {}\n", r.total_users));
            out
        })
    }
}
